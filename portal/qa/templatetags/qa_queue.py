"""The exam page's QA line and "Flag for QA" form: ``{% qa_exam_status exam %}``.

Shown to reviewers and administrators. The result shown is the first read's (the QA
review the clinician gets feedback from); the blinded second read's is never shown, and
someone who holds a pending read of the exam sees neither result (their read is blind).
"""

from django import template

from portal.qa.models import QAReview
from portal.qa.queue import is_overdue, program_running
from portal.reports.access import can_review

register = template.Library()


@register.inclusion_tag("qa/queue_exam_status.html", takes_context=True)
def qa_exam_status(context, exam):
    request = context.get("request")
    if request is None or not can_review(request):
        return {"show": False}
    reviews = list(QAReview.objects.filter(exam=exam).select_related("assignee"))
    first = next((r for r in reviews if r.read == QAReview.FIRST_READ), None)
    holds_pending = any(r.assignee_id == request.user.pk and not r.is_done for r in reviews)
    return {
        "show": True,
        "exam": exam,
        "review": first,
        "overdue": first is not None and is_overdue(first),
        "blind": holds_pending,
        "can_flag": first is None
        and exam.signed_at is not None
        and program_running(exam.institution_id),
        "user": request.user,
        "csrf_token": context.get("csrf_token"),
    }
