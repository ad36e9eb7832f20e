"""The QA API: credentialing, as the credentialing pages show it.

- ``GET credentialing/``: each member's progress per exam type (QA-passed, failed and
  pending first reads, the threshold, the status and since when). QA leads and
  administrators get every member; anyone else, themselves only. Paged by member; each
  page costs the same few queries (``portal.qa.credentialing.progress``).
- ``GET credentialing/<user_id>/``: one member's (themselves, or anyone for a QA lead or
  administrator; 404 otherwise, and for another institution's member).
- ``POST`` / ``DELETE credentialing/<user_id>/grants/``: an administrator grants an exam
  type by hand with a note, or revokes a grant with a reason; both are in the audit log.
  A credential earned by count is not revoked by hand (409).
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.errors import Conflict
from portal.api.pagination import CursorPagination
from portal.api.review import BoundedBodyView, problem
from portal.dashboard.paging import SortKey
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.qa import credentialing
from portal.qa.access import is_qa_lead
from portal.tenants.models import Membership
from portal.tenants.roles import is_admin
from portal.tenants.scoping import scoped_to_request
from portal.text import clean_text
from portal.worksheets.models import ExamType

# The largest id any database compares (a larger one in the URL is no member, not an error).
MAX_ID = 2**63
STATUSES = [credentialing.IN_TRAINING, credentialing.BY_COUNT, credentialing.BY_GRANT]


class CredentialingPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField()


class CredentialingExamTypeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class CredentialingCredentialSerializer(serializers.Serializer):
    basis = serializers.ChoiceField(choices=["count", "grant"])
    since = serializers.DateTimeField(
        help_text="When the threshold was reached (by count) or the grant made."
    )
    granted_by = CredentialingPersonSerializer(allow_null=True)
    note = serializers.CharField(help_text="Why, for a grant; empty for a credential by count.")


class CredentialingTypeProgressSerializer(serializers.Serializer):
    exam_type = CredentialingExamTypeSerializer()
    required = serializers.IntegerField(help_text="QA-passed exams the program requires.")
    passed = serializers.IntegerField(help_text="QA-passed first reads.")
    failed = serializers.IntegerField(help_text="Scored first reads that did not pass.")
    pending = serializers.IntegerField(help_text="First reads awaiting QA.")
    status = serializers.ChoiceField(choices=STATUSES)
    status_label = serializers.CharField()
    credential = CredentialingCredentialSerializer(allow_null=True)


class CredentialingProgressSerializer(serializers.Serializer):
    user = CredentialingPersonSerializer()
    total_passed = serializers.IntegerField()
    total_required = serializers.IntegerField(
        help_text="The institution's total of QA-passed exams across exam types."
    )
    exam_types = CredentialingTypeProgressSerializer(many=True)


def person(user) -> dict | None:
    if user is None:
        return None
    return {
        "id": user.pk,
        "email": clean_text(user.email),
        "name": clean_text(user.get_full_name()),
    }


def progress_document(row, exam_type_code: str | None = None) -> dict:
    types = [t for t in row.types if not exam_type_code or t.exam_type.code == exam_type_code]
    return {
        "user": person(row.user),
        "total_passed": row.total_passed,
        "total_required": row.total_required,
        "exam_types": [
            {
                "exam_type": {
                    "id": t.exam_type.pk,
                    "code": t.exam_type.code,
                    "name": clean_text(t.exam_type.name),
                },
                "required": t.required,
                "passed": t.passed,
                "failed": t.failed,
                "pending": t.pending,
                "status": t.status,
                "status_label": t.status_label,
                "credential": None
                if t.credential is None
                else {
                    "basis": t.credential.basis,
                    "since": t.credential.since,
                    "granted_by": person(t.credential.granted_by),
                    "note": t.credential.note,
                },
            }
            for t in types
        ],
    }


class MemberPagination(CursorPagination):
    page_size = 50
    max_page_size = 200


class CredentialingView(BoundedBodyView):
    """Members of the current institution only; another's progress for QA leads and
    administrators only (404 otherwise, as the page answers)."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(request, "membership", None) is None:
            raise Http404("Members only")

    def member(self, request, user_id) -> Membership:
        if not 0 < user_id < MAX_ID:
            raise Http404("No such member")
        if user_id != request.user.pk and not is_qa_lead(request.membership):
            raise Http404("Your own credentialing only")
        found = (
            scoped_to_request(Membership, request)
            .select_related("user")
            .filter(user_id=user_id)
            .first()
        )
        if found is None:
            raise Http404("No such member in this institution")
        return found

    def answer(self, request, member, code=status.HTTP_200_OK):
        row = credentialing.operator_progress(request.institution.pk, member.user)
        return Response(progress_document(row), status=code)


class CredentialingFilterSerializer(serializers.Serializer):
    exam_type = serializers.CharField(required=False, max_length=40)


class CredentialingList(CredentialingView):
    pagination_class = MemberPagination
    cursor_keys = [SortKey("id", False, Membership._meta.pk)]

    @extend_schema(
        summary="Credentialing progress (yours; everyone's for QA leads and administrators)",
        description="Per member and exam type: QA-passed, failed and pending first reads, "
        "the threshold, the status (`in_training`, `count`, `grant`) and since when. "
        "`exam_type` (a code) lists that exam type only.",
        operation_id="qa_credentialing_list",
        parameters=[OpenApiParameter("exam_type", str, description="An exam type's code.")],
        # Not a dict with the 400: drf-spectacular documents the cursor parameters of a
        # list only when the response is the list serializer itself.
        responses=CredentialingProgressSerializer(many=True),
        tags=["qa"],
    )
    def get(self, request):
        given = CredentialingFilterSerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        code = given.validated_data.get("exam_type")
        if code and not scoped_to_request(ExamType, request).filter(code=code).exists():
            raise serializers.ValidationError({"exam_type": ["No exam type has this code."]})
        members = scoped_to_request(Membership, request)
        if not is_qa_lead(request.membership):
            members = members.filter(user=request.user)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(members, request, view=self)
        rows = {
            row.user.pk: row
            for row in credentialing.progress(request.institution.pk, [m.user_id for m in page])
        }
        return paginator.get_paginated_response(
            [progress_document(rows[m.user_id], code) for m in page if m.user_id in rows]
        )


class CredentialingDetail(CredentialingView):
    @extend_schema(
        summary="One member's credentialing progress",
        description="Yours, or anyone's for QA leads and administrators.",
        operation_id="qa_credentialing_retrieve",
        responses={
            200: CredentialingProgressSerializer,
            **problem(404, "Not a member whose credentialing you may see."),
        },
        tags=["qa"],
    )
    def get(self, request, user_id):
        return self.answer(request, self.member(request, user_id))


class CredentialingGrantInputSerializer(serializers.Serializer):
    exam_type = serializers.CharField(max_length=40, help_text="The exam type's code.")
    note = serializers.CharField(
        max_length=credentialing.NOTE_LIMIT,
        help_text='Why (e.g. "Credentialed at St Elsewhere, 2024"); on the letter and in '
        "the audit log.",
    )


class CredentialingRevokeInputSerializer(serializers.Serializer):
    exam_type = serializers.CharField(max_length=40, help_text="The exam type's code.")
    reason = serializers.CharField(max_length=credentialing.NOTE_LIMIT)


def refused(error: credentialing.CredentialRefused):
    if error.conflict:
        return Conflict(str(error))
    return serializers.ValidationError({error.field or "non_field_errors": [str(error)]})


class CredentialingGrants(CredentialingView):
    """Administrators only: anyone else gets a 404."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_admin(request):
            raise Http404("Institution administrators only")

    def exam_type(self, request, code) -> ExamType:
        found = scoped_to_request(ExamType, request).filter(code=code).first()
        if found is None:
            raise serializers.ValidationError({"exam_type": ["No exam type has this code."]})
        return found

    @extend_schema(
        summary="Grant privileges for an exam type by hand (administrators)",
        description="With a note saying why. In the audit log (`grant_credential`). 409 "
        "when the member is credentialed for the exam type already.",
        operation_id="qa_credentialing_grant",
        request=CredentialingGrantInputSerializer,
        responses={
            201: CredentialingProgressSerializer,
            **problem(400, "The exam type or the note is not valid."),
            **problem(404, "Not an administrator, or not a member of this institution."),
            **problem(409, "Credentialed for this exam type already."),
        },
        tags=["qa"],
    )
    def post(self, request, user_id):
        member = self.member(request, user_id)
        given = CredentialingGrantInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        exam_type = self.exam_type(request, given.validated_data["exam_type"])
        try:
            credential = credentialing.grant(
                request.institution.pk,
                member.user,
                exam_type,
                request.user,
                given.validated_data["note"],
            )
        except credentialing.CredentialRefused as error:
            raise refused(error) from None
        audit(
            request,
            AuditEvent.Action.GRANT_CREDENTIAL,
            credential,
            user=member.user_id,
            exam_type=exam_type.code,
            note=credential.note,
        )
        return self.answer(request, member, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke a grant (administrators)",
        description="The body names the exam type and the reason. Only a grant made by hand "
        "is revoked: a credential earned by count is a 409. When the member has reached "
        "the threshold by count meanwhile, they stay credentialed (by count). In the "
        "audit log (`revoke_credential`).",
        operation_id="qa_credentialing_revoke",
        request=CredentialingRevokeInputSerializer,
        responses={
            200: CredentialingProgressSerializer,
            **problem(400, "The exam type or the reason is not valid."),
            **problem(404, "Not an administrator, or not a member of this institution."),
            **problem(409, "No grant to revoke, or a credential earned by count."),
        },
        tags=["qa"],
    )
    def delete(self, request, user_id):
        member = self.member(request, user_id)
        given = CredentialingRevokeInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        exam_type = self.exam_type(request, given.validated_data["exam_type"])
        try:
            removed, earned = credentialing.revoke(
                request.institution.pk, member.user, exam_type, given.validated_data["reason"]
            )
        except credentialing.CredentialRefused as error:
            raise refused(error) from None
        audit(
            request,
            AuditEvent.Action.REVOKE_CREDENTIAL,
            removed,
            user=member.user_id,
            exam_type=exam_type.code,
            note=removed.note,
            reason=clean_text(given.validated_data["reason"], max_length=credentialing.NOTE_LIMIT),
            credentialed_by_count=earned is not None,
        )
        return self.answer(request, member)


urlpatterns = [
    path("credentialing/", CredentialingList.as_view(), name="api-qa-credentialing-list"),
    path(
        "credentialing/<int:user_id>/",
        CredentialingDetail.as_view(),
        name="api-qa-credentialing-detail",
    ),
    path(
        "credentialing/<int:user_id>/grants/",
        CredentialingGrants.as_view(),
        name="api-qa-credentialing-grants",
    ),
]
