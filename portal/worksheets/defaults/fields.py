"""Builders for the default definitions: each returns the plain JSON that
``portal.worksheets.engine`` reads, so a template reads as a list of findings rather
than a page of brackets. Choices are lists of ``[code, label]`` lists (the engine's
shape; tuples would not pass ``check_definition``)."""

from __future__ import annotations

PRESENT_ABSENT = [["absent", "Absent"], ["present", "Present"], ["indeterminate", "Indeterminate"]]
SIDES = [["right", "Right"], ["left", "Left"]]
SIDES_BOTH = [*SIDES, ["bilateral", "Bilateral"]]


def choice(code, label, choices, normal=None, *, required=False) -> dict:
    return _field(code, label, "choice", required, normal, choices=choices)


def multi(code, label, choices, *, required=False) -> dict:
    return _field(code, label, "multi", required, None, choices=choices)


def yesno(code, label, normal=None, *, required=False) -> dict:
    return _field(code, label, "yesno", required, normal)


def number(code, label, unit, low, high, *, required=False) -> dict:
    return _field(code, label, "number", required, None, unit=unit, min=low, max=high)


def text(code, label, *, required=False, max_length=None) -> dict:
    extra = {"max_length": max_length} if max_length else {}
    return _field(code, label, "text", required, None, **extra)


def section(code, title, *fields) -> dict:
    return {"code": code, "title": title, "fields": list(fields)}


def indications(*labels) -> dict:
    """The optional first section: ACEP's indications for the application, to tick."""
    choices = [[_code(label), label] for label in labels]
    return section("indications", "Indications", multi("indications", "Indications", choices))


def view(code, label, *, required=True) -> dict:
    return {"code": code, "label": label, "required": required}


def rule(field, text, **test) -> dict:
    """``rule("ruq_fluid", "Free fluid…", equals="present")``: one test of one field."""
    return {"when": {"field": field, **test}, "text": text}


def impression(*rules, otherwise) -> dict:
    flat = [r for item in rules for r in (item if isinstance(item, list) else [item])]
    return {"rules": flat, "otherwise": otherwise}


def _field(code, label, kind, required, normal, **extra) -> dict:
    field = {"code": code, "label": label, "type": kind, **extra}
    if required:
        field["required"] = True
    if normal is not None:
        field["normal"] = normal
    return field


def _code(label: str) -> str:
    """A choice code from its label: lower case, words joined by _, at most 40."""
    words = "".join(c if c.isalnum() else " " for c in label.lower()).split()
    return "_".join(words)[:40].rstrip("_")


def exam_type(code, name, *, applications, cpt, sections, views, impression=None) -> dict:
    """One default: what ``install`` copies into an institution. ``applications`` are the
    Clarius application names that propose it (each claimed by one default at most);
    ``cpt`` is what it usually bills as, data only."""
    definition = {"sections": list(sections), "views": list(views)}
    if impression is not None:
        definition["impression"] = impression
    return {
        "code": code,
        "name": name,
        "clarius_applications": list(applications),
        "cpt_codes": list(cpt),
        "definition": definition,
    }
