"""What an API key's scope allows, on top of its member's role."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.api.models import ApiKey


class ApiKeyScope(BasePermission):
    """A ``read`` key may only use safe methods; a ``write`` key what its member may do.

    Requests that are not made with a key (the browser's session) are not concerned.
    """

    message = "This API key may only read (scope read); a write needs a key with scope write."

    def has_permission(self, request, view):
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return True
        return request.method in SAFE_METHODS or key.scope == ApiKey.Scope.WRITE
