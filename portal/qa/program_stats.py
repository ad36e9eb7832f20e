"""The QA program's figures for its dashboard and API: one institution, one period.

Everything is aggregated by the database (``GROUP BY`` with its date functions), so a
page costs the same number of queries at 50 exams or 50,000. Weeks start on Monday at
midnight in the institution's zone (``TruncWeek`` with that zone), so a week across a
clock change still holds its seven local days.

- **volume**: exams first submitted per week and exam type, and per operator;
- **backlog**: first reads pending and overdue now; the turnaround from selection to
  scoring (median, 90th percentile, share within ``QASettings.turnaround_hours``) per
  week of scoring;
- **quality**: the image quality scores (1–5) of the first reads scored in the period,
  and the share that passed;
- **credentialing**: per exam type, operators credentialed (by count, by grant), in
  training (a first read of that type, no credential), the threshold.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone

from portal.dashboard.median import Median
from portal.exams.models import Exam
from portal.qa.models import Credential, QAReview, default_required
from portal.qa.program import settings_for
from portal.qa.rubric import QUALITY_LEVELS
from portal.worksheets.models import ExamType

DEFAULT_WEEKS = 12
MAX_DAYS = 731  # two years: a longer range is refused, not cut silently
EARLIEST, LATEST = datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)
TOP_OPERATORS = 25

# --- The 90th percentile, in the database on PostgreSQL and on SQLite --------------------


class Percentile(Aggregate):
    """``PERCENTILE_CONT(f) WITHIN GROUP (ORDER BY x)``; on SQLite a small aggregate the
    connection gets when it opens (like ``portal.dashboard.median``)."""

    function = "PERCENTILE_CONT"
    name = "Percentile"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction between 0 and 1")
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        template = f"%(function)s({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            function="PORTAL_PERCENTILE",
            template=f"%(function)s(%(expressions)s, {self.fraction!r})",
            **extra_context,
        )


class _SQLitePercentile:
    def __init__(self):
        self.values, self.fraction = [], 0.5

    def step(self, value, fraction):
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return continuous_percentile(self.values, self.fraction)


def continuous_percentile(values, fraction: float):
    """PostgreSQL's ``percentile_cont``: linear between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _register(connection, **kwargs):
    if connection.vendor == "sqlite" and connection.connection is not None:
        connection.connection.create_aggregate("PORTAL_PERCENTILE", 2, _SQLitePercentile)


connection_created.connect(_register, dispatch_uid="portal_sqlite_percentile")


def _sqlite_ready() -> None:
    """A connection opened before this module was imported lacks the aggregate."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        _register(connection)


# --- The period --------------------------------------------------------------------------


class BadPeriod(ValueError):
    """A start or end that is not a date, or a range the dashboard does not draw."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    start: datetime.date  # inclusive
    end: datetime.date  # inclusive
    zone: datetime.tzinfo

    @property
    def since(self) -> datetime.datetime:
        return _midnight(self.start, self.zone)

    @property
    def until(self) -> datetime.datetime:
        return _midnight(self.end + datetime.timedelta(days=1), self.zone)

    @property
    def weeks(self) -> list[datetime.date]:
        """The Mondays of the weeks the period touches, oldest first."""
        first = monday(self.start)
        count = (monday(self.end) - first).days // 7 + 1
        return [first + datetime.timedelta(weeks=n) for n in range(count)]


def _midnight(day: datetime.date, zone) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min), zone)


def monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _date(params, name: str) -> datetime.date | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > 10:
        raise BadPeriod("A day as YYYY-MM-DD.", name)
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError:
        raise BadPeriod("A day as YYYY-MM-DD.", name) from None
    if not EARLIEST <= day <= LATEST:
        raise BadPeriod(f"A day from {EARLIEST:%Y} to {LATEST:%Y}.", name)
    return day


def period_from(params, zone, today: datetime.date | None = None) -> Period:
    """The period asked for by ``start`` and ``end`` (days, inclusive, in ``zone``); by
    default the last ``DEFAULT_WEEKS`` weeks up to today. ``BadPeriod`` otherwise."""
    today = today or timezone.localdate(timezone=zone)
    end = _date(params, "end") or today
    start = _date(params, "start") or monday(end) - datetime.timedelta(weeks=DEFAULT_WEEKS - 1)
    if start > end:
        raise BadPeriod("The start must not be after the end.", "start")
    if (end - start).days >= MAX_DAYS:
        raise BadPeriod("At most two years at a time.", "end")
    return Period(start, end, zone)


# --- The figures --------------------------------------------------------------------------

TURNAROUND = ExpressionWrapper(F("scored_at") - F("created_at"), output_field=DurationField())
LEVELS = [level for level, *_ in QUALITY_LEVELS]


@dataclass
class Figures:
    period: Period
    target_hours: int
    exam_types: list[dict] = field(default_factory=list)
    volume: list[dict] = field(default_factory=list)  # per week: {week, total, by_type}
    operators: list[dict] = field(default_factory=list)
    operator_count: int = 0
    backlog: dict = field(default_factory=dict)
    turnaround: list[dict] = field(default_factory=list)  # per week
    turnaround_overall: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    credentialing: list[dict] = field(default_factory=list)


def _week_of(value, zone) -> datetime.date:
    """A ``TruncWeek`` value as the local date of its Monday."""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(zone)
        return value.date()
    return value


def figures(institution, period: Period, now: datetime.datetime | None = None) -> Figures:
    """Every figure of the dashboard, in a fixed number of queries."""
    _sqlite_ready()
    now = now or timezone.now()
    settings = settings_for(institution.pk)
    result = Figures(period=period, target_hours=settings.turnaround_hours)
    types = list(
        ExamType.objects.filter(institution=institution)
        .annotate(required=F("qa__required_passed"))
        .values("pk", "code", "name", "required")
        .order_by("name", "pk")
    )
    for t in types:
        if t["required"] is None:
            t["required"] = default_required(t["code"])
    result.exam_types = types
    _volume(result, institution, period)
    _operators(result, institution, period)
    _backlog(result, institution, period, now)
    _quality(result, institution, period)
    _credentialing(result, institution, period)
    return result


def _volume(result: Figures, institution, period: Period) -> None:
    rows = (
        Exam.objects.filter(
            institution=institution,
            first_submitted_at__gte=period.since,
            first_submitted_at__lt=period.until,
        )
        .annotate(week=TruncWeek("first_submitted_at", tzinfo=period.zone))
        .values("week", "exam_type_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[datetime.date, dict] = {week: {} for week in period.weeks}
    for row in rows:
        week = _week_of(row["week"], period.zone)
        counts.setdefault(week, {})[row["exam_type_id"]] = row["n"]
    result.volume = [
        {"week": week, "total": sum(by_type.values()), "by_type": by_type}
        for week, by_type in sorted(counts.items())
    ]


def _operators(result: Figures, institution, period: Period) -> None:
    """Exams per operator in the period (the busiest first), with their QA first reads
    scored in the period: two queries, whatever the number of operators."""
    exams = list(
        Exam.objects.filter(
            institution=institution,
            first_submitted_at__gte=period.since,
            first_submitted_at__lt=period.until,
        )
        .values("operator_id", "operator__email", "operator__full_name")
        .annotate(exams=Count("pk"), types=Count("exam_type", distinct=True))
        .order_by("-exams", "operator__email")
    )
    result.operator_count = sum(1 for row in exams if row["operator_id"] is not None)
    top = exams[:TOP_OPERATORS]
    reviews = {
        row["operator_id"]: row
        for row in QAReview.objects.filter(
            institution=institution,
            read=QAReview.FIRST_READ,
            state=QAReview.State.DONE,
            scored_at__gte=period.since,
            scored_at__lt=period.until,
            operator_id__in=[row["operator_id"] for row in top if row["operator_id"]],
        )
        .values("operator_id")
        .annotate(reviewed=Count("pk"), passed=Count("pk", filter=Q(passed=True)))
        .order_by()
    }
    for row in top:
        qa = reviews.get(row["operator_id"], {})
        result.operators.append(
            {
                "operator_id": row["operator_id"],
                "name": (row["operator__full_name"] or row["operator__email"] or "No operator"),
                "email": row["operator__email"] or "",
                "exams": row["exams"],
                "exam_types": row["types"],
                "reviewed": qa.get("reviewed", 0),
                "passed": qa.get("passed", 0),
            }
        )


def _backlog(result: Figures, institution, period: Period, now) -> None:
    first_reads = QAReview.objects.filter(institution=institution, read=QAReview.FIRST_READ)
    pending = Q(state=QAReview.State.PENDING)
    result.backlog = first_reads.aggregate(
        pending=Count("pk", filter=pending),
        overdue=Count("pk", filter=pending & Q(due_at__lt=now)),
        unassigned=Count("pk", filter=pending & Q(assignee__isnull=True)),
    )
    target = datetime.timedelta(hours=result.target_hours)
    scored = first_reads.filter(
        state=QAReview.State.DONE, scored_at__gte=period.since, scored_at__lt=period.until
    )
    aggregates = {
        "n": Count("pk"),
        "median": Median(TURNAROUND),
        "p90": Percentile(TURNAROUND, 0.9),
        # Against the target as it is set now (not the due date kept on each review, so
        # a changed target reads the same over the whole chart).
        "on_time": Count("pk", filter=Q(scored_at__lte=F("created_at") + target)),
    }
    rows = (
        scored.annotate(week=TruncWeek("scored_at", tzinfo=period.zone))
        .values("week")
        .annotate(**aggregates)
        .order_by()
    )
    by_week = {_week_of(row["week"], period.zone): row for row in rows}
    empty = {"n": 0, "median": None, "p90": None, "on_time": 0}
    result.turnaround = [
        {"week": week, **{k: by_week.get(week, empty)[k] for k in empty}} for week in period.weeks
    ]
    result.turnaround_overall = scored.aggregate(**aggregates)


def _quality(result: Figures, institution, period: Period) -> None:
    counts = {f"level_{level}": Count("pk", filter=Q(image_quality=level)) for level in LEVELS}
    found = QAReview.objects.filter(
        institution=institution,
        read=QAReview.FIRST_READ,
        state=QAReview.State.DONE,
        scored_at__gte=period.since,
        scored_at__lt=period.until,
    ).aggregate(n=Count("pk"), passed=Count("pk", filter=Q(passed=True)), **counts)
    result.quality = {
        "n": found["n"],
        "passed": found["passed"],
        "passed_share": found["passed"] / found["n"] if found["n"] else None,
        "levels": [{"level": level, "n": found[f"level_{level}"]} for level in LEVELS],
    }


def _credentialing(result: Figures, institution, period: Period) -> None:
    credentials = {
        row["exam_type_id"]: row
        for row in Credential.objects.filter(institution=institution)
        .values("exam_type_id")
        .annotate(
            by_count=Count("pk", filter=Q(basis=Credential.Basis.COUNT)),
            by_grant=Count("pk", filter=Q(basis=Credential.Basis.GRANT)),
            in_period=Count("pk", filter=Q(since__gte=period.since, since__lt=period.until)),
        )
        .order_by()
    }
    holds = Credential.objects.filter(
        institution=institution,
        user_id=OuterRef("operator_id"),
        exam_type_id=OuterRef("exam_type_id"),
    )
    training = {
        row["exam_type_id"]: row["operators"]
        for row in QAReview.objects.filter(
            institution=institution,
            read=QAReview.FIRST_READ,
            operator__isnull=False,
            exam_type__isnull=False,
        )
        .exclude(Exists(holds))
        .values("exam_type_id")
        .annotate(operators=Count("operator_id", distinct=True))
        .order_by()
    }
    for t in result.exam_types:
        found = credentials.get(t["pk"], {})
        by_count, by_grant = found.get("by_count", 0), found.get("by_grant", 0)
        result.credentialing.append(
            {
                "exam_type_id": t["pk"],
                "exam_type": t["name"],
                "required": t["required"],
                "credentialed": by_count + by_grant,
                "by_count": by_count,
                "by_grant": by_grant,
                "credentialed_in_period": found.get("in_period", 0),
                "in_training": training.get(t["pk"], 0),
            }
        )


def share(part, whole) -> float | None:
    return part / whole if whole else None


def seconds(value) -> float | None:
    """A duration (timedelta, or SQLite's microseconds) in seconds."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000


def hours(value) -> float | None:
    s = seconds(value)
    return None if s is None else round(s / 3600, 2)
