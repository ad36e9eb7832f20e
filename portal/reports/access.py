"""Who may do what on an exam page, on top of ``portal.exams.access.visible_exams``.

Seeing an exam follows the tenant and role rules (another institution's exam, or a
clinician's view of someone else's exam, is a 404). Writing the review is for reviewers
and administrators: a clinician who can see the exam gets a 403.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from portal.exams.access import visible_exams
from portal.tenants.roles import REVIEWING_ROLES


def can_review(request) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role in REVIEWING_ROLES


def exam_or_404(request, pk):
    exams = visible_exams(request).select_related(
        "institution", "operator", "reviewer", "exam_type"
    )
    return get_object_or_404(exams, pk=pk)


def exam_for_review(request, pk):
    """The exam, for a reviewer or an administrator; 404 if not visible, else 403."""
    exam = exam_or_404(request, pk)
    if not can_review(request):
        raise PermissionDenied("Only reviewers and administrators review exams.")
    return exam
