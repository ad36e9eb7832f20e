"""Each kind of notification, produced by the real path: signing findings, an exam
becoming ready, the daily digest and the admins' alerts; emails through a real SMTP
server, with no patient data unless the institution allows it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Capture, Exam
from portal.exams.status import update_exam_status
from portal.notifications import daily, kinds
from portal.notifications.models import DigestEntry, Email, Notification, NotificationPreference
from portal.tenants.models import Membership
from tests.factories import make_exam
from tests.notifications.conftest import send_queued
from tests.reports.conftest import sign

PATIENT = "Nora Northwind"


def patient_bits(exam):
    patient = exam.patient
    return [patient.first_name, patient.last_name, patient.identifier]


def assert_no_patient(received, exam):
    for bit in patient_bits(exam):
        assert bit not in received.whole, bit


def choose(user, institution, **choices):
    membership = Membership.objects.get(user=user, institution=institution)
    NotificationPreference.objects.update_or_create(membership=membership, defaults=choices)


def make_ready(exam):
    """The exam's last capture arrives: the ingestion's own status rule makes it ready."""
    Exam.objects.filter(pk=exam.pk).update(status=Exam.Status.RECEIVING)
    with transaction.atomic():
        update_exam_status(exam.pk)


def test_signed_feedback_tells_the_clinician_without_patient_data(smtp, northside, bob, erin):
    exam = make_exam(northside, erin, patient_name=PATIENT)
    sign(exam, bob, build=False)

    [notification] = Notification.objects.filter(recipient=erin)
    assert notification.kind == kinds.FEEDBACK_SIGNED
    assert notification.institution == northside and notification.exam == exam
    assert notification.url == f"/exams/{exam.pk}/"
    assert not Notification.objects.exclude(recipient=erin).exists()  # nobody else

    assert send_queued() == ["sent"]
    [mail] = smtp.to("erin@example.org")
    assert mail.subject == "Feedback was signed on an exam you performed"
    assert f"/inbox/{notification.pk}/" in mail.text
    assert_no_patient(mail, exam)
    assert "/notifications/unsubscribe/" in mail.text
    assert str(mail.message["List-Unsubscribe"]).strip().startswith("<http://")
    assert str(mail.message["List-Unsubscribe-Post"]).strip() == "List-Unsubscribe=One-Click"
    assert Email.objects.get().state == Email.State.SENT


def test_the_institution_may_allow_patient_identifiers(smtp, northside, bob, erin):
    northside.email_patient_identifiers = True
    northside.save()
    exam = make_exam(northside, erin, patient_name=PATIENT)
    sign(exam, bob, build=False)
    send_queued()
    [mail] = smtp.to("erin@example.org")
    assert PATIENT in mail.subject and exam.patient.identifier in mail.subject
    assert PATIENT in mail.text
    # The inbox never holds patient data, whatever the institution allows.
    notification = Notification.objects.get()
    assert PATIENT not in notification.title + notification.body


def test_a_clinician_who_turned_the_email_off_is_told_in_the_inbox_only(smtp, northside, bob, erin):
    choose(erin, northside, feedback_signed=False)
    sign(make_exam(northside, erin), bob, build=False)
    assert Notification.objects.filter(recipient=erin).count() == 1
    assert not Email.objects.exists()


def test_a_new_exam_tells_each_reviewer_as_they_chose(
    smtp, northside, southside, trio, dora, erin, django_capture_on_commit_callbacks
):
    alice, bob, charlie = trio
    choose(bob, northside, new_exam="each")
    choose(dora, northside, new_exam="none")
    # alice (admin) keeps the default: the daily digest.
    exam = make_exam(northside, erin, patient_name=PATIENT)
    with django_capture_on_commit_callbacks(execute=True):
        make_ready(exam)

    [told] = Notification.objects.all()
    assert (told.recipient, told.kind, told.exam) == (bob, kinds.NEW_EXAM, exam)
    # Sent by the worker's task after the commit (tasks run in-process in the tests).
    [mail] = smtp.received
    assert mail.recipients == ["bob@example.org"]
    assert mail.subject == "A new exam is ready to review"
    assert_no_patient(mail, exam)
    assert list(DigestEntry.objects.values_list("membership__user", "exam")) == [
        (alice.pk, exam.pk)
    ]
    # Neither the clinician, nor another institution's admin, nor the reviewer who chose none.
    assert not Notification.objects.filter(recipient__in=[erin, charlie, dora]).exists()


def test_the_daily_digest_lists_the_new_exams_of_its_institution_only(
    smtp, northside, southside, trio, erin
):
    alice, bob, charlie = trio
    choose(bob, northside, new_exam="daily")
    north = [make_exam(northside, erin, patient_name=PATIENT) for _ in range(2)]
    south = make_exam(southside, alice, patient_name="Sam Southwell")
    for exam in [*north, south]:
        make_ready(exam)
    # Charlie (Southside's admin, the default digest) has one; bob and alice two each.
    assert DigestEntry.objects.count() == 5

    assert daily.send_digests() == {"digests": 3, "dropped": 0}
    assert not DigestEntry.objects.exists()
    send_queued()
    [mail] = smtp.to("bob@example.org")
    assert mail.subject == "2 new exams to review"
    for exam in north:
        assert f"/exams/{exam.pk}/" in mail.text
        assert_no_patient(mail, exam)
    assert f"/exams/{south.pk}/" not in mail.text and "Sam" not in mail.text
    [charlies] = smtp.to("charlie@example.org")
    assert charlies.subject == "1 new exam to review"
    assert f"/exams/{south.pk}/" in charlies.text
    assert all(f"/exams/{e.pk}/" not in charlies.text for e in north)
    digest = Notification.objects.get(recipient=bob)
    assert digest.kind == kinds.NEW_EXAM_DIGEST and digest.url == "/worklist/"

    # Nothing new: no digest tomorrow.
    assert daily.send_digests() == {"digests": 0, "dropped": 0}


def test_a_digest_for_a_member_who_then_chose_each_or_none_is_dropped(northside, bob, erin):
    choose(bob, northside, new_exam="daily")
    make_ready(make_exam(northside, erin))
    choose(bob, northside, new_exam="none")
    counts = daily.send_digests()
    assert counts["digests"] == 0 and not Notification.objects.filter(recipient=bob).exists()


def link(user, institution, token, state):
    return ClariusLink.objects.create(institution=institution, user=user, token=token, state=state)


def receipt(token, *, hours_ago, state=NotificationReceipt.State.UNASSIGNED, link=None, **fields):
    made = NotificationReceipt.objects.create(customer_id=token, state=state, link=link, **fields)
    NotificationReceipt.objects.filter(pk=made.pk).update(
        received_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return made


def test_admins_are_told_once_a_day_of_exams_waiting_for_a_link(
    smtp, northside, southside, trio, erin
):
    alice, bob, charlie = trio
    link(erin, northside, "token-erin-0001", ClariusLink.State.REVOKED)
    receipt("token-erin-0001", hours_ago=3)
    receipt("token-erin-0001", hours_ago=2)
    receipt("token-nobody-0002", hours_ago=5)  # never linked: no institution to tell
    receipt("token-erin-0001", hours_ago=0)  # too recent to count

    assert daily.check_alerts() == {"alerts": 1, "told": 1}
    [told] = Notification.objects.all()
    assert (told.recipient, told.institution, told.kind) == (alice, northside, kinds.EXAMS_UNLINKED)
    assert told.title == "2 exams from Clarius wait for a member's link"
    assert "erin@example.org" in told.body and told.url == "/clarius/institution-links/"
    send_queued()
    [mail] = smtp.received
    assert mail.recipients == ["alice@example.org"]

    # The next hourly check, the same day: nobody is told twice.
    assert daily.check_alerts() == {"alerts": 1, "told": 0}
    # A day later, still waiting: told again.
    Notification.objects.update(created_at=timezone.now() - timedelta(hours=24))
    assert daily.check_alerts()["told"] == 1


def test_admins_are_told_when_ingestion_has_failed_for_a_day(smtp, northside, trio, erin):
    alice, _, charlie = trio
    erins = link(erin, northside, "token-erin-0001", ClariusLink.State.CONFIRMED)
    now = timezone.now()
    failing = {"attempts": 6, "last_error": "HTTP 503", "last_attempt_at": now - timedelta(hours=1)}
    receipt("token-erin-0001", hours_ago=2, state="pending", link=erins, **failing)
    assert daily.check_alerts()["alerts"] == 0  # failing, but not for a day yet

    receipt("token-erin-0001", hours_ago=30, state="pending", link=erins, **failing)
    exam = make_exam(northside, erin, submitted_at=now - timedelta(hours=30))
    exam.submissions.update(submitted_at=now - timedelta(hours=30))
    Capture.objects.filter(exam=exam).update(state=Capture.State.FAILED, **failing)
    assert daily.check_alerts() == {"alerts": 1, "told": 1}
    told = Notification.objects.get()
    assert (told.recipient, told.kind) == (alice, kinds.INGESTION_FAILING)
    assert "1 exam could not be fetched" in told.body
    assert "1 image or clip could not be downloaded" in told.body
    send_queued()
    [mail] = smtp.received
    assert mail.subject == "Exams from Clarius have failed to arrive for a day"
    assert_no_patient(mail, exam)


def test_an_email_the_server_refuses_is_retried_then_shown_failed(settings, northside, bob, erin):
    from tests.services import closed_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    sign(make_exam(northside, erin), bob, build=False)
    email = Email.objects.get()
    assert send_queued() == ["retry"]
    email.refresh_from_db()
    assert email.state == Email.State.QUEUED and email.next_attempt_at > timezone.now()
    assert "ConnectionRefusedError" in email.last_error
    from portal import work

    outcomes = []
    for _ in range(work.MAX_ATTEMPTS - 1):
        Email.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        outcomes.extend(send_queued())
    assert outcomes[-1] == "failed"
    email.refresh_from_db()
    assert email.state == Email.State.FAILED and email.next_attempt_at is None


@pytest.mark.parametrize("role", ["clinician", "reviewer"])
def test_alerts_go_to_admins_only(northside, role, erin):
    from portal.notifications.alerts import Alert

    Membership.objects.filter(user=erin).update(role=role)
    alert = Alert(northside.pk, kinds.INGESTION_FAILING, "k", "Title")
    assert daily.tell_admins(alert) == 0


def test_the_daily_jobs_are_schedules_and_clarius_registers_its_checks():
    from portal.notifications import alerts
    from portal.work import schedules

    registered = schedules.registered()
    assert registered["notifications: daily digest"] == (
        "portal.notifications.daily.send_digests",
        24 * 60,
    )
    assert registered["notifications: admin alerts"][0] == "portal.notifications.daily.check_alerts"
    assert {check.key for check in alerts.registered()} >= {
        "clarius:exams-unlinked",
        "clarius:ingestion-failing",
    }


def test_nobody_is_told_of_their_own_signature(northside, bob):
    sign(make_exam(northside, bob), bob, build=False)  # a reviewer signs an exam they performed
    assert not Notification.objects.exists() and not Email.objects.exists()


def test_sent_emails_are_deleted_after_their_retention(northside, bob, erin):
    sign(make_exam(northside, erin), bob, build=False)
    sign(make_exam(northside, erin), bob, build=False)
    old, recent = Email.objects.order_by("pk")
    Email.objects.filter(pk=old.pk).update(
        state="sent", sent_at=timezone.now() - daily.EMAIL_RETENTION - timedelta(hours=1)
    )
    daily.send_digests()
    assert list(Email.objects.values_list("pk", flat=True)) == [recent.pk]  # queued: kept
    assert Notification.objects.count() == 2  # the inbox keeps its own


def test_an_operator_retries_a_failed_email_from_the_admin(smtp, client, northside, bob, erin):
    from django.contrib.auth import get_user_model

    sign(make_exam(northside, erin), bob, build=False)
    Email.objects.update(state="failed", next_attempt_at=None, attempts=8, last_error="boom")
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    listing = client.get("/admin/notifications/email/")
    assert listing.status_code == 200 and b"boom" in listing.content
    answer = client.post(
        "/admin/notifications/email/",
        {
            "action": "retry_now",
            "_selected_action": list(Email.objects.values_list("pk", flat=True)),
        },
    )
    assert answer.status_code == 302
    assert Email.objects.get().state == "queued"
    assert send_queued() == ["sent"] and len(smtp.received) == 1
