"""The dashboard's and the worklist's queries: aggregated in the database, a few per page.

Everything starts from ``visible_exams`` / ``visible_captures`` (tenant rule, then role
rule), so a clinician's figures only count the exams they performed.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, Lower, Trim, TruncDate
from django.utils import timezone

from portal.dashboard.median import Median
from portal.dashboard.paging import SortKey
from portal.exams.access import visible_exams
from portal.exams.models import Exam, Patient
from portal.tenants import linked_accounts
from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request

CHART_DAYS = 30
ReviewState = Exam.ReviewState

# --- Dashboard ------------------------------------------------------------------------


def is_clinician(request) -> bool:
    return request.membership is not None and request.membership.role == Membership.Role.CLINICIAN


def exam_counts(request) -> dict:
    """The counts on the dashboard's cards, in one query."""
    return visible_exams(request).aggregate(
        new=Count("pk", filter=Q(review_state=ReviewState.NEW)),
        in_review=Count("pk", filter=Q(review_state=ReviewState.IN_REVIEW)),
        preliminary=Count("pk", filter=Q(review_state=ReviewState.PRELIMINARY)),
        signed=Count("pk", filter=Q(review_state=ReviewState.SIGNED)),
        reported=Count("pk", filter=Q(review_state=ReviewState.REPORTED)),
        ingestion_failures=Count("pk", filter=Q(status=Exam.Status.INCOMPLETE)),
        receiving=Count("pk", filter=Q(status=Exam.Status.RECEIVING)),
        assigned_to_me=Count(
            "pk",
            filter=Q(
                reviewer=request.user, review_state__in=[ReviewState.NEW, ReviewState.IN_REVIEW]
            ),
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
    """``(day, number of exams first submitted that day)`` for each of ``days``."""
    rows = (
        visible_exams(request)
        .filter(first_submitted_at__gte=start_of_day(days[0]))
        .annotate(day=TruncDate("first_submitted_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    counts = {row["day"]: row["n"] for row in rows}
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

# The order of the review workflow, for sorting by state.
STATE_RANK = Case(
    *[When(review_state=state, then=Value(rank)) for rank, state in enumerate(ReviewState)],
    default=Value(len(ReviewState)),
    output_field=IntegerField(),
)


def patient_key(institution):
    """Sort key of the patient: humans by "last first", animals by their name.

    The join it sorts on is narrowed to the institution's patients by a constant, so the
    database reads them through the patient table's institution index rather than
    hashing the whole table; an exam without a patient sorts as "".
    """
    own = FilteredRelation("patient", condition=Q(patient__institution=institution))
    parts = ["own_patient__last_name", "own_patient__first_name", "own_patient__animal_name"]
    fields = [Coalesce(part, Value("")) for part in parts]
    key = Lower(Trim(Concat(fields[0], Value(" "), fields[1], Value(" "), fields[2])))
    return {"own_patient": own, "patient_key": key}


_submitted = Exam._meta.get_field("last_submitted_at")
_id = Exam._meta.get_field("id")
_rank = IntegerField()
_text = Patient._meta.get_field("last_name")

# sort parameter -> (annotations for an institution, keys). Every order ends with -id,
# so ties are stable.
SORTS = {
    "-submitted": (lambda institution: {}, [SortKey("last_submitted_at", True, _submitted)]),
    "submitted": (lambda institution: {}, [SortKey("last_submitted_at", False, _submitted)]),
    "patient": (patient_key, [SortKey("patient_key", False, _text)]),
    "-patient": (patient_key, [SortKey("patient_key", True, _text)]),
    "state": (
        lambda institution: {"state_rank": STATE_RANK},
        [SortKey("state_rank", False, _rank), SortKey("last_submitted_at", True, _submitted)],
    ),
    "-state": (
        lambda institution: {"state_rank": STATE_RANK},
        [SortKey("state_rank", True, _rank), SortKey("last_submitted_at", True, _submitted)],
    ),
}
DEFAULT_SORT = "-submitted"


def worklist_order(sort: str, institution):
    """The annotations and keyset keys of a sort (the default for an unknown one)."""
    annotations, keys = SORTS.get(sort, SORTS[DEFAULT_SORT])
    return annotations(institution), [*keys, SortKey("id", True, _id)]


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
