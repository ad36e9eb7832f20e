"""``media.json``: what the exam page polls while its captures are still downloading
(see static/js/media-state.js): the exam's media in words and the state of the
captures the page shows, so the page says what went wrong and what happens next, and
puts each capture in place once it has arrived.
"""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from portal.exams.media_state import capture_text, capture_tone, exam_media_state
from portal.reports.access import exam_or_404

# A page of the gallery shows 48 captures; more ids than this are not the page's.
MAX_IDS = 100


def asked_ids(raw: str) -> list[int]:
    """The capture ids of ``?captures=1,2,3``; anything that is not one is left out."""
    ids = []
    for part in raw[:2000].split(","):
        part = part.strip()
        if part.isascii() and part.isdigit() and len(part) <= 12:
            ids.append(int(part))
    return ids[:MAX_IDS]


@login_required
@require_GET
def exam_media_json(request, pk):
    exam = exam_or_404(request, pk)
    ids = asked_ids(request.GET.get("captures", ""))
    # Only the exam's own captures: an id of another exam is simply not in the answer.
    captures = exam.captures.filter(pk__in=ids).only(
        "pk", "state", "attempts", "next_attempt_at", "claimed_until", "last_error", "exam_id"
    )
    state = exam_media_state(exam)
    return JsonResponse(
        {
            **state.as_json(),
            "exam_status": exam.status,
            "exam_status_label": exam.get_status_display(),
            "captures": [
                {
                    "id": c.pk,
                    "state": c.state,
                    "tone": capture_tone(c),
                    "text": capture_text(c),
                }
                for c in captures
            ],
        },
        headers={"Cache-Control": "no-store"},
    )
