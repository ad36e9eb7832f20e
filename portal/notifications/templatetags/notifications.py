from django import template

register = template.Library()


@register.inclusion_tag("notifications/inbox_link.html", takes_context=True)
def inbox_link(context):
    """The header's link to the inbox, with the number of unread notifications."""
    from portal.notifications.views import inbox_of

    request = context.get("request")
    if request is None or getattr(request, "institution", None) is None:
        return {"show": False}
    unread = inbox_of(request).filter(read_at__isnull=True).count()
    here = getattr(getattr(request, "resolver_match", None), "url_name", "")
    return {"show": True, "unread": unread, "current": here == "notification-inbox"}
