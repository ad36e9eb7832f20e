"""The factors: authenticator apps (TOTP), recovery codes and passkeys.

The first two are django-otp's own tables seen through proxies that keep their secrets
out of plain sight (see the package docstring); a passkey is a django-otp ``Device`` of
the portal's own, as django-otp has no WebAuthn plugin.
"""

import os
import secrets

from django.db import models
from django.utils.crypto import salted_hmac
from django_otp.models import Device, TimestampMixin
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import encryption

RECOVERY_CODE_COUNT = 10
# Ten base32 characters (50 random bits), shown as two groups of five.
RECOVERY_CODE_LENGTH = 10
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


class AuthenticatorApp(TOTPDevice):
    """A TOTP device whose key is read from ``TOTPKey``, encrypted, never from ``key``."""

    class Meta:
        proxy = True
        verbose_name = "authenticator app"

    @classmethod
    def create_for(cls, user, name):
        """An unconfirmed app with a new random key (confirmed by its first code)."""
        device = cls.objects.create(user=user, name=name, confirmed=False)
        key = encryption.encrypt(os.urandom(20).hex())
        TOTPKey.objects.create(device=device, key_encrypted=key)
        return device

    @property
    def bin_key(self):
        try:
            ciphertext = self.portal_key.key_encrypted
        except TOTPKey.DoesNotExist:
            # A row made outside the portal has no key of ours: no code can match.
            return os.urandom(20)
        return bytes.fromhex(encryption.decrypt(ciphertext))


class TOTPKey(models.Model):
    """An authenticator app's key, encrypted with ``PORTAL_ENCRYPTION_KEY``."""

    device = models.OneToOneField(TOTPDevice, on_delete=models.CASCADE, related_name="portal_key")
    key_encrypted = models.TextField()

    class Meta:
        verbose_name = "authenticator key"

    def __str__(self):
        return f"key of {self.device_id}"


def recovery_digest(code):
    """The stored form of a recovery code: a keyed digest of its letters (16 hex)."""
    normalised = "".join(ch for ch in code.lower() if ch not in "- ")
    return salted_hmac("portal.mfa.recovery-code", normalised, algorithm="sha256").hexdigest()[:16]


class RecoveryCodes(StaticDevice):
    """Ten single-use codes, kept as digests in django-otp's static tokens."""

    class Meta:
        proxy = True
        verbose_name = "recovery codes"

    @classmethod
    def regenerate(cls, user):
        """New codes for ``user``; the old ones stop working. The codes, to show once."""
        cls.objects.filter(user=user).delete()
        device = cls.objects.create(user=user, name="Recovery codes", confirmed=True)
        codes = []
        for _ in range(RECOVERY_CODE_COUNT):
            raw = "".join(secrets.choice(_BASE32) for _ in range(RECOVERY_CODE_LENGTH))
            codes.append(f"{raw[:5]}-{raw[5:]}")
        StaticToken.objects.bulk_create(
            StaticToken(device=device, token=recovery_digest(code)) for code in codes
        )
        return codes

    def verify_token(self, token):
        return super().verify_token(recovery_digest(token))

    @property
    def remaining(self):
        return self.token_set.count()


class Passkey(TimestampMixin, Device):
    """A WebAuthn credential (a passkey or security key) registered by its owner.

    ``created_at`` and ``last_used_at`` come from django-otp's ``TimestampMixin``;
    ``name`` and ``confirmed`` from ``Device``. A passkey is verified by a signed
    challenge (``portal.mfa.webauthn``), never by a typed token.
    """

    credential_id = models.CharField(
        max_length=1400, unique=True, help_text="The credential's id, base64url."
    )
    public_key = models.BinaryField(help_text="The credential's COSE public key.")
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)

    class Meta(Device.Meta):
        verbose_name = "passkey"

    def is_interactive(self):
        return False

    def verify_token(self, token):
        return False
