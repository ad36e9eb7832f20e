"""Sign-ins, sign-outs and ended sessions, in the log and in the audit log.

Each is written to the ``portal.sessions`` logger and to the institution audit log
(``AuditEvent``), one event per institution the user belongs to, so each institution's
administrators see their members' sessions.
"""

import logging

from portal.accounts.throttle import client_ip
from portal.exams.models import AuditEvent
from portal.tenants.middleware import memberships_of

logger = logging.getLogger("portal.sessions")

LOGIN = "login"
LOGOUT = "logout"
IDLE_LOGOUT = "idle_logout"
MAX_AGE_LOGOUT = "session_max_age"
END_SESSION = "end_session"
SIGN_OUT_EVERYWHERE = "sign_out_everywhere"
LOGIN_FAILED = "login_failed"


def record(request, user, action, *, institutions=None, **detail):
    """Log ``action`` by ``user``, and write it to the audit log of ``institutions``:
    by default every institution the user belongs to (their own sign-ins), but only
    the institution acted in when an administrator acts on a member, so another
    institution of the administrator never sees that member."""
    ip = client_ip(request) if request is not None else None
    logger.info("session %s: user %s from %s %s", action, user.pk, ip or "-", detail or "")
    if institutions is None:
        institutions = [membership.institution for membership in memberships_of(user)]
    for institution in institutions:
        AuditEvent.objects.create(
            institution=institution,
            user=user,
            action=action,
            object_type="user",
            object_id=str(user.pk),
            ip_address=ip,
            detail=detail,
        )
