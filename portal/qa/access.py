"""Who sees what of the QA program: the one place for its role rules.

- QA reviewers (``Membership.is_qa_reviewer``) score the reviews assigned to them or
  waiting unassigned; QA leads (``is_qa_lead``) and administrators run the program: the
  whole queue, assignment, settings, everyone's credentialing, calibration, accuracy and
  the program dashboard. Both flags count only with a reviewing role (QA reads other
  people's exams; a clinician sees only their own).
- Every member sees their own credentialing progress and their own QA feedback.
Pages answer 404 to anyone else, like another institution's object.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404

from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES


def _membership(request):
    return getattr(request, "membership", None)


def is_qa_lead(membership) -> bool:
    """Runs the program: a QA lead with a reviewing role, or an administrator."""
    if membership is None:
        return False
    if membership.role == Membership.Role.ADMIN:
        return True
    return membership.is_qa_lead and membership.role in REVIEWING_ROLES


def is_qa_reviewer(membership) -> bool:
    """Scores QA reviews: a QA reviewer or lead with a reviewing role (administrators
    score only when they are QA reviewers too, so the round-robin stays theirs to join)."""
    if membership is None or membership.role not in REVIEWING_ROLES:
        return False
    return membership.is_qa_reviewer or membership.is_qa_lead


def qa_lead_required(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_qa_lead(_membership(request)):
            raise Http404("QA leads and administrators only")
        return view(request, *args, **kwargs)

    return wrapped


def qa_reviewer_required(view):
    """QA reviewers, QA leads and administrators."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        membership = _membership(request)
        if not (is_qa_reviewer(membership) or is_qa_lead(membership)):
            raise Http404("QA reviewers only")
        return view(request, *args, **kwargs)

    return wrapped


def member_required(view):
    """Any member of the current institution (their own progress)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if _membership(request) is None:
            raise Http404("Members only")
        return view(request, *args, **kwargs)

    return wrapped
