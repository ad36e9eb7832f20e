"""``python manage.py reencrypt_secrets``: encrypt every stored secret with the first key.

The step in the middle of rotating ``PORTAL_ENCRYPTION_KEY``: put the new key first and
keep the old one after it, run this, then drop the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from integrations.clarius.models import ResearchAccount, ServiceApiKey
from portal.encryption import SecretUnreadable, reencrypt

# Every encrypted column: (model, field). A new one must be listed here.
ENCRYPTED = [(ServiceApiKey, "key_encrypted"), (ResearchAccount, "token_encrypted")]


class Command(BaseCommand):
    help = "Re-encrypt the stored Clarius API keys and research tokens with the first key."

    def handle(self, *args, **options):
        total = 0
        try:
            with transaction.atomic():  # all or nothing: never half on the old key
                for model, field in ENCRYPTED:
                    rows = model.objects.exclude(**{field: ""}).select_for_update()
                    for pk, ciphertext in rows.values_list("pk", field):
                        model.objects.filter(pk=pk).update(**{field: reencrypt(ciphertext)})
                        total += 1
        except SecretUnreadable as e:
            raise CommandError(f"Nothing changed: {e}") from None
        self.stdout.write(f"Re-encrypted {total} secret(s) with the first PORTAL_ENCRYPTION_KEY.")
