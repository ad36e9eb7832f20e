from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "portal.outbound"
    label = "outbound"
    verbose_name = "PACS and EHR destinations"

    def ready(self):
        from portal import encryption, events
        from portal.outbound import alerts, planning, sending
        from portal.outbound.models import Destination, Transmission
        from portal.tenants import navigation
        from portal.work import registry, schedules

        # A destination's token at rest: re-encrypted with every other when the key rotates.
        encryption.register_column(Destination, "secret_encrypted")
        # A ready exam's images and clips become durable rows in the same transaction.
        events.subscribe(planning.on_event)
        # Each transmission is durable work: due rows in *pending* wait for this task.
        registry.register(Transmission, sending.send_transmission, state=Transmission.State.PENDING)
        # A destination failing for a day tells its institution's administrators, once.
        schedules.register(
            "outbound: destinations failing for a day", alerts.check_failing, alerts.CHECK_MINUTES
        )
        # The administrators' page, in the main navigation.
        navigation.register(
            navigation.NavPage(
                key="destinations",
                label="Destinations",
                url_name="destination-list",
                also_current=(
                    "destination-detail",
                    "destination-add",
                    "destination-edit",
                    "destination-remove",
                ),
            )
        )
