from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "portal.outbound"
    label = "outbound"
    verbose_name = "PACS and EHR destinations"

    def ready(self):
        from portal import encryption, events
        from portal.outbound import planning, sending
        from portal.outbound.models import Destination, Transmission
        from portal.work import registry

        # A destination's token at rest: re-encrypted with every other when the key rotates.
        encryption.register_column(Destination, "secret_encrypted")
        # A ready exam's images and clips become durable rows in the same transaction.
        events.subscribe(planning.on_event)
        # Each transmission is durable work: due rows in *pending* wait for this task.
        registry.register(Transmission, sending.send_transmission, state=Transmission.State.PENDING)
