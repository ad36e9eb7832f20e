"""The QA queue over the API: the pages' list, scoring, assignment and flagging.

Every endpoint starts where the pages do: ``portal.qa.reviews.visible_reviews`` (the tenant
rule, blinding, and the role rule: QA reviewers see their own and the unassigned reviews,
never of an exam they performed; QA leads and administrators see all). Anyone else, and
another institution's review, gets a 404. Scoring is ``portal.qa.scoring.score`` (its
refusals: 400 for the input, 409 when already scored, 403 for who may not score);
assignment is ``portal.qa.reviews.assign`` (QA leads and administrators); flagging is
``portal.qa.selection.flag`` (reviewers and administrators). Each change is audited as on
the pages.
"""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from portal.api.errors import Conflict
from portal.api.pagination import CursorPagination
from portal.api.review import (
    AnyValue,
    BoundedBodyView,
    PersonSerializer,
    TextField,
    person,
    problem,
)
from portal.dashboard.paging import SortKey
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.qa import rubric, selection
from portal.qa.access import is_qa_lead
from portal.qa.models import QAReview
from portal.qa.reviews import (
    NOT_RUNNING,
    WHO_ALL,
    WHO_CHOICES,
    AssignRefused,
    assign,
    clean_answers,
    done_recently,
    is_overdue,
    may_see_queue,
    program_running,
    questions_sheet,
    queue,
    visible_reviews,
)
from portal.qa.scoring import NOTE_LIMIT, QARefused, may_score, score
from portal.reports.access import can_review, exam_or_404
from portal.text import clean_text
from portal.worksheets.models import ExamType

FLAG_NOTE_LIMIT = 2000
LISTS = [("queue", "The pending reviews"), ("done", "The reviews you scored")]


class QAExamTypeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class QAScoreSerializer(serializers.Serializer):
    image_quality = serializers.IntegerField(min_value=1, max_value=5)
    image_quality_label = serializers.CharField()
    interpretation = serializers.ChoiceField(choices=rubric.INTERPRETATIONS)
    interpretation_note = serializers.CharField(allow_blank=True)
    answers = serializers.DictField(child=serializers.JSONField())
    feedback = serializers.CharField(allow_blank=True)
    passed = serializers.BooleanField()
    scored_by = PersonSerializer(allow_null=True)
    scored_at = serializers.DateTimeField()


class QAReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exam = serializers.IntegerField(help_text="The exam's id (`GET /exams/{id}/`).")
    read = serializers.IntegerField(
        help_text="1: the QA review the clinician gets feedback from; 2: a blinded second read."
    )
    reason = serializers.ChoiceField(choices=QAReview.Reason.choices)
    reason_label = serializers.CharField()
    state = serializers.ChoiceField(choices=QAReview.State.choices)
    exam_type = QAExamTypeSerializer(allow_null=True)
    operator = PersonSerializer(allow_null=True)
    assignee = PersonSerializer(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField()
    overdue = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    flag_note = serializers.CharField(allow_blank=True)
    may_score = serializers.BooleanField(help_text="Whether you may score it now.")
    may_not_score_because = serializers.CharField(allow_null=True)
    questions = serializers.ListField(
        child=serializers.DictField(),
        help_text="The institution's extra QA questions for the exam type: worksheet fields "
        "(code, label, type, choices, ...); their answers go in `answers` when scoring.",
    )
    score = QAScoreSerializer(allow_null=True, help_text="Null until scored.")


def review_document(review: QAReview, user, *, now=None, with_questions=True) -> dict:
    refusal = None
    if not review.is_done:
        refusal = may_score(review, user)
    sheet = questions_sheet(review) if with_questions else None
    document = {
        "id": review.pk,
        "exam": review.exam_id,
        "read": review.read,
        "reason": review.reason,
        "reason_label": review.get_reason_display(),
        "state": review.state,
        "exam_type": {"code": review.exam_type.code, "name": clean_text(review.exam_type.name)}
        if review.exam_type_id
        else None,
        "operator": person(review.operator),
        "assignee": person(review.assignee),
        "assigned_at": review.assigned_at,
        "due_at": review.due_at,
        "overdue": is_overdue(review, now),
        "created_at": review.created_at,
        "flag_note": clean_text(review.flag_note, multiline=True),
        "may_score": not review.is_done and refusal is None,
        "may_not_score_because": "This QA review is scored already." if review.is_done else refusal,
        "questions": [
            field for section in sheet.definition["sections"] for field in section["fields"]
        ]
        if sheet is not None
        else [],
        "score": None,
    }
    if review.is_done:
        document["score"] = {
            "image_quality": review.image_quality,
            "image_quality_label": rubric.QUALITY_NAMES.get(review.image_quality, ""),
            "interpretation": review.interpretation,
            "interpretation_note": clean_text(review.interpretation_note, multiline=True),
            "answers": review.answers or {},
            "feedback": clean_text(review.feedback, multiline=True),
            "passed": bool(review.passed),
            "scored_by": person(review.scored_by),
            "scored_at": review.scored_at,
        }
    return document


class QueueFilterSerializer(serializers.Serializer):
    list = serializers.ChoiceField(choices=LISTS, default="queue", required=False)
    who = serializers.ChoiceField(choices=WHO_CHOICES, default=WHO_ALL, required=False)
    overdue = serializers.BooleanField(default=False, required=False)
    exam_type = serializers.CharField(max_length=40, required=False)
    reason = serializers.ChoiceField(choices=QAReview.Reason.choices, required=False)


class QueuePagination(CursorPagination):
    page_size = 50
    max_page_size = 200


def reviews_or_404(request):
    if not may_see_queue(getattr(request, "membership", None)):
        raise NotFound("QA reviewers, QA leads and administrators only.")
    return visible_reviews(request)


def review_or_404(request, pk) -> QAReview:
    review = (
        reviews_or_404(request)
        .select_related("exam", "exam_type", "operator", "assignee", "scored_by")
        .filter(pk=pk)
        .first()
    )
    if review is None:
        raise NotFound("No such QA review.")
    return review


QUEUE_KEYS = [
    SortKey("due_at", False, QAReview._meta.get_field("due_at")),
    SortKey("id", False, QAReview._meta.pk),
]
DONE_KEYS = [
    SortKey("scored_at", True, QAReview._meta.get_field("scored_at")),
    SortKey("id", True, QAReview._meta.pk),
]


class QAReviewList(BoundedBodyView):
    """The QA queue."""

    pagination_class = QueuePagination

    def get_cursor_keys(self):
        return DONE_KEYS if self.list_name == "done" else QUEUE_KEYS

    @extend_schema(
        summary="The QA queue (QA reviewers, QA leads, administrators)",
        description="`list=queue` (the default): the pending QA reviews you see, the soonest "
        "due first. QA reviewers see the reviews assigned to them and the unassigned ones, "
        "never those of an exam they performed; QA leads and administrators see all. Nobody "
        "sees a read of an exam whose other read they hold (blinded double reads). "
        "`list=done`: the reviews you scored, the newest first.",
        operation_id="qa_reviews_list",
        parameters=[
            OpenApiParameter("list", str, enum=[v for v, _ in LISTS]),
            OpenApiParameter("who", str, enum=[v for v, _ in WHO_CHOICES]),
            OpenApiParameter("overdue", bool, description="Only the overdue reviews."),
            OpenApiParameter("exam_type", str, description="An exam type's code."),
            OpenApiParameter("reason", str, enum=[v for v, _ in QAReview.Reason.choices]),
        ],
        # The list serializer itself, not a dict with the 400: drf-spectacular documents
        # a list's cursor parameters only then (a bad filter is a 400 problem as anywhere).
        responses=QAReviewSerializer(many=True),
        tags=["qa"],
    )
    def get(self, request):
        reviews_or_404(request)  # the role rule: 404 for anyone but QA's people
        given = QueueFilterSerializer(data=request.query_params)
        given.is_valid(raise_exception=True)
        filters = given.validated_data
        self.list_name = filters.get("list", "queue")
        now = timezone.now()
        if self.list_name == "done":
            rows = done_recently(request)
        else:
            exam_type = None
            code = filters.get("exam_type")
            if code:
                found = ExamType.objects.filter(institution=request.institution, code=code).first()
                if found is None:
                    raise serializers.ValidationError(
                        {"exam_type": ["No exam type has this code."]}
                    )
                exam_type = found.pk
            rows = queue(
                request,
                who=filters.get("who", WHO_ALL),
                overdue=filters.get("overdue", False),
                exam_type=exam_type,
                reason=filters.get("reason"),
                now=now,
            )
        rows = rows.select_related("assignee", "scored_by")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(
            [review_document(r, request.user, now=now, with_questions=False) for r in page]
        )


class QAReviewDetail(BoundedBodyView):
    @extend_schema(
        summary="One QA review",
        description="With its score once scored, and the exam type's extra questions.",
        operation_id="qa_reviews_retrieve",
        responses={200: QAReviewSerializer, **problem(404, "Not a QA review you may see.")},
        tags=["qa"],
    )
    def get(self, request, pk):
        review = review_or_404(request, pk)
        return Response(QAReviewSerializer(review_document(review, request.user)).data)


class QAScoreInputSerializer(serializers.Serializer):
    image_quality = serializers.IntegerField(
        min_value=1,
        max_value=5,
        help_text="The ACEP scale: 1 (no recognisable structures) "
        "to 5 (excellent); 3 or more passes.",
    )
    interpretation = serializers.ChoiceField(choices=rubric.INTERPRETATIONS)
    interpretation_note = TextField(
        allow_blank=True,
        required=False,
        default="",
        max_length=NOTE_LIMIT,
        help_text="Required when the interpretation is not `agree`.",
    )
    answers = serializers.DictField(
        child=AnyValue(),
        required=False,
        default=dict,
        help_text="Question code → value, for the exam type's extra QA questions.",
    )
    feedback = TextField(allow_blank=True, required=False, default="", max_length=NOTE_LIMIT)

    def validate_image_quality(self, value):
        if isinstance(self.initial_data.get("image_quality"), bool):
            raise serializers.ValidationError("A whole number from 1 to 5.")
        return value


def qa_refusal(error: QARefused):
    if error.conflict:
        return Conflict(str(error))
    if error.field:
        return serializers.ValidationError({error.field: [str(error)]})
    return PermissionDenied(str(error))


class QAReviewScore(BoundedBodyView):
    @extend_schema(
        summary="Score a QA review",
        description="Image quality (ACEP 1–5), interpretation (`agree`, `false_positive`, "
        "`false_negative`, `other`; a note is required unless `agree`), the answers to the "
        "exam type's extra questions, and feedback to the clinician. It passes with image "
        "quality 3 or more and an interpretation you agree with. Scored already: 409. You "
        "performed the exam, or hold its other read: 403.",
        operation_id="qa_reviews_score",
        request=QAScoreInputSerializer,
        responses={
            200: QAReviewSerializer,
            **problem(400, "A field is missing or invalid (`errors` names each)."),
            **problem(403, "You may not score this review (the reason says why)."),
            **problem(404, "Not a QA review you may see."),
            **problem(409, "The review is scored already."),
        },
        tags=["qa"],
    )
    def post(self, request, pk):
        review = review_or_404(request, pk)
        given = QAScoreInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if review.is_done:
            raise Conflict("This QA review is scored already.")
        answers, errors = clean_answers(questions_sheet(review), data["answers"])
        if errors:
            raise serializers.ValidationError(
                {
                    (k if k == "answers" else f"answers.{k}"): [v]
                    for k, v in list(errors.items())[:20]
                }
            )
        try:
            scored = score(
                review,
                request.user,
                image_quality=data["image_quality"],
                interpretation=data["interpretation"],
                interpretation_note=data["interpretation_note"],
                answers=answers,
                feedback=data["feedback"],
            )
        except QARefused as e:
            raise qa_refusal(e) from None
        audit(
            request,
            AuditEvent.Action.SCORE_QA,
            scored,
            exam=scored.exam_id,
            read=scored.read,
            passed=scored.passed,
            via="api",
        )
        scored = review_or_404(request, pk)
        return Response(QAReviewSerializer(review_document(scored, request.user)).data)


class QAAssignmentInputSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        max_value=2**31 - 1,
        help_text="The user id of a QA reviewer or lead (`GET /members/`); null unassigns.",
    )


class QAReviewAssignment(BoundedBodyView):
    @extend_schema(
        summary="Assign a QA review (QA leads and administrators)",
        description="To a QA reviewer or lead of the institution who did not perform the "
        "exam and does not hold its other read (400 with the reason otherwise); null "
        "unassigns. A scored review: 409.",
        operation_id="qa_reviews_assign",
        request=QAAssignmentInputSerializer,
        responses={
            200: QAReviewSerializer,
            **problem(400, "The person may not be assigned (the reason says why)."),
            **problem(404, "Not a QA review you may see, or you are not a QA lead."),
            **problem(409, "The review is scored already."),
        },
        tags=["qa"],
    )
    def post(self, request, pk):
        review = review_or_404(request, pk)
        if not is_qa_lead(request.membership):
            raise NotFound("QA leads and administrators only.")
        given = QAAssignmentInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        assignee_id = given.validated_data["assignee"]
        try:
            updated = assign(review, assignee_id)
        except AssignRefused as e:
            if e.conflict:
                raise Conflict(str(e)) from None
            raise serializers.ValidationError({"assignee": [str(e)]}) from None
        audit(
            request,
            AuditEvent.Action.ASSIGN_QA,
            updated,
            exam=review.exam_id,
            assignee=assignee_id,
            previous=review.assignee_id,
            via="api",
        )
        fresh = review_or_404(request, pk)
        return Response(QAReviewSerializer(review_document(fresh, request.user)).data)


class QAFlagInputSerializer(serializers.Serializer):
    note = TextField(allow_blank=True, required=False, default="", max_length=FLAG_NOTE_LIMIT)


class ExamQAFlag(BoundedBodyView):
    @extend_schema(
        summary="Flag an exam for QA (reviewers and administrators)",
        description="Puts a signed exam in the QA queue (reason: flagged), with an optional "
        "note. An exam already in QA keeps its review (200); a new review is a 201. The "
        "answer is the QA review as a reviewer sees it in the queue; the score is not "
        "included.",
        operation_id="qa_exam_flag",
        request=QAFlagInputSerializer,
        responses={
            201: QAReviewSerializer,
            200: QAReviewSerializer,
            **problem(404, "Not an exam you may see, or you are not a reviewer."),
            **problem(409, "The exam is not signed yet, or the QA program is not running."),
        },
        tags=["qa"],
    )
    def post(self, request, pk):
        if not can_review(request):
            raise NotFound("Reviewers and administrators only.")
        exam = exam_or_404(request, pk)
        given = QAFlagInputSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        if exam.signed_at is None:
            raise Conflict("Sign the exam first: QA judges the signed read.")
        if not program_running(exam.institution_id):
            raise Conflict(NOT_RUNNING)
        existed = QAReview.objects.filter(exam=exam, read=QAReview.FIRST_READ).exists()
        note = clean_text(given.validated_data["note"], multiline=True)
        review = selection.flag(exam, request.user, note)
        audit(request, AuditEvent.Action.FLAG_QA, exam, qa_review=review.pk, via="api")
        document = review_document(review, request.user, with_questions=False)
        document["score"] = None  # the flagger need not be a QA reviewer: no score here
        return Response(
            QAReviewSerializer(document).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


urlpatterns = [
    path("reviews/", QAReviewList.as_view(), name="api-qa-review-list"),
    path("reviews/<int:pk>/", QAReviewDetail.as_view(), name="api-qa-review-detail"),
    path("reviews/<int:pk>/score/", QAReviewScore.as_view(), name="api-qa-review-score"),
    path(
        "reviews/<int:pk>/assignment/",
        QAReviewAssignment.as_view(),
        name="api-qa-review-assignment",
    ),
    path("exams/<int:pk>/flag/", ExamQAFlag.as_view(), name="api-qa-exam-flag"),
]
