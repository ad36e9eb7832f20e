"""Outcomes: what the patient turned out to have, per finding of the exam's worksheet.

A reviewer records the confirmatory study (e.g. "CT abdomen") and, for each *finding*
of the worksheet, whether it was positive or negative (or not assessed). The operator's
signed read of the same finding, put through the same rule, gives each operator's
sensitivity and specificity (``portal.qa.accuracy``).

``polarity`` is the one rule of what a worksheet answer means as a finding. Everything
that turns an answer into positive / negative goes through it: the outcome form (which
fields it asks about), the accuracy report (the operator's read).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.qa.models import Outcome
from portal.text import clean_text
from portal.worksheets.engine import DefinitionError, Field, Worksheet

POSITIVE, NEGATIVE = Outcome.POSITIVE, Outcome.NEGATIVE
RESULT_LABELS = {POSITIVE: "Positive", NEGATIVE: "Negative"}
# Choice codes that say the structure could not be judged: neither positive nor negative.
UNDETERMINED = frozenset(
    {"indeterminate", "equivocal", "unknown", "not_assessed", "not_assessable", "unable"}
)
SOURCE_LIMIT = 200
NOTE_LIMIT = 5000


def is_finding(field: Field) -> bool:
    """Whether a worksheet field is a finding an outcome can confirm: a yes/no field, or a
    single choice with a ``normal`` value (the one ``polarity`` can tell apart)."""
    if field.type == "yesno":
        return True
    return field.type == "choice" and field.normal is not None


def polarity(field: Field, value: Any) -> str | None:
    """A worksheet answer as a finding: ``"positive"``, ``"negative"`` or ``None``.

    The one mapping, documented here:

    - **yes/no** fields: the answer that differs from the field's ``normal`` is positive
      (e.g. "Lung point: yes", or "Cardiac activity: no" where normal is yes); a field
      without a ``normal`` reads yes as positive, no as negative.
    - **choice** fields with a ``normal`` value: the normal choice is negative (e.g. free
      fluid "Absent"); a choice saying the structure could not be judged
      (``UNDETERMINED``: indeterminate, equivocal …) is ``None``; any other choice of the
      field is positive (e.g. "Present", "Diffuse" B-lines, "Not compressible").
    - Everything else (numbers, text, multiple choice, a choice without a ``normal``, no
      answer, an answer that is not one of the field's choices) is ``None``: it is no
      finding an outcome can confirm.
    """
    if field.type == "yesno":
        if not isinstance(value, bool):
            return None
        normal = field.normal if isinstance(field.normal, bool) else False
        return NEGATIVE if value == normal else POSITIVE
    if field.type == "choice" and field.normal is not None:
        if not isinstance(value, str) or value not in {code for code, _ in field.choices}:
            return None
        if value == field.normal:
            return NEGATIVE
        if value in UNDETERMINED:
            return None
        return POSITIVE
    return None


def result_words(field: Field) -> dict[str, str]:
    """What positive and negative mean for this finding, in the worksheet's own words
    (``polarity`` read backwards): e.g. lung sliding "Absent" is positive and "Present"
    the normal negative; cardiac activity "No" is positive."""
    if field.type == "yesno":
        normal = field.normal if isinstance(field.normal, bool) else False
        words = {True: "Yes", False: "No"}
        negative = f"{words[normal]}, normal" if isinstance(field.normal, bool) else "No"
        return {POSITIVE: words[not normal], NEGATIVE: negative}
    positive = [label for code, label in field.choices if polarity(field, code) == POSITIVE]
    return {
        POSITIVE: " or ".join(positive) or "abnormal",
        NEGATIVE: f"{field.choice_label(field.normal)}, normal",
    }


def worksheet_of(findings, exam) -> Worksheet | None:
    """The worksheet the exam's findings are on (their version), else the exam type's
    newest; ``None`` when there is none or it cannot be read."""
    template = getattr(findings, "template", None) if findings is not None else None
    if template is None and exam.exam_type_id is not None:
        template = exam.exam_type.current_template()
    if template is None:
        return None
    try:
        return Worksheet(template.definition)
    except DefinitionError:
        return None


def finding_fields(sheet: Worksheet | None) -> list[Field]:
    """The worksheet's findings, in the worksheet's order."""
    if sheet is None:
        return []
    return [f for _, _, fields in sheet.sections for f in fields if is_finding(f)]


def _text(value: Any, limit: int, what: str, errors: dict, key: str, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = f"{what} must be text."
        return ""
    if "\x00" in value:
        errors[key] = f"{what} cannot contain a NUL character."
        return ""
    value = value.strip()
    if required and not value:
        errors[key] = f"Say what confirmed the outcome ({what.lower()}), e.g. CT abdomen."
    elif len(value) > limit:
        errors[key] = f"{what} can be at most {limit} characters (it has {len(value)})."
    return value


def check(fields: list[Field], source: Any, note: Any, results: Any) -> tuple[dict, dict[str, str]]:
    """``(cleaned, errors)`` for an outcome as sent by the page or the API.

    ``results`` is ``{field code: "positive" | "negative" | "" | None}``; an empty value is
    "not assessed" and is left out. A code that is not a finding of the worksheet, or a
    value that is not one of those, is an error naming it.
    """
    errors: dict[str, str] = {}
    cleaned = {
        "source": _text(
            source, SOURCE_LIMIT, "The confirmatory study", errors, "source", required=True
        ),
        "note": _text(note, NOTE_LIMIT, "The note", errors, "note", required=False),
        "results": {},
    }
    if results is None:
        results = {}
    if not isinstance(results, dict):
        errors["results"] = "Results are an object of finding code to positive or negative."
        return cleaned, errors
    by_code = {f.code: f for f in fields}
    for code, value in results.items():
        if not isinstance(code, str) or code not in by_code:
            shown = clean_text(code, max_length=40)
            errors[f"results.{shown}"] = f"“{shown}” is not a finding of this exam's worksheet."
            continue
        if value is None or value == "":
            continue
        if not isinstance(value, str) or value not in RESULT_LABELS:
            label = clean_text(by_code[code].label, max_length=80)
            errors[f"results.{code}"] = f"{label}: choose positive, negative or not assessed."
            continue
        cleaned["results"][code] = value
    return cleaned, errors


def record(request, exam, cleaned: dict) -> tuple[Outcome, bool]:
    """Write (or replace) the exam's outcome, and the audit event: ``(outcome, created)``."""
    with transaction.atomic():
        outcome, created = Outcome.objects.update_or_create(
            exam=exam,
            defaults={
                "institution_id": exam.institution_id,
                "source": cleaned["source"],
                "note": cleaned["note"],
                "results": cleaned["results"],
                "recorded_by": request.user,
                "recorded_at": timezone.now(),
            },
        )
        audit(
            request,
            AuditEvent.Action.RECORD_OUTCOME,
            exam,
            source=cleaned["source"],
            findings=len(cleaned["results"]),
            replaced=not created,
        )
    return outcome, created
