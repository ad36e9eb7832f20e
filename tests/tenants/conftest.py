import datetime

import pytest

from portal.exams.models import AuditEvent
from portal.tenants.models import Institution, Membership

# 05:05 UTC: 14:05 in Tokyo (JST, +09:00), 00:05 in Toronto (EST, -05:00).
MOMENT = datetime.datetime(2026, 12, 1, 5, 5, tzinfo=datetime.UTC)


def set_zone(institution, name):
    Institution.objects.filter(pk=institution.pk).update(time_zone=name)
    institution.refresh_from_db()


def membership(user, institution="northside"):
    return Membership.objects.get(user=user, institution__slug=institution)


@pytest.fixture
def zoned(trio, northside, southside):
    """Northside in Tokyo, Southside in Toronto, one audit event in each at ``MOMENT``."""
    alice, bob, charlie = trio
    set_zone(northside, "Asia/Tokyo")
    set_zone(southside, "America/Toronto")
    for institution, user in ((northside, bob), (southside, charlie)):
        event = AuditEvent.objects.create(
            institution=institution,
            user=user,
            action=AuditEvent.Action.VIEW_EXAM,
            object_type="exam",
            object_id="1",
        )
        AuditEvent.objects.filter(pk=event.pk).update(at=MOMENT)
    Membership.objects.filter(user=bob).update(created_at=MOMENT)
    return northside, southside
