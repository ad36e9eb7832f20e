"""An exam's captures through the API: a few embedded, all of them a page at a time."""

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent, Capture, Patient
from tests.api.problems import field_error
from tests.factories import make_exam
from tests.many_captures import HOSTILE_NAME, add_captures, has_bidi


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def big(trio, northside):
    """Bob's exam at Northside with 5,000 captures."""
    exam = make_exam(northside, trio[1], patient_name="Nora North")
    add_captures(exam, 4999)
    return exam


def test_an_exams_document_embeds_its_first_captures_with_the_count_and_the_link(
    client, trio, big, django_assert_max_num_queries
):
    client.force_login(trio[1])
    # 2 of them are the audit chain's head, locked and moved (portal.exams.audit_chain).
    with django_assert_max_num_queries(14):
        response = client.get(reverse("api-exam-detail", args=[big.pk]))
    assert response.status_code == 200
    assert len(response.content) < 40_000
    data = response.json()
    assert data["captures_count"] == 5000
    assert len(data["captures"]) == 100
    first = big.captures.order_by("submission_id", "position", "id").first()
    assert data["captures"][0]["id"] == first.pk
    assert set(data["captures"][0]) >= {"id", "content_type", "size", "url"}
    assert data["captures_url"] == f"http://testserver/api/v1/exams/{big.pk}/captures/"


def test_the_captures_endpoint_pages_through_all_5000_in_bounded_queries(
    client, trio, big, django_assert_max_num_queries
):
    client.force_login(trio[1])
    url, seen, pages = reverse("api-exam-captures", args=[big.pk]), [], 0
    params = {"page_size": 500}
    while url:
        with django_assert_max_num_queries(12):  # 2 for the audit chain's head
            response = client.get(url, params)
        assert response.status_code == 200
        data = response.json()
        assert len(data["results"]) <= 500
        seen += [c["id"] for c in data["results"]]
        url, params, pages = data["next"], None, pages + 1
    assert pages == 10
    ordered = big.captures.order_by("submission_id", "position", "id")
    assert seen == list(ordered.values_list("id", flat=True))


def test_the_page_size_is_bounded(client, trio, big):
    client.force_login(trio[1])
    url = reverse("api-exam-captures", args=[big.pk])
    assert len(client.get(url).json()["results"]) == 100
    assert len(client.get(url, {"page_size": 100_000}).json()["results"]) == 500
    assert len(client.get(url, {"page_size": "9" * 5000}).json()["results"]) == 100


@pytest.mark.parametrize("page", ["abc", "0", "999", "9" * 5000, "1e999"])
def test_a_page_that_is_not_there_is_a_400_with_the_reason(client, trio, big, page):
    # A 400, not DRF's 404: a 404 from the API means the exam is not yours to see.
    client.force_login(trio[1])
    response = client.get(reverse("api-exam-captures", args=[big.pk]), {"page": page})
    assert "not a page of this list" in field_error(response, "page")


def test_listing_captures_is_audited_as_a_view_of_the_exam(client, trio, big):
    client.force_login(trio[1])
    client.get(reverse("api-exam-captures", args=[big.pk]), REMOTE_ADDR="192.0.2.7")
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.object_id) == ("view_exam", "exam", str(big.pk))
    assert event.detail == {"via": "api_captures"} and event.ip_address == "192.0.2.7"


@pytest.mark.parametrize(
    ("viewer", "institution", "status"),
    [("alice", None, 200), ("bob", None, 200), ("charlie", None, 404), ("alice", "southside", 404)],
)
def test_another_institutions_exam_captures_are_a_404(
    client, trio, big, viewer, institution, status
):
    client.force_login(dict(zip(["alice", "bob", "charlie"], trio, strict=True))[viewer])
    if institution:
        client.post(reverse("switch-institution"), {"institution": institution})
    response = client.get(reverse("api-exam-captures", args=[big.pk]))
    assert response.status_code == status
    if status == 404:
        assert not AuditEvent.objects.filter(action="view_exam").exists()


def test_a_clinician_gets_only_the_captures_of_her_own_exams(client, trio, southside):
    alice, _, charlie = trio
    own, other = make_exam(southside, alice), make_exam(southside, charlie)
    client.force_login(alice)
    client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(reverse("api-exam-captures", args=[own.pk])).status_code == 200
    assert client.get(reverse("api-exam-captures", args=[other.pk])).status_code == 404


def test_anonymous_requests_for_captures_are_refused(client, big):
    assert client.get(reverse("api-exam-captures", args=[big.pk])).status_code in (401, 403)


def test_the_exam_list_embeds_only_a_few_captures_per_exam(
    client, trio, big, northside, django_assert_max_num_queries
):
    add_captures(make_exam(northside, trio[1]), 1000)
    client.force_login(trio[1])
    with django_assert_max_num_queries(12):
        response = client.get(reverse("api-exam-list"))
    assert len(response.content) < 20_000
    results = response.json()["results"]
    assert sorted(e["captures_count"] for e in results) == [1001, 5000]
    assert all(len(e["captures"]) == 3 for e in results)
    assert all(e["captures_url"].endswith(f"/exams/{e['id']}/captures/") for e in results)


def test_an_exam_without_captures_counts_none(client, trio, northside):
    exam = make_exam(northside, trio[1], captures=0)
    client.force_login(trio[1])
    data = client.get(reverse("api-exam-detail", args=[exam.pk])).json()
    assert data["captures"] == [] and data["captures_count"] == 0


def test_a_resubmissions_copies_are_neither_listed_nor_counted(client, trio, northside):
    """A capture Clarius sent again (a duplicate of an earlier one) is left out everywhere."""
    exam = make_exam(northside, trio[1], captures=4)
    first, second, third, fourth = exam.captures.order_by("position")
    Capture.objects.filter(pk__in=[second.pk, fourth.pk]).update(duplicate_of=first)
    client.force_login(trio[1])
    shown = [first.pk, third.pk]
    listing = client.get(reverse("api-exam-captures", args=[exam.pk])).json()["results"]
    assert [c["id"] for c in listing] == shown
    document = client.get(reverse("api-exam-detail", args=[exam.pk])).json()
    assert [c["id"] for c in document["captures"]] == shown
    assert document["captures_count"] == 2
    (item,) = client.get(reverse("api-exam-list")).json()["results"]
    assert ([c["id"] for c in item["captures"]], item["captures_count"]) == (shown, 2)


def test_names_and_unknown_fields_leave_the_api_without_controls(client, trio, northside):
    from portal.text import storable

    bob = trio[1]
    bob.full_name = "\u202eBob Reviewer"
    bob.save()
    exam = make_exam(northside, bob)
    extra = {"\u2066ward": "B4\u202e", "notes": "x" * 100_000, "deep": {"a": ["\u202eb"]}}
    Patient.objects.filter(exam=exam).update(first_name=storable(HOSTILE_NAME), extra=extra)
    client.force_login(bob)
    response = client.get(reverse("api-exam-detail", args=[exam.pk]))
    assert not has_bidi(response.content.decode()) and b"\\u202e" not in response.content
    data = response.json()
    assert data["patient"]["first_name"] == "Nora North Tab End"
    assert data["operator"]["name"] == "Bob Reviewer"
    assert data["patient"]["extra"]["ward"] == "B4"
    assert data["patient"]["extra"]["deep"] == {"a": ["b"]}
    assert len(data["patient"]["extra"]["notes"]) == 1000
