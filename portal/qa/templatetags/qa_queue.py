"""The exam page's QA line and "Flag for QA" form: ``{% qa_exam_status exam %}``.

Shown to reviewers and administrators. The result shown is the first read's (the QA
review the clinician gets feedback from); the blinded second read's is never shown, and
someone who holds a pending read of the exam, or its second read, sees no result.
"""

from django import template

from portal.qa.models import QAReview
from portal.qa.reviews import is_overdue, program_running
from portal.reports.access import can_review

register = template.Library()


@register.inclusion_tag("qa/queue_exam_status.html", takes_context=True)
def qa_exam_status(context, exam):
    request = context.get("request")
    if request is None or not can_review(request):
        return {"show": False}
    reviews = list(QAReview.objects.filter(exam=exam).select_related("assignee"))
    first = next((r for r in reviews if r.read == QAReview.FIRST_READ), None)
    user_id = request.user.pk
    # Blind: a pending read of theirs, or the second read (it never shows the first's).
    blind = any(
        (r.assignee_id == user_id and not r.is_done)
        or (r.read == QAReview.SECOND_READ and user_id in (r.assignee_id, r.scored_by_id))
        for r in reviews
    )
    return {
        "show": True,
        "exam": exam,
        "review": first,
        "overdue": first is not None and is_overdue(first),
        "blind": blind,
        "can_flag": first is None
        and exam.signed_at is not None
        and program_running(exam.institution_id),
        "user": request.user,
        "csrf_token": context.get("csrf_token"),
    }
