"""What the QA program tells people: the operator their exam's QA result (first read
only), a QA reviewer what is assigned to them, QA leads and administrators the overdue
QA reviews once a day; through the inbox and the existing Email rows, with no patient
identifier unless the institution allows them, and switched off on the preferences page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.notifications import kinds
from portal.notifications.models import Email, Notification, NotificationPreference
from portal.qa import notify, scoring, selection
from portal.qa.models import QAReview
from portal.qa.program import settings_for
from portal.tenants.models import Institution, Membership
from portal.work import schedules
from portal.worksheets.models import ExamType
from tests.factories import make_exam
from tests.qa.setup_fixtures import add_member, membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(trio, northside):
    """Northside runs its program (round-robin, no double reads); bob is a QA reviewer,
    dave a second one, carol a clinician who performs exams."""
    alice, bob, charlie = trio
    settings = settings_for(northside.pk)
    settings.is_active, settings.double_read_percent = True, 0
    settings.save()
    Membership.objects.filter(pk=membership(bob).pk).update(is_qa_reviewer=True)
    carol = add_member(northside, "carol@example.org", "clinician")
    return {"settings": settings, "carol": carol.user, "bob": bob, "alice": alice}


def exam_of(user, institution, code="fast", **fields):
    exam_type = ExamType.objects.get(institution=institution, code=code)
    return make_exam(institution, user, patient_name="Pat Example", exam_type=exam_type, **fields)


def review_of(exam, read=QAReview.FIRST_READ, assignee=None, due_in=timedelta(hours=72)):
    return QAReview.objects.create(
        institution_id=exam.institution_id,
        exam=exam,
        read=read,
        reason=QAReview.Reason.IN_TRAINING if read == 1 else QAReview.Reason.DOUBLE_READ,
        operator_id=exam.operator_id,
        exam_type_id=exam.exam_type_id,
        assignee=assignee,
        due_at=timezone.now() + due_in,
    )


def of_kind(kind, user=None):
    found = Notification.objects.filter(kind=kind)
    return found.filter(recipient=user) if user is not None else found


# -- QA feedback to the operator ---------------------------------------------------------


def test_the_operator_is_told_the_first_reads_result(program, northside):
    carol, bob = program["carol"], program["bob"]
    exam = exam_of(carol, northside)
    review = review_of(exam, assignee=bob)
    scoring.score(review, bob, image_quality=4, interpretation="agree")
    told = of_kind(kinds.QA_FEEDBACK, carol).get()
    name = exam.exam_type.name
    assert told.title == f"QA feedback on your {name} exam: passed"
    assert told.institution_id == northside.pk and told.exam_id == exam.pk
    assert told.url == reverse("qa-credentialing-member", args=[carol.pk])
    email = Email.objects.get(kind=kinds.QA_FEEDBACK)
    assert email.to == "carol@example.org" and email.state == Email.State.QUEUED
    # No patient identifier: the institution does not allow them.
    assert "Pat" not in email.subject + email.body and f"MRN-{exam.pk}" not in email.body
    assert not of_kind(kinds.QA_FEEDBACK).exclude(recipient=carol).exists()


def test_not_passed_is_said_and_the_patient_named_when_allowed(program, northside):
    Institution.objects.filter(pk=northside.pk).update(email_patient_identifiers=True)
    carol, bob = program["carol"], program["bob"]
    exam = exam_of(carol, northside)
    review = review_of(exam, assignee=bob)
    scoring.score(
        review, bob, image_quality=2, interpretation="false_positive", interpretation_note="No"
    )
    told = of_kind(kinds.QA_FEEDBACK, carol).get()
    assert told.title.endswith("exam: not passed")
    assert "Pat" not in told.title + told.body  # the inbox never names a patient
    email = Email.objects.get(kind=kinds.QA_FEEDBACK)
    assert "Pat Example" in email.subject and f"MRN-{exam.pk}" in email.subject


def test_the_second_read_tells_the_operator_nothing(program, northside):
    carol, bob = program["carol"], program["bob"]
    dave = add_member(northside, "dave@example.org", "reviewer", is_qa_reviewer=True).user
    exam = exam_of(carol, northside)
    review_of(exam, assignee=bob)
    second = review_of(exam, read=QAReview.SECOND_READ, assignee=dave)
    scoring.score(second, dave, image_quality=1, interpretation="other", interpretation_note="x")
    assert not of_kind(kinds.QA_FEEDBACK).exists()
    assert not Email.objects.filter(kind=kinds.QA_FEEDBACK).exists()


def test_switched_off_the_inbox_keeps_it_and_no_email(program, northside):
    carol, bob = program["carol"], program["bob"]
    NotificationPreference.objects.create(
        membership=Membership.objects.get(user=carol), qa_feedback=False
    )
    review = review_of(exam_of(carol, northside), assignee=bob)
    scoring.score(review, bob, image_quality=5, interpretation="agree")
    assert of_kind(kinds.QA_FEEDBACK, carol).exists()
    assert not Email.objects.filter(kind=kinds.QA_FEEDBACK).exists()


def test_a_refused_score_tells_nobody(program, northside):
    carol = program["carol"]
    review = review_of(exam_of(carol, northside))
    with pytest.raises(scoring.QARefused):
        scoring.score(review, program["alice"], image_quality=4, interpretation="agree")
    assert not of_kind(kinds.QA_FEEDBACK).exists()


# -- QA review assigned --------------------------------------------------------------------


def test_round_robin_selection_tells_the_assignee(program, northside):
    carol, bob = program["carol"], program["bob"]
    exam = exam_of(carol, northside)
    [review] = selection.select_on_signing(exam, program["alice"])
    assert review.assignee_id == bob.pk
    told = of_kind(kinds.QA_ASSIGNED, bob).get()
    assert told.title == f"A {exam.exam_type.name} exam was assigned to you for QA review"
    assert told.url == reverse("qa-review", args=[review.pk])
    assert told.body.startswith("Due ")
    email = Email.objects.get(kind=kinds.QA_ASSIGNED)
    assert email.to == "bob@example.org" and "Pat" not in email.subject + email.body
    assert of_kind(kinds.QA_ASSIGNED).count() == 1


def test_a_double_read_tells_both_readers(program, northside):
    dave = add_member(northside, "dave@example.org", "reviewer", is_qa_reviewer=True).user
    settings = program["settings"]
    settings.double_read_percent = 100
    settings.save()
    exam = exam_of(program["carol"], northside)
    first, second = selection.select_on_signing(exam, program["alice"])
    assert {first.assignee_id, second.assignee_id} == {program["bob"].pk, dave.pk}
    assert of_kind(kinds.QA_ASSIGNED, program["bob"]).count() == 1
    assert of_kind(kinds.QA_ASSIGNED, dave).count() == 1


def test_by_hand_assignment_tells_nobody_at_selection_but_assigned_does(program, northside):
    settings = program["settings"]
    settings.assignment = "manual"
    settings.save()
    exam = exam_of(program["carol"], northside)
    [review] = selection.select_on_signing(exam, program["alice"])
    assert review.assignee_id is None and not of_kind(kinds.QA_ASSIGNED).exists()
    review.assignee = program["bob"]
    review.save()
    notify.assigned(review)
    assert of_kind(kinds.QA_ASSIGNED, program["bob"]).count() == 1


def test_assigned_to_someone_no_longer_reviewing_tells_nobody(program, northside):
    review = review_of(exam_of(program["carol"], northside), assignee=program["carol"])
    assert notify.assigned(review) is None
    assert not of_kind(kinds.QA_ASSIGNED).exists()


# -- the daily digest of overdue QA reviews ----------------------------------------------


def test_the_overdue_digest_goes_once_a_day_to_leads_and_admins(program, northside, southside):
    carol, bob, alice = program["carol"], program["bob"], program["alice"]
    erin = add_member(northside, "erin@example.org", "reviewer", is_qa_lead=True).user
    add_member(northside, "frank@example.org", "clinician", is_qa_lead=True)  # no role
    for _ in range(2):
        review_of(exam_of(carol, northside), due_in=-timedelta(hours=5))
    review_of(exam_of(carol, northside, code="lung"), due_in=-timedelta(hours=1))
    review_of(exam_of(carol, northside), due_in=timedelta(hours=5))  # not yet due
    # Southside has an overdue review but no running program: nobody there is told.
    review_of(exam_of(None, southside), due_in=-timedelta(hours=5))
    counts = notify.send_overdue_digests()
    assert counts == {"institutions": 1, "told": 2}
    fast_name = ExamType.objects.get(institution=northside, code="fast").name
    told = of_kind(kinds.QA_OVERDUE)
    assert set(told.values_list("recipient_id", flat=True)) == {alice.pk, erin.pk}
    note = told.get(recipient=erin)
    assert note.title == "3 QA reviews overdue" and note.institution_id == northside.pk
    assert note.url == reverse("qa-queue") + "?overdue=1"
    assert f"{fast_name}: 2" in note.body
    email = Email.objects.get(kind=kinds.QA_OVERDUE, to="erin@example.org")
    assert f"- {fast_name}: 2 overdue, the oldest due" in email.body
    assert "/qa/?overdue=1" in email.body
    assert "Pat" not in email.body + email.subject and "MRN" not in email.body
    assert not of_kind(kinds.QA_OVERDUE, bob).exists()
    # Again the same day: nobody is told twice.
    assert notify.send_overdue_digests() == {"institutions": 1, "told": 0}
    assert of_kind(kinds.QA_OVERDUE).count() == 2
    # The next day, again.
    later = timezone.now() + timedelta(days=1)
    assert notify.send_overdue_digests(now=later)["told"] == 2


def test_no_overdue_review_no_digest(program, northside):
    review_of(exam_of(program["carol"], northside), due_in=timedelta(hours=1))
    assert notify.send_overdue_digests() == {"institutions": 0, "told": 0}
    assert not of_kind(kinds.QA_OVERDUE).exists()


def test_the_digest_is_a_registered_schedule():
    registered = schedules.registered()
    assert registered["qa: overdue digest"] == (
        "portal.qa.notify.send_overdue_digests",
        notify.OVERDUE_MINUTES,
    )


# -- the preferences page --------------------------------------------------------------


def test_the_preferences_page_offers_the_qa_emails_by_role(client, program, northside):
    url = reverse("notification-preferences")
    client.force_login(program["carol"])
    page = client.get(url).content.decode()
    assert 'name="qa_feedback"' in page
    assert 'name="qa_assigned"' not in page and 'name="qa_overdue"' not in page
    client.force_login(program["bob"])  # a QA reviewer
    page = client.get(url).content.decode()
    assert 'name="qa_assigned"' in page and 'name="qa_overdue"' not in page
    client.force_login(program["alice"])  # an administrator: runs the program
    page = client.get(url).content.decode()
    assert 'name="qa_overdue"' in page and 'name="qa_feedback"' in page
    response = client.post(url, {"new_exam": "daily", "qa_feedback": "on"})
    assert response.status_code == 302
    saved = NotificationPreference.objects.get(membership=membership(program["alice"]))
    assert saved.qa_feedback is True and saved.qa_overdue is False


def test_an_email_unsubscribes_from_its_qa_kind(client, program, northside):
    carol, bob = program["carol"], program["bob"]
    review = review_of(exam_of(carol, northside), assignee=bob)
    scoring.score(review, bob, image_quality=4, interpretation="agree")
    email = Email.objects.get(kind=kinds.QA_FEEDBACK)
    assert "To stop emails about quality review results of your exams:" in email.body
    path = email.unsubscribe_url.split("://", 1)[-1].split("/", 1)[1]
    assert client.post("/" + path).status_code == 200
    assert NotificationPreference.objects.get(membership__user=carol).qa_feedback is False
