"""``{% report_state report can_review as state %}``: a version's badge and sentence
(``portal.reports.states``), the same words reports.json sends for the live update."""

from django import template

from portal.reports.states import report_state as state_of

register = template.Library()


@register.simple_tag
def report_state(report, can_retry_by_hand=True):
    return state_of(report, can_retry_by_hand=bool(can_retry_by_hand))
