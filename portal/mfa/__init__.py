"""Second factors for accounts that sign in with a password.

A member may add an authenticator app (TOTP, django-otp's ``otp_totp``), passkeys
(WebAuthn, with py_webauthn) and ten single-use recovery codes (django-otp's
``otp_static``), on "Security" (``/account/security/``).

Signing in: after a correct password, an account with a confirmed factor is not signed
in yet; the password view keeps the account as *pending* in the session and sends the
browser to ``/accounts/login/verify/``, which asks for a code from the app, a passkey or
a recovery code. Only then is the session signed in and marked verified (django-otp's
``otp_device_id``, read by ``portal.mfa.middleware.MFAMiddleware``, an ``OTPMiddleware``).
Wrong codes are throttled per factor by django-otp (1, 2, 4, 8 … seconds between tries,
``OTP_TOTP_THROTTLE_FACTOR``/``OTP_STATIC_THROTTLE_FACTOR``) and audited as
``mfa_failed``.

Policy: a member of an institution with "require a second factor", and always an
institution administrator or superuser (``PORTAL_MFA_REQUIRED_FOR_ADMINS``, on by
default), who signed in with a password and has no factor is sent to Security to add
one before reaching any other page (``MFAMiddleware``). Only sessions started by the
password sign-in carry the mark the middleware looks for: single sign-on sessions
(``portal.sso``, or ``session["portal_sso"]``) count as verified by the identity
provider, and sessions made another way (``Client.force_login`` in tests) are left alone.

Secrets at rest: an authenticator's key is encrypted with the portal's key
(``portal.encryption``, rotated by ``reencrypt_secrets``) in ``TOTPKey.key_encrypted``;
django-otp's own ``key`` column holds a random decoy that is never shown nor used.
Recovery codes are kept as keyed digests (HMAC of ``SECRET_KEY``), never as typed:
rotating ``SECRET_KEY`` invalidates them. A passkey's public key is not a secret.

Audit actions (``portal.usersessions.audit.record``): ``mfa_added``, ``mfa_removed``,
``mfa_recovery_codes``, ``mfa_recovery_used``, ``mfa_failed``, ``mfa_verified``.
"""
