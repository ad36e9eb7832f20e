"""``python manage.py webhook add|list|remove``: partner webhook endpoints from the shell.

``webhook add <institution-slug> <url> --events exam.ready,exam.signed`` prints the
signing secret as its last line (shown this once); ``webhook list <slug>``;
``webhook remove <id>``; ``webhook reencrypt`` (after putting a new
``PORTAL_ENCRYPTION_KEY`` first: every signing secret encrypted with it). Refusals exit
with status 1 and the reason.
"""

from django.core.management.base import BaseCommand, CommandError

from integrations.webhooks import endpoints
from integrations.webhooks.models import Endpoint
from portal.encryption import SecretUnreadable, reencrypt_all
from portal.events import EVENT_TYPES
from portal.tenants.commands import institution_by_slug


class Command(BaseCommand):
    help = "Add, list or remove partner webhook endpoints."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register an endpoint; prints its secret last")
        add.add_argument("institution", help="the institution's slug")
        add.add_argument("url")
        add.add_argument(
            "--events", required=True, help="comma-separated: " + ", ".join(EVENT_TYPES)
        )
        add.add_argument("--description", default="")
        listing = sub.add_parser("list", help="an institution's endpoints")
        listing.add_argument("institution", help="the institution's slug")
        remove = sub.add_parser("remove", help="remove an endpoint and its deliveries")
        remove.add_argument("id", type=int)
        sub.add_parser("reencrypt", help="encrypt every signing secret with the first key")

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    def handle_add(self, institution, url, events, description, **options):
        institution = institution_by_slug(institution)
        try:
            endpoint, secret = endpoints.create(
                institution, url, events.split(","), description=description
            )
        except endpoints.EndpointRefused as e:
            raise CommandError(str(e)) from None
        self.stdout.write(
            f"Endpoint {endpoint.pk} of {institution.slug}: {endpoint.url} "
            f"({', '.join(endpoint.events)}). Its signing secret, shown this once:"
        )
        self.stdout.write(secret)

    def handle_list(self, institution, **options):
        institution = institution_by_slug(institution)
        rows = Endpoint.objects.for_institution(institution)
        if not rows:
            self.stdout.write(f"{institution.slug} has no webhook endpoints.")
        for endpoint in rows:
            state = "enabled" if endpoint.enabled else f"disabled ({endpoint.disabled_reason})"
            self.stdout.write(
                f"{endpoint.pk}\t{endpoint.url}\t{','.join(endpoint.events)}\t{state}"
            )

    def handle_remove(self, id, **options):
        endpoint = Endpoint.objects.filter(pk=id).select_related("institution").first()
        if endpoint is None:
            raise CommandError(f"No webhook endpoint has the id {id}.")
        endpoint.delete()
        self.stdout.write(f"Removed endpoint {id} ({endpoint.url}) of {endpoint.institution.slug}.")

    def handle_reencrypt(self, **options):
        # The same as ``manage.py reencrypt_secrets`` (every registered secret, these too).
        try:
            total = reencrypt_all()
        except SecretUnreadable as e:
            raise CommandError(f"Nothing changed: {e}") from None
        self.stdout.write(f"Re-encrypted {total} secret(s) with the first key, these included.")
