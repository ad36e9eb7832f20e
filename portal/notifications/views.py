"""The inbox, opening a notification, the member's choices and the unsubscribe page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from portal.notifications import kinds
from portal.notifications.emails import read_unsubscribe_token
from portal.notifications.forms import PreferenceForm
from portal.notifications.models import Notification, NotificationPreference
from portal.notifications.producing import preference_of
from portal.tenants.middleware import SESSION_KEY
from portal.tenants.models import Membership

PAGE_SIZE = 25


def inbox_of(request):
    """The request user's notifications in the current institution: nobody else's."""
    return Notification.objects.for_institution(getattr(request, "institution", None)).filter(
        recipient=request.user
    )


@login_required
def inbox(request):
    notifications = inbox_of(request).only(
        "pk", "kind", "title", "body", "created_at", "read_at", "institution_id"
    )
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "unread": inbox_of(request).filter(read_at__isnull=True).exists()},
    )


@login_required
def open_notification(request, pk):
    """Mark it read and go to what it is about, in its institution.

    A link in an email lands here: the notification must be the user's, in one of their
    institutions; that institution becomes the current one, and the page it leads to
    (an exam) applies its own access rule.
    """
    institutions = [m.institution_id for m in getattr(request, "memberships", [])]
    notification = Notification.objects.filter(
        pk=pk, recipient=request.user, institution_id__in=institutions
    ).first()
    if notification is None:
        raise Http404("No such notification")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    if notification.institution_id != getattr(request.institution, "pk", None):
        request.session[SESSION_KEY] = notification.institution_id
    url = notification.url
    if url and url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return redirect(url)
    return redirect("notification-inbox")


@login_required
@require_POST
def read_all(request):
    marked = inbox_of(request).filter(read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        messages.success(request, "Every notification is marked read.")
    return redirect("notification-inbox")


@login_required
def preferences(request):
    membership = getattr(request, "membership", None)
    if membership is None:
        raise Http404("No institution")
    preference = preference_of(membership)
    form = PreferenceForm(request.POST or None, instance=preference, membership=membership)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your notification choices are saved.")
        return redirect("notification-preferences")
    status = 400 if form.errors else 200
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "institution": membership.institution},
        status=status,
    )


@never_cache
@csrf_exempt  # the signed token is the authority; mail clients POST without a session
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """One click from an email: GET asks to confirm, POST unsubscribes (RFC 8058's
    one-click POST from a mail client's button lands here too)."""
    found = read_unsubscribe_token(token)
    if found is None:
        raise Http404("Not an unsubscribe link")
    membership_id, preference_key = found
    membership = (
        Membership.objects.filter(pk=membership_id).select_related("institution", "user").first()
    )
    if membership is None:
        raise Http404("Not an unsubscribe link")
    preference = preference_of(membership)
    done = False
    if request.method == "POST":
        preference.turn_off(preference_key)
        preference.save()
        done = True
    return render(
        request,
        "notifications/unsubscribe.html",
        {
            "label": kinds.LABELS[preference_key].lower(),
            "institution": membership.institution,
            "done": done or preference.is_off(preference_key),
            "just_done": done,
            "is_new_exam": preference_key == kinds.NEW_EXAM,
            "frequency_none": NotificationPreference.Frequency.NONE,
        },
    )
