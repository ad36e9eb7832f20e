from django import forms

from portal.reports.models import Findings

QUALITY_CHOICES = [
    ("", "Not rated"),
    (1, "1 — non-diagnostic"),
    (2, "2 — limited"),
    (3, "3 — adequate"),
    (4, "4 — good"),
    (5, "5 — excellent"),
]


class FindingsForm(forms.ModelForm):
    image_quality = forms.TypedChoiceField(
        choices=QUALITY_CHOICES, coerce=int, empty_value=None, required=False
    )

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


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
        help_text="Signed with your name when you add it, and sent to Clarius as a new report "
        "version. It cannot be changed afterwards.",
    )
