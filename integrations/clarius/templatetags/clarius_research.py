"""Small display filters for the research pages."""

from django import template

register = template.Library()


@register.filter
def megahertz(hertz):
    """``7543859.6`` → ``"7.544 MHz"``; empty for no value."""
    if hertz is None:
        return ""
    return f"{hertz / 1e6:.4g} MHz"


@register.filter
def option(value):
    """A DICOM export option as sent: lists joined, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value
