"""Forms of the Clarius account pages (admin) and of the research pages."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from django import forms
from django.core.validators import RegexValidator

from integrations.clarius.account import presets
from integrations.clarius.api.client import DICOM_DEMOGRAPHICS, DICOM_SYNTAXES, dicom_parameters
from portal.exams.labels import field_label

# --- service account ------------------------------------------------------------------


class KeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Shown in Clarius' list of keys.")


class KeyRotateForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="Name of the new key (default: the date)."
    )


class KeyRevokeForm(forms.Form):
    prefix = forms.CharField(
        max_length=32,
        validators=[RegexValidator(r"^[A-Za-z0-9]+$", "A key prefix is letters and digits.")],
    )


class IngestRecordForm(forms.Form):
    request_uuid = forms.UUIDField()


class AnnotationGroupForm(forms.Form):
    title = forms.CharField(required=False, strip=True)
    labels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 30}),
        help_text="One label per line.",
    )
    linked = forms.BooleanField(
        required=False, help_text="Labels of linked groups combine into one label."
    )

    def group(self) -> dict | None:
        """The raw group, or None for a row left blank (blank rows are not groups)."""
        title = self.cleaned_data.get("title", "")
        labels = [line.strip() for line in self.cleaned_data.get("labels", "").splitlines()]
        labels = [label for label in labels if label]
        if not title and not labels:
            return None
        return {"title": title, "labels": labels, "linked": self.cleaned_data.get("linked")}


class BaseAnnotationFormSet(forms.BaseFormSet):
    """Validates the groups together with ``presets.validate`` (one set of rules for the
    admin page and the command) and puts each problem on the row it belongs to."""

    def clean(self):
        self.groups = []
        if any(self.errors):
            return
        rows = [
            (form, form.group())
            for form in self.forms
            if not (self.can_delete and self._should_delete_form(form))
        ]
        rows = [(form, group) for form, group in rows if group is not None]
        groups, problems = presets.validate([group for _, group in rows])
        for problem in problems:
            if problem.group is None:
                raise forms.ValidationError(problem.message)
            rows[problem.group][0].add_error(problem.field, problem.message)
        self.groups = groups


AnnotationFormSet = forms.formset_factory(
    AnnotationGroupForm,
    formset=BaseAnnotationFormSet,
    extra=2,
    can_delete=True,
    max_num=presets.MAX_GROUPS,
    validate_max=True,
)


def annotation_initial(groups) -> list[dict]:
    return [{"title": g.title, "labels": "\n".join(g.labels), "linked": g.linked} for g in groups]


# --- research -----------------------------------------------------------------------------


class ResearchConnectForm(forms.Form):
    """Clarius research credentials; the password goes to Clarius once and is not kept."""

    username = forms.CharField(max_length=254, label="Clarius username")
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(render_value=False), label="Clarius password"
    )


RESOLUTION_RE = re.compile(r"^(\d{1,4})x(\d{1,4})$")
MIN_SIDE, MAX_SIDE = 32, 4096


@lru_cache(maxsize=1)
def time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(zoneinfo.available_timezones() | {"UTC"})
    return [(zone, zone) for zone in zones]


OVERLAYS = (
    "include_annotations",
    "include_demographics",
    "include_measurements",
    "include_scan_parameters",
)


class DicomExportForm(forms.Form):
    """Every option of Clarius' DICOM export (§10), checked before anything is sent."""

    syntax = forms.ChoiceField(
        choices=[
            (DICOM_SYNTAXES[0], "JPEG lossless, process 14"),
            (DICOM_SYNTAXES[1], "JPEG-LS lossless"),
        ],
        initial=DICOM_SYNTAXES[0],
        label="Transfer syntax",
    )
    b_image_only = forms.BooleanField(
        required=False, label="B-image only", help_text="No overlay at all."
    )
    resolution = forms.CharField(
        initial="1024x768", max_length=9, help_text="Width x height in pixels, e.g. 1024x768."
    )
    include_annotations = forms.BooleanField(required=False, label="Annotations")
    include_demographics = forms.BooleanField(required=False, label="Demographics")
    include_measurements = forms.BooleanField(required=False, label="Measurements")
    include_scan_parameters = forms.BooleanField(required=False, label="Scan parameters")
    demographics = forms.MultipleChoiceField(
        choices=[(name, field_label(name)) for name in DICOM_DEMOGRAPHICS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Which demographics to show; none ticked means all of them.",
    )
    tz = forms.ChoiceField(choices=time_zone_choices, initial="UTC", label="Time zone")

    def clean_resolution(self):
        value = self.cleaned_data["resolution"].strip().lower()
        match = RESOLUTION_RE.match(value)
        if not match or not all(MIN_SIDE <= int(side) <= MAX_SIDE for side in match.groups()):
            raise forms.ValidationError(
                f"Write it as <width>x<height>, each between {MIN_SIDE} and {MAX_SIDE}."
            )
        return value

    def clean(self):
        data = super().clean()
        if data.get("b_image_only") and any(data.get(name) for name in OVERLAYS):
            # Clarius would silently drop the overlays; say so instead.
            raise forms.ValidationError(
                "B-image only turns every overlay off: untick it or the overlays."
            )
        if data.get("demographics") and not data.get("include_demographics"):
            self.add_error("demographics", "Tick “Demographics” to show these on the image.")
        return data

    def parameters(self) -> dict:
        """The request body, exactly as it will be sent (validated by the client too)."""
        data = self.cleaned_data
        options = {name: data[name] for name in ("b_image_only", *OVERLAYS)}
        return dicom_parameters(
            syntax=data["syntax"],
            resolution=data["resolution"],
            tz=data["tz"],
            demographics=data["demographics"] or None,
            **options,
        )
