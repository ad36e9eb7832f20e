"""``GET /api/v1/qa/program/``: the QA program dashboard's figures, for QA leads and
administrators (anyone else gets a 404, as on the page).

The same figures as ``/qa/program/`` (``portal.qa.program_stats``, a fixed number of
queries): ``start`` and ``end`` are days (inclusive) in the institution's time zone, the
last 12 weeks by default, at most two years; weeks start on Monday in that zone (named in
the answer). Durations are in hours; times stay UTC.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from portal.api.review import BoundedBodyView, problem
from portal.qa import program_stats
from portal.qa.access import is_qa_lead
from portal.qa.rubric import QUALITY_NAMES
from portal.tenants.timezones import zone_of


class ProgramExamTypeRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class ProgramTypeCountSerializer(serializers.Serializer):
    exam_type = serializers.IntegerField(allow_null=True, help_text="null: no exam type.")
    exams = serializers.IntegerField()


class ProgramWeekVolumeSerializer(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday the week starts on.")
    exams = serializers.IntegerField()
    by_exam_type = ProgramTypeCountSerializer(many=True)


class ProgramOperatorSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    exams = serializers.IntegerField()
    exam_types = serializers.IntegerField()
    qa_scored = serializers.IntegerField(help_text="First reads scored in the period.")
    qa_passed = serializers.IntegerField()


class ProgramBacklogSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="First reads waiting for QA now.")
    overdue = serializers.IntegerField(help_text="Of those, past their due time.")
    unassigned = serializers.IntegerField(help_text="Of those, without a QA reviewer.")


class ProgramTurnaroundSerializer(serializers.Serializer):
    scored = serializers.IntegerField()
    median_hours = serializers.FloatField(allow_null=True)
    p90_hours = serializers.FloatField(allow_null=True)
    within_target = serializers.IntegerField()


class ProgramWeekTurnaroundSerializer(ProgramTurnaroundSerializer):
    week = serializers.DateField()


class ProgramQualityLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()
    reviews = serializers.IntegerField()


class ProgramQualitySerializer(serializers.Serializer):
    scored = serializers.IntegerField()
    passed = serializers.IntegerField()
    passed_share = serializers.FloatField(allow_null=True)
    levels = ProgramQualityLevelSerializer(many=True)


class ProgramCredentialingSerializer(serializers.Serializer):
    exam_type = ProgramExamTypeRefSerializer()
    required = serializers.IntegerField(help_text="QA-passed exams required.")
    credentialed = serializers.IntegerField()
    by_count = serializers.IntegerField()
    by_grant = serializers.IntegerField()
    credentialed_in_period = serializers.IntegerField()
    in_training = serializers.IntegerField(
        help_text="Operators with a first read of this type and no credential for it."
    )


class ProgramSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    turnaround_target_hours = serializers.IntegerField()
    exam_types = ProgramExamTypeRefSerializer(many=True)
    volume = ProgramWeekVolumeSerializer(many=True)
    operator_count = serializers.IntegerField()
    operators = ProgramOperatorSerializer(many=True, help_text="The busiest, at most 25.")
    backlog = ProgramBacklogSerializer()
    turnaround = ProgramWeekTurnaroundSerializer(many=True)
    turnaround_overall = ProgramTurnaroundSerializer()
    quality = ProgramQualitySerializer()
    credentialing = ProgramCredentialingSerializer(many=True)


def turnaround(row) -> dict:
    return {
        "scored": row["n"],
        "median_hours": program_stats.hours(row["median"]),
        "p90_hours": program_stats.hours(row["p90"]),
        "within_target": row["on_time"],
    }


def program_document(figures) -> dict:
    period = figures.period
    types = {t["pk"]: t for t in figures.exam_types}
    return {
        "start": period.start,
        "end": period.end,
        "time_zone": getattr(period.zone, "key", None) or str(period.zone),
        "turnaround_target_hours": figures.target_hours,
        "exam_types": [
            {"id": t["pk"], "code": t["code"], "name": t["name"]} for t in figures.exam_types
        ],
        "volume": [
            {
                "week": row["week"],
                "exams": row["total"],
                "by_exam_type": [
                    {"exam_type": pk, "exams": n}
                    for pk, n in sorted(row["by_type"].items(), key=lambda i: (i[0] is None, i[0]))
                ],
            }
            for row in figures.volume
        ],
        "operator_count": figures.operator_count,
        "operators": [
            {
                "id": o["operator_id"],
                "name": o["name"],
                "exams": o["exams"],
                "exam_types": o["exam_types"],
                "qa_scored": o["reviewed"],
                "qa_passed": o["passed"],
            }
            for o in figures.operators
        ],
        "backlog": figures.backlog,
        "turnaround": [{"week": row["week"], **turnaround(row)} for row in figures.turnaround],
        "turnaround_overall": turnaround(figures.turnaround_overall),
        "quality": {
            "scored": figures.quality["n"],
            "passed": figures.quality["passed"],
            "passed_share": figures.quality["passed_share"],
            "levels": [
                {"level": q["level"], "name": QUALITY_NAMES[q["level"]], "reviews": q["n"]}
                for q in figures.quality["levels"]
            ],
        },
        "credentialing": [
            {
                "exam_type": {
                    "id": c["exam_type_id"],
                    "code": types[c["exam_type_id"]]["code"],
                    "name": c["exam_type"],
                },
                **{k: c[k] for k in CREDENTIAL_COUNTS},
            }
            for c in figures.credentialing
        ],
    }


CREDENTIAL_COUNTS = [
    "required",
    "credentialed",
    "by_count",
    "by_grant",
    "credentialed_in_period",
    "in_training",
]


class QAProgram(BoundedBodyView):
    @extend_schema(
        summary="The QA program's figures (QA leads and administrators)",
        description="Exams per week and exam type, the busiest operators, the QA backlog now, "
        "the turnaround from selection to scoring per week (median, 90th percentile, within "
        "the institution's target), image quality scores and the department's credentialing: "
        "the program dashboard's figures. Weeks start on Monday in the institution's time "
        "zone (`time_zone`).",
        operation_id="qa_program_retrieve",
        parameters=[
            OpenApiParameter(
                "start", str, description="A day, YYYY-MM-DD (inclusive); 12 weeks back."
            ),
            OpenApiParameter(
                "end", str, description="A day, YYYY-MM-DD (inclusive); today by default."
            ),
        ],
        responses={
            200: ProgramSerializer,
            **problem(400, "A day is not valid, or the range is backwards or over two years."),
            **problem(404, "Not a QA lead or administrator here."),
        },
        tags=["qa"],
    )
    def get(self, request):
        if not is_qa_lead(request.membership):
            raise Http404("QA leads and administrators only")
        zone = zone_of(request.institution)
        try:
            period = program_stats.period_from(request.query_params, zone)
        except program_stats.BadPeriod as error:
            raise serializers.ValidationError({error.field: [str(error)]}) from None
        figures = program_stats.figures(request.institution, period)
        return Response(ProgramSerializer(program_document(figures)).data)


urlpatterns = [
    path("program/", QAProgram.as_view(), name="api-qa-program"),
]
