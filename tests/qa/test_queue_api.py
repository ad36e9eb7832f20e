# ruff: noqa: F811 (the fixtures imported from queue_fixtures are arguments here)
"""The QA queue's API: /api/v1/qa/reviews/ and /api/v1/qa/exams/<id>/flag/."""

import json

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.qa.models import QAReview
from portal.qa.program import exam_type_qa
from tests.factories import make_exam
from tests.qa.queue_fixtures import (  # noqa: F401
    login,
    make_review,
    media_root,
    people,
    reviews,
)

pytestmark = pytest.mark.django_db

LIST = "/api/v1/qa/reviews/"
SCORE = {"image_quality": 4, "interpretation": "agree", "feedback": "Good sweep."}


def detail(review):
    return f"/api/v1/qa/reviews/{review.pk}/"


def post(client, url, data):
    body = data if isinstance(data, str) else json.dumps(data)
    return client.post(url, body, content_type="application/json")


def ids(response):
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


def test_the_list_follows_the_pages_rules(login, reviews):
    assert ids(login("quinn").get(LIST)) == [reviews["open"].pk, reviews["quinn"].pk]
    assert ids(login("rita").get(LIST)) == [reviews["open"].pk]
    assert set(ids(login("lena").get(LIST))) == {reviews["open"].pk, reviews["quinn"].pk}
    assert ids(login("sid").get(LIST)) == [reviews["south"].pk]
    first = login("quinn").get(LIST).json()["results"][1]
    assert first["overdue"] is False and first["assignee"]["name"] == "Quinn QA"
    assert first["may_score"] is True and first["score"] is None


def test_list_filters(login, reviews):
    client = login("lena")
    assert ids(client.get(LIST, {"overdue": "true"})) == [reviews["open"].pk]
    assert ids(client.get(LIST, {"who": "unassigned"})) == [reviews["open"].pk]
    assert ids(client.get(LIST, {"reason": "flagged"})) == []
    assert len(ids(client.get(LIST, {"exam_type": "lung"}))) == 2
    for junk in (
        {"who": "x"},
        {"reason": "\x00"},
        {"exam_type": "nope"},
        {"list": "y"},
        {"overdue": "maybe"},
        {"cursor": "zzz"},
        {"exam_type": "a" * 100000},
    ):
        assert client.get(LIST, junk).status_code == 400


def test_list_pages_with_cursors(login, people, northside):
    for _ in range(5):
        make_review(make_exam(northside, people["bob"]))
    client = login("lena")
    first = client.get(LIST, {"page_size": 3}).json()
    assert len(first["results"]) == 3 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None


@pytest.mark.parametrize("name", ["bob", "cleo", "charlie", "sid"])
def test_roles_and_tenancy_are_404_everywhere(login, reviews, people, name):
    client = login(name)
    review = reviews["quinn"]
    if name in ("bob", "cleo"):
        assert client.get(LIST).status_code == 404
    assert client.get(detail(review)).status_code == 404
    assert post(client, detail(review) + "score/", SCORE).status_code == 404
    assignment = post(client, detail(review) + "assignment/", {"assignee": people["rita"].pk})
    assert assignment.status_code == 404
    review.refresh_from_db()
    assert review.state == QAReview.State.PENDING and review.assignee == people["quinn"]


def test_score_through_the_api(login, reviews, people):
    client = login("quinn")
    review = reviews["quinn"]
    response = post(client, detail(review) + "score/", SCORE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "done" and body["score"]["passed"] is True
    assert body["score"]["image_quality_label"] == "Criteria met, minor flaws"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SCORE_QA).count() == 1
    again = post(client, detail(review) + "score/", SCORE)
    assert again.status_code == 409
    assert ids(client.get(LIST, {"list": "done"})) == [review.pk]


def test_score_refusals(login, reviews, people, northside):
    client = login("quinn")
    url = detail(reviews["quinn"]) + "score/"
    disagree = post(client, url, {**SCORE, "interpretation": "false_negative"})
    assert disagree.status_code == 400
    assert "interpretation_note" in json.dumps(disagree.json())
    own = make_review(make_exam(northside, people["lena"]))
    refused = post(login("lena"), detail(own) + "score/", SCORE)
    assert refused.status_code == 403
    assert "own exam" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {**SCORE, "image_quality": 0},
        {**SCORE, "image_quality": 6},
        {**SCORE, "image_quality": "x"},
        {**SCORE, "image_quality": True},
        {**SCORE, "image_quality": None},
        {**SCORE, "image_quality": [4]},
        {**SCORE, "interpretation": 1},
        {**SCORE, "interpretation": "\x00"},
        {**SCORE, "feedback": "\x00"},
        {**SCORE, "feedback": 5},
        {**SCORE, "feedback": "a" * 300_000},
        {**SCORE, "answers": "yes"},
        {**SCORE, "answers": {"nope": 1}},
        {"image_quality": 4},
        [],
        "null",
        "not json",
    ],
)
def test_hostile_scores_are_4xx(login, reviews, body):
    response = post(login("quinn"), detail(reviews["quinn"]) + "score/", body)
    assert 400 <= response.status_code < 500
    reviews["quinn"].refresh_from_db()
    assert not reviews["quinn"].is_done


def test_a_megabyte_body_is_refused(login, reviews):
    response = post(
        login("quinn"), detail(reviews["quinn"]) + "score/", {**SCORE, "feedback": "a" * 1_000_000}
    )
    assert response.status_code == 413


def test_the_extra_questions_are_checked_as_a_worksheet(login, reviews):
    review = reviews["quinn"]
    qa = exam_type_qa(review.exam_type)
    qa.questions = [
        {
            "code": "depth",
            "label": "Depth set well",
            "type": "choice",
            "choices": [["yes", "Yes"], ["no", "No"]],
            "required": True,
        }
    ]
    qa.save()
    client = login("quinn")
    document = client.get(detail(review)).json()
    assert document["questions"][0]["code"] == "depth"
    url = detail(review) + "score/"
    assert post(client, url, SCORE).status_code == 400  # required
    assert post(client, url, {**SCORE, "answers": {"depth": "maybe"}}).status_code == 400
    done = post(client, url, {**SCORE, "answers": {"depth": "no"}})
    assert done.status_code == 200 and done.json()["score"]["answers"] == {"depth": "no"}
    # And the page asks the same question.
    page = login("lena").get(f"/qa/reviews/{review.pk}/").content.decode()
    assert "Depth set well" in page


def test_assignment_through_the_api(login, reviews, people):
    client = login("lena")
    url = detail(reviews["open"]) + "assignment/"
    response = post(client, url, {"assignee": people["rita"].pk})
    assert response.status_code == 200 and response.json()["assignee"]["name"] == "Rita QA"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ASSIGN_QA).count() == 1
    assert post(client, url, {"assignee": people["bob"].pk}).status_code == 400  # operator
    assert post(client, url, {"assignee": people["cleo"].pk}).status_code == 400
    assert post(client, url, {"assignee": people["sid"].pk}).status_code == 400
    for junk in ({"assignee": "x"}, {"assignee": 2**40}, {}, {"assignee": True}, []):
        assert post(client, url, junk).status_code == 400
    assert post(client, url, {"assignee": None}).json()["assignee"] is None
    assert post(login("quinn"), url, {"assignee": people["quinn"].pk}).status_code == 404
    post(login("quinn"), detail(reviews["quinn"]) + "score/", SCORE)
    scored = post(login("lena"), detail(reviews["quinn"]) + "assignment/", {"assignee": None})
    assert scored.status_code == 409


def test_flag_through_the_api(login, people, northside, southside):
    exam = make_exam(northside, people["rita"])
    url = f"/api/v1/qa/exams/{exam.pk}/flag/"
    client = login("bob")
    assert post(client, url, {"note": "x"}).status_code == 409  # not signed
    exam.signed_at = exam.last_submitted_at
    exam.save(update_fields=["signed_at"])
    created = post(client, url, {"note": "Check the depth."})
    assert created.status_code == 201, created.content
    assert created.json()["reason"] == "flagged"
    assert post(client, url, {}).status_code == 200
    assert QAReview.objects.filter(exam=exam, read=1).count() == 1
    assert post(client, url, {"note": 5}).status_code == 400
    assert post(client, url, {"note": "\x00"}).status_code == 400
    assert post(login("cleo"), url, {}).status_code == 404
    assert post(login("charlie"), url, {}).status_code == 404
    south = make_exam(southside, people["charlie"])
    assert post(login("bob"), f"/api/v1/qa/exams/{south.pk}/flag/", {}).status_code == 404


def test_api_keys_follow_the_same_rules(client, reviews, people):
    from tests.api.keyring import bearer, key_for

    read = key_for(people["quinn"], "northside", scope="read")
    write = key_for(people["quinn"], "northside", scope="write")
    listed = client.get(LIST, headers=bearer(read))
    assert [r["id"] for r in listed.json()["results"]] == [reviews["open"].pk, reviews["quinn"].pk]
    url = detail(reviews["quinn"]) + "score/"
    body = json.dumps(SCORE)
    refused = client.post(url, body, content_type="application/json", headers=bearer(read))
    assert refused.status_code == 403
    done = client.post(url, body, content_type="application/json", headers=bearer(write))
    assert done.status_code == 200
    assert AuditEvent.objects.get(action=AuditEvent.Action.SCORE_QA).detail["api_key"]
    # A key of another institution, or naming it, reaches nothing here.
    south = key_for(people["sid"], "southside")
    assert client.get(detail(reviews["open"]), headers=bearer(south)).status_code == 404
    named = client.get(LIST, headers={**bearer(read), "X-Portal-Institution": "southside"})
    assert named.status_code == 403


def test_alice_as_a_clinician_at_southside_sees_no_qa(login, reviews):
    client = login("alice")
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(LIST).status_code == 404
    assert client.get(detail(reviews["south"])).status_code == 404
    assert client.get("/qa/").status_code == 404
    assert client.get(f"/qa/reviews/{reviews['south'].pk}/").status_code == 404


def test_a_text_question_refuses_what_cannot_be_stored(login, reviews):
    review = reviews["quinn"]
    qa = exam_type_qa(review.exam_type)
    qa.questions = [{"code": "comment", "label": "Comment", "type": "text"}]
    qa.save()
    client = login("quinn")
    url = detail(review) + "score/"
    for value in ("bad\x00text", "\ud800", 5, ["a"], "a" * 5000):
        response = post(client, url, {**SCORE, "answers": {"comment": value}})
        assert response.status_code == 400, value
    page = client.post(
        f"/qa/reviews/{review.pk}/",
        {"image_quality": "4", "interpretation": "agree", "answer__comment": "x\x00"},
    )
    assert page.status_code == 400
    done = post(client, url, {**SCORE, "answers": {"comment": "Depth fine."}})
    assert done.json()["score"]["answers"] == {"comment": "Depth fine."}
