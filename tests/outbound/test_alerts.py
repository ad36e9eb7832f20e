"""A destination failing for a day tells its institution's administrators once (inbox and
email, no patient data); a success ends the spell, and the next one alerts again."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from portal.notifications import kinds as notification_kinds
from portal.notifications.models import Email, Notification
from portal.outbound import alerts, planning, sending
from portal.outbound.models import Destination
from portal.work import schedules
from tests.factories import make_exam
from tests.outbound.conftest import make_destination


def test_the_check_is_a_schedule():
    assert "outbound: destinations failing for a day" in schedules.registered()


def test_the_admins_are_told_once_without_patient_data(trio, northside, southside, receiver):
    alice, bob, charlie = trio
    now = timezone.now()
    pacs = make_destination(northside, failing_since=now - timedelta(hours=25))
    young = make_destination(northside, name="New EHR", failing_since=now - timedelta(hours=23))
    off = make_destination(
        northside, name="Old", failing_since=now - timedelta(days=3), is_active=False
    )
    south = make_destination(southside, name="South PACS", failing_since=now - timedelta(days=2))
    planning.plan_exam(make_exam(northside, bob, patient_name="Zelda Quimby", captures=3))

    assert alerts.check_failing(now) == {"destinations": 2, "told": 2}
    told = Notification.objects.get(institution=northside)
    assert (told.recipient, told.kind) == (alice, notification_kinds.DESTINATION_FAILING)
    assert told.title == "Main PACS has been failing for a day"
    assert "3 deliveries waiting or failed" in told.body
    assert told.url == f"/institution/destinations/{pacs.pk}/"
    assert Notification.objects.get(institution=southside).recipient == charlie
    email = Email.objects.get(to=alice.email)
    assert "Main PACS" in email.subject
    for text in (told.title, told.body, email.subject, email.body):
        assert "Zelda" not in text and "Quimby" not in text and "MRN" not in text
    for d in (pacs, young, off, south):
        d.refresh_from_db()
    assert pacs.alerted_at == now and south.alerted_at == now
    assert young.alerted_at is None and off.alerted_at is None

    # Once per failing spell, however often the schedule runs.
    assert alerts.check_failing(now + timedelta(days=2)) == {"destinations": 1, "told": 1}
    assert Notification.objects.filter(title__startswith="Main PACS").count() == 1  # young's now


def test_a_success_ends_the_spell_and_the_next_one_alerts_again(trio, northside, receiver):
    alice, bob, _ = trio
    now = timezone.now()
    pacs = make_destination(northside, failing_since=now - timedelta(days=2))
    assert alerts.check_failing(now)["told"] == 1
    planning.plan_exam(make_exam(northside, bob, captures=1))
    row = pacs.transmissions.get()
    sending.send_transmission(row.pk)
    pacs.refresh_from_db()
    assert pacs.failing_since is None and pacs.alerted_at is None and pacs.last_success_at

    Destination.objects.filter(pk=pacs.pk).update(failing_since=now - timedelta(hours=30))
    later = now + timedelta(days=1)
    assert alerts.check_failing(later)["told"] == 1
    assert Notification.objects.filter(recipient=alice).count() == 2


def test_an_admin_who_turned_the_email_off_is_told_in_the_inbox_only(trio, northside, receiver):
    from portal.notifications.models import NotificationPreference

    alice = trio[0]
    membership = alice.memberships.get(institution=northside)
    NotificationPreference.objects.create(membership=membership, destination_failing=False)
    make_destination(northside, failing_since=timezone.now() - timedelta(days=1, minutes=1))
    assert alerts.check_failing()["told"] == 1
    assert Notification.objects.filter(recipient=alice).exists()
    assert not Email.objects.exists()
