"""WebAuthn ceremonies with py_webauthn: registering a passkey, and signing in with one.

The relying party id is ``PORTAL_WEBAUTHN_RP_ID`` or, unset, the request's host name;
the expected origin is the request's own (scheme and host). A challenge lives in the
session for one ceremony and is removed when a response is checked, right or wrong.
"""

import json
import re

from django.conf import settings
from django.utils.crypto import salted_hmac
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.mfa.models import Passkey

REGISTER_CHALLENGE = "portal_mfa_webauthn_register"
SIGN_IN_CHALLENGE = "portal_mfa_webauthn_sign_in"
# A response larger than this is not a passkey's (attestations are a few kilobytes).
MAX_RESPONSE_BYTES = 64 * 1024
_TRANSPORTS = {t.value for t in AuthenticatorTransport}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{1,1400}")


class PasskeyRefused(ValueError):
    """The browser's answer is not a valid one for this ceremony (the reason is safe to show)."""


def rp_id(request):
    return settings.PORTAL_WEBAUTHN_RP_ID or request.get_host().rsplit(":", 1)[0].strip("[]")


def origin(request):
    return f"{request.scheme}://{request.get_host()}"


def _user_handle(user):
    # Stable and opaque: the authenticator never learns the account's number or address.
    return salted_hmac("portal.mfa.webauthn-user", str(user.pk), algorithm="sha256").digest()


def _descriptors(user):
    return [
        PublicKeyCredentialDescriptor(
            id=_from_b64(p.credential_id),
            transports=[AuthenticatorTransport(t) for t in p.transports if t in _TRANSPORTS],
        )
        for p in Passkey.objects.filter(user=user, confirmed=True)
    ]


def _from_b64(value):
    return base64url_to_bytes(value)


def registration_options(request, user):
    options = generate_registration_options(
        rp_id=rp_id(request),
        rp_name=settings.OTP_TOTP_ISSUER,
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=getattr(user, "full_name", "") or user.email,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    request.session[REGISTER_CHALLENGE] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def _parse(body):
    if len(body) > MAX_RESPONSE_BYTES:
        raise PasskeyRefused("The passkey's answer is too large.")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PasskeyRefused("The passkey's answer is not JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("credential"), dict):
        raise PasskeyRefused("The passkey's answer has no credential.")
    return data


def _challenge(request, key):
    challenge = request.session.pop(key, None)
    if not challenge:
        raise PasskeyRefused("No passkey request is in progress: start again.")
    return _from_b64(challenge)


def register(request, user, body):
    """Check the browser's ``navigator.credentials.create()`` answer; the new passkey."""
    data = _parse(body)
    expected = _challenge(request, REGISTER_CHALLENGE)
    credential = data["credential"]
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=expected,
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise PasskeyRefused(f"The passkey was not accepted: {error}"[:300]) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if Passkey.objects.filter(credential_id=credential_id).exists():
        raise PasskeyRefused("This passkey is already registered.")
    transports = (credential.get("response") or {}).get("transports") or []
    if not isinstance(transports, list):
        transports = []
    name = str(data.get("name") or "").replace("\x00", "").strip()[:64] or "Passkey"
    return Passkey.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t for t in transports if isinstance(t, str) and t in _TRANSPORTS][:8],
    )


def sign_in_options(request, user):
    options = generate_authentication_options(
        rp_id=rp_id(request),
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    request.session[SIGN_IN_CHALLENGE] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def authenticate(request, user, body):
    """Check ``navigator.credentials.get()``'s answer for ``user``; the passkey used."""
    data = _parse(body)
    expected = _challenge(request, SIGN_IN_CHALLENGE)
    credential = data["credential"]
    raw_id = credential.get("rawId") or credential.get("id")
    if not isinstance(raw_id, str) or not _BASE64URL.fullmatch(raw_id):
        raise PasskeyRefused("The passkey's answer names no credential.")
    passkey = Passkey.objects.filter(user=user, confirmed=True, credential_id=raw_id).first()
    if passkey is None:
        raise PasskeyRefused("This passkey is not one of this account's.")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=expected,
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise PasskeyRefused(f"The passkey was not accepted: {error}"[:300]) from None
    passkey.sign_count = verified.new_sign_count
    passkey.set_last_used_timestamp(commit=False)
    passkey.save(update_fields=["sign_count", "last_used_at"])
    return passkey
