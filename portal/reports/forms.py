from django import forms

from portal.reports.limits import ADDENDUM_LIMIT, FINDINGS_LIMITS, TextLimit, normalised
from portal.reports.models import Findings
from portal.reports.review import findings_version
from portal.text import clean_text

QUALITY_CHOICES = [
    ("", "Not rated"),
    (1, "1 — non-diagnostic"),
    (2, "2 — limited"),
    (3, "3 — adequate"),
    (4, "4 — good"),
    (5, "5 — excellent"),
]


def limit_text_field(field, label: str, limit: int) -> None:
    """At most ``limit`` characters and ``LINE_LIMIT`` lines, said with the field's name.

    The browser is told the limit too (``maxlength``), but the server decides.
    """
    field.validators.append(TextLimit(label, limit))
    field.widget.attrs["maxlength"] = str(limit)


def clean_review_text(value: str) -> str:
    """One kind of line break; no control characters or bidi overrides (see portal.text)."""
    return clean_text(normalised(value), multiline=True)


class FindingsForm(forms.ModelForm):
    image_quality = forms.TypedChoiceField(
        choices=QUALITY_CHOICES, coerce=int, empty_value=None, required=False
    )
    # The version of the worksheet the page was loaded at (``review.findings_version``):
    # a save over someone else's newer one is refused instead of overwriting it. A post
    # without it (an older page) is not checked.
    version = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    class Meta:
        model = Findings
        fields = [
            "indication",
            "views_obtained",
            "findings",
            "impression",
            "image_quality",
            "clinician_feedback",
        ]
        widgets = {
            "indication": forms.Textarea(attrs={"rows": 2}),
            "views_obtained": forms.Textarea(attrs={"rows": 2}),
            "findings": forms.Textarea(attrs={"rows": 6}),
            "impression": forms.Textarea(attrs={"rows": 3}),
            "clinician_feedback": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, limit in FINDINGS_LIMITS.items():
            field = self.fields[name]
            limit_text_field(field, str(field.label), limit)
        if not self.is_bound:
            self.fields["version"].initial = findings_version(self.instance)

    def expected_version(self) -> str | None:
        """The version the page was loaded at, if it said (after ``is_valid``)."""
        return self.cleaned_data.get("version") or None

    def clean(self):
        cleaned = super().clean()
        for name in FINDINGS_LIMITS:
            if name in cleaned:
                cleaned[name] = clean_review_text(cleaned[name])
        return cleaned


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Signed with your name when you add it, and sent to Clarius as a new report "
        "version. It cannot be changed afterwards.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_text_field(self.fields["text"], "The addendum", ADDENDUM_LIMIT)

    def clean_text(self):
        return clean_review_text(self.cleaned_data["text"])
