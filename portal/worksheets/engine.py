"""Worksheet definitions and answers: the one place their rules live.

A definition (``WorksheetTemplate.definition``) is plain JSON::

    {
      "sections": [
        {"code": "ruq", "title": "Right upper quadrant",
         "fields": [
           {"code": "ruq_fluid", "label": "Free fluid", "type": "choice",
            "choices": [["absent", "Absent"], ["present", "Present"]],
            "required": true, "normal": "absent"},
           {"code": "ef", "label": "Ejection fraction", "type": "number",
            "unit": "%", "min": 0, "max": 100}
         ]}
      ],
      "views": [{"code": "ruq", "label": "RUQ (Morison's pouch)", "required": true}],
      "impression": {
        "rules": [{"when": {"field": "ruq_fluid", "in": ["present"]},
                   "text": "Free fluid in the right upper quadrant."}],
        "otherwise": "No free fluid seen."
      }
    }

Field types: ``choice`` (one code), ``multi`` (a list of codes), ``yesno`` (true/false),
``number`` (with ``unit``, ``min``, ``max``), ``text`` (``max_length``). A field's
``normal`` value is what the section's "normal" macro fills in. Impression rules name a
field and one test: ``equals``, ``in`` (any of), ``includes`` (a multi-choice holds it),
``gt`` / ``lt`` (numbers); every rule that holds adds its text, in order, else
``otherwise``.

Answers are ``{field code: value}``; views are ``{view code: "obtained"}`` or
``{view code: {"not_obtained": "<reason>"}}``. A draft may be incomplete, never invalid;
signing needs every required field answered and every required view recorded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

FIELD_TYPES = ("choice", "multi", "yesno", "number", "text")
CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_ANSWER_LIMIT = 2000
UNIT_LIMIT = 40
REASON_LIMIT = 500
OBTAINED = "obtained"
NOT_OBTAINED = "not_obtained"
TESTS = ("equals", "in", "includes", "gt", "lt")
# Bounds on a definition an administrator writes: a worksheet is a page, not a database.
MAX_SECTIONS = 30
MAX_FIELDS = 200
MAX_VIEWS = 40
MAX_CHOICES = 40
LABEL_LIMIT = 200


class DefinitionError(ValueError):
    """A definition that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    code: str
    label: str
    type: str
    section: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    unit: str = ""
    min: float | None = None
    max: float | None = None
    max_length: int = TEXT_ANSWER_LIMIT
    normal: Any = None

    def choice_label(self, code) -> str:
        return dict(self.choices).get(code, str(code))

    def display(self, value) -> str:
        """The answer as a report reads it."""
        if self.type == "choice":
            return self.choice_label(value)
        if self.type == "multi":
            return ", ".join(self.choice_label(v) for v in value)
        if self.type == "yesno":
            return "Yes" if value else "No"
        if self.type == "number":
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            return f"{shown} {self.unit}".strip()
        return str(value)


@dataclass(frozen=True)
class View:
    code: str
    label: str
    required: bool = False


class Worksheet:
    """A definition, read once: its fields and views by code, in order."""

    def __init__(self, definition: dict):
        errors = check_definition(definition)
        if errors:
            raise DefinitionError(errors)
        self.definition = definition
        self.sections = [
            (s["code"], s["title"], [_field(f, s["code"]) for f in s.get("fields", [])])
            for s in definition.get("sections", [])
        ]
        self.fields = {f.code: f for _, _, fs in self.sections for f in fs}
        self.views = {
            v["code"]: View(v["code"], v["label"], bool(v.get("required")))
            for v in definition.get("views", [])
        }
        self.impression = definition.get("impression") or {}

    # -- answers ------------------------------------------------------------------------

    def clean_answers(self, answers: Any) -> tuple[dict, dict[str, str]]:
        """``(answers kept, {field code: error})``: types, choices and ranges checked.

        An empty value (``None``, ``""``, ``[]``) means "not answered" and is dropped.
        """
        if not isinstance(answers, dict):
            return {}, {"answers": "Answers are an object of field code to value."}
        kept, errors = {}, {}
        for code, value in answers.items():
            field = self.fields.get(code)
            if field is None:
                errors[str(code)[:40]] = "Not a field of this worksheet."
                continue
            if value is None or value == "" or value == []:
                continue
            error = _check_value(field, value)
            if error:
                errors[code] = error
            else:
                kept[code] = _normalised(field, value)
        return kept, errors

    def clean_views(self, views: Any) -> tuple[dict, dict[str, str]]:
        """``(views kept, {view code: error})``."""
        if not isinstance(views, dict):
            return {}, {"views": "Views are an object of view code to a status."}
        kept, errors = {}, {}
        for code, status in views.items():
            if code not in self.views:
                errors[str(code)[:40]] = "Not a view of this worksheet."
            elif status is None or status == "":
                continue
            elif status == OBTAINED:
                kept[code] = OBTAINED
            elif isinstance(status, dict) and set(status) == {NOT_OBTAINED}:
                reason = status[NOT_OBTAINED]
                if not isinstance(reason, str) or not reason.strip():
                    errors[code] = "Say why the view was not obtained."
                elif len(reason) > REASON_LIMIT:
                    errors[code] = f"A reason has at most {REASON_LIMIT} characters."
                else:
                    kept[code] = {NOT_OBTAINED: reason.strip()}
            else:
                errors[code] = 'Either "obtained" or {"not_obtained": "<reason>"}.'
        return kept, errors

    def missing(self, answers: dict, views: dict) -> dict[str, str]:
        """What signing still needs: ``{code: reason}`` for each required field and view."""
        out = {}
        for code, field in self.fields.items():
            if field.required and code not in answers:
                out[code] = f"{field.label}: required before signing."
        for code, view in self.views.items():
            if view.required and code not in views:
                out[f"view:{code}"] = (
                    f"View “{view.label}”: mark it obtained, or not obtained with a reason."
                )
        return out

    def normal(self, section_code: str | None = None) -> dict:
        """The normal answers of one section (every section when ``None``)."""
        return {
            f.code: f.normal
            for code, _, fields in self.sections
            if section_code is None or code == section_code
            for f in fields
            if f.normal is not None
        }

    def refit(self, answers: dict, views: dict) -> tuple[dict, dict, list[str]]:
        """Answers and views of another worksheet, moved to this one: the ones that still
        fit (same code, valid here) are kept; the labels of the others are returned."""
        kept_answers, answer_errors = self.clean_answers(
            {k: v for k, v in answers.items() if k in self.fields}
        )
        kept_views, view_errors = self.clean_views(
            {k: v for k, v in views.items() if k in self.views}
        )
        dropped = [k for k in answers if k not in kept_answers]
        dropped += [f"view {k}" for k in views if k not in kept_views]
        del answer_errors, view_errors  # the dropped list says it for the person
        return kept_answers, kept_views, dropped

    def build_impression(self, answers: dict) -> str:
        """The interpretation the answers give, by the template's rules."""
        lines = [
            rule["text"]
            for rule in self.impression.get("rules", [])
            if _holds(rule["when"], answers.get(rule["when"]["field"]))
        ]
        if not lines and self.impression.get("otherwise"):
            lines = [self.impression["otherwise"]]
        return "\n".join(lines)

    def sections_answered(self, answers: dict) -> list[tuple[str, list[tuple[str, str]]]]:
        """``[(section title, [(label, answer as read)])]``: answered fields only."""
        out = []
        for _, title, fields in self.sections:
            rows = [(f.label, f.display(answers[f.code])) for f in fields if f.code in answers]
            if rows:
                out.append((title, rows))
        return out

    def views_recorded(self, views: dict) -> list[tuple[str, str]]:
        """``[(view label, "Obtained" / "Not obtained: reason" / "Not recorded")]``."""
        out = []
        for code, view in self.views.items():
            status = views.get(code)
            if status == OBTAINED:
                shown = "Obtained"
            elif isinstance(status, dict):
                shown = f"Not obtained: {status[NOT_OBTAINED]}"
            else:
                shown = "Not recorded"
            out.append((view.label, shown))
        return out


def _field(raw: dict, section: str) -> Field:
    return Field(
        code=raw["code"],
        label=raw["label"],
        type=raw["type"],
        section=section,
        required=bool(raw.get("required")),
        choices=tuple((str(c), str(label)) for c, label in raw.get("choices", [])),
        unit=raw.get("unit", ""),
        min=raw.get("min"),
        max=raw.get("max"),
        max_length=raw.get("max_length", TEXT_ANSWER_LIMIT),
        normal=raw.get("normal"),
    )


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e12
    )


def _check_value(field: Field, value) -> str:
    codes = {c for c, _ in field.choices}
    if field.type == "choice":
        if not isinstance(value, str) or value not in codes:
            return f"{field.label}: choose one of {', '.join(sorted(codes))}."
    elif field.type == "multi":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"{field.label}: a list of choices."
        unknown = [v for v in value if v not in codes]
        if unknown:
            return f"{field.label}: not a choice: {', '.join(unknown[:5])[:200]}."
    elif field.type == "yesno":
        if not isinstance(value, bool):
            return f"{field.label}: yes (true) or no (false)."
    elif field.type == "number":
        if not _is_number(value):
            return f"{field.label}: a number."
        if field.min is not None and value < field.min:
            return f"{field.label}: at least {field.min:g} {field.unit}".strip() + "."
        if field.max is not None and value > field.max:
            return f"{field.label}: at most {field.max:g} {field.unit}".strip() + "."
    elif field.type == "text":
        if not isinstance(value, str):
            return f"{field.label}: text."
        if len(value) > field.max_length:
            return f"{field.label}: at most {field.max_length} characters."
    return ""


def _normalised(field: Field, value):
    if field.type == "multi":
        order = [c for c, _ in field.choices]
        return sorted(set(value), key=order.index)
    if field.type == "text":
        return value.strip()
    if field.type == "number" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _holds(when: dict, value) -> bool:
    if value is None:
        return False
    if "equals" in when:
        return value == when["equals"]
    if "in" in when:
        return value in when["in"]
    if "includes" in when:
        return isinstance(value, list) and when["includes"] in value
    if "gt" in when:
        return _is_number(value) and value > when["gt"]
    if "lt" in when:
        return _is_number(value) and value < when["lt"]
    return False


# -- checking a definition (what an administrator wrote) --------------------------------


def check_definition(definition: Any) -> list[str]:
    """Every problem with a definition, in words for the person editing it; ``[]`` if none."""
    if not isinstance(definition, dict):
        return ["A worksheet definition is a JSON object."]
    errors: list[str] = []
    unknown = set(definition) - {"sections", "views", "impression"}
    if unknown:
        errors.append(f"Unknown keys: {', '.join(sorted(map(str, unknown)))[:200]}.")
    sections = definition.get("sections", [])
    views = definition.get("views", [])
    if not isinstance(sections, list) or not isinstance(views, list):
        return [*errors, "“sections” and “views” are lists."]
    if len(sections) > MAX_SECTIONS:
        errors.append(f"At most {MAX_SECTIONS} sections.")
    seen: dict[str, dict] = {}
    for i, section in enumerate(sections[:MAX_SECTIONS], start=1):
        where = f"Section {i}"
        if not isinstance(section, dict):
            errors.append(f"{where} is not an object.")
            continue
        errors += _check_code(section.get("code"), where)
        errors += _check_label(section.get("title"), f"{where}'s title")
        fields = section.get("fields", [])
        if not isinstance(fields, list):
            errors.append(f"{where}: “fields” is a list.")
            continue
        for j, field in enumerate(fields, start=1):
            errors += _check_field(field, f"{where}, field {j}", seen)
    if len(seen) > MAX_FIELDS:
        errors.append(f"At most {MAX_FIELDS} fields.")
    section_codes = [s.get("code") for s in sections if isinstance(s, dict)]
    if len({c for c in section_codes if isinstance(c, str)}) < len(sections):
        errors.append("Two sections share a code, or one has none.")
    if len(views) > MAX_VIEWS:
        errors.append(f"At most {MAX_VIEWS} views.")
    view_codes = set()
    for i, view in enumerate(views[:MAX_VIEWS], start=1):
        where = f"View {i}"
        if not isinstance(view, dict):
            errors.append(f"{where} is not an object.")
            continue
        problems = _check_code(view.get("code"), where, answer=True)
        problems += _check_label(view.get("label"), f"{where}'s label")
        errors += problems
        if problems:
            continue
        if view.get("code") in view_codes:
            errors.append(f"{where}: the code {view.get('code')} is used twice.")
        view_codes.add(view.get("code"))
    errors += _check_impression(definition.get("impression"), seen)
    return errors


def _check_test(when: dict, where: str) -> list[str]:
    """The value a rule compares with is of a kind its test can use."""
    if "in" in when and not (
        isinstance(when["in"], list) and all(_is_scalar(v) for v in when["in"])
    ):
        return [f"{where}: “in” is a list of values."]
    if "equals" in when and not _is_scalar(when["equals"]):
        return [f"{where}: “equals” compares with one value."]
    if "includes" in when and not isinstance(when["includes"], str):
        return [f"{where}: “includes” is a choice code."]
    for test in ("gt", "lt"):
        if test in when and not _is_number(when[test]):
            return [f"{where}: “{test}” is a number."]
    return []


# Names the worksheet's own parts go by, in errors and documents: no field or view may
# take one, or its error would read as the whole worksheet's.
RESERVED_CODES = frozenset(
    {"answers", "views", "key_images", "exam_type", "impression", "indication", "findings"}
)


def _is_scalar(value) -> bool:
    return isinstance(value, str | int | float | bool)


def _check_code(code, where: str, *, answer=False) -> list[str]:
    """``answer``: the code of a field or view, which names its answer and its errors."""
    if not isinstance(code, str) or not CODE.match(code):
        return [f"{where}: a code is lower-case letters, digits and _ (at most 40)."]
    if answer and code in RESERVED_CODES:
        return [f"{where}: “{code}” is a name the worksheet keeps for itself; choose another."]
    return []


def _check_label(label, where: str) -> list[str]:
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_LIMIT:
        return [f"{where} is text of 1 to {LABEL_LIMIT} characters."]
    return []


def _check_field(field, where: str, seen: dict) -> list[str]:
    if not isinstance(field, dict):
        return [f"{where} is not an object."]
    errors = _check_code(field.get("code"), where, answer=True)
    errors += _check_label(field.get("label"), where)
    code, kind = field.get("code"), field.get("type")
    if errors:
        return errors  # a code that is not one (a list, say) cannot be looked up below
    if code in seen:
        errors.append(f"{where}: the code {code} is used twice.")
    seen[code] = field
    if not isinstance(kind, str) or kind not in FIELD_TYPES:
        return [*errors, f"{where}: the type is one of {', '.join(FIELD_TYPES)}."]
    known = {"code", "label", "type", "required", "normal", "choices", "unit", "min", "max"}
    known.add("max_length")
    extra = set(field) - known
    if extra:
        errors.append(f"{where}: unknown keys {', '.join(sorted(map(str, extra)))[:200]}.")
    if kind in ("choice", "multi"):
        choices = field.get("choices")
        if (
            not isinstance(choices, list)
            or not 1 <= len(choices) <= MAX_CHOICES
            or not all(
                isinstance(c, list)
                and len(c) == 2
                and not _check_code(c[0], "")
                and not _check_label(c[1], "")
                for c in choices
            )
        ):
            errors.append(f"{where}: choices are 1 to {MAX_CHOICES} pairs of [code, label].")
            return errors
    if kind == "number":
        for bound in ("min", "max"):
            if bound in field and not _is_number(field[bound]):
                errors.append(f"{where}: {bound} is a number.")
        unit = field.get("unit", "")
        if not isinstance(unit, str) or len(unit) > UNIT_LIMIT:
            errors.append(f"{where}: the unit is text of at most {UNIT_LIMIT} characters.")
    if kind == "text" and "max_length" in field:
        limit = field["max_length"]
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= TEXT_ANSWER_LIMIT
        ):
            errors.append(f"{where}: max_length is a whole number from 1 to {TEXT_ANSWER_LIMIT}.")
    if field.get("normal") is not None and not errors:
        problem = _check_value(_field(field, ""), field["normal"])
        if problem:
            errors.append(f"{where}: the normal value is not valid ({problem})")
    return errors


def _check_impression(impression, fields: dict) -> list[str]:
    if impression is None:
        return []
    if not isinstance(impression, dict) or set(impression) - {"rules", "otherwise"}:
        return ["“impression” is an object with “rules” and “otherwise”."]
    errors = []
    otherwise = impression.get("otherwise", "")
    if not isinstance(otherwise, str) or len(otherwise) > TEXT_ANSWER_LIMIT:
        errors.append("The impression's “otherwise” is text.")
    rules = impression.get("rules", [])
    if not isinstance(rules, list):
        return [*errors, "The impression's rules are a list."]
    for i, rule in enumerate(rules, start=1):
        where = f"Impression rule {i}"
        when = rule.get("when") if isinstance(rule, dict) else None
        text = rule.get("text") if isinstance(rule, dict) else None
        target = when.get("field") if isinstance(when, dict) else None
        if not isinstance(target, str) or target not in fields:
            errors.append(f"{where}: “when” names a field of the worksheet.")
        elif len(set(when) & set(TESTS)) != 1 or set(when) - {"field", *TESTS}:
            errors.append(f"{where}: one test of {', '.join(TESTS)}.")
        else:
            errors += _check_test(when, where)
        if not isinstance(text, str) or not text.strip() or len(text) > TEXT_ANSWER_LIMIT:
            errors.append(f"{where}: “text” is the sentence it adds.")
    return errors
