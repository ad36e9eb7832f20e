"""The review of an exam over the API: the staff actions of the exam page, as endpoints.

Every endpoint starts where the page does (``portal.reports.access``: another
institution's exam, or a clinician's view of someone else's, is a 404; writing is for
reviewers and administrators, a 403 for a clinician who can see the exam) and carries
its step out with the page's rule (``portal.reports.review``, ``issuing.retry_report``),
so the API can do nothing the page refuses, and refuses it with the same reason.

The worksheet is written with optimistic concurrency: ``GET .../findings/`` answers with
an ``ETag`` (the worksheet's version); ``PUT`` must send it back in ``If-Match``. No
``If-Match`` is a 428, a stale one a 412 (someone else saved meanwhile: read again).
A write on signed findings is a 409, as is signing twice; an attending may still edit a
trainee's signed worksheet before attesting it (``save_findings`` decides).

The structured worksheet (the exam type, its template's answers, the views checklist and
key images) is checked by one rule, ``review.fill_worksheet(strict=True)``: the page's
form checks the text fields and the exam type's choice, then the API's values are put on
the worksheet through it. Its errors, and signing's (``completeness_errors``), are named
as the API's fields: ``answers.<field code>``, ``views.<view code>``,
``key_images.<capture id>``, ``exam_type``, ``impression``.
"""

from __future__ import annotations

from functools import partial

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api import schema
from portal.api.errors import Conflict, PayloadTooLarge, PreconditionFailed, PreconditionRequired
from portal.api.pagination import CursorPagination
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.dashboard.paging import SortKey
from portal.exams.access import audit, visible_exams
from portal.exams.models import AuditEvent
from portal.exams.serving import media_response
from portal.reports import api as reports_api
from portal.reports.access import can_review, exam_for_review, exam_or_404
from portal.reports.downloads import StoredFile
from portal.reports.forms import AddendumForm, FindingsForm, clean_review_text
from portal.reports.issuing import ReportRefused, retry_report
from portal.reports.limits import FINDINGS_LIMITS, too_long
from portal.reports.models import Report
from portal.reports.review import (
    UNSAVED,
    IncompleteWorksheet,
    InvalidWorksheet,
    NotAllowed,
    ReviewRefused,
    StaleFindings,
    add_addendum,
    assign_to,
    attest_findings,
    check_unassign,
    completeness_errors,
    fill_worksheet,
    findings_of,
    findings_version,
    reviewer_named,
    save_findings,
    sign_findings,
    unassign,
)
from portal.tenants.roles import is_admin
from portal.text import clean_text
from portal.worksheets.engine import DefinitionError

# The largest body a review write reads: the worksheet at its limits, every character
# escaped as JSON's six-byte \uXXXX, and room for the keys.
BODY_LIMIT = 512 * 1024
FINDINGS_FIELDS = [*FINDINGS_LIMITS, "image_quality"]
# The structured part of the worksheet; a PUT that sends none of it leaves it as it is.
STRUCTURED_FIELDS = ["exam_type", "answers", "views", "key_images"]
INPUT_FIELDS = [*FINDINGS_FIELDS, *STRUCTURED_FIELDS]
# Worksheet error codes that are the API's field names as they are.
WHOLE_FIELDS = {"exam_type", "answers", "views", "key_images", "impression", "worksheet"}


def api_field(code: str) -> str:
    """A worksheet error's code (``portal.reports.review``) as the API's field name."""
    if code in WHOLE_FIELDS:
        return code
    if code.startswith("view:"):
        return f"views.{code[5:]}"
    if code.startswith("key_images:"):
        return f"key_images.{code[11:]}"
    return f"answers.{code}"


def worksheet_errors(errors: dict[str, str]) -> dict[str, list[str]]:
    return {api_field(code): [str(message)] for code, message in errors.items()}


def missing_of(findings) -> dict[str, str]:
    """What signing still needs, by the API's field names (empty when complete)."""
    try:
        errors = completeness_errors(findings)
    except DefinitionError as e:
        errors = {"exam_type": f"The exam type's worksheet version has problems: {e}"}
    return {api_field(code): str(message) for code, message in errors.items()}


def broken_template(error: DefinitionError) -> Conflict:
    return Conflict(
        "The exam type's worksheet has problems an administrator must fix first "
        f"(a new version on the exam types page): {error}"
    )


def problem(code: int, description: str) -> dict:
    """An error answer for ``extend_schema(responses=...)``: the RFC 9457 problem
    component ``portal.api.schema`` documents every error with."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {(code, "application/problem+json"): OpenApiResponse(schema, description=description)}


def refusal(error: ReviewRefused | ReportRefused):
    """The API's answer to a refused step: 403 for who asks, 409 for the exam's state,
    400 for the input."""
    if isinstance(error, NotAllowed):
        return PermissionDenied(str(error))
    if isinstance(error, ReviewRefused) and error.conflict:
        return Conflict(str(error))
    field = getattr(error, "field", None)
    if field:
        return serializers.ValidationError({field: [str(error)]})
    return serializers.ValidationError(str(error))


def form_errors(form) -> serializers.ValidationError:
    """A page form's errors, as the API's field errors."""
    errors = form.errors.get_json_data()
    return serializers.ValidationError(
        {field: [e["message"] for e in found] for field, found in errors.items()}
    )


def report_summary(report) -> dict:
    return {
        "id": report.pk,
        "version": report.version,
        "name": clean_text(report.name),
        "state": report.state,
    }


class BoundedBodyView(InstitutionFromRequestMixin, APIView):
    """An endpoint that reads a JSON body: the body is bounded before anything reads it."""

    def initial(self, request, *args, **kwargs):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not (declared.isascii() and declared.isdigit()):
            raise ParseError("The Content-Length header is not a whole number.")
        if len(declared) > 12 or int(declared) > BODY_LIMIT:
            raise PayloadTooLarge(f"The request body may be at most {BODY_LIMIT} bytes.")
        super().initial(request, *args, **kwargs)

    def body(self, request) -> dict:
        """The JSON object sent (an empty body is an empty object)."""
        return reports_api.read_data(request)


@extend_schema_field({})
class AnyValue(serializers.JSONField):
    """Any JSON value, null included (documented as one schema, not null twice)."""

    def validate_empty_values(self, data):
        if data is None:
            return True, None
        return super().validate_empty_values(data)


@extend_schema_field({"type": "null"})
class NullField(serializers.JSONField):
    """Always null (documented so)."""


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def person(user):
    if user is None:
        return None
    return {"id": user.pk, "name": clean_text(user.get_full_name() or user.email)}


class FindingsSerializer(serializers.Serializer):
    """The worksheet; ``version`` is also the ``ETag`` header."""

    exam = serializers.IntegerField()
    review_state = serializers.CharField()
    version = serializers.CharField()
    indication = serializers.CharField(allow_blank=True)
    views_obtained = serializers.CharField(allow_blank=True)
    findings = serializers.CharField(allow_blank=True)
    impression = serializers.CharField(allow_blank=True)
    image_quality = serializers.IntegerField(allow_null=True, min_value=1, max_value=5)
    clinician_feedback = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = PersonSerializer(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    signed_by = PersonSerializer(allow_null=True)
    exam_type = serializers.CharField(
        allow_null=True,
        help_text="The exam type's code (`GET /exam-types/`): the worksheet's, else the one "
        "proposed from the Clarius application; null when none.",
    )
    exam_type_confirmed = serializers.BooleanField(
        help_text="Whether a reviewer chose or kept the exam type (false: only proposed)."
    )
    template_version = serializers.IntegerField(
        allow_null=True,
        help_text="The version of the exam type's worksheet the answers belong to; null "
        "before any structured answer was saved.",
    )
    answers = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Field code → value: a choice's code, a list of codes (multi), true/false "
        "(yesno), a number, or text.",
    )
    views = serializers.DictField(
        child=serializers.JSONField(),
        help_text='View code → `"obtained"` or `{"not_obtained": "<reason>"}`.',
    )
    key_images = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text="Capture id → caption: the stills the report shows (none chosen: the "
        "exam's first six).",
    )
    missing = serializers.DictField(
        child=serializers.CharField(),
        help_text="What signing still needs, by field (`answers.<code>`, `views.<code>`, "
        "`exam_type`, `impression`); empty when the worksheet is complete.",
    )
    signed_as_trainee = serializers.BooleanField(
        help_text="Signed by a trainee: preliminary until an attending attests it."
    )
    awaiting_attestation = serializers.BooleanField()
    attested_at = serializers.DateTimeField(allow_null=True)
    attested_by = PersonSerializer(allow_null=True)
    attestation_statement = serializers.CharField(allow_blank=True)


class TextField(serializers.CharField):
    """Text only: a number or a boolean is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class FindingsInputSerializer(serializers.Serializer):
    """Every text field of the worksheet (a PUT replaces them); the limits are the page's.
    The structured part is optional: each of its fields left out keeps its value."""

    indication = TextField(allow_blank=True, trim_whitespace=False)
    views_obtained = TextField(
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        help_text="Optional, deprecated: the free-text views of worksheets written before "
        "the views checklist (`views`); left out, it stays as saved.",
    )
    findings = TextField(allow_blank=True, trim_whitespace=False)
    impression = TextField(allow_blank=True, trim_whitespace=False)
    image_quality = serializers.IntegerField(allow_null=True, min_value=1, max_value=5)
    clinician_feedback = TextField(allow_blank=True, trim_whitespace=False)
    exam_type = TextField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text="The code of one of the institution's exam types in use (or the exam's "
        "current one, even if retired since); null for none. Left out: the worksheet's "
        "type (else the exam's).",
    )
    answers = serializers.DictField(
        child=AnyValue(),
        required=False,
        help_text="Field code → value, for the fields of the exam type's newest worksheet "
        "version; a value of null, an empty text or list is not answered. Left out: as saved.",
    )
    views = serializers.DictField(
        child=AnyValue(),
        required=False,
        help_text='View code → `"obtained"` or `{"not_obtained": "<reason>"}`. Left out: as saved.',
    )
    key_images = serializers.DictField(
        child=TextField(allow_blank=True, allow_null=True, trim_whitespace=False),
        required=False,
        help_text="Capture id → caption (at most 200 characters): stills of this exam, "
        "at most 12. Left out: as saved.",
    )


def findings_document(exam, findings) -> dict:
    template = findings.template if findings.template_id else None
    if template is not None:
        exam_type = template.exam_type.code
    else:
        exam_type = exam.exam_type.code if exam.exam_type_id else None
    return {
        "exam": exam.pk,
        "review_state": exam.review_state,
        "version": findings_version(findings),
        **{name: getattr(findings, name) for name in FINDINGS_FIELDS},
        "updated_at": findings.updated_at,
        "updated_by": person(findings.updated_by) if findings.updated_by_id else None,
        "signed_at": findings.signed_at,
        "signed_by": person(findings.signed_by) if findings.signed_by_id else None,
        "exam_type": exam_type,
        "exam_type_confirmed": exam.exam_type_confirmed,
        "template_version": template.version if template is not None else None,
        "answers": findings.answers or {},
        "views": findings.views or {},
        "key_images": findings.key_images or {},
        "missing": {}
        if findings.is_signed and not findings.awaiting_attestation
        else missing_of(findings),
        "signed_as_trainee": findings.signed_as_trainee,
        "awaiting_attestation": findings.awaiting_attestation,
        "attested_at": findings.attested_at,
        "attested_by": person(findings.attested_by) if findings.attested_by_id else None,
        "attestation_statement": clean_text(findings.attestation_statement or "", multiline=True),
    }


def etag(version: str) -> str:
    return f'"{version}"'


def if_match(request, findings) -> str:
    """The version ``If-Match`` names, checked against the stored one: 428 if the header
    is missing, 412 if it names another version (``*`` matches a saved worksheet)."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        raise PreconditionRequired(
            "Send If-Match with the ETag of the findings you read "
            "(GET the findings first): a write without it could overwrite someone else's."
        )
    current = findings_version(findings)
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags and current != UNSAVED:
        return current
    for tag in tags:
        if tag.startswith("W/"):
            continue  # If-Match compares strong validators only (RFC 9110 13.1.1)
        if tag == etag(current):
            return current
    raise stale(findings)


def stale(findings):
    error = StaleFindings(findings if findings.pk else None)
    return PreconditionFailed(
        f"{error} (The findings' version is now {etag(findings_version(findings))}.)"
    )


class ExamFindings(BoundedBodyView):
    """The exam's findings worksheet: read it (with its ``ETag``), save the draft."""

    @extend_schema(
        summary="The exam's findings worksheet (draft or signed)",
        responses={200: FindingsSerializer},
        tags=["review"],
    )
    def get(self, request, pk):
        exam = exam_for_review(request, pk)
        findings = findings_of(exam)
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api_findings")
        version = findings_version(findings)
        return Response(
            FindingsSerializer(findings_document(exam, findings)).data,
            headers={"ETag": etag(version), "Cache-Control": "no-store"},
        )

    @extend_schema(
        summary="Save the findings worksheet (the draft)",
        description="Send every text field; the structured part (`exam_type`, `answers`, "
        "`views`, `key_images`) is optional, each field left out keeping its saved value "
        "(a body with none of them leaves the worksheet's structure and the exam type as "
        "they are). Answers and views must fit the chosen exam type's newest worksheet "
        "version: a value that does not, an unknown field or view code, or a key image "
        "that is not a still of this exam is a 400 naming it (`answers.<code>`, "
        "`views.<code>`, `key_images.<id>`); nothing is saved then. A draft may be "
        "incomplete (`missing` says what signing needs). `If-Match` with the `ETag` of "
        "the findings read is required: without it 428, with an older one 412 (someone "
        "else saved meanwhile). Signed findings cannot change (409), except that an "
        "attending may edit a trainee's signed worksheet before attesting it.",
        parameters=[
            OpenApiParameter(
                "If-Match", str, OpenApiParameter.HEADER, required=True, description="ETag"
            )
        ],
        request=FindingsInputSerializer,
        responses={
            200: FindingsSerializer,
            **problem(400, "A field is missing, unknown or invalid (`errors` names each)."),
            **problem(409, "The findings are signed."),
            **problem(412, "The findings changed since they were read."),
            **problem(428, "If-Match is missing."),
        },
        tags=["review"],
    )
    def put(self, request, pk):
        exam = exam_for_review(request, pk)
        findings = findings_of(exam)
        if findings.is_signed and not findings.awaiting_attestation:
            raise Conflict("These findings are signed and cannot change: add an addendum.")
        expected = if_match(request, findings)
        try:
            form = self.valid_form(request, exam, findings)
        except DefinitionError as e:
            raise broken_template(e) from None
        try:
            save_findings(form.instance, request.user, expected_version=expected)
        except StaleFindings:
            raise stale(findings_of(exam_or_404(request, pk))) from None
        except ReviewRefused as e:
            raise refusal(e) from None
        exam.refresh_from_db()
        version = findings_version(form.instance)
        return Response(
            FindingsSerializer(findings_document(exam, form.instance)).data,
            headers={"ETag": etag(version), "Cache-Control": "no-store"},
        )

    def valid_form(self, request, exam, findings) -> FindingsForm:
        """The page's form for the text fields and the exam type's choice, then the
        structured part as sent, through ``fill_worksheet(strict=True)``: one rule."""
        data = self.body(request)
        unknown = sorted(str(k)[:40] for k in data if k not in INPUT_FIELDS)
        if unknown:
            raise serializers.ValidationError(
                {
                    key: [f"Unknown field; the worksheet's are: {', '.join(INPUT_FIELDS)}."]
                    for key in unknown[:10]
                }
            )
        given = FindingsInputSerializer(data=data)
        given.is_valid(raise_exception=True)
        values = dict(given.validated_data)
        sent = {name: values.pop(name) for name in STRUCTURED_FIELDS if name in values}
        stored = {
            "template": findings.template if findings.template_id else None,
            "answers": findings.answers or {},
            "views": findings.views or {},
            "key_images": findings.key_images or {},
        }
        if "exam_type" in sent:
            type_code = sent["exam_type"]
        elif stored["template"] is not None:
            type_code = stored["template"].exam_type.code
        else:
            type_code = exam.exam_type.code if exam.exam_type_id else None
        quality = values.pop("image_quality")
        legacy_views = values.pop("views_obtained", None)
        if legacy_views is not None:
            reason = too_long("Views obtained", legacy_views, FINDINGS_LIMITS["views_obtained"])
            if reason:
                raise serializers.ValidationError({"views_obtained": [reason]})
        form = FindingsForm(
            {**values, "image_quality": quality or "", "exam_type": type_code or ""},
            instance=findings,
        )
        if not form.is_valid():
            raise form_errors(form)
        instance = form.instance
        if legacy_views is not None:
            # Not a field of the page's form any more (the checklist replaced it).
            instance.views_obtained = clean_review_text(legacy_views)
        if not sent:
            # Text only (a client of before the worksheets): the structure stays as saved.
            instance.template = stored["template"]
            instance.answers, instance.views = stored["answers"], stored["views"]
            instance.key_images = stored["key_images"]
            instance._exam_type = None
            return form
        chosen = next((t for t in form.exam_types if t.code == type_code), None)
        try:
            fill_worksheet(
                instance,
                exam_type=chosen,
                answers=sent.get("answers", stored["answers"]),
                views=sent.get("views", stored["views"]),
                key_images=sent.get("key_images", stored["key_images"]),
                strict=True,
            )
        except InvalidWorksheet as e:
            raise serializers.ValidationError(worksheet_errors(e.errors)) from None
        return form


class ReportSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The report version the signature issues.")
    version = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.CharField()


class SignedSerializer(ReportSummarySerializer):
    review_state = serializers.ChoiceField(
        choices=["signed", "preliminary"],
        help_text="`preliminary` when a trainee signed: the report says so, and an "
        "attending attests it later (`POST .../attest/`).",
    )


class HeldSerializer(serializers.Serializer):
    review_state = serializers.ChoiceField(choices=["preliminary"])
    report = NullField(help_text="Always null: no report yet.")
    detail = serializers.CharField()


INCOMPLETE = (
    "The worksheet is incomplete (a problem whose `errors` name every missing field: "
    "`answers.<code>`, `views.<code>`, `exam_type`, `impression`)."
)


def signed_answer(report, exam) -> Response:
    return Response(
        {**report_summary(report), "review_state": exam.review_state},
        status=status.HTTP_201_CREATED,
    )


class SignInputSerializer(serializers.Serializer):
    sign_without_missing_captures = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Sign although some of the exam's captures are not downloaded yet (or "
        "their download failed); without it, such a signature is refused with a 409. "
        "The audit event records how many were missing.",
    )


MISSING = (
    "The findings are signed already, or some captures are not downloaded yet (or "
    "failed) and `sign_without_missing_captures` was not sent."
)


class ExamSign(BoundedBodyView):
    """Sign the exam's findings: the first report version."""

    @extend_schema(
        summary="Sign the findings as saved",
        description="Locks the findings and issues the first report version (made and "
        "delivered in the background). Signing needs the worksheet complete: an exam type, "
        "every required field answered, every required view recorded, and the impression; "
        "else a 400 whose `errors` name each missing one (as `missing` in the findings). "
        "`If-Match` is optional: when sent, the findings signed must be that version (412 "
        "otherwise); 409 when already signed. A trainee's signature is preliminary "
        "(`review_state: preliminary`): when the institution holds trainees' reports until "
        "attested the answer is a 202 with `report: null`; otherwise a 201 with the "
        "preliminary version. While captures of the exam are not downloaded (or failed), "
        "signing is a 409 saying how many, unless `sign_without_missing_captures` is true.",
        request=SignInputSerializer,
        responses={
            201: SignedSerializer,
            202: HeldSerializer,
            **problem(400, INCOMPLETE),
            **problem(409, MISSING),
            **problem(412, "The findings changed since they were read."),
        },
        tags=["review"],
    )
    def post(self, request, pk):
        exam = exam_for_review(request, pk)
        findings = findings_of(exam)
        if findings.is_signed:
            raise Conflict("These findings are signed already: add an addendum instead.")
        given = SignInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        expected = None
        if request.headers.get("If-Match"):
            expected = if_match(request, findings)
        without = given.validated_data["sign_without_missing_captures"]
        step = partial(sign_findings, without_missing_captures=without)
        report = signing_step(step, request, pk, findings, expected)
        exam.refresh_from_db(fields=["review_state"])
        missing = getattr(findings, "missing_captures_at_signing", 0)
        audit(
            request,
            AuditEvent.Action.SIGN_FINDINGS,
            exam,
            report_version=report.version if report else None,
            preliminary=findings.signed_as_trainee,
            **({"missing_captures": missing} if missing else {}),
        )
        if report is None:
            return Response(
                {
                    "review_state": exam.review_state,
                    "report": None,
                    "detail": "Signed as preliminary: the report goes out when an attending "
                    "attests it.",
                },
                status=status.HTTP_202_ACCEPTED,
            )
        return signed_answer(report, exam)


def signing_step(step, request, pk, findings, expected):
    """Sign or attest (``step``), with the API's answer to each way it is refused."""
    try:
        return step(findings, request.user, expected_version=expected)
    except StaleFindings:
        raise stale(findings_of(exam_or_404(request, pk))) from None
    except IncompleteWorksheet as e:
        raise serializers.ValidationError(worksheet_errors(e.errors)) from None
    except DefinitionError as e:
        raise broken_template(e) from None
    except (ReviewRefused, ReportRefused) as e:
        raise refusal(e) from None


class ExamAttest(BoundedBodyView):
    """An attending attests a trainee's signed worksheet: the final report version."""

    @extend_schema(
        summary="Attest a trainee's signed worksheet",
        description="For an attending: a reviewer or administrator who is not a trainee "
        "(a trainee is refused with 403). Attests the worksheet as saved (edit it first "
        "with `PUT .../findings/` if needed) with the institution's attestation statement, "
        "and issues the final report version. `If-Match` is optional, as for signing. 409 "
        "when nothing awaits attestation (not signed, signed by an attending, or attested "
        "already); 400 when the worksheet is incomplete.",
        request=None,
        responses={
            201: SignedSerializer,
            **problem(400, INCOMPLETE),
            **problem(403, "A trainee (or a clinician) cannot attest."),
            **problem(409, "Nothing awaits attestation."),
            **problem(412, "The findings changed since they were read."),
        },
        tags=["review"],
    )
    def post(self, request, pk):
        exam = exam_for_review(request, pk)
        findings = findings_of(exam)
        if not findings.awaiting_attestation:
            raise Conflict(
                "Nothing awaits attestation: only a worksheet signed as preliminary, not "
                "yet attested, can be attested."
            )
        expected = None
        if request.headers.get("If-Match"):
            expected = if_match(request, findings)
        report = signing_step(attest_findings, request, pk, findings, expected)
        exam.refresh_from_db(fields=["review_state"])
        audit(request, AuditEvent.Action.ATTEST_FINDINGS, exam, report_version=report.version)
        return signed_answer(report, exam)


class AddendumInputSerializer(serializers.Serializer):
    text = TextField(trim_whitespace=False)
    captures = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=100,
        help_text="Ids of the exam's captures that arrived after signing which the addendum "
        "is about; adding it clears the exam's new_images_since_signing.",
    )


class AddendumSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    signed_at = serializers.DateTimeField()
    report = ReportSummarySerializer()


class ExamAddenda(BoundedBodyView):
    """Addenda to signed findings, each a new report version."""

    @extend_schema(
        summary="Add a signed addendum to signed findings",
        description="Signed as it is written; issues a new report version. 409 when the "
        "findings are not signed yet, or the exam carries the most addenda it may.",
        request=AddendumInputSerializer,
        responses={
            201: AddendumSerializer,
            **problem(409, "The findings are not signed, or carry the most addenda."),
        },
        tags=["review"],
    )
    def post(self, request, pk):
        exam = exam_for_review(request, pk)
        data = self.body(request)
        given = AddendumInputSerializer(data=data)
        given.is_valid(raise_exception=True)
        form = AddendumForm({"text": given.validated_data["text"]})
        if not form.is_valid():
            raise form_errors(form)
        try:
            addendum, report = add_addendum(
                exam,
                request.user,
                form.cleaned_data["text"],
                captures=given.validated_data.get("captures", []),
            )
        except (ReviewRefused, ReportRefused) as e:
            raise refusal(e) from None
        audit(
            request,
            AuditEvent.Action.ADD_ADDENDUM,
            exam,
            number=addendum.number,
            report_version=report.version,
        )
        return Response(
            {
                "number": addendum.number,
                "signed_at": addendum.signed_at,
                "report": report_summary(report),
            },
            status=status.HTTP_201_CREATED,
        )


class AssignmentInputSerializer(serializers.Serializer):
    reviewer = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="The user id of a reviewer or administrator of the institution "
        "(administrators only); yourself when left out.",
    )


class AssignmentSerializer(serializers.Serializer):
    exam = serializers.IntegerField()
    review_state = serializers.CharField()
    reviewer = PersonSerializer(allow_null=True)


def assignment_document(exam):
    return {
        "exam": exam.pk,
        "review_state": exam.review_state,
        "reviewer": person(exam.reviewer) if exam.reviewer_id else None,
    }


class ExamAssignment(BoundedBodyView):
    """Who reviews the exam."""

    @extend_schema(
        summary="Assign the exam for review",
        description="To yourself (as the page's “Assign to me”), or, for administrators, to a "
        "named reviewer or administrator of the institution. A new exam moves to in review.",
        request=AssignmentInputSerializer,
        responses={200: AssignmentSerializer},
        tags=["review"],
    )
    def post(self, request, pk):
        exam = exam_for_review(request, pk)
        given = AssignmentInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        named = given.validated_data.get("reviewer")
        try:
            reviewer = reviewer_named(exam, request.user, named, admin=is_admin(request))
        except ReviewRefused as e:
            raise refusal(e) from None
        assign_to(exam, reviewer)
        audit(request, AuditEvent.Action.ASSIGN_EXAM, exam, reviewer=reviewer.pk)
        return Response(assignment_document(exam))

    @extend_schema(
        summary="Unassign the exam",
        description="The assigned reviewer or an administrator; an exam in review is new "
        "again. A signed exam keeps its reviewer of record: 409.",
        request=None,
        responses={
            200: AssignmentSerializer,
            **problem(409, "The exam is signed: its reviewer stays."),
        },
        tags=["review"],
    )
    def delete(self, request, pk):
        exam = exam_for_review(request, pk)
        try:
            check_unassign(exam, request.user, admin=is_admin(request))
            unassign(exam)
        except ReviewRefused as e:
            raise refusal(e) from None
        exam.refresh_from_db()
        return Response(assignment_document(exam))


class DeliverySerializer(serializers.Serializer):
    destination = serializers.CharField()
    label = serializers.CharField()
    state = serializers.CharField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    pushed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    created_by = PersonSerializer(allow_null=True)
    can_retry = serializers.BooleanField()
    pdf_url = serializers.CharField(allow_null=True)
    deliveries = DeliverySerializer(many=True)


def report_document(report, request) -> dict:
    pdf = None
    if report.has_pdf:
        pdf = request.build_absolute_uri(reverse("api-report-pdf", args=[report.pk]))
    return {
        "id": report.pk,
        "version": report.version,
        "name": clean_text(report.name),
        "source": report.source,
        "state": report.state,
        "state_label": report.state_label,
        "attempts": report.attempts,
        "last_error": clean_text(report.last_error or ""),
        "next_attempt_at": report.next_attempt_at,
        "pushed_at": report.pushed_at,
        "created_at": report.created_at,
        "created_by": person(report.created_by) if report.created_by_id else None,
        "can_retry": report.can_retry,
        "pdf_url": pdf,
        "deliveries": [
            {
                "destination": d.destination,
                "label": d.destination_label,
                "state": d.state,
                "attempts": d.attempts,
                "last_error": clean_text(d.last_error or ""),
                "next_attempt_at": d.next_attempt_at,
                "sent_at": d.sent_at,
            }
            for d in report.deliveries.all()
        ],
    }


class ReportPagination(CursorPagination):
    page_size = 20
    max_page_size = 100


REPORT_NAME = {"type": "string", "maxLength": 200, "description": "The report's name."}


class ExamReportVersions(reports_api.ExamReports):
    """``GET``: the exam's report versions, newest first, with their deliveries (anyone
    who can see the exam, as the page's list); ``POST``: see ``portal.reports.api``."""

    pagination_class = ReportPagination
    cursor_keys = [SortKey("version", True, Report._meta.get_field("version"))]

    @extend_schema(
        summary="The exam's report versions and their deliveries",
        operation_id="exams_reports_list",
        responses=ReportSerializer(many=True),
        tags=["reports"],
    )
    def get(self, request, pk):
        exam = exam_or_404(request, pk)
        reports = exam.reports.select_related("created_by").prefetch_related("deliveries")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(reports, request, view=self)
        return paginator.get_paginated_response([report_document(r, request) for r in page])

    @extend_schema(
        summary="Send a report",
        description="A new report version for the exam, pushed to Clarius in the "
        "background: a PDF made elsewhere (multipart `name` + `file`), or `name` "
        "alone to draw the PDF from the exam's signed findings (`state` is then "
        "`generating`). Reviewers and administrators; a key needs the write scope; "
        "a session needs the CSRF token.",
        request={
            "multipart/form-data": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": REPORT_NAME,
                    "file": {"type": "string", "format": "binary", "description": "A PDF."},
                },
            },
            "application/json": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": REPORT_NAME},
            },
        },
        responses={
            201: OpenApiResponse(
                schema.REPORT,
                description="The new version.",
                examples=[
                    OpenApiExample(
                        "generated",
                        value={"id": 7, "name": "Cardiology read", "state": "generating"},
                    )
                ],
            )
        },
        tags=["exams"],
    )
    def post(self, request, pk):
        return super().post(request, pk)


def visible_report(request, pk) -> Report:
    """A report of an exam the request may see; another's (or none) is a 404."""
    return get_object_or_404(
        Report.objects.filter(exam__in=visible_exams(request)).select_related("exam"), pk=pk
    )


class ReportPdf(InstitutionFromRequestMixin, APIView):
    """The PDF of one report version."""

    @extend_schema(
        summary="The PDF of a report version (audited, like the page's download)",
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The PDF file."
            )
        },
        tags=["reports"],
    )
    def get(self, request, pk):
        report = visible_report(request, pk)
        if not report.has_pdf:
            raise Http404("The PDF of this version is not made yet")
        audit(request, AuditEvent.Action.DOWNLOAD_REPORT, report, version=report.version, via="api")
        return media_response(StoredFile(report.file, "application/pdf"), filename=report.filename)

    def perform_content_negotiation(self, request, force=False):
        # The answer is the file whatever Accept says; refusals are JSON.
        return super().perform_content_negotiation(request, force=True)


class RetryResultSerializer(serializers.Serializer):
    retried = serializers.BooleanField()
    report = ReportSerializer()


class ReportRetry(InstitutionFromRequestMixin, APIView):
    """Retry one report version's deliveries."""

    @extend_schema(
        summary="Retry a report version's failed or waiting deliveries now",
        description="Reviewers and administrators. `retried` is false when a worker holds "
        "it right now or it was delivered already (nothing is sent twice).",
        request=None,
        responses={200: RetryResultSerializer},
        tags=["reports"],
    )
    def post(self, request, pk):
        report = visible_report(request, pk)
        if not can_review(request):
            raise PermissionDenied("Only reviewers and administrators retry reports.")
        retried = retry_report(report)
        report.refresh_from_db()
        return Response({"retried": retried, "report": report_document(report, request)})
