"""``python manage.py reencrypt_secrets``: encrypt every stored secret with the first key.

The step in the middle of rotating ``PORTAL_ENCRYPTION_KEY``: put the new key first and
keep the old one after it, run this, then drop the old key. Every encrypted column is
registered with ``portal.encryption`` by the app that owns it (Clarius' service keys and
research tokens, partner webhooks' signing secrets), so none is missed.
"""

from django.core.management.base import BaseCommand, CommandError

from portal.encryption import SecretUnreadable, reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first PORTAL_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        try:
            total = reencrypt_all()
        except SecretUnreadable as e:
            raise CommandError(f"Nothing changed: {e}") from None
        self.stdout.write(f"Re-encrypted {total} secret(s) with the first PORTAL_ENCRYPTION_KEY.")
