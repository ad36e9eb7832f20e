"""The institution switcher, and the administrator's members pages.

Member pages are for the current institution's administrators only (a 404 for anyone
else) and go through the tenant rule: another institution's member is a 404 too.
"""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.dashboard.queries import members_with_link_state
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants import linked_accounts
from portal.tenants.forms import (
    InstitutionSettingsForm,
    InvitationForm,
    QARoleForm,
    RoleForm,
    TraineeForm,
)
from portal.tenants.middleware import SESSION_KEY
from portal.tenants.models import Institution, Invitation, Membership
from portal.tenants.roles import admin_required
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.tenants.services import (
    QA_ROLES,
    TenantError,
    change_role_recorded,
    remove_member,
    set_qa_roles_recorded,
    set_trainee_recorded,
)
from portal.usersessions.services import member_sessions, sign_out_member

logger = logging.getLogger(__name__)


@require_POST
@login_required
def switch_institution(request):
    """Make another of the user's institutions the current one.

    An institution the user is not a member of is a 404: the switcher must not reveal
    which slugs exist.
    """
    slug = request.POST.get("institution", "")
    membership = next((m for m in request.memberships if m.institution.slug == slug), None)
    if membership is None:
        raise Http404("No such institution among yours")
    request.session[SESSION_KEY] = membership.institution_id
    messages.success(request, f"You are now working in {membership.institution.name}.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "home"
    return redirect(next_url)


@admin_required
def institution_settings(request):
    """The current institution's settings: its members' idle timeout, its time zone, its
    attestation statement and whether trainees' reports wait for attestation."""
    # A copy: an invalid form must not leave a bad value on the request's institution.
    institution = Institution.objects.get(pk=request.institution.pk)
    form = InstitutionSettingsForm(request.POST or None, instance=institution)
    if request.method == "POST" and form.is_valid():
        previous = Institution.objects.get(pk=institution.pk)
        form.save()
        if form.changed_data:
            audit(
                request,
                AuditEvent.Action.CHANGE_SETTINGS,
                institution,
                changed=sorted(form.changed_data),
            )
        for field in form.changed_data:
            logger.info(
                "institution %s: %s %r -> %r, by user %s",
                institution.slug,
                field,
                # The statement can be long: the log says that it changed, not what to.
                getattr(previous, field) if field != "attestation_statement" else "…",
                getattr(institution, field) if field != "attestation_statement" else "…",
                request.user.pk,
            )
        messages.success(
            request,
            f"Saved. Members are signed out after {institution.idle_timeout_minutes} minutes "
            f"without activity; times are shown in {institution.time_zone}.",
        )
        return redirect("institution-settings")
    status = 400 if form.errors else 200
    context = {"form": form, "now": timezone.now()}
    return render(request, "tenants/institution_settings.html", context, status=status)


@admin_required
def member_list(request, invite_form=None, status=200):
    context = {
        "members": members_with_link_state(request),
        "linked_accounts": linked_accounts.registered(),
        "invitations": scoped_to_request(Invitation, request).open().select_related("invited_by"),
        "invite_form": invite_form or InvitationForm(institution=request.institution),
        "roles": Membership.Role.choices,
    }
    return render(request, "tenants/member_list.html", context, status=status)


@admin_required
def member_detail(request, pk):
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    context = {
        "member": member,
        "link_sections": [
            (accounts, accounts.member_links(request, member))
            for accounts in linked_accounts.registered()
            if accounts.member_links is not None
        ],
        "roles": Membership.Role.choices,
        "sessions": member_sessions(member.user),
    }
    return render(request, "tenants/member_detail.html", context)


@require_POST
@admin_required
def member_sign_out(request, pk):
    """End every session of a member (a lost device, someone leaving), except this one."""
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    count = sign_out_member(request, member.user, member.institution)
    messages.success(
        request,
        f"{member.user.email}: {count} session{'s' if count != 1 else ''} signed out.",
    )
    return redirect("member-detail", pk=member.pk)


@require_POST
@admin_required
def member_role(request, pk):
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("member-list")
    try:
        previous = change_role_recorded(request, member, form.cleaned_data["role"])
    except TenantError as e:
        messages.error(request, str(e))
        return redirect("member-list")
    if previous != member.role:
        messages.success(request, f"{member.user.email} is now {member.get_role_display()}.")
    if member.user_id == request.user.pk and member.role != Membership.Role.ADMIN:
        return redirect("home")  # no longer allowed on the members page
    return redirect("member-list")


@require_POST
@admin_required
def member_trainee(request, pk):
    """Mark a member a trainee, or no longer one (``trainee`` is "1" or "0")."""
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    form = TraineeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether the member is a trainee.")
        return redirect(_back_to(request, member))
    is_trainee = form.cleaned_data["trainee"] == "1"
    if set_trainee_recorded(request, member, is_trainee):
        messages.success(
            request,
            f"{member.user.email} is now a trainee: what they sign waits for an attending."
            if is_trainee
            else f"{member.user.email} is no longer a trainee.",
        )
    return redirect(_back_to(request, member))


@require_POST
@admin_required
def member_qa_role(request, pk):
    """Make a reviewer or administrator a QA reviewer or QA lead, or no longer one."""
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    form = QARoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say which QA role, and whether the member has it.")
        return redirect(_back_to(request, member))
    role, value = form.cleaned_data["role"], form.cleaned_data["value"] == "1"
    try:
        changed = set_qa_roles_recorded(request, member, **{role: value})
    except TenantError as e:
        messages.error(request, str(e))
        return redirect(_back_to(request, member))
    if changed:
        label = QA_ROLES[role]
        messages.success(
            request,
            f"{member.user.email} is now a {label}."
            if value
            else f"{member.user.email} is no longer a {label}.",
        )
    return redirect(_back_to(request, member))


def _back_to(request, member):
    """The member's page when the change was made there, else the list."""
    if request.POST.get("next") == "detail":
        return reverse("member-detail", args=[member.pk])
    return reverse("member-list")


@require_POST
@admin_required
def member_remove(request, pk):
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    try:
        remove_member(member)
    except TenantError as e:
        messages.error(request, str(e))
        return redirect("member-list")
    audit(
        request, AuditEvent.Action.REMOVE_MEMBER, member, email=member.user.email, role=member.role
    )
    if member.user_id == request.user.pk:
        messages.success(request, f"You have left {request.institution.name}.")
        return redirect("home")
    messages.success(request, f"{member.user.email} is no longer a member.")
    return redirect("member-list")
