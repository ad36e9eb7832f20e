from django import template
from django.utils import timezone

register = template.Library()


@register.inclusion_tag("usersessions/timeout_warning.html", takes_context=True)
def session_timeout_warning(context):
    """The idle-timeout warning and its settings, for a signed-in page (else nothing)."""
    request = context.get("request")
    found = getattr(request, "session_deadlines", None)
    if found is None:
        return {"deadline": None}
    return {
        "deadline": found.as_json(timezone.now().timestamp()),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
