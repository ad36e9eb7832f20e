"""Filter forms of the staff pages: plain GET forms, so every view is a link to share.

Member choices come from one list of the institution's memberships, loaded once per
page, so a filter never costs a query per option or per validation.
"""

from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from portal.dashboard.queries import DEFAULT_SORT, SORTS
from portal.exams import audit_display
from portal.exams.models import Exam
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES
from portal.text import clean_text

PAGE_SIZES = [10, 25, 50, 100]
DEFAULT_PAGE_SIZE = 25


class DateInput(forms.DateInput):
    input_type = "date"


# A filter's day becomes a moment in the current time zone, a day later for "to": at the
# ends of the calendar (year 1, 9999) that arithmetic overflows, so days stay in between.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


class DayField(forms.DateField):
    def __init__(self, **kwargs):
        message = f"Choose a day between {FIRST_DAY:%Y} and {LAST_DAY:%Y}."
        kwargs.setdefault("widget", DateInput)
        super().__init__(
            validators=[
                MinValueValidator(FIRST_DAY, message=message),
                MaxValueValidator(LAST_DAY, message=message),
            ],
            **kwargs,
        )


def member_choices(memberships):
    # An <option> cannot hold <bdi>: names are cleaned of bidi and control characters.
    return [
        (str(m.user_id), clean_text(m.user.get_full_name(), max_length=150)) for m in memberships
    ]


class FilterForm(forms.Form):
    def __init__(self, data):
        super().__init__(data, label_suffix="")  # labels above fields need no colon

    def filters(self) -> dict:
        """The valid filters; an invalid one is ignored (and shown with its error)."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class WorklistFilterForm(FilterForm):
    q = forms.CharField(
        label="Patient",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Identifier or name"}),
    )
    review_state = forms.ChoiceField(
        label="Review", required=False, choices=[("", "Any")] + Exam.ReviewState.choices
    )
    status = forms.ChoiceField(
        label="Ingestion", required=False, choices=[("", "Any")] + Exam.Status.choices
    )
    exam_type = forms.ChoiceField(label="Exam type", required=False)
    operator = forms.TypedChoiceField(label="Clinician", required=False, coerce=int)
    reviewer = forms.ChoiceField(label="Reviewer", required=False)
    submitted_from = DayField(label="Submitted from", required=False)
    submitted_to = DayField(label="to", required=False)
    sort = forms.ChoiceField(
        required=False, choices=[(s, s) for s in SORTS], widget=forms.HiddenInput
    )
    size = forms.TypedChoiceField(
        label="Per page",
        required=False,
        coerce=int,
        choices=[(n, n) for n in PAGE_SIZES],
        empty_value=DEFAULT_PAGE_SIZE,
    )

    def __init__(self, data, *, memberships, exam_types=(), clinician=False, by_role=False):
        # A bound form shows what was sent: without a size, the select would show 10.
        data = data.copy()
        data.setdefault("size", str(DEFAULT_PAGE_SIZE))
        super().__init__(data)
        # Retired types too: exams documented with them are still found by them.
        self.fields["exam_type"].choices = [
            ("", "Any"),
            ("none", "Not chosen yet"),
            *[(t.code, t.name if t.is_active else f"{t.name} (retired)") for t in exam_types],
        ]
        # On the page (``by_role``), each filter offers the members who hold that part:
        # exams are performed by clinicians and reviewed by reviewers and administrators.
        # The API's filter takes any member's id.
        clinicians = [m for m in memberships if not by_role or m.role == Membership.Role.CLINICIAN]
        reviewers = [m for m in memberships if not by_role or m.role in REVIEWING_ROLES]
        self.fields["operator"].choices = [("", "Anyone")] + member_choices(clinicians)
        self.fields["reviewer"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Unassigned"),
            *member_choices(reviewers),
        ]
        if clinician:
            # A clinician's worklist only holds their own exams anyway.
            del self.fields["operator"]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("submitted_from"), cleaned.get("submitted_to")
        if start and end and start > end:
            self.add_error("submitted_to", "The end comes before the start.")
        return cleaned

    def filters(self) -> dict:
        filters = super().filters()
        filters.setdefault("sort", DEFAULT_SORT)
        filters.setdefault("size", DEFAULT_PAGE_SIZE)
        return filters


class AuditFilterForm(FilterForm):
    user = forms.TypedChoiceField(label="Who", required=False, coerce=int)
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Any")] + audit_display.kind_choices()
    )
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "Any")] + audit_display.grouped_action_choices(),
    )
    date_from = DayField(label="From", required=False)
    date_to = DayField(label="to", required=False)

    def __init__(self, data, *, memberships):
        super().__init__(data)
        self.fields["user"].choices = [("", "Anyone")] + member_choices(memberships)
