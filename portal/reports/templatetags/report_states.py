"""``{% report_state report can_review as state %}``: a version's badge and sentence
(``portal.reports.states``), the same words reports.json sends for the live update."""

from django import template

from portal.reports.states import report_state as state_of

register = template.Library()


@register.simple_tag
def report_state(report, can_retry_by_hand=True):
    return state_of(report, can_retry_by_hand=bool(can_retry_by_hand))


@register.simple_tag
def media_state(exam):
    """``{% media_state exam as media %}``: the exam's captures in words."""
    from portal.exams.media_state import exam_media_state

    return exam_media_state(exam)


@register.simple_tag
def capture_state(capture):
    """``{% capture_state capture as state %}``: ``state.tone`` and ``state.text`` of a
    capture not downloaded (yet)."""
    from portal.exams.media_state import capture_text, capture_tone

    return {"tone": capture_tone(capture), "text": capture_text(capture)}
