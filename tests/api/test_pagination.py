"""Every API list pages with keyset cursors; the exam list filters and sorts as the worklist."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import Exam
from tests.api.problems import field_error
from tests.factories import make_exam


@pytest.fixture
def many(trio, northside):
    """Twelve exams of bob's at Northside, a minute apart (the newest last)."""
    bob = trio[1]
    start = timezone.now() - timedelta(hours=1)
    exams = []
    for i in range(12):
        exam = make_exam(northside, bob, patient_name=f"Pat Number{i:02d}", captures=2)
        Exam.objects.filter(pk=exam.pk).update(last_submitted_at=start + timedelta(minutes=i))
        exams.append(exam)
    return exams


def walk(client, url, params):
    """Every id on every page, following ``next``; the pages' sizes."""
    seen, sizes = [], []
    while url:
        data = client.get(url, params).json()
        seen += [row["id"] for row in data["results"]]
        sizes.append(len(data["results"]))
        url, params = data["next"], None
    return seen, sizes


def test_the_pages_hold_every_exam_once_newest_first(client, trio, many):
    client.force_login(trio[1])
    seen, sizes = walk(client, reverse("api-exam-list"), {"page_size": 5})
    assert seen == [e.pk for e in reversed(many)]
    assert sizes == [5, 5, 2]


def test_previous_goes_back_to_the_page_before(client, trio, many):
    client.force_login(trio[1])
    first = client.get(reverse("api-exam-list"), {"page_size": 5}).json()
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()
    assert [e["id"] for e in back["results"]] == [e["id"] for e in first["results"]]


def test_exams_arriving_while_paging_neither_repeat_nor_vanish(client, trio, many, northside):
    client.force_login(trio[1])
    first = client.get(reverse("api-exam-list"), {"page_size": 5}).json()
    for _ in range(3):  # newer than everything: they belong before the first page
        make_exam(northside, trio[1])
    rest, _ = walk(client, first["next"], None)
    ids = [e["id"] for e in first["results"]] + rest
    assert ids == [e.pk for e in reversed(many)]


@pytest.mark.parametrize("size", [1, 5, 200])
def test_a_page_costs_the_same_queries_whatever_its_size_and_position(
    client, trio, many, size, django_assert_num_queries
):
    client.force_login(trio[1])
    url = reverse("api-exam-list")
    client.get(url)  # the session's first request loads what later ones reuse
    with django_assert_num_queries(QUERIES):
        first = client.get(url, {"page_size": size}).json()
    assert first["results"]
    if first["next"]:
        with django_assert_num_queries(QUERIES):
            client.get(first["next"])


# session + user + memberships, the page, and its captures, submissions and reports
QUERIES = 7


def test_the_page_size_defaults_to_50_and_is_at_most_200(client, trio, northside):
    for _ in range(3):
        make_exam(northside, trio[1])
    client.force_login(trio[1])
    url = reverse("api-exam-list")
    from portal.api.views import ExamPagination

    assert (ExamPagination.page_size, ExamPagination.max_page_size) == (50, 200)
    assert len(client.get(url, {"page_size": 2}).json()["results"]) == 2
    assert len(client.get(url, {"page_size": 10_000}).json()["results"]) == 3


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "n", "x" + "A" * 10, "nW10", "n" + "A" * 9000, "p\x00", "nWyJ4Il0", "n🙂"],
)
def test_a_cursor_the_portal_did_not_make_is_a_400_problem(client, trio, many, cursor):
    client.force_login(trio[1])
    response = client.get(reverse("api-exam-list"), {"cursor": cursor})
    assert "page link" in field_error(response, "cursor")


def test_a_cursor_of_another_sort_is_a_400_not_a_crash(client, trio, many):
    client.force_login(trio[1])
    url = reverse("api-exam-list")
    by_state = client.get(url, {"page_size": 2, "sort": "state"}).json()["next"]
    cursor = by_state.split("cursor=")[1].split("&")[0]
    response = client.get(url, {"cursor": cursor})  # the default sort has one key fewer
    assert "page link" in field_error(response, "cursor")


def test_the_captures_list_pages_with_cursors_too(client, trio, northside):
    exam = make_exam(northside, trio[1], captures=7)
    client.force_login(trio[1])
    seen, sizes = walk(client, reverse("api-exam-captures", args=[exam.pk]), {"page_size": 3})
    assert sizes == [3, 3, 1]
    assert seen == list(
        exam.captures.order_by("submission_id", "position", "id").values_list("id", flat=True)
    )


# --- The worklist's filters and sorts ---------------------------------------------------


def ids(client, **params):
    return [e["id"] for e in client.get(reverse("api-exam-list"), params).json()["results"]]


def test_it_filters_by_review_state_assignee_operator_and_search(client, trio, northside):
    alice, bob, _ = trio
    mine = make_exam(northside, bob, patient_name="Ann Smith", review_state="in_review")
    Exam.objects.filter(pk=mine.pk).update(reviewer=bob)
    unassigned = make_exam(northside, alice, patient_name="Zed Jones")
    client.force_login(bob)
    assert ids(client, review_state="in_review") == [mine.pk]
    assert ids(client, reviewer="me") == [mine.pk]
    assert ids(client, reviewer=str(bob.pk)) == [mine.pk]
    assert ids(client, reviewer="none") == [unassigned.pk]
    assert ids(client, operator=str(alice.pk)) == [unassigned.pk]
    assert ids(client, q="smi") == [mine.pk]
    assert ids(client, q="nobody") == []


def test_it_filters_by_a_range_of_days(client, trio, northside):
    bob = trio[1]
    old = make_exam(northside, bob)
    Exam.objects.filter(pk=old.pk).update(last_submitted_at=timezone.now() - timedelta(days=10))
    new = make_exam(northside, bob)
    client.force_login(bob)
    today = timezone.localdate()
    assert ids(client, submitted_from=str(today)) == [new.pk]
    assert ids(client, submitted_to=str(today - timedelta(days=5))) == [old.pk]


def test_it_sorts_as_the_worklist_and_pages_in_that_order(client, trio, northside):
    bob = trio[1]
    names = ["Cat Brown", "Amy Adams", "Bea Clark"]
    exams = {name: make_exam(northside, bob, patient_name=name) for name in names}
    client.force_login(bob)
    seen, _ = walk(client, reverse("api-exam-list"), {"sort": "patient", "page_size": 1})
    assert seen == [exams[n].pk for n in ["Amy Adams", "Cat Brown", "Bea Clark"]]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("review_state", "bogus"),
        ("operator", "999999"),
        ("operator", "abc"),
        ("reviewer", "someone"),
        ("submitted_from", "yesterday"),
        ("submitted_to", "0001-01-01"),
        ("sort", "price"),
        ("q", "x" * 101),
    ],
)
def test_a_malformed_filter_is_a_400_naming_it(client, trio, northside, param, value):
    client.force_login(trio[1])
    assert field_error(client.get(reverse("api-exam-list"), {param: value}), param)


def test_a_range_that_ends_before_it_starts_is_a_400(client, trio, northside):
    client.force_login(trio[1])
    params = {"submitted_from": "2026-02-01", "submitted_to": "2026-01-01"}
    assert "before the start" in field_error(
        client.get(reverse("api-exam-list"), params), "submitted_to"
    )


def test_a_clinician_sees_only_their_own_exams_whatever_the_filter(client, trio, southside):
    alice, _, charlie = trio  # alice is a clinician at Southside
    own = make_exam(southside, alice)
    make_exam(southside, charlie)
    client.force_login(alice)
    headers = {"X-Portal-Institution": "southside"}
    url = reverse("api-exam-list")
    assert [e["id"] for e in client.get(url, headers=headers).json()["results"]] == [own.pk]
    response = client.get(url, {"reviewer": "none"}, headers=headers)
    assert [e["id"] for e in response.json()["results"]] == [own.pk]
