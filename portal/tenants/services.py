"""Creating tenants and members: shared by the commands, the demo seed and the admin."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.addresses import normalise_email
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants import invitations, linked_accounts
from portal.tenants.models import Institution, Invitation, Membership
from portal.tenants.roles import REVIEWING_ROLES
from portal.text import clean_text


class TenantError(Exception):
    """A request about tenants that cannot be carried out; the message says why."""


def create_institution(name: str) -> Institution:
    name = " ".join(name.split())
    if not name:
        raise TenantError("An institution needs a name.")
    if len(name) > Institution._meta.get_field("name").max_length:
        raise TenantError("That name is too long (200 characters at most).")
    if Institution.objects.filter(name__iexact=name).exists():
        raise TenantError(f'An institution named "{name}" already exists.')
    try:
        with transaction.atomic():
            return Institution.objects.create(name=name, slug=Institution.unique_slug_for(name))
    except IntegrityError:
        # Another process created it between the check and the insert.
        raise TenantError(f'An institution named "{name}" already exists.') from None


def check_member_request(slug: str, email: str, role: str) -> tuple[Institution, str]:
    """The institution and normalised email of a valid request; ``TenantError`` otherwise."""
    try:
        institution = Institution.objects.get(slug=slug)
    except Institution.DoesNotExist:
        raise TenantError(f'No institution with the slug "{slug}".') from None
    if role not in Membership.Role.values:
        raise TenantError(
            f'Unknown role "{role}"; choose one of: {", ".join(Membership.Role.values)}.'
        )
    email = normalise_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise TenantError(f'"{email}" is not a valid email address.') from None
    return institution, email


def user_exists(email: str) -> bool:
    return get_user_model().objects.filter(email=normalise_email(email)).exists()


def add_member(
    slug: str,
    email: str,
    role: str,
    password: str | None = None,
    *,
    trainee: bool | None = None,
    credentials: str | None = None,
):
    """Create the user if needed and give them ``role`` in the institution.

    ``trainee`` and ``credentials``, when given, set the membership's trainee flag and
    the user's credentials ("MD, RDMS"); ``None`` leaves them as they are.
    Returns ``(membership, user_created, previous_role)``; ``previous_role`` is ``None``
    when the user was not yet a member.
    """
    institution, email = check_member_request(slug, email, role)
    if credentials is not None:
        credentials = clean_credentials(credentials)
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(email=email).first()
        user_created = user is None
        if user_created:
            if not password:
                raise TenantError(f"{email} is a new user and needs a password.")
            user = User.objects.create_user(email=email, password=password)
        membership = Membership.objects.filter(institution=institution, user=user).first()
        previous_role = membership.role if membership else None
        if membership is None:
            membership = Membership.objects.create(institution=institution, user=user, role=role)
        elif membership.role != role:
            membership.role = role
            if role not in REVIEWING_ROLES:  # as in change_role: a clinician has no QA role
                membership.is_qa_reviewer = membership.is_qa_lead = False
            membership.save(update_fields=["role", "is_qa_reviewer", "is_qa_lead"])
        if trainee is not None and membership.is_trainee != trainee:
            membership.is_trainee = trainee
            membership.save(update_fields=["is_trainee"])
        if credentials is not None and user.credentials != credentials:
            user.credentials = credentials
            user.save(update_fields=["credentials"])
    return membership, user_created, previous_role


def clean_credentials(value: str) -> str:
    """Credentials as printed after a signer's name: one clean line, 100 characters."""
    text = " ".join(clean_text(value).split())
    limit = get_user_model()._meta.get_field("credentials").max_length
    if len(text) > limit:
        raise TenantError(f"Credentials are {limit} characters at most.")
    return text


def _admin_count(institution, lock=False) -> int:
    admins = Membership.objects.for_institution(institution).filter(role=Membership.Role.ADMIN)
    if lock:
        # Two admins demoting each other at once must not leave the institution without one.
        admins = admins.select_for_update()
    return len(list(admins.values_list("pk", flat=True)))


def change_role(membership: Membership, role: str) -> str:
    """Give the member ``role``; returns the previous one. The last admin stays an admin."""
    if role not in Membership.Role.values:
        raise TenantError(f'Unknown role "{role}".')
    with transaction.atomic():
        previous = membership.role
        if (
            previous == Membership.Role.ADMIN
            and role != Membership.Role.ADMIN
            and _admin_count(membership.institution_id, lock=True) <= 1
        ):
            raise TenantError(
                f"{membership.user.email} is the last administrator of "
                f"{membership.institution.name}; make someone else an administrator first."
            )
        if role != previous:
            membership.role = role
            fields = ["role"]
            if role not in REVIEWING_ROLES and (membership.is_qa_reviewer or membership.is_qa_lead):
                # QA reads other people's exams: a clinician keeps no QA role.
                membership.is_qa_reviewer = membership.is_qa_lead = False
                fields += ["is_qa_reviewer", "is_qa_lead"]
            membership.save(update_fields=fields)
    return previous


def change_role_recorded(request, membership: Membership, role: str) -> str:
    """``change_role``, and the change in the institution's audit log (the members page
    and the API alike); returns the previous role."""
    had_qa_role = membership.is_qa_reviewer or membership.is_qa_lead
    previous = change_role(membership, role)
    if previous != membership.role:
        cleared = had_qa_role and not (membership.is_qa_reviewer or membership.is_qa_lead)
        audit(
            request,
            AuditEvent.Action.CHANGE_ROLE,
            membership,
            email=membership.user.email,
            previous=previous,
            role=membership.role,
            **({"is_qa_reviewer": False, "is_qa_lead": False} if cleared else {}),
        )
    return previous


def set_trainee_recorded(request, membership: Membership, is_trainee: bool) -> bool:
    """Mark the member a trainee (what they sign waits for an attending) or not; the
    change goes in the audit log as a role change. Returns whether anything changed."""
    with transaction.atomic():
        changed = (
            Membership.objects.filter(pk=membership.pk)
            .exclude(is_trainee=is_trainee)
            .update(is_trainee=is_trainee)
        )
        membership.is_trainee = is_trainee
        if changed:
            audit(
                request,
                AuditEvent.Action.CHANGE_ROLE,
                membership,
                email=membership.user.email,
                role=membership.role,
                trainee=is_trainee,
            )
    return bool(changed)


QA_ROLES = {"is_qa_reviewer": "QA reviewer", "is_qa_lead": "QA lead"}


class QARoleRefused(TenantError):
    """A QA role for a member whose role cannot hold it; ``field`` names the flag."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def set_qa_roles_recorded(request, membership: Membership, **flags: bool) -> bool:
    """Make the member a QA reviewer or QA lead, or no longer one (``is_qa_reviewer``,
    ``is_qa_lead``: ``True``/``False``; absent leaves it). Only a reviewing role may hold
    either (``TenantError`` otherwise). The change goes in the audit log as a role
    change, like the trainee flag. Returns whether anything changed."""
    unknown = set(flags) - set(QA_ROLES)
    if unknown:
        raise TenantError(f"Unknown QA role: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        current = Membership.objects.select_for_update().get(pk=membership.pk)
        wanted = [name for name, value in flags.items() if value]
        if wanted and current.role not in REVIEWING_ROLES:
            raise QARoleRefused(
                f"{membership.user.email} is a {current.get_role_display().lower()}: only "
                "reviewers and administrators can be QA reviewers or QA leads.",
                field=wanted[0],
            )
        changed = {name: value for name, value in flags.items() if getattr(current, name) != value}
        for name, value in changed.items():
            setattr(current, name, value)
            setattr(membership, name, value)
        if changed:
            current.save(update_fields=sorted(changed))
            audit(
                request,
                AuditEvent.Action.CHANGE_ROLE,
                membership,
                email=membership.user.email,
                role=current.role,
                **changed,
            )
    return bool(changed)


def remove_member(membership: Membership) -> None:
    """Remove the member and unlink their outside accounts here; never the last admin.

    Their exams stay with the institution; their links (Clarius accounts) are unlinked,
    by the integration that keeps them (``linked_accounts``), so that new exams they
    upload stop arriving in an institution they no longer belong to.
    """

    with transaction.atomic():
        if (
            membership.role == Membership.Role.ADMIN
            and _admin_count(membership.institution_id, lock=True) <= 1
        ):
            raise TenantError(
                f"{membership.user.email} is the last administrator of "
                f"{membership.institution.name} and cannot be removed."
            )
        linked_accounts.member_removed(membership)
        # A queryset delete leaves ``membership.pk`` set, for the audit log entry.
        Membership.objects.filter(pk=membership.pk).delete()


def invite_member(institution: Institution, email: str, role: str, invited_by) -> Invitation:
    """Invite ``email`` (checked by ``InvitationForm``) and send the link; the members page
    and the API both invite this way. Earlier open invitations of the address stop working.
    """
    invitation, token = invitations.invite(institution, email, role, invited_by)
    invitations.send_invitation(invitation, token)
    return invitation


def cancel_invitation(invitation: Invitation) -> bool:
    """Withdraw an open invitation; ``False`` if it was used, withdrawn or expired meanwhile."""
    cancelled = (
        Invitation.objects.filter(pk=invitation.pk).open().update(cancelled_at=timezone.now())
    )
    return bool(cancelled)
