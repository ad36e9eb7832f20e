"""What the dashboard shows, by role.

- A **clinician** sees their own numbers: their exams this week and in 30 days, the
  feedback received (their exams signed), the image quality reviewers rated, and the
  turnaround of their exams.
- **Reviewers and administrators** see the program's numbers (``visible_exams`` is all of
  the institution's exams for them).
- Only **administrators** see the health of the integrations (the panels registered in
  ``portal.dashboard.panels``) and the work behind it, failed *and* retrying, so the
  counters agree with the work rows (``portal.work.policy.retrying``).

Everything starts from ``visible_exams`` / ``visible_captures`` (tenant rule, then role
rule), aggregated in the database: a fixed number of queries whatever the numbers.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from portal.dashboard import panels, queries
from portal.dashboard.charts import bar_chart, duration_chart, plain_number
from portal.dashboard.queries import SubqueryCount, start_of_day
from portal.exams.access import visible_captures, visible_exams
from portal.exams.models import Capture
from portal.exams.templatetags.display import duration_words
from portal.reports.models import Findings, Report
from portal.tenants.models import Institution
from portal.tenants.roles import is_admin
from portal.tenants.scoping import scoped_to_request
from portal.work.policy import retrying

ReviewState = queries.ReviewState
QUALITY_WEEKS = 8


def home_context(request) -> dict:
    days = queries.chart_days()
    clinician = queries.is_clinician(request)
    admin = is_admin(request)
    per_day = queries.exams_per_day(request, days)
    turnaround, overall = queries.turnaround_per_day(request, days)
    context = {
        "is_clinician": clinician,
        "is_admin": admin,
        "counts": queries.exam_counts(request),
        "exams_chart": bar_chart(
            per_day,
            title="Exams per day",
            description="Exams first submitted each day over the last 30 days.",
            integer=True,
            label=lambda day, n: f"{day:%b %-d}: {n} exam{'' if n == 1 else 's'}",
        ),
        "exams_total": sum(n for _, n in per_day),
        "turnaround_chart": duration_chart(
            [(day, median) for day, median, _ in turnaround],
            title="Median turnaround",
            description="Median time from submission to signature, by day of signature.",
            label=lambda day, d: f"{day:%b %-d}: median {duration_words(d) or 'none signed'}",
        ),
        "turnaround_median": duration_words(overall["median"]) or "–",
        "signed_total": overall["n"],
        "recent": queries.recent_exams(request),
        "panels": [],
    }
    if clinician:
        context["mine"] = my_numbers(request, days)
        context["quality_chart"] = quality_chart(request)
    if admin:
        context["work"] = work_status(request)
        context["members"] = queries.members_with_link_state(request)
        context["panels"] = [(panel, panel.context(request)) for panel in panels.registered()]
    return context


def my_numbers(request, days: list) -> dict:
    """A clinician's own figures, in one query (``visible_exams`` is their exams)."""
    week = start_of_day(days[-7])
    month = start_of_day(days[0])
    signed_this_month = Q(signed_at__gte=month)
    return visible_exams(request).aggregate(
        week=Count("pk", filter=Q(first_submitted_at__gte=week)),
        month=Count("pk", filter=Q(first_submitted_at__gte=month)),
        feedback=Count("pk", filter=signed_this_month),
        written_feedback=Count(
            "pk", filter=signed_this_month & Q(findings__clinician_feedback__gt="")
        ),
        awaiting=Count(
            "pk",
            filter=Q(
                review_state__in=[ReviewState.NEW, ReviewState.IN_REVIEW, ReviewState.PRELIMINARY]
            ),
        ),
    )


def quality_chart(request, today=None):
    """The average image quality reviewers gave the clinician's exams (1 to 5), week by
    week over ``QUALITY_WEEKS`` weeks (by the week the findings were signed); ``None``
    when none was rated, so the dashboard says so instead of drawing an empty chart."""
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    weeks = [monday - timedelta(weeks=n) for n in range(QUALITY_WEEKS - 1, -1, -1)]
    rows = (
        scoped_to_request(Findings, request)
        .filter(
            exam__operator=request.user,
            signed_at__gte=start_of_day(weeks[0]),
            image_quality__isnull=False,
        )
        .annotate(day=TruncDate("signed_at"))
        .values("day")
        .annotate(total=Sum("image_quality"), n=Count("pk"))
    )
    sums = {week: [0.0, 0] for week in weeks}
    for row in rows:
        week = row["day"] - timedelta(days=row["day"].weekday())
        if week in sums:
            sums[week][0] += row["total"]
            sums[week][1] += row["n"]
    if not any(n for _, n in sums.values()):
        return None
    series = [(week, (total / n) if n else None) for week, (total, n) in sums.items()]
    counts = {week: n for week, (_, n) in sums.items()}

    def label(week, average):
        if average is None:
            return f"Week of {week:%b %-d}: not rated"
        n = counts[week]
        return (
            f"Week of {week:%b %-d}: {plain_number(round(average, 1))} of 5 "
            f"({n} exam{'' if n == 1 else 's'})"
        )

    return bar_chart(
        series,
        title="Image quality",
        description="Average image quality reviewers rated your exams (1 to 5), by week.",
        label=label,
        label_every=2,
        scale_top=5,
    )


def work_status(request) -> dict:
    """Downloads and report deliveries: failed (given up) and retrying, in one query."""
    captures = visible_captures(request)
    reports = scoped_to_request(Report, request)
    return (
        Institution.objects.filter(pk=request.institution.pk)
        .annotate(
            failed_captures=SubqueryCount(captures.filter(state=Capture.State.FAILED)),
            retrying_captures=SubqueryCount(retrying(captures, Capture.State.PENDING)),
            failed_reports=SubqueryCount(reports.filter(state=Report.State.FAILED)),
            retrying_reports=SubqueryCount(retrying(reports, Report.State.PENDING)),
        )
        .values("failed_captures", "retrying_captures", "failed_reports", "retrying_reports")
        .get()
    )
