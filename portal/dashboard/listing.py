"""A worklist as a query string: its filters, its order, its total, and an exam's neighbours.

The worklist page, its saved filters (``Membership.worklist_query``) and the exam page's
"Next exam" all read the same query string through ``listing_from``, so an exam's
neighbours are the rows the worklist shows before and after it, in the same keyset
order (``portal.dashboard.paging``): one indexed query each, never an OFFSET.

The query string comes from the address bar (the exam page's ``from``): it is read as
hostile input, bounded in length, and only its valid filters are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import QueryDict
from django.utils.http import urlencode

from portal.dashboard import queries
from portal.dashboard.forms import DEFAULT_PAGE_SIZE, WorklistFilterForm
from portal.dashboard.paging import SortKey, beyond
from portal.exams.models import Capture, Exam
from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request
from portal.worksheets.models import ExamType

# Longer than any query string the worklist makes (a search of 100 characters, escaped).
MAX_QUERY_LENGTH = 1500
# Counting every matching row is exact but reads them all: past this many the total is
# said as "more than 10,000 exams", which costs at most this many index entries.
COUNT_CAP = 10_000
# The query parameters of a worklist (the rest, cursors included, are not kept).
PARAMS = [
    "q",
    "review_state",
    "status",
    "exam_type",
    "operator",
    "reviewer",
    "submitted_from",
    "submitted_to",
    "sort",
    "size",
]
# What the screen-reader caption says of each order.
SORT_WORDS = {
    "-submitted": "submitted, newest first",
    "submitted": "submitted, oldest first",
    "patient": "patient, A to Z",
    "-patient": "patient, Z to A",
    "state": "review state, new first",
    "-state": "review state, reported first",
}
# The exams "Sign and next" goes on to: those that still need a signature.
TO_REVIEW = [Exam.ReviewState.NEW, Exam.ReviewState.IN_REVIEW]


@dataclass
class Listing:
    form: WorklistFilterForm
    filters: dict
    keys: list[SortKey]
    exams: object  # the filtered, annotated queryset (not ordered)
    query: str  # the canonical query string of the valid filters, without "?"
    memberships: list = field(default_factory=list)

    @property
    def sort(self) -> str:
        return self.filters["sort"]

    @property
    def sort_words(self) -> str:
        return SORT_WORDS.get(self.sort, SORT_WORDS[queries.DEFAULT_SORT])

    @property
    def filtered(self) -> bool:
        return any(k not in ("sort", "size") for k in self.filters)


def capture_count():
    """The exam's captures (resubmitted copies left out), as a subquery of the page's row."""
    counted = (
        Capture.objects.filter(exam=OuterRef("pk"), duplicate_of__isnull=True)
        .order_by()
        .values("exam")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def listing_from(request, data) -> Listing:
    """The worklist ``data`` (a QueryDict, or a query string) describes, for ``request``."""
    if isinstance(data, str):
        data = QueryDict(data if len(data) <= MAX_QUERY_LENGTH else "")
    kept = QueryDict(mutable=True)
    for name in PARAMS:
        if name in data:
            kept[name] = data[name]
    clinician = queries.is_clinician(request)
    memberships = list(scoped_to_request(Membership, request).select_related("user"))
    exam_types = list(scoped_to_request(ExamType, request).only("code", "name", "is_active"))
    form = WorklistFilterForm(
        kept, memberships=memberships, exam_types=exam_types, clinician=clinician, by_role=True
    )
    filters = form.filters()
    annotations, keys = queries.worklist_order(filters["sort"], request.institution)
    exams = queries.worklist_exams(request, filters).annotate(**annotations)
    return Listing(form, filters, keys, exams, canonical_query(filters), memberships)


def canonical_query(filters: dict) -> str:
    """The filters as the worklist's query string; the default sort and size left out."""
    values = {}
    for name in PARAMS:
        value = filters.get(name)
        if value in (None, ""):
            continue
        if name == "sort" and value == queries.DEFAULT_SORT:
            continue
        if name == "size" and value == DEFAULT_PAGE_SIZE:
            continue
        values[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return urlencode(values)


def total_words(exams) -> str:
    """ "1,234 exams", or "more than 10,000 exams" when counting further would be slow."""
    n = exams.order_by().values("pk")[: COUNT_CAP + 1].count()
    if n > COUNT_CAP:
        return f"more than {COUNT_CAP:,} exams"
    return f"{n:,} exam{'' if n == 1 else 's'}"


# The filters the tallies (``ExamTally``) are kept by: a total with only these is read.
TALLIED = {"review_state", "status", "reviewer", "operator"}


def listing_total(request, listing: Listing) -> str:
    """The worklist's total: read from the tallies when its filters are theirs (a few
    dozen rows whatever the institution's size), else counted up to ``COUNT_CAP``."""
    filters = {k: v for k, v in listing.filters.items() if k not in ("sort", "size")}
    if not set(filters) <= TALLIED:
        return total_words(listing.exams)
    rows = queries.tallies(request)
    for name in ("review_state", "status"):
        if name in filters:
            rows = rows.filter(**{name: filters[name]})
    if "operator" in filters:
        rows = rows.filter(operator_id=filters["operator"])
    reviewer = filters.get("reviewer")
    if reviewer == "none":
        rows = rows.filter(reviewer_id=0)
    elif reviewer == "me":
        rows = rows.filter(reviewer_id=request.user.pk)
    elif reviewer:
        rows = rows.filter(reviewer_id=reviewer)
    n = rows.aggregate(n=Coalesce(Sum("n"), 0))["n"]
    return f"{n:,} exam{'' if n == 1 else 's'}"


def remember(request, listing: Listing) -> None:
    """Keep the member's filters and sort for the next time the Worklist link is followed
    (a write only when they changed)."""
    membership = request.membership
    if membership is None or membership.worklist_query == listing.query:
        return
    membership.worklist_query = listing.query
    Membership.objects.filter(pk=membership.pk).update(worklist_query=listing.query)


def forget(request) -> None:
    membership = request.membership
    if membership is not None and membership.worklist_query:
        membership.worklist_query = ""
        Membership.objects.filter(pk=membership.pk).update(worklist_query="")


@dataclass
class Neighbours:
    previous: int | None = None
    next: int | None = None
    position: int | None = None  # 1-based, when the list is short enough to count
    total: int | None = None


def neighbours(listing: Listing, exam) -> Neighbours:
    """The exams before and after ``exam`` in the listing's order (whether or not the
    exam itself still matches its filters: a signed exam keeps its place in the order)."""
    row = listing_row(listing, exam)
    if row is None:
        return Neighbours()
    values = [getattr(row, key.name) for key in listing.keys]
    found = Neighbours(
        previous=_first_beyond(listing, values, backwards=True),
        next=_first_beyond(listing, values, backwards=False),
    )
    before = listing.exams.filter(beyond(listing.keys, values, backwards=True))
    counted_before = before.order_by().values("pk")[: COUNT_CAP + 1].count()
    total = listing.exams.order_by().values("pk")[: COUNT_CAP + 1].count()
    if total <= COUNT_CAP:
        found.total = total
        if listing.exams.filter(pk=exam.pk).exists():
            found.position = counted_before + 1
    return found


def next_to_review(listing: Listing, exam) -> int | None:
    """The first exam after ``exam`` in the listing that still needs a signature."""
    row = listing_row(listing, exam)
    exams = listing.exams.filter(review_state__in=TO_REVIEW).exclude(pk=exam.pk)
    if row is not None:
        values = [getattr(row, key.name) for key in listing.keys]
        after = _first_beyond(listing, values, backwards=False, exams=exams)
        if after is not None:
            return after
    # At the end of the list: the first one left from the top, if any.
    order = [key.order_by for key in listing.keys]
    return exams.order_by(*order).values_list("pk", flat=True).first()


def listing_row(listing: Listing, exam):
    """``exam`` with the listing's sort annotations (read without its filters)."""
    annotations, _ = queries.worklist_order(listing.sort, exam.institution_id)
    return Exam.objects.filter(pk=exam.pk).annotate(**annotations).first()


def _first_beyond(listing, values, *, backwards, exams=None) -> int | None:
    exams = listing.exams if exams is None else exams
    order = [key.order_by for key in listing.keys]
    if backwards:
        order = [o[1:] if o.startswith("-") else f"-{o}" for o in order]
    found = exams.filter(beyond(listing.keys, values, backwards=backwards)).order_by(*order)
    return found.values_list("pk", flat=True).first()
