"""The administrators' forms for exam types: edit (a new worksheet version), copy, and the
Django admin's; and the one reading of a definition typed into the editor.

A worksheet version is never changed: saving a different definition adds the next
version, under a lock on the exam type's row, so two administrators saving at once
cannot both make version N+1 (the second is told someone saved meanwhile).
"""

from __future__ import annotations

import json
import re

from django import forms
from django.db import IntegrityError, transaction

from portal import safejson
from portal.text import clean_text
from portal.worksheets.engine import check_definition
from portal.worksheets.models import ExamType, WorksheetTemplate

# The editor's textarea: a worksheet is a page, its definition a few kilobytes (the
# largest default is under 10 KB); anything past this is not a worksheet.
MAX_DEFINITION_BYTES = 200 * 1024
# A definition nests 7 levels deep (sections → fields → choices → a pair); deeper input
# is refused before it is parsed.
MAX_DEPTH = 12
MAX_LIST_ITEMS = 20
# A CPT code: five digits, or four and a category letter (0001F, 0042T, 0241U).
CPT_CODE = re.compile(r"^[0-9]{4}[0-9A-Z]$")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class SavedMeanwhile(Exception):
    """Another administrator saved a new version since this form was loaded."""

    def __init__(self, version: int):
        super().__init__(f"version {version} was saved meanwhile")
        self.version = version


PRETTY_WIDTH = 88


def pretty(definition, indent: int = 0) -> str:
    """A definition as the editor shows it: indented, with each list or object that fits
    on a line (a choice, a view, a rule) kept on one."""
    flat = json.dumps(definition, ensure_ascii=False)
    if not isinstance(definition, dict | list) or indent + len(flat) <= PRETTY_WIDTH:
        return flat
    inner = " " * (indent + 2)
    if isinstance(definition, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {pretty(v, indent + 2)}"
            for k, v in definition.items()
        ]
        opening, closing = "{", "}"
    else:
        items = [f"{inner}{pretty(v, indent + 2)}" for v in definition]
        opening, closing = "[", "]"
    return opening + "\n" + ",\n".join(items) + "\n" + " " * indent + closing


def read_definition(text: str) -> tuple[dict | None, list[str]]:
    """``(definition, [])`` for a usable definition typed in the editor, else
    ``(None, [every problem, in words])``. Never raises on any text."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DEFINITION_BYTES:
        return None, [
            f"The definition is longer than {MAX_DEFINITION_BYTES // 1024} KB; "
            "a worksheet is a page, not a database."
        ]
    if not text.strip():
        return None, ["The definition is empty: it is a JSON object with “sections”."]
    try:
        definition = safejson.loads(text, max_depth=MAX_DEPTH)
    except safejson.RefusedJSON as e:
        return None, [f"The definition {e}."]
    if not isinstance(definition, dict):
        return None, ["A worksheet definition is a JSON object ({…})."]
    problem = _unshowable_text(definition)
    if problem:
        return None, [problem]
    try:
        errors = check_definition(definition)
    except (TypeError, ValueError, KeyError, AttributeError):
        # A code or key of the wrong type (a list where text belongs) can trip the
        # checker's own set and dict look-ups; it is still the definition's fault.
        errors = ["Codes, labels and keys are text: something else stands where one belongs."]
    return (None, errors) if errors else (definition, [])


def _unshowable_text(value, depth=0) -> str:
    """A problem naming the first text (key or value) holding NUL, a control or a bidi
    character: stored, it would break PostgreSQL or reorder what a reviewer reads."""
    strings = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in strings:
        for text in (key, item):
            if isinstance(text, str) and clean_text(text, multiline=True) != text:
                shown = clean_text(text, max_length=40)
                return (
                    f"The text “{shown}” holds a NUL, control or bidi character; "
                    "type it again without them."
                )
        if isinstance(item, dict | list):
            problem = _unshowable_text(item, depth + 1)
            if problem:
                return problem
    return ""


def _comma_separated(text: str) -> list[str]:
    """The items of a comma-separated list, cleaned, without empties or repeats."""
    items, seen = [], set()
    for raw in text.split(","):
        item = clean_text(raw, max_length=200).strip()
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            items.append(item)
    return items


class ExamTypeForm(forms.ModelForm):
    """An exam type's name, Clarius applications, CPT codes and worksheet definition."""

    clarius_applications = forms.CharField(
        label="Clarius applications",
        required=False,
        max_length=2000,
        help_text="Comma-separated application (preset) names; an exam sent from one of "
        "them is proposed as this type. Compared without case; each belongs to one type.",
    )
    cpt_codes = forms.CharField(
        label="CPT codes",
        required=False,
        max_length=500,
        help_text="Comma-separated, e.g. 76604, 76705 (data only: nothing is billed).",
    )
    definition = forms.CharField(
        label="Worksheet definition (JSON)",
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 28, "cols": 80, "spellcheck": "false", "class": "code-editor"}
        ),
        help_text="Sections of fields, the views to record and the impression's rules. "
        "A changed definition is saved as a new version; worksheets already started "
        "keep theirs.",
    )
    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)

    class Meta:
        model = ExamType
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed_definition = None
        if self.instance.pk:
            current = self.instance.current_template()
            self.current = current
            self.fields["clarius_applications"].initial = ", ".join(
                self.instance.clarius_applications
            )
            self.fields["cpt_codes"].initial = ", ".join(self.instance.cpt_codes)
            self.fields["definition"].initial = pretty(
                current.definition if current else {"sections": [], "views": []}
            )
            self.fields["based_on"].initial = current.version if current else 0
        else:
            self.current = None

    def institution(self):
        return self.instance.institution

    def clean_name(self):
        name = clean_text(self.cleaned_data["name"], max_length=200).strip()
        if not name:
            raise forms.ValidationError("An exam type has a name.")
        return name

    def clean_clarius_applications(self):
        applications = _comma_separated(self.cleaned_data["clarius_applications"])
        if len(applications) > MAX_LIST_ITEMS:
            raise forms.ValidationError(f"At most {MAX_LIST_ITEMS} applications.")
        return applications

    def clean_cpt_codes(self):
        codes = [c.upper() for c in _comma_separated(self.cleaned_data["cpt_codes"])]
        if len(codes) > MAX_LIST_ITEMS:
            raise forms.ValidationError(f"At most {MAX_LIST_ITEMS} CPT codes.")
        wrong = [c for c in codes if not CPT_CODE.match(c)]
        if wrong:
            raise forms.ValidationError(
                f"Not a CPT code: {', '.join(wrong[:5])[:200]} (five digits, or four and a letter)."
            )
        return codes

    def clean_definition(self):
        definition, errors = read_definition(self.cleaned_data["definition"])
        if errors:
            raise forms.ValidationError(errors)
        self.parsed_definition = definition
        return self.cleaned_data["definition"]

    def clean(self):
        cleaned = super().clean()
        applications = cleaned.get("clarius_applications")
        institution = self.institution()
        if applications and institution is not None:
            # One application proposes one exam type, or the proposal would be a guess.
            others = ExamType.objects.for_institution(institution).exclude(pk=self.instance.pk)
            wanted = {a.casefold(): a for a in applications}
            for other in others.only("name", "clarius_applications"):
                for taken in other.clarius_applications:
                    if str(taken).casefold() in wanted:
                        self.add_error(
                            "clarius_applications",
                            f"“{wanted[str(taken).casefold()]}” already proposes {other.name}.",
                        )
        return cleaned

    def definition_changed(self) -> bool:
        return self.current is None or self.parsed_definition != self.current.definition

    def save_version(self, user) -> WorksheetTemplate | None:
        """Save the exam type; a changed definition becomes the next version (returned).

        Raises :class:`SavedMeanwhile` when a version newer than the one the form was
        loaded with exists and the definition differs from it: saving would silently undo
        the other administrator's change.
        """
        data = self.cleaned_data
        with transaction.atomic():
            exam_type = (
                ExamType.objects.select_for_update()
                .for_institution(self.instance.institution)
                .get(pk=self.instance.pk)
            )
            current = exam_type.current_template()
            template = None
            if current is None or self.parsed_definition != current.definition:
                based_on = data.get("based_on")
                if current is not None and based_on is not None and based_on != current.version:
                    raise SavedMeanwhile(current.version)
                template = add_version(
                    exam_type, current.version + 1 if current else 1, self.parsed_definition, user
                )
            exam_type.name = data["name"]
            exam_type.clarius_applications = data["clarius_applications"]
            exam_type.cpt_codes = data["cpt_codes"]
            exam_type.save()
        self.instance = exam_type
        return template


def add_version(exam_type, version, definition, user) -> WorksheetTemplate:
    try:
        # A savepoint: where row locks are not enough (or not taken), the unique
        # constraint still decides, and the loser is told, not shown a 500.
        with transaction.atomic():
            return WorksheetTemplate.objects.create(
                institution=exam_type.institution,
                exam_type=exam_type,
                version=version,
                definition=definition,
                created_by=user,
            )
    except IntegrityError:
        raise SavedMeanwhile(version) from None


class CopyForm(forms.Form):
    """A new exam type starting from another's current worksheet."""

    name = forms.CharField(max_length=200)
    code = forms.CharField(
        max_length=40,
        help_text="Lower-case letters, digits, - and _; unique in the institution, used by "
        "the API and the worklist filter.",
    )

    def __init__(self, *args, source, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        if not self.is_bound:
            self.fields["name"].initial = f"{source.name} (copy)"[:200]
            self.fields["code"].initial = f"{source.code}_copy"[:40]

    def clean_name(self):
        name = clean_text(self.cleaned_data["name"], max_length=200).strip()
        if not name:
            raise forms.ValidationError("An exam type has a name.")
        return name

    def clean_code(self):
        code = self.cleaned_data["code"].strip().lower()
        if not CODE.match(code):
            raise forms.ValidationError("Lower-case letters, digits, - and _ (at most 40).")
        if ExamType.objects.for_institution(self.source.institution).filter(code=code).exists():
            raise forms.ValidationError(f"Another exam type already has the code {code}.")
        return code

    def save(self, user) -> ExamType:
        """The copy, with version 1 = the source's current worksheet and no Clarius
        applications (each application proposes one type). A code taken meanwhile is a
        form error (``ValueError`` here, caught by the view)."""
        current = self.source.current_template()
        try:
            with transaction.atomic():
                copy = ExamType.objects.create(
                    institution=self.source.institution,
                    code=self.cleaned_data["code"],
                    name=self.cleaned_data["name"],
                    clarius_applications=[],
                    cpt_codes=list(self.source.cpt_codes),
                )
                WorksheetTemplate.objects.create(
                    institution=copy.institution,
                    exam_type=copy,
                    version=1,
                    definition=current.definition if current else {"sections": [], "views": []},
                    created_by=user,
                )
        except IntegrityError:
            self.add_error("code", "Another exam type took this code meanwhile.")
            raise ValueError("code taken") from None
        return copy


class ExamTypeAdminForm(ExamTypeForm):
    """The same rules in Django admin, where a superuser also picks the institution and
    the code of a new exam type."""

    class Meta:
        model = ExamType
        fields = ["institution", "code", "name", "is_active"]

    def institution(self):
        if self.instance.pk:
            return self.instance.institution
        return self.cleaned_data.get("institution")
