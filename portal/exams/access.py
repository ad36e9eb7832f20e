"""Who may see which exams, and the audit trail of patient-data access.

Every staff page and API endpoint that shows exams starts from ``visible_exams``: the
tenant rule first (the current institution only), then the role rule (a clinician sees
the exams they performed; reviewers and admins see all of the institution's).
"""

from datetime import timedelta

from django.utils import timezone

from portal.accounts.throttle import client_ip
from portal.exams.models import AuditEvent, Capture, Exam
from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request


def visible_exams(request):
    exams = scoped_to_request(Exam, request)
    membership = getattr(request, "membership", None)
    if membership is not None and membership.role == Membership.Role.CLINICIAN:
        exams = exams.filter(operator=request.user)
    return exams


def visible_captures(request):
    captures = scoped_to_request(Capture, request)
    membership = getattr(request, "membership", None)
    if membership is not None and membership.role == Membership.Role.CLINICIAN:
        captures = captures.filter(exam__operator=request.user)
    return captures


def audit(request, action, obj, **detail):
    """Record that the request's user accessed ``obj`` (patient data) in its institution.

    A request made with an API key records the key's public prefix too (``api_key``), so
    the log tells a program's access from the person's own in the browser.
    """
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        detail = {"api_key": api_key.shown_prefix, **detail}
    return AuditEvent.objects.create(
        institution=request.institution,
        user=request.user if request.user.is_authenticated else None,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        ip_address=client_ip(request),
        detail=detail,
    )


# A video is read in many range requests, and a viewer may reopen an image it showed a
# moment ago: one event per user, object and action in this window says all an auditor
# needs. (Deduplicated by time, not by the Range header, which a client chooses.)
REPEAT_WINDOW = timedelta(minutes=10)


def audit_once(request, action, obj, **detail):
    """``audit``, unless the same user recorded ``action`` on ``obj`` within
    ``REPEAT_WINDOW``. Returns the event written, or ``None``."""
    user = request.user if request.user.is_authenticated else None
    recent = AuditEvent.objects.filter(
        institution=request.institution,
        user=user,
        action=action,
        object_type=obj._meta.model_name,
        object_id=str(obj.pk),
        at__gte=timezone.now() - REPEAT_WINDOW,
    )
    if recent.exists():
        return None
    return audit(request, action, obj, **detail)
