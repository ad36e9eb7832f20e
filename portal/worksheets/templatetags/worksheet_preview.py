"""Words for a worksheet's preview: what each "Normal" button fills in, and the
impression's rules as sentences. Both read an ``engine.Worksheet`` only."""

from django import template

register = template.Library()


def _shown(field, value) -> str:
    """A value a definition compares with, as the reviewer reads it; never raises, as a
    definition older than a check may hold a value of another type."""
    if field.type in ("choice", "multi") and isinstance(value, str):
        return field.choice_label(value)
    if field.type == "yesno" and isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(_shown(field, v) for v in value)
    if field.type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g} {field.unit}".strip()
    return str(value)


@register.simple_tag
def normal_fills(worksheet, section_code) -> list[str]:
    """``["Label: answer", …]``: what the section's "Normal" button fills in."""
    fields = worksheet.fields
    return [
        f"{fields[code].label}: {_shown(fields[code], value)}"
        for code, value in worksheet.normal(section_code).items()
    ]


TESTS = {
    "equals": "is",
    "in": "is any of",
    "includes": "includes",
    "gt": "is more than",
    "lt": "is less than",
}


@register.simple_tag
def impression_rules(worksheet) -> list[dict]:
    """``[{"condition": "Lung sliding (Right hemithorax) is Absent", "text": …}]``."""
    titles = {code: title for code, title, _ in worksheet.sections}
    rules = []
    for rule in worksheet.impression.get("rules", []):
        when = rule["when"]
        field = worksheet.fields[when["field"]]
        test = next(t for t in TESTS if t in when)
        where = f" ({titles[field.section]})" if field.section in titles else ""
        condition = f"{field.label}{where} {TESTS[test]} {_shown(field, when[test])}"
        rules.append({"condition": condition, "text": rule["text"]})
    return rules


@register.filter
def plain_number(value) -> str:
    """``100.0`` as ``100``, ``0.5`` as ``0.5``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}"
    return str(value)
