"""API key authentication: ``Authorization: Bearer cpk_…`` (or ``Token cpk_…``).

``Token`` is accepted for clients written against the earlier per-user tokens; those
tokens themselves are gone. A header in either scheme that is not a usable key is a 401
with ``WWW-Authenticate: Bearer``, whatever it holds (NUL bytes, odd characters, a
thousand spaces): never a 5xx and never a fall-through to the session. Any other
scheme is left to the next authentication class (the browser's session, with CSRF).
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from portal.accounts.throttle import client_ip
from portal.api import keys

SCHEMES = ("bearer", "token")
# Longer than any key: a longer credential is refused before anything else is done.
MAX_CREDENTIAL = 200


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not isinstance(header, str):
            return None
        parts = header.split(None, 1)
        if not parts or parts[0].lower() not in SCHEMES:
            return None
        credential = parts[1].strip() if len(parts) > 1 else ""
        if not credential:
            raise exceptions.AuthenticationFailed("No API key after the Bearer scheme.")
        if len(credential) > MAX_CREDENTIAL or not credential.startswith("cpk_"):
            raise exceptions.AuthenticationFailed(
                "Not an API key: send Authorization: Bearer cpk_<prefix>_<secret>. "
                "Keys are made by the institution's administrators (page API keys)."
            )
        try:
            checked = keys.check(credential)
        except keys.KeyRefused as e:
            raise exceptions.AuthenticationFailed(str(e)) from None
        key = checked.key
        last_used = key.last_used_at
        first_today = keys.touch(key, client_ip(request)) and keys.first_use_of_day(
            last_used, key.last_used_at, key.institution
        )
        # For the tenancy mixin and the audit log (portal.exams.access.audit), which see
        # the Django request: the key's member and institution, and the key itself.
        # It works in the key's institution only, even in a view without the tenancy mixin.
        django_request = getattr(request, "_request", request)
        django_request.api_key = key
        django_request.memberships = [checked.membership]
        django_request.membership = checked.membership
        django_request.institution = key.institution
        if first_today:
            keys.record_daily_use(django_request, checked)
        return checked.user, key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
