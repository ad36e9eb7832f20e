"""Linking pages: the token transfer URL, the one-button confirmation, the user's links."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from integrations.clarius.ingestion import linking
from integrations.clarius.ingestion.linking import LinkRefused, link_token, unlink
from integrations.clarius.ingestion.webhooks import TOKEN_RE
from integrations.clarius.models import ClariusLink
from portal.accounts import login_hints
from portal.tenants.models import Membership
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.work.words import row_words


def connect(request, token):
    """Where Clarius sends the user's browser. Keeps the token; never links on a GET.

    The token is kept in the session rather than in a ``next=`` URL, so it does not
    end up in logs, browser history or a Referer header. Any site can send a browser
    here too, so the token is kept only for ``CONNECT_TOKEN_LIFETIME`` and the link page
    says which account it is and when to go on.
    """
    if not TOKEN_RE.match(token):
        return render(request, "clarius/link_invalid.html", status=400)
    linking.keep_connect_token(request.session, token)
    if not request.user.is_authenticated:
        login_hints.leave(
            request.session,
            reverse("clarius-link"),
            "Sign in to link your Clarius account to the portal.",
        )
    return redirect("clarius-link")


@login_required
def link(request):
    """Show "Link your Clarius account to <institution>" and link on its POST."""
    try:
        token = linking.connect_token(request.session)
    except linking.ConnectTokenExpired:
        context = {"minutes": _lifetime_minutes()}
        return render(request, "clarius/link_expired.html", context, status=410)
    if not token:
        return render(request, "clarius/link_nothing.html")
    memberships = request.memberships
    if not memberships:
        return render(request, "clarius/link_no_institution.html", status=403)
    chosen = request.membership
    if request.method == "POST":
        return _link(request, token, memberships, chosen)
    context = {
        "memberships": memberships,
        "chosen": chosen,
        "masked_token": linking.masked(token),
        "known": linking.known_about(token, request.user),
        "minutes": _lifetime_minutes(),
    }
    return render(request, "clarius/link_confirm.html", context)


def _lifetime_minutes() -> int:
    return int(linking.CONNECT_TOKEN_LIFETIME.total_seconds() // 60)


def _link(request, token, memberships, chosen):
    slug = request.POST.get("institution", chosen.institution.slug)
    chosen = next((m for m in memberships if m.institution.slug == slug), None)
    if chosen is None:
        raise Http404("No such institution among yours")
    try:
        result = link_token(request.user, chosen.institution, token)
    except LinkRefused as e:
        linking.forget_connect_token(request.session)
        return render(request, "clarius/link_refused.html", {"reason": str(e)}, status=409)
    linking.forget_connect_token(request.session)
    if result.created:
        messages.success(
            request,
            f"Your Clarius account is being linked to {chosen.institution.name}. "
            "Your exams will appear here once Clarius confirms it.",
        )
    else:
        messages.info(request, "This Clarius account was already linked; nothing changed.")
    return redirect("clarius-my-links")


@login_required
def my_links(request):
    links = list(ClariusLink.objects.filter(user=request.user).select_related("institution"))
    for row in links:
        row.help = link_help(row)
    waiting = any(row.state == ClariusLink.State.PENDING for row in links)
    return render(request, "clarius/my_links.html", {"links": links, "waiting": waiting})


@login_required
@require_GET
def my_links_json(request):
    """What the links page polls while a link waits for Clarius' confirmation
    (static/js/clarius-links.js): each of the user's links, its state in words."""
    links = ClariusLink.objects.filter(user=request.user)
    rows = [
        {
            "id": row.pk,
            "state": row.state,
            "state_label": row.get_state_display(),
            "help": link_help(row),
        }
        for row in links
    ]
    return JsonResponse(
        {"waiting": any(r["state"] == ClariusLink.State.PENDING for r in rows), "links": rows},
        headers={"Cache-Control": "no-store"},
    )


def link_help(row: ClariusLink) -> str:
    """What a link's state means and what happens next, in words."""
    if row.state == ClariusLink.State.REJECTED:
        return "Clarius does not know this account. Connect again from Clarius Cloud."
    if row.state != ClariusLink.State.PENDING:
        return ""
    words = row_words(row, failed=False, unknown="Clarius has not confirmed it yet")
    if words.tone == "retrying":
        return words.sentence
    return "The portal is asking Clarius to confirm it; this page updates by itself."


@require_POST
@login_required
def unlink_mine(request, pk):
    link = get_object_or_404(ClariusLink, pk=pk, user=request.user)
    unlink(link)
    messages.success(request, "Your Clarius account is unlinked. New exams will not arrive here.")
    return redirect("clarius-my-links")


def _require_admin(request):
    if request.membership is None or request.membership.role != Membership.Role.ADMIN:
        raise Http404("Institution administrators only")


@login_required
def institution_links(request):
    _require_admin(request)
    links = scoped_to_request(ClariusLink, request).select_related("user")
    return render(request, "clarius/institution_links.html", {"links": links})


@require_POST
@login_required
def unlink_in_institution(request, pk):
    _require_admin(request)
    link = get_scoped_or_404(ClariusLink, request, pk=pk)
    unlink(link)
    messages.success(request, f"Unlinked the Clarius account of {link.user.email}.")
    return redirect("clarius-institution-links")
