"""The QA API: reviewer calibration, outcomes and outcome-linked accuracy.

The pages' rules and numbers (``portal.qa.calibration``, ``portal.qa.accuracy``,
``portal.qa.outcomes``), as endpoints:

- ``GET calibration/``: agreement between QA reviewers on blinded double reads, for QA
  leads and administrators. Aggregates only: no pair's reads, no exam.
- ``GET accuracy/``: each operator's sensitivity and specificity against recorded
  outcomes, and the discordant findings, for QA leads and administrators.
- ``GET/PUT exams/<id>/outcome/``: an exam's outcome, for reviewers and administrators.

Anyone else gets a 404, as on the pages; so does another institution's exam.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.review import BoundedBodyView, form_errors, problem
from portal.exams.access import audit, visible_exams
from portal.exams.models import AuditEvent
from portal.qa import accuracy as accuracy_report
from portal.qa import calibration, outcomes
from portal.qa.access import is_qa_lead
from portal.qa.views_calibration import PeriodForm
from portal.reports.access import can_review

PERIOD = [
    OpenApiParameter(
        "start",
        OpenApiTypes.DATE,
        description="First day of the period (inclusive), in UTC.",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        description="Last day of the period (inclusive), in UTC.",
    ),
]


# One word for a finding, documented as text rather than as one more enum of the schema.
POLARITY = '"positive" or "negative" (portal.qa.outcomes.polarity); null: not counted.'


def period(request) -> dict:
    form = PeriodForm(request.query_params)
    if not form.is_valid():
        raise form_errors(form)
    return {"start": form.cleaned_data.get("start"), "end": form.cleaned_data.get("end")}


class LeadView(BoundedBodyView):
    """QA leads and administrators of the current institution only: anyone else a 404."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_qa_lead(getattr(request, "membership", None)):
            raise Http404("QA leads and administrators only")


class KappaSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Pairs that answered this question.")
    kappa = serializers.FloatField(
        allow_null=True,
        help_text="Null when there are too few pairs (fewer than 2) or chance explains "
        "all the agreement (both reviewers always gave the same one answer).",
    )
    ci_low = serializers.FloatField(allow_null=True, help_text="95% confidence interval.")
    ci_high = serializers.FloatField(allow_null=True)
    se = serializers.FloatField(allow_null=True, help_text="Asymptotic standard error.")
    observed_agreement = serializers.FloatField(allow_null=True)
    words = serializers.CharField(
        help_text='Landis and Koch: "poor", "slight", "fair", "moderate", "substantial", '
        '"almost perfect", or "not enough pairs".'
    )


class BiasSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    mean_difference = serializers.FloatField(
        allow_null=True,
        help_text="This reviewer's image-quality score minus their partner's, on average: "
        "negative is harsher, positive looser.",
    )
    rater_mean = serializers.FloatField(allow_null=True)
    partner_mean = serializers.FloatField(allow_null=True)
    words = serializers.CharField()


class CalibrationRowSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=["overall", "exam_type", "reviewer"])
    id = serializers.IntegerField(
        allow_null=True, help_text="The exam type's or the reviewer's (user) id."
    )
    name = serializers.CharField()
    pairs = serializers.IntegerField()
    interpretation = KappaSerializer(help_text="Cohen's kappa, interpretation category.")
    passed = KappaSerializer(help_text="Cohen's kappa, passed or not.")
    image_quality = KappaSerializer(help_text="Weighted kappa (quadratic), 1–5 quality.")
    rater_bias = BiasSerializer(required=False, help_text="Reviewers only.")


class CalibrationSerializer(serializers.Serializer):
    pairs = serializers.IntegerField(help_text="Exams with both QA reads scored.")
    overall = CalibrationRowSerializer()
    exam_types = CalibrationRowSerializer(many=True)
    reviewers = CalibrationRowSerializer(many=True)


class Calibration(LeadView):
    @extend_schema(
        summary="Agreement between QA reviewers on blinded double reads (QA leads)",
        description="Pairs are exams whose first and blinded second QA reads are both "
        "scored; the period bounds the day the second read was scored. Overall, per exam "
        "type and per reviewer (a reviewer's pairs against their partners). Aggregate "
        "numbers only.",
        parameters=PERIOD,
        responses={200: CalibrationSerializer, **problem(400, "A period that is not valid.")},
        tags=["qa"],
    )
    def get(self, request):
        dates = period(request)
        result = calibration.report(calibration.pairs(request.institution.pk, **dates))
        return Response(result.as_dict())


class AccuracyRowSerializer(serializers.Serializer):
    operator = serializers.DictField(help_text="`id` and `name`.")
    exam_type = serializers.DictField(help_text="`id` and `name`.")
    exams = serializers.IntegerField()
    tp = serializers.IntegerField()
    fp = serializers.IntegerField()
    fn = serializers.IntegerField()
    tn = serializers.IntegerField()
    sensitivity = serializers.FloatField(allow_null=True)
    sensitivity_n = serializers.IntegerField()
    sensitivity_low = serializers.FloatField(allow_null=True, help_text="Wilson 95%.")
    sensitivity_high = serializers.FloatField(allow_null=True)
    specificity = serializers.FloatField(allow_null=True)
    specificity_n = serializers.IntegerField()
    specificity_low = serializers.FloatField(allow_null=True)
    specificity_high = serializers.FloatField(allow_null=True)
    ppv = serializers.FloatField(allow_null=True)
    npv = serializers.FloatField(allow_null=True)


class DiscordantSerializer(serializers.Serializer):
    exam = serializers.IntegerField()
    operator = serializers.DictField()
    exam_type = serializers.CharField()
    finding = serializers.CharField()
    read = serializers.CharField(help_text="The signed answer, as the worksheet says it.")
    read_result = serializers.CharField(help_text=POLARITY)
    outcome_result = serializers.CharField(help_text=POLARITY)
    kind = serializers.ChoiceField(choices=["false positive", "false negative"])
    source = serializers.CharField()
    signed_at = serializers.DateTimeField(allow_null=True)


class AccuracySerializer(serializers.Serializer):
    exams = serializers.IntegerField(help_text="Exams with signed findings and an outcome.")
    rows = AccuracyRowSerializer(many=True)
    discordant = DiscordantSerializer(many=True)


class Accuracy(LeadView):
    @extend_schema(
        summary="Operators' sensitivity and specificity against outcomes (QA leads)",
        description="Per operator and exam type, over the findings of exams with signed "
        "findings and a recorded outcome (the period bounds the day of signing); a finding "
        "read as indeterminate or not answered is not counted. `discordant` lists every "
        "finding where the read and the outcome disagree, newest first.",
        parameters=PERIOD,
        responses={200: AccuracySerializer, **problem(400, "A period that is not valid.")},
        tags=["qa"],
    )
    def get(self, request):
        dates = period(request)
        result = accuracy_report.accuracy(request.institution.pk, **dates)
        return Response(AccuracySerializer(result.as_dict()).data)


class FindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    read = serializers.CharField(allow_null=True, help_text=f"The signed read: {POLARITY}")
    result = serializers.CharField(allow_null=True, help_text=f"The outcome's: {POLARITY}")
    positive_means = serializers.CharField(
        help_text='The worksheet answers that read positive, e.g. "Present".'
    )
    negative_means = serializers.CharField(
        help_text='The answer that reads negative, e.g. "Absent, normal".'
    )


class OutcomeSerializer(serializers.Serializer):
    exam = serializers.IntegerField()
    recorded = serializers.BooleanField(help_text="False until an outcome is recorded.")
    source = serializers.CharField()
    note = serializers.CharField()
    results = serializers.DictField(
        child=serializers.CharField(),
        help_text="Finding (worksheet field code) → positive or negative.",
    )
    recorded_by = serializers.IntegerField(allow_null=True)
    recorded_at = serializers.DateTimeField(allow_null=True)
    findings = FindingSerializer(
        many=True, help_text="The worksheet's findings an outcome can confirm."
    )


class OutcomeInputSerializer(serializers.Serializer):
    source = serializers.CharField(
        max_length=outcomes.SOURCE_LIMIT, help_text="The confirmatory study, e.g. CT abdomen."
    )
    note = serializers.CharField(required=False, allow_blank=True)
    results = serializers.DictField(
        required=False,
        child=serializers.CharField(allow_null=True),
        help_text="Finding code → positive or negative; leave a finding out (or null) "
        "when the study says nothing about it.",
    )


class ExamOutcome(BoundedBodyView):
    def exam(self, request, pk):
        if not can_review(request):
            raise Http404("Reviewers and administrators only")
        exams = visible_exams(request).select_related("exam_type", "findings__template")
        return get_object_or_404(exams, pk=pk)

    def document(self, exam, fields, outcome) -> dict:
        findings = getattr(exam, "findings", None) if hasattr(exam, "findings") else None
        answers = findings.answers if findings is not None and findings.is_signed else {}
        answers = answers if isinstance(answers, dict) else {}
        results = outcome.results if outcome is not None else {}
        return {
            "exam": exam.pk,
            "recorded": outcome is not None,
            "source": outcome.source if outcome else "",
            "note": outcome.note if outcome else "",
            "results": results,
            "recorded_by": outcome.recorded_by_id if outcome else None,
            "recorded_at": outcome.recorded_at if outcome else None,
            "findings": [
                {
                    "code": f.code,
                    "label": f.label,
                    "read": outcomes.polarity(f, answers.get(f.code)),
                    "result": results.get(f.code),
                    "positive_means": outcomes.result_words(f)[outcomes.POSITIVE],
                    "negative_means": outcomes.result_words(f)[outcomes.NEGATIVE],
                }
                for f in fields
            ],
        }

    def parts(self, request, pk):
        exam = self.exam(request, pk)
        findings = getattr(exam, "findings", None) if hasattr(exam, "findings") else None
        fields = outcomes.finding_fields(outcomes.worksheet_of(findings, exam))
        existing = getattr(exam, "outcome", None) if hasattr(exam, "outcome") else None
        return exam, fields, existing

    @extend_schema(
        summary="An exam's outcome and the findings it can confirm (reviewers)",
        responses={200: OutcomeSerializer},
        tags=["qa"],
    )
    def get(self, request, pk):
        exam, fields, existing = self.parts(request, pk)
        audit(request, AuditEvent.Action.VIEW_EXAM, exam, via="api_qa_outcome")
        return Response(self.document(exam, fields, existing))

    @extend_schema(
        summary="Record or replace an exam's outcome (reviewers)",
        description="The whole outcome: what is left out of `results` is not assessed. "
        "A finding code that is not one of the worksheet's findings, or a value other "
        "than positive / negative / null, is a 400 naming it (`results.<code>`). In the "
        "audit log as `record_outcome`.",
        request=OutcomeInputSerializer,
        responses={
            200: OutcomeSerializer,
            201: OutcomeSerializer,
            **problem(400, "The outcome cannot be recorded as sent."),
        },
        tags=["qa"],
    )
    def put(self, request, pk):
        exam, fields, _ = self.parts(request, pk)
        data = self.body(request)
        cleaned, errors = outcomes.check(
            fields, data.get("source"), data.get("note"), data.get("results")
        )
        if errors:
            raise serializers.ValidationError({k: [v] for k, v in errors.items()})
        saved, created = outcomes.record(request, exam, cleaned)
        return Response(
            self.document(exam, fields, saved),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


urlpatterns = [
    path("calibration/", Calibration.as_view(), name="api-qa-calibration"),
    path("accuracy/", Accuracy.as_view(), name="api-qa-accuracy"),
    path("exams/<int:pk>/outcome/", ExamOutcome.as_view(), name="api-qa-exam-outcome"),
]
