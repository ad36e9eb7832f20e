from django import forms

from portal.exams.captures import stills
from portal.reports.limits import ADDENDUM_LIMIT, FINDINGS_LIMITS, TextLimit, normalised
from portal.reports.models import Findings
from portal.reports.review import (
    CAPTION_LIMIT,
    InvalidWorksheet,
    exam_types_of,
    fill_worksheet,
    findings_version,
)
from portal.text import clean_text
from portal.worksheets.engine import NOT_OBTAINED, OBTAINED, REASON_LIMIT, Worksheet
from portal.worksheets.models import WorksheetTemplate

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


# The free-text fields of the worksheet the page edits; ``views_obtained`` is kept for
# worksheets written before the views checklist, and shown when it holds text.
TEXT_FIELDS = ["indication", "findings", "impression", "clinician_feedback"]
ANSWER, VIEW, REASON, KEY, CAPTION = "answer__", "view__", "reason__", "key__", "caption__"
# The id of the worksheet's <form>: the key-image boxes on the gallery belong to it.
FORM_ID = "findings-form"
YES_NO = [("", "Not answered"), ("yes", "Yes"), ("no", "No")]
VIEW_STATES = [("", "Not recorded"), (OBTAINED, "Obtained"), (NOT_OBTAINED, "Not obtained")]


class FindingsForm(forms.ModelForm):
    """The worksheet page: the exam type, its template's fields and views, key images,
    the interpretation, and the QA block (which stays in the portal).

    The fields shown are those of the template the page was drawn with (``worksheet``,
    a hidden field); saving moves the answers to the chosen exam type's newest template
    (``review.fill_worksheet``) and ``dropped`` names those that did not fit.
    """

    exam_type = forms.ChoiceField(
        label="Exam type",
        required=False,
        help_text="Proposed from the Clarius application when it sent one; changing it "
        "keeps the answers that still fit.",
    )
    image_quality = forms.TypedChoiceField(
        choices=QUALITY_CHOICES, coerce=int, empty_value=None, required=False
    )
    worksheet = forms.IntegerField(required=False, widget=forms.HiddenInput)
    key_scope = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    # The version of the worksheet the page was loaded at (``review.findings_version``):
    # a save over someone else's newer one is refused instead of overwriting it. A post
    # without it (an older page) is not checked.
    version = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    class Meta:
        model = Findings
        fields = ["indication", "findings", "impression", "image_quality", "clinician_feedback"]
        labels = {
            "findings": "Additional findings",
            "impression": "Interpretation (impression)",
        }
        widgets = {
            "indication": forms.Textarea(attrs={"rows": 2}),
            "findings": forms.Textarea(attrs={"rows": 3}),
            "impression": forms.Textarea(attrs={"rows": 3}),
            "clinician_feedback": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, scope=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropped: list[str] = []
        findings = self.instance
        exam = findings.exam
        for name in TEXT_FIELDS:
            # Said with the column's name, as ``limits.findings_too_long`` says it.
            label = str(Findings._meta.get_field(name).verbose_name).capitalize()
            limit_text_field(self.fields[name], label, FINDINGS_LIMITS[name])
        current_type = exam.exam_type
        self.exam_types = list(exam_types_of(exam.institution_id, include=current_type))
        self.fields["exam_type"].choices = [("", "Choose…")] + [
            (t.code, t.name) for t in self.exam_types
        ]
        self.template = self._shown_template()
        self.sheet = Worksheet(self.template.definition) if self.template else None
        if not self.is_bound:
            self.fields["version"].initial = findings_version(findings)
            self.fields["worksheet"].initial = self.template.pk if self.template else None
            self.fields["exam_type"].initial = current_type.code if current_type else ""
        self._add_worksheet_fields()
        # Key images are picked on the gallery, one page of it at a time: the form holds
        # the stills of the page shown (``key_scope``), and keeps the others chosen.
        scope = _ids(str(self.data.get("key_scope", ""))) if self.is_bound else list(scope or [])
        self.stills = list(stills(exam).filter(pk__in=scope)) if scope else []
        self.fields["key_scope"].initial = ",".join(str(c.pk) for c in self.stills)
        chosen = findings.key_images or {}
        for capture in self.stills:
            self.fields[f"{KEY}{capture.pk}"] = forms.BooleanField(
                required=False,
                initial=str(capture.pk) in chosen,
                label="Key image",
                widget=forms.CheckboxInput(attrs={"form": FORM_ID}),
            )
            self.fields[f"{CAPTION}{capture.pk}"] = forms.CharField(
                required=False,
                max_length=CAPTION_LIMIT,
                label="Caption",
                initial=chosen.get(str(capture.pk), ""),
                widget=forms.TextInput(attrs={"form": FORM_ID, "placeholder": "Caption"}),
            )

    def _shown_template(self):
        """The template the page shows: the one posted back (of this institution), else
        the worksheet's, else the exam type's newest."""
        findings, exam = self.instance, self.instance.exam
        if self.is_bound:
            raw = str(self.data.get("worksheet", ""))
            if raw.isascii() and raw.isdigit() and len(raw) < 19:
                posted = (
                    WorksheetTemplate.objects.for_institution(exam.institution_id)
                    .filter(pk=int(raw))
                    .first()
                )
                if posted is not None:
                    return posted
        if findings.template_id:
            return findings.template
        return exam.exam_type.current_template() if exam.exam_type_id else None

    def _add_worksheet_fields(self):
        if self.sheet is None:
            return
        answers = self.instance.answers or {}
        views = self.instance.views or {}
        keep = self.instance.template_id == (self.template.pk if self.template else None)
        for field in self.sheet.fields.values():
            name = ANSWER + field.code
            self.fields[name] = _answer_field(field)
            if keep and field.code in answers:
                self.fields[name].initial = _initial(field, answers[field.code])
        for view in self.sheet.views.values():
            self.fields[VIEW + view.code] = forms.ChoiceField(
                label=view.label, choices=VIEW_STATES, required=False, widget=forms.RadioSelect
            )
            self.fields[REASON + view.code] = forms.CharField(
                label="Reason not obtained", required=False, max_length=REASON_LIMIT
            )
            status = views.get(view.code) if keep else None
            if status == OBTAINED:
                self.fields[VIEW + view.code].initial = OBTAINED
            elif isinstance(status, dict):
                self.fields[VIEW + view.code].initial = NOT_OBTAINED
                self.fields[REASON + view.code].initial = status.get(NOT_OBTAINED, "")

    # What the template renders: fields grouped as the worksheet is.

    def sections(self):
        """``[(code, title, [(field, bound field)], has normals)]`` for the page."""
        if self.sheet is None:
            return []
        out = []
        for code, title, fields in self.sheet.sections:
            rows = [(f, self[ANSWER + f.code]) for f in fields]
            out.append((code, title, rows, any(f.normal is not None for f in fields)))
        return out

    def view_rows(self):
        if self.sheet is None:
            return []
        return [(v, self[VIEW + v.code], self[REASON + v.code]) for v in self.sheet.views.values()]

    def key_fields(self) -> dict:
        """Capture id → (checkbox, caption) for the stills of the gallery page shown."""
        return {c.pk: (self[f"{KEY}{c.pk}"], self[f"{CAPTION}{c.pk}"]) for c in self.stills}

    def expected_version(self) -> str | None:
        """The version the page was loaded at, if it said (after ``is_valid``)."""
        return self.cleaned_data.get("version") or None

    def clean(self):
        cleaned = super().clean()
        for name in TEXT_FIELDS:
            if name in cleaned:
                cleaned[name] = clean_review_text(cleaned[name])
        if self.errors:
            return cleaned
        chosen = next((t for t in self.exam_types if t.code == cleaned.get("exam_type")), None)
        answers = {}
        if self.sheet is not None:
            for field in self.sheet.fields.values():
                value = _answer_value(field, cleaned.get(ANSWER + field.code))
                if value is not None:
                    answers[field.code] = value
        views = {}
        for view in self.sheet.views.values() if self.sheet else []:
            state = cleaned.get(VIEW + view.code)
            if state == OBTAINED:
                views[view.code] = OBTAINED
            elif state == NOT_OBTAINED:
                views[view.code] = {NOT_OBTAINED: cleaned.get(REASON + view.code, "")}
        shown = {str(c.pk) for c in self.stills}
        key_images = {k: v for k, v in (self.instance.key_images or {}).items() if k not in shown}
        key_images.update(
            {
                str(c.pk): cleaned.get(f"{CAPTION}{c.pk}", "")
                for c in self.stills
                if cleaned.get(f"{KEY}{c.pk}")
            }
        )
        posted = set(self.data)
        if "exam_type" not in posted and not any(
            name.startswith((ANSWER, VIEW, KEY)) for name in posted
        ):
            # A post with none of the structured part (a page from before it existed, a
            # text-only save) leaves the worksheet's type, answers and views as they are.
            return cleaned
        # The answers were typed into the template the page showed.
        self.instance.template = self.template
        try:
            dropped = fill_worksheet(
                self.instance,
                exam_type=chosen,
                answers=answers,
                views=views,
                key_images=key_images,
                strict=False,
            )
            self.dropped = [self._described(code) for code in dropped]
        except InvalidWorksheet as e:
            for code, message in e.errors.items():
                self.add_error(self._field_name(code), message)
        return cleaned

    def _described(self, code: str) -> str:
        """A dropped answer as the person saw it: "Right hemithorax: B-lines"."""
        titles = {section: title for section, title, _ in self.sheet.sections}
        if code.startswith("view ") and code[5:] in self.sheet.views:
            return f"View: {self.sheet.views[code[5:]].label}"
        field = self.sheet.fields.get(code)
        return f"{titles[field.section]}: {field.label}" if field else code

    def _field_name(self, code: str) -> str | None:
        if code.startswith("view:"):
            name = VIEW + code[5:]
        elif code.startswith("key_images:"):
            name = KEY + code[11:]
        else:
            name = ANSWER + code
        if name in self.fields:
            return name
        return "exam_type" if code == "exam_type" else None


def _ids(text: str) -> list[int]:
    """The capture ids of a ``key_scope`` (a gallery page holds at most a few dozen)."""
    out = []
    for part in text.split(",")[:100]:
        part = part.strip()
        if part.isascii() and part.isdigit() and len(part) < 19:
            out.append(int(part))
    return out


def _answer_field(field) -> forms.Field:
    label = field.label + (f" ({field.unit})" if field.unit else "")
    if field.type == "choice":
        return forms.ChoiceField(
            label=label,
            choices=[("", "Not answered"), *field.choices],
            required=False,
            widget=forms.RadioSelect,
        )
    if field.type == "multi":
        return forms.MultipleChoiceField(
            label=label, choices=field.choices, required=False, widget=forms.CheckboxSelectMultiple
        )
    if field.type == "yesno":
        return forms.ChoiceField(
            label=label, choices=YES_NO, required=False, widget=forms.RadioSelect
        )
    if field.type == "number":
        attrs = {"step": "any"}
        if field.min is not None:
            attrs["min"] = f"{field.min:g}"
        if field.max is not None:
            attrs["max"] = f"{field.max:g}"
        return forms.FloatField(label=label, required=False, widget=forms.NumberInput(attrs=attrs))
    return forms.CharField(
        label=label,
        required=False,
        max_length=field.max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _initial(field, value):
    if field.type == "yesno":
        return "yes" if value else "no"
    return value


def _answer_value(field, value):
    """A form value as the worksheet stores it (``None``: not answered)."""
    if field.type == "yesno":
        return {"yes": True, "no": False}.get(value)
    if value in ("", None, []):
        return None
    return value


def late_capture_choices(exam) -> list[tuple[str, str]]:
    """The images that arrived after signing, numbered as the exam page's gallery is."""
    shown = exam.captures.filter(duplicate_of__isnull=True).order_by(
        "submission__submitted_at", "position", "id"
    )
    return [
        (str(pk), f"Capture {number}")
        for number, (pk, late) in enumerate(shown.values_list("pk", "after_signing"), start=1)
        if late
    ]


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Signed with your name when you add it, and sent to Clarius as a new report "
        "version. It cannot be changed afterwards.",
    )
    captures = forms.MultipleChoiceField(
        label="Images it is about",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Images that arrived after the findings were signed.",
    )

    def __init__(self, *args, exam=None, **kwargs):
        super().__init__(*args, **kwargs)
        limit_text_field(self.fields["text"], "The addendum", ADDENDUM_LIMIT)
        self.fields["captures"].choices = late_capture_choices(exam) if exam else []
        if not self.fields["captures"].choices:
            del self.fields["captures"]

    def clean_text(self):
        return clean_review_text(self.cleaned_data["text"])

    def clean(self):
        cleaned = super().clean()
        cleaned.setdefault("captures", [])
        return cleaned
