"""Invitations: the administrator sends and cancels them; the invited person accepts.

The emailed link ``/invitations/<token>/`` only puts the token in the session and
redirects to ``/invitations/accept/``, so the token does not stay in the address bar,
the browser history or a ``next=`` parameter while the person logs in or signs up
(the same pattern as Clarius' token transfer URL).
"""

from django.contrib import messages
from django.contrib.auth import login
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.accounts.addresses import normalise_email
from portal.accounts.throttle import client_ip
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants import invitations
from portal.tenants.forms import InvitationForm, JoinForm
from portal.tenants.middleware import SESSION_KEY
from portal.tenants.models import Invitation, Membership
from portal.tenants.roles import admin_required
from portal.tenants.scoping import get_scoped_or_404
from portal.tenants.services import cancel_invitation, invite_member, user_exists
from portal.tenants.views import member_list

SESSION_TOKEN = "invitation_token"
# Which page tells the person why a link cannot be used, and with what status.
UNUSABLE_STATUS = {"invalid": 404, "accepted": 410, "cancelled": 410, "expired": 410}


@require_POST
@admin_required
def invite(request):
    form = InvitationForm(request.POST, institution=request.institution)
    if not form.is_valid():
        return member_list(request, invite_form=form, status=400)
    email, role = form.cleaned_data["email"], form.cleaned_data["role"]
    invitation = invite_member(request.institution, email, role, request.user)
    audit(request, AuditEvent.Action.INVITE_MEMBER, invitation, email=email, role=role)
    messages.success(request, f"Invitation sent to {email}; the link works once, for 7 days.")
    return redirect("member-list")


@require_POST
@admin_required
def invitation_cancel(request, pk):
    invitation = get_scoped_or_404(Invitation.objects.open(), request, pk=pk)
    cancel_invitation(invitation)
    audit(request, AuditEvent.Action.CANCEL_INVITATION, invitation, email=invitation.email)
    messages.success(request, f"The invitation of {invitation.email} no longer works.")
    return redirect("member-list")


def invitation_open(request, token):
    """The emailed link: keep the token in the session and move on to the accept page."""
    request.session[SESSION_TOKEN] = token
    return redirect("invitation-accept")


def invitation_accept(request):
    token = request.session.get(SESSION_TOKEN)
    if not token:
        return render(
            request, "tenants/invitation_unusable.html", {"reason": "invalid"}, status=404
        )
    try:
        invitation = invitations.find(token)
    except invitations.InvitationUnusable as e:
        return _unusable(request, e)
    if request.user.is_authenticated:
        return _accept_as_member(request, invitation)
    if user_exists(invitation.email):
        # Looked at again: if the account was made by this very link a moment ago (someone
        # else submitting it at the same time), the link is used, not waiting for a login.
        try:
            invitation = invitations.find(token)
        except invitations.InvitationUnusable as e:
            return _unusable(request, e)
        return render(request, "tenants/invitation_login.html", {"invitation": invitation})
    return _accept_as_new_user(request, invitation)


def _unusable(request, error: invitations.InvitationUnusable):
    """The page saying why the link cannot be used (410 once used, withdrawn or expired)."""
    request.session.pop(SESSION_TOKEN, None)
    context = {"reason": error.reason, "invitation": error.invitation}
    status = UNUSABLE_STATUS[error.reason]
    return render(request, "tenants/invitation_unusable.html", context, status=status)


def _accept_as_member(request, invitation):
    """An existing user, logged in as the invited address, joins with one POST."""
    if normalise_email(request.user.email) != normalise_email(invitation.email):
        context = {"invitation": invitation}
        return render(request, "tenants/invitation_wrong_user.html", context, status=403)
    if request.method == "POST":
        try:
            with transaction.atomic():
                membership = invitations.accept(invitation, request.user)
                return _finish(request, invitation, request.user, membership)
        except invitations.InvitationUnusable as e:  # used in another tab meanwhile
            return _unusable(request, e)
    return render(request, "tenants/invitation_accept.html", {"invitation": invitation})


def _accept_as_new_user(request, invitation):
    form = JoinForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        # The account, the membership and the audit event come together, after the
        # invitation is claimed: whoever loses a race for one link (several people
        # submitting it at once) leaves no account behind and is told it was used.
        try:
            with transaction.atomic():
                user, membership = invitations.accept_as_new_user(invitation, form.save)
                return _finish(request, invitation, user, membership, new_user=True)
        except invitations.InvitationUnusable as e:
            return _unusable(request, e)
        except IntegrityError:
            # An account for the address was made meanwhile another way; nothing was kept.
            return render(request, "tenants/invitation_login.html", {"invitation": invitation})
    context = {"invitation": invitation, "form": form}
    return render(
        request, "tenants/invitation_join.html", context, status=400 if form.errors else 200
    )


def _finish(request, invitation, user, membership, new_user=False):
    request.session.pop(SESSION_TOKEN, None)
    if new_user:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    # Land in the institution just joined, whatever was current before.
    request.session[SESSION_KEY] = invitation.institution_id
    # In the log of the institution joined, not of the one the person was working in.
    AuditEvent.objects.create(
        institution=invitation.institution,
        user=user,
        action=AuditEvent.Action.ACCEPT_INVITATION,
        object_type="invitation",
        object_id=str(invitation.pk),
        ip_address=client_ip(request),
        detail={"email": invitation.email, "role": membership.role},
    )
    role = Membership.Role(membership.role).label.lower()
    messages.success(request, f"Welcome to {invitation.institution.name}: you are a {role}.")
    return redirect("home")
