"""``{% exam_deliveries exam %}``: the exam page's panel of its PACS and EHR deliveries,
per destination (one query; nothing at all for an institution without destinations)."""

from django import template

from portal.outbound.status import exam_summary
from portal.tenants.roles import is_admin

register = template.Library()

BADGE = {"done": "sent", "working": "sending", "retrying": "retrying", "failed": "failed"}


@register.inclusion_tag("outbound/includes/exam_deliveries.html", takes_context=True)
def exam_deliveries(context, exam):
    request = context.get("request")
    summaries = exam_summary(exam)
    return {
        "exam": exam,
        "summaries": [(s, BADGE[s.tone]) for s in summaries or []],
        "has_destinations": summaries is not None,
        "link_destinations": request is not None and is_admin(request),
    }
