# ruff: noqa: F811 (the fixtures imported from queue_fixtures are arguments here)
"""The QA queue's pages: the queue, assignment, the scoring page, flagging from the exam
page; tenancy, roles, blinding and hostile input."""

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.qa.models import QAReview
from tests.factories import make_exam
from tests.qa.queue_fixtures import (  # noqa: F401
    login,
    make_review,
    media_root,
    people,
    reviews,
    sign,
)

pytestmark = pytest.mark.django_db

PASSED = "<strong>QA passed</strong>"  # the exam page's QA line, not a message
SCORE = {"image_quality": "4", "interpretation": "agree", "feedback": "Good.", "then": "stay"}


def queue_ids(response):
    return [r.pk for r in response.context["page"].object_list]


def test_a_qa_reviewer_sees_their_own_and_the_unassigned_reviews(login, reviews):
    response = login("quinn").get(reverse("qa-queue"))
    assert response.status_code == 200
    assert queue_ids(response) == [reviews["open"].pk, reviews["quinn"].pk]  # by due date
    body = response.content.decode()
    assert "Overdue" in body
    assert "Select QA review" not in body  # no assignment for a QA reviewer


def test_a_qa_reviewer_does_not_see_another_reviewers_assigned_review(login, reviews):
    assert queue_ids(login("rita").get(reverse("qa-queue"))) == [reviews["open"].pk]
    response = login("rita").get(reverse("qa-review", args=[reviews["quinn"].pk]))
    assert response.status_code == 404


def test_a_lead_and_an_admin_see_the_whole_queue_and_may_assign(login, reviews):
    for name in ("lena", "alice"):
        response = login(name).get(reverse("qa-queue"))
        assert set(queue_ids(response)) == {reviews["open"].pk, reviews["quinn"].pk}
        assert "Assign the ticked reviews" in response.content.decode()


@pytest.mark.parametrize("name", ["bob", "cleo", "charlie", "sid"])
def test_anyone_else_gets_404_on_northside_pages(login, reviews, name):
    client = login(name)
    review = reviews["quinn"]
    if name != "sid" and name != "charlie":
        assert client.get(reverse("qa-queue")).status_code == 404
    assert client.get(reverse("qa-review", args=[review.pk])).status_code == 404
    assert client.post(reverse("qa-review", args=[review.pk]), SCORE).status_code == 404
    response = client.post(reverse("qa-assign"), {"review": review.pk, "assignee": 1})
    assert response.status_code == 404
    review.refresh_from_db()
    assert review.state == QAReview.State.PENDING


def test_the_other_institution_sees_only_its_own(login, reviews):
    assert queue_ids(login("sid").get(reverse("qa-queue"))) == [reviews["south"].pk]
    assert queue_ids(login("charlie").get(reverse("qa-queue"))) == [reviews["south"].pk]


def test_filters(login, reviews, people):
    client = login("lena")
    url = reverse("qa-queue")
    assert queue_ids(client.get(url, {"overdue": "on"})) == [reviews["open"].pk]
    assert queue_ids(client.get(url, {"who": "unassigned"})) == [reviews["open"].pk]
    assert queue_ids(client.get(url, {"who": "mine"})) == []
    assert queue_ids(client.get(url, {"reason": "sampled"})) == []
    assert len(queue_ids(client.get(url, {"reason": "trainee"}))) == 2
    lung = reviews["open"].exam_type
    assert len(queue_ids(client.get(url, {"type": lung.pk}))) == 2
    # Nonsense filters are ignored, never an error.
    for junk in ({"type": "x"}, {"who": "\x00"}, {"page": "9999"}, {"reason": "a" * 10000}):
        assert client.get(url, junk).status_code == 200


def test_the_queue_pages(login, people, northside):
    exams = [make_exam(northside, people["bob"]) for _ in range(30)]
    for exam in exams:
        make_review(exam)
    client = login("lena")
    first = client.get(reverse("qa-queue"))
    second = client.get(reverse("qa-queue"), {"page": 2})
    assert len(queue_ids(first)) == 25 and len(queue_ids(second)) == 5
    assert "Page 1 of 2" in first.content.decode()


def test_scoring_records_audits_and_moves_to_the_next(login, reviews, people):
    client = login("quinn")
    review = reviews["quinn"]
    page = client.get(reverse("qa-review", args=[review.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Minimally recognisable structures, but insufficient for diagnosis." in body
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW_EXAM, object_id=str(review.exam_id), user=people["quinn"]
    ).exists()
    response = client.post(reverse("qa-review", args=[review.pk]), {**SCORE, "then": "next"})
    assert response.status_code == 302
    assert response["Location"] == reverse("qa-review", args=[reviews["open"].pk])
    review.refresh_from_db()
    assert review.is_done and review.passed and review.scored_by == people["quinn"]
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.SCORE_QA, object_id=str(review.pk)
    ).exists()
    done = client.get(reverse("qa-review", args=[review.pk])).content.decode()
    assert "QA passed" in done and "Score and next" not in done
    recent = client.get(reverse("qa-queue"), {"tab": "done"})
    assert queue_ids(recent) == [review.pk]


def test_scoring_twice_is_refused(login, reviews):
    client = login("quinn")
    url = reverse("qa-review", args=[reviews["quinn"].pk])
    client.post(url, SCORE)
    response = client.post(url, {**SCORE, "image_quality": "1"})
    assert response.status_code == 302
    reviews["quinn"].refresh_from_db()
    assert reviews["quinn"].image_quality == 4


def test_a_disagreement_needs_a_note(login, reviews):
    client = login("quinn")
    url = reverse("qa-review", args=[reviews["quinn"].pk])
    response = client.post(url, {**SCORE, "interpretation": "false_positive"})
    assert response.status_code == 400
    assert "missed or got wrong" in response.content.decode()
    response = client.post(
        url, {**SCORE, "interpretation": "false_positive", "interpretation_note": "B-lines."}
    )
    assert response.status_code == 302
    reviews["quinn"].refresh_from_db()
    assert reviews["quinn"].passed is False


@pytest.mark.parametrize(
    "data",
    [
        {"image_quality": "0"},
        {"image_quality": "6"},
        {"image_quality": "x"},
        {"image_quality": ""},
        {"interpretation": "maybe"},
        {"feedback": "\x00"},
        {"feedback": "a" * 1_000_000},
        {"interpretation_note": "b" * 1_000_000, "interpretation": "other"},
    ],
)
def test_hostile_scores_are_400(login, reviews, data):
    response = login("quinn").post(
        reverse("qa-review", args=[reviews["quinn"].pk]), {**SCORE, **data}
    )
    assert response.status_code == 400
    reviews["quinn"].refresh_from_db()
    assert not reviews["quinn"].is_done


def test_nobody_scores_their_own_exam(login, people, northside):
    exam = make_exam(northside, people["quinn"])
    review = make_review(exam)
    client = login("quinn")
    assert review.pk not in queue_ids(client.get(reverse("qa-queue")))
    assert client.get(reverse("qa-review", args=[review.pk])).status_code == 404
    # A lead sees it, and may not score their own either.
    lead_exam = make_exam(northside, people["lena"])
    lead_review = make_review(lead_exam)
    page = login("lena").get(reverse("qa-review", args=[lead_review.pk]))
    assert page.status_code == 200
    assert "Nobody QA-reviews their own exam." in page.content.decode()
    login("lena").post(reverse("qa-review", args=[lead_review.pk]), SCORE)
    lead_review.refresh_from_db()
    assert not lead_review.is_done


def test_the_second_read_is_blind_and_by_another_reviewer(login, people, northside):
    exam = make_exam(northside, people["bob"])
    first = make_review(exam, assignee=people["quinn"])
    second = make_review(exam, read=2, reason=QAReview.Reason.DOUBLE_READ)
    # quinn holds the first read: the second is not theirs to see, nor to score.
    assert second.pk not in queue_ids(login("quinn").get(reverse("qa-queue")))
    assert login("quinn").get(reverse("qa-review", args=[second.pk])).status_code == 404
    login("quinn").post(reverse("qa-review", args=[first.pk]), SCORE)
    # rita scores the second read and never sees the first's score.
    page = login("rita").get(reverse("qa-review", args=[second.pk]))
    assert page.status_code == 200
    assert login("rita").get(reverse("qa-review", args=[first.pk])).status_code == 404
    login("rita").post(reverse("qa-review", args=[second.pk]), {**SCORE, "image_quality": "2"})
    second.refresh_from_db()
    assert second.is_done and second.scored_by == people["rita"]
    # And quinn never sees rita's.
    assert login("quinn").get(reverse("qa-review", args=[second.pk])).status_code == 404


def test_assignment_by_hand(login, reviews, people):
    client = login("lena")
    open_review = reviews["open"]
    response = client.post(
        reverse("qa-assign"),
        {"review": [open_review.pk, reviews["quinn"].pk], "assignee": people["rita"].pk},
    )
    assert response.status_code == 302
    for review in (open_review, reviews["quinn"]):
        review.refresh_from_db()
        assert review.assignee == people["rita"]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ASSIGN_QA).count() == 2
    client.post(reverse("qa-assign"), {"review": open_review.pk, "action": "unassign"})
    open_review.refresh_from_db()
    assert open_review.assignee is None


def test_assignment_refuses_the_operator_and_non_qa_reviewers(login, reviews, people, client):
    client = login("alice")
    review = reviews["open"]
    for who in ("bob", "cleo", "charlie", "sid"):
        response = client.post(
            reverse("qa-assign"), {"review": review.pk, "assignee": people[who].pk}, follow=True
        )
        assert response.status_code == 200
        assert "Not assigned" in response.content.decode()
        review.refresh_from_db()
        assert review.assignee is None
    # Another institution's review is a 404, and so is a QA reviewer's try.
    assert (
        client.post(
            reverse("qa-assign"), {"review": reviews["south"].pk, "assignee": 1}
        ).status_code
        == 404
    )
    response = login("quinn").post(
        reverse("qa-assign"), {"review": review.pk, "assignee": people["quinn"].pk}
    )
    assert response.status_code == 404


def test_assignment_refuses_the_other_reader(login, people, northside):
    exam = make_exam(northside, people["bob"])
    make_review(exam, assignee=people["quinn"])
    second = make_review(exam, read=2, reason=QAReview.Reason.DOUBLE_READ)
    response = login("lena").post(
        reverse("qa-assign"), {"review": second.pk, "assignee": people["quinn"].pk}, follow=True
    )
    assert "blind to the first" in response.content.decode()
    second.refresh_from_db()
    assert second.assignee is None


@pytest.mark.parametrize(
    "data",
    [
        {"review": "x", "assignee": "1"},
        {"review": "1" * 40, "assignee": "1"},
        {"review": "\x00", "assignee": "1"},
        {"assignee": "2"},
        {"review": [str(i) for i in range(1, 200)], "assignee": "1"},
    ],
)
def test_hostile_assignment_is_never_a_500(login, reviews, data):
    response = login("lena").post(reverse("qa-assign"), data)
    assert response.status_code in (302, 404)


def test_flag_for_qa_from_the_exam_page(login, people, northside):
    exam = make_exam(northside, people["rita"])
    client = login("bob")
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Flag for QA" not in page  # not signed yet
    response = client.post(reverse("qa-flag", args=[exam.pk]), {"note": "Odd view."})
    assert not QAReview.objects.filter(exam=exam).exists()
    exam.signed_at = exam.last_submitted_at
    exam.save(update_fields=["signed_at"])
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Flag for QA" in page
    response = client.post(reverse("qa-flag", args=[exam.pk]), {"note": "Odd view."})
    assert response.status_code == 302
    review = QAReview.objects.get(exam=exam)
    assert review.reason == QAReview.Reason.FLAGGED and review.flag_note == "Odd view."
    assert AuditEvent.objects.filter(action=AuditEvent.Action.FLAG_QA).exists()
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "In QA" in page and "Flag for QA" not in page


def test_flag_refuses_clinicians_strangers_and_hostile_notes(login, people, northside, southside):
    exam = make_exam(northside, people["cleo"])
    exam.signed_at = exam.last_submitted_at
    exam.save(update_fields=["signed_at"])
    assert login("cleo").post(reverse("qa-flag", args=[exam.pk])).status_code == 404
    assert login("charlie").post(reverse("qa-flag", args=[exam.pk])).status_code == 404
    login("bob").post(reverse("qa-flag", args=[exam.pk]), {"note": "\x00"})
    login("bob").post(reverse("qa-flag", args=[exam.pk]), {"note": "a" * 1_000_000})
    assert not QAReview.objects.filter(exam=exam).exists()
    page = login("cleo").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Flag for QA" not in page


def test_the_exam_page_shows_the_qa_result(login, people, northside):
    exam = make_exam(northside, people["bob"])
    review = make_review(exam, assignee=people["quinn"])
    login("quinn").post(reverse("qa-review", args=[review.pk]), SCORE)
    page = login("alice").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "QA passed" in page


def test_no_flag_while_the_program_is_off(login, people, northside):
    from portal.qa.program import settings_for

    qa = settings_for(northside.pk)
    qa.is_active = False
    qa.save()
    exam = make_exam(northside, people["rita"])
    exam.signed_at = exam.last_submitted_at
    exam.save(update_fields=["signed_at"])
    client = login("bob")
    assert "Flag for QA" not in client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    client.post(reverse("qa-flag", args=[exam.pk]), {"note": ""})
    assert not QAReview.objects.filter(exam=exam).exists()
    api = client.post(f"/api/v1/qa/exams/{exam.pk}/flag/", "{}", content_type="application/json")
    assert api.status_code == 409


def test_assigning_by_hand_tells_the_new_assignee(login, reviews, people):
    from portal.notifications.models import Notification

    login("lena").post(
        reverse("qa-assign"), {"review": reviews["open"].pk, "assignee": people["rita"].pk}
    )
    assert Notification.objects.filter(recipient=people["rita"]).exists()


def test_the_exam_page_keeps_the_second_reader_blind(login, people, northside):
    exam = make_exam(northside, people["bob"])
    first = make_review(exam, assignee=people["quinn"])
    second = make_review(exam, read=2, reason=QAReview.Reason.DOUBLE_READ, assignee=people["rita"])
    login("quinn").post(reverse("qa-review", args=[first.pk]), SCORE)
    page = login("rita").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "In QA" in page and PASSED not in page
    login("rita").post(reverse("qa-review", args=[second.pk]), SCORE)
    page = login("rita").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert PASSED not in page
    assert PASSED in login("lena").get(reverse("exam-detail", args=[exam.pk])).content.decode()
