"""Your sessions: the list, ending one, signing out everywhere; and the timeout endpoints.

The timeout warning (static/js/session-timeout.js) asks ``status`` for the deadline,
a background request that does not extend it, so a tab sees activity in another tab
before it signs out; "Stay signed in" posts to ``keep_alive``.
"""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal.usersessions import audit, services
from portal.usersessions.middleware import BACKGROUND, FORCE, session_activity
from portal.usersessions.models import UserSession
from portal.usersessions.policy import idle_seconds


def _signed_out_json():
    return JsonResponse({"authenticated": False}, status=401)


def _deadline_json(request):
    found = getattr(request, "session_deadlines", None)
    if not request.user.is_authenticated or found is None:
        return _signed_out_json()
    return JsonResponse(found.as_json(timezone.now().timestamp()))


@session_activity(BACKGROUND)
@never_cache
@require_GET
def status(request):
    return _deadline_json(request)


@session_activity(FORCE)
@never_cache
@require_POST
def keep_alive(request):
    """ "Stay signed in": the middleware has just written the activity."""
    return _deadline_json(request)


@session_activity(BACKGROUND)
@require_GET
def expired(request):
    """Where the warning sends a tab whose deadline passed.

    The middleware has signed the session out on the way in (with the message the login
    page shows), unless another tab kept it alive: then back to the page.
    """
    next_url = request.GET.get("next", "")
    # A path on this site, as the warning sends it: nothing relative, no other host.
    if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    if request.user.is_authenticated:
        # A URL, never a view name: redirect("0") would look "0" up as one.
        return HttpResponseRedirect(next_url)
    return redirect_to_login(next_url)


@login_required
def session_list(request):
    idle = idle_seconds(request)
    services.prune(request.user, idle)
    sessions = list(services.live(request.user, idle))
    current = services.current_hash(request)
    for session in sessions:
        session.is_current = session.key_hash == current
    context = {"sessions": sessions, "idle_minutes": idle // 60}
    return render(request, "usersessions/session_list.html", context)


@require_POST
@login_required
def session_end(request, pk):
    row = get_object_or_404(UserSession, pk=pk, user=request.user)
    if row.key_hash == services.current_hash(request):
        logout(request)
        messages.success(request, "You have signed out.")
        return redirect("login")
    services.end([row])
    audit.record(request, request.user, audit.END_SESSION, device=row.device)
    messages.success(request, f"The session on {row.device} is signed out.")
    return redirect("session-list")


@require_POST
@login_required
def sign_out_others(request):
    others = UserSession.objects.filter(user=request.user).exclude(
        key_hash=services.current_hash(request)
    )
    count = services.end(list(others))
    audit.record(request, request.user, audit.SIGN_OUT_EVERYWHERE, kept_this_session=True)
    messages.success(
        request,
        f"Signed out {count} other session{'s' if count != 1 else ''}; this one stays signed in.",
    )
    return redirect("session-list")


@require_POST
@login_required
def sign_out_everywhere(request):
    user = request.user
    services.end(
        list(UserSession.objects.filter(user=user).exclude(key_hash=services.current_hash(request)))
    )
    audit.record(request, user, audit.SIGN_OUT_EVERYWHERE, kept_this_session=False)
    request.portal_sign_out_reason = audit.END_SESSION  # recorded just above
    logout(request)
    messages.success(request, "You are signed out everywhere, on this device too.")
    return redirect("login")
