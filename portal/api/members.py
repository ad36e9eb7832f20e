"""The institution's members and invitations over the API: administrators only.

The members page's actions, with its rules (``portal.tenants.services``: the last
administrator stays one; ``InvitationForm``: an address that is a member already is not
invited) and its audit events. Anyone but an administrator of the current institution
gets a 404, as on the page; another institution's member or invitation is a 404 too.
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.errors import Conflict
from portal.api.pagination import CursorPagination
from portal.api.review import BoundedBodyView, form_errors, problem
from portal.dashboard.paging import SortKey
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants.forms import InvitationForm, RoleForm
from portal.tenants.models import Invitation, Membership
from portal.tenants.roles import is_admin
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.tenants.services import (
    QA_ROLES,
    QARoleRefused,
    TenantError,
    cancel_invitation,
    change_role_recorded,
    invite_member,
    remove_member,
    set_qa_roles_recorded,
    set_trainee_recorded,
)
from portal.text import clean_text


class AdminView(BoundedBodyView):
    """Administrators of the current institution only: anyone else gets a 404."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_admin(request):
            raise Http404("Institution administrators only")


class MemberUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField()


class MemberPersonSerializer(MemberUserSerializer):
    credentials = serializers.CharField(
        help_text='Shown after the name on signed reports, e.g. "MD, RDMS" (each person '
        "sets their own on their profile page); empty when not given."
    )


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The membership's id (the one to change).")
    user = MemberPersonSerializer()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    role_label = serializers.CharField()
    is_trainee = serializers.BooleanField(
        help_text="A trainee's signed worksheet is preliminary until an attending (a "
        "reviewer or administrator who is not a trainee) attests it."
    )
    is_qa_reviewer = serializers.BooleanField(
        help_text="Scores the exams selected for quality review (reviewers and "
        "administrators only; a clinician's role change clears it)."
    )
    is_qa_lead = serializers.BooleanField(
        help_text="Runs the QA program: its settings, the whole queue, assignment "
        "(reviewers and administrators only; a clinician's role change clears it)."
    )
    created_at = serializers.DateTimeField()


def member_document(membership) -> dict:
    user = membership.user
    return {
        "id": membership.pk,
        "user": {
            "id": user.pk,
            "email": clean_text(user.email),
            "name": clean_text(user.get_full_name()),
            "credentials": clean_text(user.credentials),
        },
        "role": membership.role,
        "role_label": membership.get_role_display(),
        "is_trainee": membership.is_trainee,
        "is_qa_reviewer": membership.is_qa_reviewer,
        "is_qa_lead": membership.is_qa_lead,
        "created_at": membership.created_at,
    }


class MemberPagination(CursorPagination):
    page_size = 50
    max_page_size = 200


class MemberList(AdminView):
    """The institution's members."""

    pagination_class = MemberPagination
    cursor_keys = [SortKey("id", False, Membership._meta.pk)]

    @extend_schema(
        summary="The institution's members and their roles (administrators)",
        operation_id="members_list",
        responses=MemberSerializer(many=True),
        tags=["members"],
    )
    def get(self, request):
        members = scoped_to_request(Membership, request).select_related("user")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(members, request, view=self)
        return paginator.get_paginated_response([member_document(m) for m in page])


class MemberInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    is_trainee = serializers.BooleanField(required=False)
    is_qa_reviewer = serializers.BooleanField(required=False)
    is_qa_lead = serializers.BooleanField(required=False)


class MemberDetail(AdminView):
    """One member: their role, or their removal."""

    def member(self, request, pk):
        return get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)

    @extend_schema(summary="One member", responses={200: MemberSerializer}, tags=["members"])
    def get(self, request, pk):
        return Response(member_document(self.member(request, pk)))

    @extend_schema(
        summary="Change a member's role, trainee flag or QA roles",
        description="Send any of `role`, `is_trainee`, `is_qa_reviewer`, `is_qa_lead`; each "
        "change is in the audit log (`change_role`). The role changes first: a member made a "
        "clinician loses both QA roles, and only reviewers and administrators may get one "
        "(400 otherwise). 409 when it would leave the institution without an "
        "administrator. When anything is refused, nothing changes.",
        request=MemberInputSerializer,
        responses={
            200: MemberSerializer,
            **problem(409, "It would leave the institution without an administrator."),
        },
        tags=["members"],
    )
    def patch(self, request, pk):
        member = self.member(request, pk)
        data = self.body(request)
        if not set(data) & {"role", "is_trainee", *QA_ROLES}:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send role, is_trainee, is_qa_reviewer or is_qa_lead."]}
            )
        role = None
        if "role" in data:
            form = RoleForm({"role": data["role"]})
            if not isinstance(data["role"], str) or not form.is_valid():
                raise serializers.ValidationError(
                    {"role": [f"Choose one of the roles: {', '.join(Membership.Role.values)}."]}
                )
            role = form.cleaned_data["role"]
        trainee = data.get("is_trainee")
        # A JSON boolean only: "false" or 0 are refused rather than guessed at.
        if "is_trainee" in data and not isinstance(trainee, bool):
            raise serializers.ValidationError({"is_trainee": ["Send true or false."]})
        qa_roles = {name: data[name] for name in QA_ROLES if name in data}
        for name, value in qa_roles.items():
            if not isinstance(value, bool):
                raise serializers.ValidationError({name: ["Send true or false."]})
        try:
            with transaction.atomic():
                if role is not None:
                    change_role_recorded(request, member, role)
                if trainee is not None:
                    set_trainee_recorded(request, member, trainee)
                if qa_roles:
                    set_qa_roles_recorded(request, member, **qa_roles)
        except QARoleRefused as e:
            member.refresh_from_db()
            raise serializers.ValidationError({e.field: [str(e)]}) from None
        except TenantError as e:
            member.refresh_from_db()
            raise Conflict(str(e)) from None
        return Response(member_document(member))

    @extend_schema(
        summary="Remove a member",
        description="Their exams stay; their linked accounts are unlinked. 409 for the "
        "last administrator.",
        request=None,
        responses={204: None, **problem(409, "The last administrator stays.")},
        tags=["members"],
    )
    def delete(self, request, pk):
        member = self.member(request, pk)
        try:
            remove_member(member)
        except TenantError as e:
            raise Conflict(str(e)) from None
        audit(
            request,
            AuditEvent.Action.REMOVE_MEMBER,
            member,
            email=member.user.email,
            role=member.role,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    invited_by = MemberUserSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InvitationInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Membership.Role.choices)


def invitation_document(invitation) -> dict:
    by = invitation.invited_by
    return {
        "id": invitation.pk,
        "email": clean_text(invitation.email),
        "role": invitation.role,
        "invited_by": None
        if by is None
        else {"id": by.pk, "email": clean_text(by.email), "name": clean_text(by.get_full_name())},
        "created_at": invitation.created_at,
        "expires_at": invitation.expires_at,
    }


class InvitationList(AdminView):
    """The institution's open invitations."""

    pagination_class = MemberPagination

    @extend_schema(
        summary="The open invitations (administrators)",
        operation_id="invitations_list",
        responses=InvitationSerializer(many=True),
        tags=["members"],
    )
    def get(self, request):
        invitations = scoped_to_request(Invitation, request).open().select_related("invited_by")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(invitations, request, view=self)
        return paginator.get_paginated_response([invitation_document(i) for i in page])

    @extend_schema(
        summary="Invite someone by email",
        description="The link is emailed (never answered); it works once, for 7 days. An "
        "earlier open invitation of the address stops working. 400 for a member already.",
        request=InvitationInputSerializer,
        responses={201: InvitationSerializer},
        tags=["members"],
    )
    def post(self, request):
        data = self.body(request)
        given = InvitationInputSerializer(data=data)
        given.is_valid(raise_exception=True)
        form = InvitationForm(dict(given.validated_data), institution=request.institution)
        if not form.is_valid():
            raise form_errors(form)
        email, role = form.cleaned_data["email"], form.cleaned_data["role"]
        invitation = invite_member(request.institution, email, role, request.user)
        audit(request, AuditEvent.Action.INVITE_MEMBER, invitation, email=email, role=role)
        return Response(invitation_document(invitation), status=status.HTTP_201_CREATED)


class InvitationDetail(AdminView):
    """One open invitation."""

    @extend_schema(
        summary="Withdraw an open invitation",
        description="Its link stops working. An invitation used, withdrawn or expired is a 404.",
        request=None,
        responses={204: None},
        tags=["members"],
    )
    def delete(self, request, pk):
        invitation = get_scoped_or_404(Invitation.objects.open(), request, pk=pk)
        if not cancel_invitation(invitation):
            raise Http404("No open invitation with this id")
        audit(request, AuditEvent.Action.CANCEL_INVITATION, invitation, email=invitation.email)
        return Response(status=status.HTTP_204_NO_CONTENT)
