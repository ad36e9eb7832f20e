"""What the worksheet page needs beyond ``display``: values handed to its script."""

import json

from django import template

register = template.Library()


@register.filter
def json_attr(value) -> str:
    """``value`` as JSON, for a ``data-`` attribute (the template escapes it for HTML)."""
    return json.dumps(value)
