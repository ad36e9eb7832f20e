"""Signs out a session that was idle too long or has lived too long; records activity.

Runs after the authentication, institution and messages middleware (it reads the user's
memberships, and leaves a message for the login page). Requests made by scripts on their
own (the exam page polling report states, the timeout warning asking for the deadline)
send ``X-Portal-Background: 1`` and do not count as activity, or an open tab would keep
a session alive for ever.
"""

from django.contrib import messages
from django.contrib.auth import logout
from django.utils import timezone

from portal.usersessions import audit, services
from portal.usersessions.policy import deadlines, max_seconds

BACKGROUND_HEADER = "X-Portal-Background"
# What a view marks itself with (see ``session_activity``).
BACKGROUND, FORCE = "background", "force"


def session_activity(mode):
    """Mark a view: ``"background"`` requests never count as activity; ``"force"`` ones
    always write it at once (the "Stay signed in" button)."""

    def mark(view):
        view.session_activity = mode
        return view

    return mark


def is_background(request) -> bool:
    """Sent by a script on its own, or by the browser itself (a CSP violation report)."""
    if request.headers.get(BACKGROUND_HEADER, "") == "1":
        return True
    return request.headers.get("Sec-Fetch-Dest", "") == "report"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds >= 3600:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


def sign_out(request, reason: str, message: str | None = None) -> None:
    """Log the request's user out, for ``reason`` (an ``audit`` action), with a message."""
    request.portal_sign_out_reason = reason
    logout(request)
    # The institution middleware ran before: what it found belongs to the signed-out user.
    request.memberships, request.membership, request.institution = [], None, None
    if message:
        messages.info(request, message, fail_silently=True)


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.session_deadlines = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            self.enforce(request)
        return self.get_response(request)

    def enforce(self, request):
        now = timezone.now().timestamp()
        found = deadlines(request)
        if found is None:
            # Signed in before sessions were tracked: nothing says how idle it is.
            sign_out(request, audit.LOGOUT, "Your session has ended. Please sign in again.")
        elif now >= found.absolute_at:
            sign_out(
                request,
                audit.MAX_AGE_LOGOUT,
                f"You were signed out: a session lasts at most {_duration(max_seconds())}. "
                "Please sign in again.",
            )
        elif now >= found.idle_at:
            sign_out(
                request,
                audit.IDLE_LOGOUT,
                f"You were signed out after {_duration(found.idle)} without activity.",
            )
        else:
            request.session_deadlines = found

    def process_view(self, request, view_func, view_args, view_kwargs):
        found = request.session_deadlines
        if found is None:
            return None
        mode = getattr(view_func, "session_activity", None)
        if mode == BACKGROUND or (mode != FORCE and is_background(request)):
            return None
        touched = services.touch(request, found, force=mode == FORCE)
        if touched is None:
            request.session_deadlines = None
            sign_out(request, audit.END_SESSION, "This session was signed out. Sign in again.")
        else:
            request.session_deadlines = touched
        return None
