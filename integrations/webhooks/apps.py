from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "integrations.webhooks"
    label = "webhooks"
    verbose_name = "Partner webhooks"

    def ready(self):
        from integrations.webhooks import subscriber, tasks
        from integrations.webhooks.models import Delivery, Endpoint
        from portal import encryption, events
        from portal.tenants import navigation
        from portal.work import registry

        # Signing secrets at rest: re-encrypted with every other when the key is rotated.
        encryption.register_column(Endpoint, "secret_encrypted")
        encryption.register_column(Endpoint, "previous_secret_encrypted")
        # Every event of the core becomes durable deliveries, in the change's transaction.
        events.subscribe(subscriber.on_event)
        # Each delivery is durable work: due rows in *pending* wait for this task.
        registry.register(Delivery, tasks.deliver_webhook, state=Delivery.State.PENDING)
        # The administrators' page, in the main navigation.
        navigation.register(
            navigation.NavPage(
                key="webhooks",
                label="Webhooks",
                url_name="webhook-list",
                also_current=("webhook-detail",),
            )
        )
