from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ClariusConfig(AppConfig):
    name = "integrations.clarius"
    label = "clarius"
    verbose_name = "Clarius Cloud"

    def ready(self):
        from integrations.clarius import alerts, panels, reports, tasks
        from integrations.clarius.ingestion.webhooks import forget_active_secret
        from integrations.clarius.models import (
            ClariusLink,
            DicomExport,
            NotificationEndpoint,
            NotificationReceipt,
            RawDataFile,
            ResearchAccount,
            ServiceApiKey,
        )
        from integrations.clarius.research import tasks as research_tasks
        from portal import encryption
        from portal.dashboard import panels as dashboard_panels
        from portal.exams.models import Capture
        from portal.notifications import alerts as notification_alerts
        from portal.reports import destinations
        from portal.tenants import linked_accounts, navigation
        from portal.work import registry, schedules

        # Secrets at rest: re-encrypted with every other when the key is rotated.
        encryption.register_column(ServiceApiKey, "key_encrypted")
        encryption.register_column(ResearchAccount, "token_encrypted")
        # Signed reports go back to the exam's submission in Clarius.
        destinations.register(reports.DESTINATION)
        # Its panel on the dashboard; members' Clarius links on the member pages.
        dashboard_panels.register(panels.DASHBOARD_PANEL)
        linked_accounts.register(panels.LINKED_ACCOUNTS)
        navigation.register(
            navigation.NavPage(
                key="clarius-links", label="Links", url_name="clarius-institution-links"
            )
        )
        navigation.register(
            navigation.NavPage(
                key="clarius-my-links",
                label="My Clarius links",
                url_name="clarius-my-links",
                admin=False,
            )
        )

        # The durable work this integration does: rows in these states wait for the task.
        registry.register(ClariusLink, tasks.confirm_link, state=ClariusLink.State.PENDING)
        registry.register(
            NotificationReceipt, tasks.fetch_receipt, state=NotificationReceipt.State.PENDING
        )
        # Captures are the core's rows; their media come from Clarius, so their task is ours.
        registry.register(Capture, tasks.download_capture, state=Capture.State.PENDING)
        registry.register(
            DicomExport, research_tasks.run_dicom_export, state=DicomExport.State.PENDING
        )
        registry.register(
            RawDataFile, research_tasks.download_raw_data, state=RawDataFile.State.PENDING
        )
        schedules.register(
            "clarius: catch up on missed notifications", tasks.poll, "CLARIUS_POLL_MINUTES"
        )
        schedules.register("clarius: reconcile links", tasks.reconcile, 60)
        # What its admins are told (portal.notifications): exams waiting for a link,
        # exams failing to arrive for a day.
        notification_alerts.register("clarius:exams-unlinked", alerts.exams_waiting_for_a_link)
        notification_alerts.register("clarius:ingestion-failing", alerts.ingestion_failing)
        # What /metrics reads (portal.metrics): notifications and ingest lag, and the
        # research files kept in storage.
        from integrations.clarius import metrics
        from portal.metrics import registry as metrics_registry

        metrics_registry.register_source("clarius", metrics.collect)
        metrics_registry.register_stored_files(DicomExport, "research_dicom")
        metrics_registry.register_stored_files(RawDataFile, "research_raw_data")
        # Full-size copies of an exam's media: removed with it by the retention policy.
        from django.apps import apps as installed

        if installed.is_installed("portal.retention"):
            from portal.retention import purge as retention

            retention.register_exam_files(DicomExport, "research_dicom")
            retention.register_exam_files(RawDataFile, "research_raw_data")

        # Each worker process takes due notification receipts straight from their table.
        from django_q.signals import post_spawn

        from integrations.clarius.ingestion import receipts

        post_spawn.connect(receipts.start_watch, dispatch_uid="clarius-receipt-watch")

        # A new or retired secret takes effect at once in this process (others: SECRET_TTL).
        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: forget_active_secret(),
                sender=NotificationEndpoint,
                weak=False,
                dispatch_uid=f"clarius-forget-secret-{signal is post_save}",
            )
