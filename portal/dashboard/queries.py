"""The dashboard's and the worklist's queries: aggregated in the database, a few per page.

Everything starts from ``visible_exams`` / ``visible_captures`` (tenant rule, then role
rule), so a clinician's figures only count the exams they performed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from portal.dashboard.median import Median
from portal.dashboard.paging import SortKey
from portal.exams.access import visible_exams
from portal.exams.models import Exam, ExamHour, ExamTally
from portal.tenants import linked_accounts
from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request

CHART_DAYS = 30
ReviewState = Exam.ReviewState

# --- Dashboard ------------------------------------------------------------------------


def is_clinician(request) -> bool:
    return request.membership is not None and request.membership.role == Membership.Role.CLINICIAN


def tallies(request):
    """The visible exams' ``ExamTally`` rows (maintained by the database, see
    ``portal.exams.tallies``): a few dozen rows per institution whatever its size. Same
    rule as ``visible_exams``: the institution's, a clinician's own."""
    rows = ExamTally.objects.filter(institution_id=request.institution.pk, n__gt=0)
    if is_clinician(request):
        rows = rows.filter(operator_id=request.user.pk)
    return rows


def _sum(**where):
    return Coalesce(Sum("n", filter=Q(**where)), 0)


def exam_counts(request) -> dict:
    """The counts on the dashboard's cards, in one query of the tallies."""
    return tallies(request).aggregate(
        new=_sum(review_state=ReviewState.NEW),
        in_review=_sum(review_state=ReviewState.IN_REVIEW),
        preliminary=_sum(review_state=ReviewState.PRELIMINARY),
        signed=_sum(review_state=ReviewState.SIGNED),
        reported=_sum(review_state=ReviewState.REPORTED),
        ingestion_failures=_sum(status=Exam.Status.INCOMPLETE),
        receiving=_sum(status=Exam.Status.RECEIVING),
        assigned_to_me=_sum(
            reviewer_id=request.user.pk,
            review_state__in=[ReviewState.NEW, ReviewState.IN_REVIEW],
        ),
    )


def chart_days(today=None) -> list:
    """The last ``CHART_DAYS`` local dates, oldest first, today last."""
    today = today or timezone.localdate()
    return [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]


def start_of_day(day):
    """Midnight at the start of ``day``, in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def exams_per_day(request, days: list) -> list[tuple]:
    """``(day, number of exams first submitted that day)`` for each of ``days``, from the
    hourly tallies (``ExamHour``: at most 24 rows a day, whatever the number of exams)."""
    operator = request.user.pk if is_clinician(request) else 0
    rows = ExamHour.objects.filter(
        institution_id=request.institution.pk,
        operator_id=operator,
        hour__gte=start_of_day(days[0]),
        n__gt=0,
    ).values_list("hour", "n")
    counts = {}
    for hour, n in rows:
        day = timezone.localtime(hour).date()
        counts[day] = counts.get(day, 0) + n
    return [(day, counts.get(day, 0)) for day in days]


TURNAROUND = ExpressionWrapper(
    F("signed_at") - F("first_submitted_at"), output_field=DurationField()
)


def turnaround_per_day(request, days: list) -> tuple[list[tuple], dict]:
    """Median time from submission to signature, per day of signature, and overall.

    Returns ``[(day, median timedelta or None, exams signed)]`` and
    ``{"median": timedelta or None, "n": exams signed in the period}``.
    """
    signed = visible_exams(request).filter(signed_at__gte=start_of_day(days[0]))
    rows = (
        signed.annotate(day=TruncDate("signed_at"))
        .values("day")
        .annotate(median=Median(TURNAROUND), n=Count("pk"))
        .order_by("day")
    )
    by_day = {row["day"]: (row["median"], row["n"]) for row in rows}
    overall = signed.aggregate(median=Median(TURNAROUND), n=Count("pk"))
    return [(day, *by_day.get(day, (None, 0))) for day in days], overall


def recent_exams(request, limit=8):
    return visible_exams(request).select_related("patient", "operator", "reviewer")[:limit]


class SubqueryCount(Subquery):
    """``(SELECT COUNT(*) FROM (<queryset>))``: several counts in one round trip."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()

    def __init__(self, queryset):
        super().__init__(queryset.order_by().values("pk"))


def members_with_link_state(request) -> list:
    """The institution's members, each with the state of their latest link here on each
    system whose accounts members link (``portal.tenants.linked_accounts``).

    A clinician only sees themself. Each membership gets ``links``: one ``LinkState``
    per system, its ``state`` ``None`` when the member never linked an account there.
    """
    members = scoped_to_request(Membership, request)
    if is_clinician(request):
        members = members.filter(user=request.user)
    systems = linked_accounts.registered()
    members = members.select_related("user").annotate(
        **{
            linked_accounts.annotation(system): Subquery(system.latest_state()[:1])
            for system in systems
        }
    )
    members = list(members.order_by("user__email"))
    for member in members:
        member.links = [
            linked_accounts.LinkState(system, getattr(member, linked_accounts.annotation(system)))
            for system in systems
        ]
    return members


# --- Worklist -------------------------------------------------------------------------

_submitted = Exam._meta.get_field("last_submitted_at")
_id = Exam._meta.get_field("id")
_rank = Exam._meta.get_field("state_rank").output_field
_patient = Exam._meta.get_field("patient_sort")

# sort parameter -> its keys, the last the unique id. Each order is one of the exam
# table's indexes (institution, keys...) read forwards or backwards, so a page is an
# index range however many exams the institution holds: the id goes the way of the key
# before it (its ties in the index's order). The sort keys are stored columns
# (``Exam.state_rank``, ``Exam.patient_sort``: humans by "last first", animals by name).
SORTS = {
    "-submitted": [SortKey("last_submitted_at", True, _submitted), SortKey("id", True, _id)],
    "submitted": [SortKey("last_submitted_at", False, _submitted), SortKey("id", False, _id)],
    "patient": [SortKey("patient_sort", False, _patient), SortKey("id", False, _id)],
    "-patient": [SortKey("patient_sort", True, _patient), SortKey("id", True, _id)],
    "state": [
        SortKey("state_rank", False, _rank),
        SortKey("last_submitted_at", True, _submitted),
        SortKey("id", True, _id),
    ],
    "-state": [
        SortKey("state_rank", True, _rank),
        SortKey("last_submitted_at", True, _submitted),
        SortKey("id", True, _id),
    ],
}
DEFAULT_SORT = "-submitted"


def worklist_order(sort: str, institution=None):
    """The annotations (none: every key is a column) and keyset keys of a sort (the
    default for an unknown one)."""
    return {}, list(SORTS.get(sort, SORTS[DEFAULT_SORT]))


def patient_search(text: str) -> Q:
    """Every word must match the identifier, a name or the animal's name."""
    query = Q()
    for word in text.split()[:5]:
        query &= (
            Q(patient__identifier__icontains=word)
            | Q(patient__first_name__icontains=word)
            | Q(patient__last_name__icontains=word)
            | Q(patient__animal_name__icontains=word)
        )
    return query


def worklist_exams(request, filters: dict):
    """The visible exams matching the worklist's (already validated) filters."""
    exams = visible_exams(request)
    if filters.get("review_state"):
        exams = exams.filter(review_state=filters["review_state"])
    if filters.get("status"):
        exams = exams.filter(status=filters["status"])
    if filters.get("operator"):
        exams = exams.filter(operator_id=filters["operator"])
    exam_type = filters.get("exam_type")
    if exam_type == "none":
        exams = exams.filter(exam_type__isnull=True)
    elif exam_type:
        exams = exams.filter(exam_type__code=exam_type)
    reviewer = filters.get("reviewer")
    if reviewer == "none":
        exams = exams.filter(reviewer__isnull=True)
    elif reviewer == "me":
        exams = exams.filter(reviewer=request.user)
    elif reviewer:
        exams = exams.filter(reviewer_id=reviewer)
    if filters.get("submitted_from"):
        exams = exams.filter(last_submitted_at__gte=start_of_day(filters["submitted_from"]))
    if filters.get("submitted_to"):
        end = filters["submitted_to"] + timedelta(days=1)
        exams = exams.filter(last_submitted_at__lt=start_of_day(end))
    if filters.get("q"):
        exams = exams.filter(patient_search(filters["q"]))
    related = ["patient", "operator", "reviewer", "exam_type"]
    if is_clinician(request):
        related.append("findings")  # the clinician's column: is there feedback to read?
    return exams.select_related(*related)
