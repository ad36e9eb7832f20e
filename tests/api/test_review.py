"""The exam page's review actions as API endpoints: same rules, same roles, same audit."""

import json

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.reports.limits import FINDINGS_LIMITS
from portal.reports.models import Addendum, Findings, Report
from portal.reports.review import UNSAVED
from tests.api.conftest import complete_answers, problem_text
from tests.reports.conftest import FINDINGS, built, sign

BODY = {**FINDINGS, "image_quality": 4}


def findings_url(exam):
    return reverse("api-exam-findings", args=[exam.pk])


def fetch_etag(client, exam):
    response = client.get(findings_url(exam))
    assert response.status_code == 200
    return response["ETag"]


# --- GET/PUT findings ------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_get_answers_the_worksheet_with_an_etag_and_is_audited(api, exams, viewer):
    exam = exams["north"]
    response = api(viewer).get(findings_url(exam))
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == UNSAVED
    assert response["ETag"] == f'"{UNSAVED}"'
    assert body["impression"] == "" and body["image_quality"] is None
    event = AuditEvent.objects.get(action="view_exam")
    assert event.object_id == str(exam.pk) and event.detail == {"via": "api_findings"}


def test_put_saves_the_draft_and_answers_the_new_etag(api, exams, users):
    exam = exams["north"]
    client = api("bob")
    response = client.put_json(findings_url(exam), BODY, If_Match=fetch_etag(client, exam))
    assert response.status_code == 200, response.content
    findings = Findings.objects.get(exam=exam)
    assert (findings.impression, findings.image_quality) == (FINDINGS["impression"], 4)
    assert findings.clinician_feedback == FINDINGS["clinician_feedback"]
    assert findings.updated_by == users["bob"]
    assert response["ETag"] == f'"{response.json()["version"]}"' != f'"{UNSAVED}"'
    assert response["ETag"] == fetch_etag(client, exam)
    exam.refresh_from_db()
    assert (exam.review_state, exam.reviewer) == ("in_review", users["bob"])


def test_put_without_if_match_is_428(api, exams):
    response = api("bob").put_json(findings_url(exams["north"]), BODY)
    assert response.status_code == 428
    assert "If-Match" in problem_text(response)
    assert not Findings.objects.exists()


def test_a_stale_put_is_412_and_keeps_the_other_reviewers_edits(api, exams):
    exam = exams["north"]
    bob, alice = api("bob"), None
    stale = fetch_etag(bob, exam)
    alice = api("alice")
    assert (
        alice.put_json(findings_url(exam), BODY, If_Match=fetch_etag(alice, exam)).status_code
        == 200
    )
    bob = api("bob")
    response = bob.put_json(
        findings_url(exam), {**BODY, "impression": "Bob's text"}, If_Match=stale
    )
    assert response.status_code == 412
    assert "Alice Admin saved these findings" in problem_text(response)
    assert Findings.objects.get(exam=exam).impression == FINDINGS["impression"]


@pytest.mark.parametrize("header", ['"nonsense"', 'W/"unsaved"', '"a", "b"'])
def test_an_if_match_that_is_not_the_current_version_is_412(api, exams, header):
    response = api("bob").put_json(findings_url(exams["north"]), BODY, If_Match=header)
    assert response.status_code == 412


def test_if_match_star_matches_a_saved_worksheet_only(api, exams):
    exam = exams["north"]
    client = api("bob")
    assert client.put_json(findings_url(exam), BODY, If_Match="*").status_code == 412
    client.put_json(findings_url(exam), BODY, If_Match=fetch_etag(client, exam))
    assert client.put_json(findings_url(exam), BODY, If_Match="*").status_code == 200


@pytest.mark.parametrize(
    "change, field",
    [
        ({"image_quality": 6}, "image_quality"),
        ({"image_quality": True}, "image_quality"),
        ({"image_quality": "good"}, "image_quality"),
        ({"impression": None}, "impression"),
        ({"impression": ["a"]}, "impression"),
        ({"impression": "nul \x00 byte"}, "impression"),
        ({"findings": "x" * (FINDINGS_LIMITS["findings"] + 1)}, "findings"),
        ({"surprise": "field"}, "surprise"),
    ],
)
def test_put_refuses_bad_fields_with_400(api, exams, change, field):
    exam = exams["north"]
    client = api("bob")
    response = client.put_json(
        findings_url(exam), {**BODY, **change}, If_Match=fetch_etag(client, exam)
    )
    assert response.status_code == 400
    assert field in problem_text(response)
    assert not Findings.objects.exists()


def test_put_needs_every_field(api, exams):
    exam = exams["north"]
    client = api("bob")
    body = {k: v for k, v in BODY.items() if k != "clinician_feedback"}
    response = client.put_json(findings_url(exam), body, If_Match=fetch_etag(client, exam))
    assert response.status_code == 400
    assert "clinician_feedback" in problem_text(response)


@pytest.mark.parametrize("raw", ["[1, 2]", "{not json", '"text"', "[" * 5000])
def test_put_refuses_a_body_that_is_not_a_json_object(api, exams, raw):
    exam = exams["north"]
    client = api("bob")
    response = client.put(
        findings_url(exam),
        raw,
        content_type="application/json",
        headers={"If-Match": fetch_etag(client, exam)},
    )
    assert response.status_code == 400


def test_put_refuses_an_oversize_body_with_413(api, exams):
    exam = exams["north"]
    client = api("bob")
    body = json.dumps({**BODY, "findings": "x" * 600_000})
    response = client.put(
        findings_url(exam), body, content_type="application/json", headers={"If-Match": '"unsaved"'}
    )
    assert response.status_code == 413


def test_a_write_on_signed_findings_is_409(api, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    client = api("alice")
    response = client.put_json(findings_url(exam), BODY, If_Match=fetch_etag(client, exam))
    assert response.status_code == 409
    assert "signed" in problem_text(response)


def test_a_clinician_reads_no_worksheet_and_writes_none(api, exams):
    # alice is a clinician at Southside: her own exam is visible, the review is not hers.
    client = api("alice", "southside")
    assert client.get(findings_url(exams["alice_south"])).status_code == 403
    assert (
        client.put_json(findings_url(exams["alice_south"]), BODY, If_Match='"unsaved"').status_code
        == 403
    )
    assert client.get(findings_url(exams["charlie_south"])).status_code == 404


@pytest.mark.parametrize(
    "method, name",
    [
        ("get", "api-exam-findings"),
        ("put_json", "api-exam-findings"),
        ("post_json", "api-exam-sign"),
        ("post_json", "api-exam-addenda"),
        ("post_json", "api-exam-assignment"),
        ("delete", "api-exam-assignment"),
        ("get", "api-exam-reports"),
    ],
)
def test_another_institutions_exam_is_a_404(api, exams, method, name):
    client = api("charlie")
    response = getattr(client, method)(reverse(name, args=[exams["north"].pk]))
    assert response.status_code == 404
    response = getattr(client, method)(reverse(name, args=[10**9]))
    assert response.status_code == 404


def test_an_anonymous_client_is_401(client, exams):
    assert client.get(findings_url(exams["north"])).status_code in (401, 403)


# --- sign -------------------------------------------------------------------------------


def sign_url(exam):
    return reverse("api-exam-sign", args=[exam.pk])


def save(client, exam, **fields):
    body = {**BODY, **complete_answers(exam), **fields}
    response = client.put_json(findings_url(exam), body, If_Match=fetch_etag(client, exam))
    assert response.status_code == 200, response.content


def test_sign_answers_201_with_the_new_report(api, exams, users):
    exam = exams["north"]
    client = api("bob")
    save(client, exam)
    response = client.post_json(sign_url(exam))
    assert response.status_code == 201, response.content
    report = Report.objects.get()
    assert response.json() == {
        "id": report.pk,
        "version": 1,
        "name": report.name,
        "state": "generating",
        "review_state": "signed",
    }
    exam.refresh_from_db()
    assert exam.review_state == "signed"
    assert Findings.objects.get(exam=exam).signed_by == users["bob"]


def test_sign_twice_is_409(api, exams):
    exam = exams["north"]
    client = api("bob")
    save(client, exam)
    assert client.post_json(sign_url(exam)).status_code == 201
    response = client.post_json(sign_url(exam))
    assert response.status_code == 409
    assert "signed already" in problem_text(response)
    assert Report.objects.count() == 1


def test_sign_incomplete_findings_is_400_naming_the_field(api, exams):
    exam = exams["north"]
    client = api("bob")
    assert client.post_json(sign_url(exam)).status_code == 400
    save(client, exam, impression="  ")
    response = client.post_json(sign_url(exam))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "impression"
    assert not Report.objects.exists()


def test_sign_with_a_stale_if_match_is_412(api, exams):
    exam = exams["north"]
    client = api("bob")
    save(client, exam)
    stale = fetch_etag(client, exam)
    save(api("alice"), exam, impression="Alice's impression.")
    response = api("bob").post_json(sign_url(exam), If_Match=stale)
    assert response.status_code == 412
    assert not Report.objects.exists()


def test_a_clinician_cannot_sign(api, exams, users):
    exam = exams["alice_south"]
    assert api("alice", "southside").post_json(sign_url(exam)).status_code == 403


# --- addenda ----------------------------------------------------------------------------


def addenda_url(exam):
    return reverse("api-exam-addenda", args=[exam.pk])


def test_an_addendum_before_signing_is_409(api, exams):
    response = api("bob").post_json(addenda_url(exams["north"]), {"text": "More."})
    assert response.status_code == 409
    assert not Addendum.objects.exists()


def test_an_addendum_to_signed_findings_issues_a_version(api, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    response = api("alice").post_json(addenda_url(exam), {"text": "The duct measures 4 mm."})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1 and body["report"]["version"] == 2
    assert Addendum.objects.get().signed_by == users["alice"]


@pytest.mark.parametrize("text", ["", "   ", None, 5, "nul\x00", "x" * 20_001])
def test_a_bad_addendum_is_400(api, exams, users, text):
    exam = exams["north"]
    sign(exam, users["bob"])
    response = api("bob").post_json(addenda_url(exam), {"text": text})
    assert response.status_code == 400
    assert not Addendum.objects.exists()


# --- assignment -------------------------------------------------------------------------


def assignment_url(exam):
    return reverse("api-exam-assignment", args=[exam.pk])


def test_a_reviewer_assigns_an_exam_to_themselves(api, exams, users):
    exam = exams["north"]
    response = api("bob").post_json(assignment_url(exam))
    assert response.status_code == 200
    assert response.json()["reviewer"]["id"] == users["bob"].pk
    exam.refresh_from_db()
    assert (exam.reviewer, exam.review_state) == (users["bob"], "in_review")


def test_an_admin_assigns_an_exam_to_a_named_reviewer(api, exams, users):
    exam = exams["north"]
    response = api("alice").post_json(assignment_url(exam), {"reviewer": users["bob"].pk})
    assert response.status_code == 200
    exam.refresh_from_db()
    assert exam.reviewer == users["bob"]


def test_a_reviewer_cannot_assign_someone_else(api, exams, users):
    exam = exams["north"]
    response = api("bob").post_json(assignment_url(exam), {"reviewer": users["alice"].pk})
    assert response.status_code == 400
    exam.refresh_from_db()
    assert exam.reviewer is None


@pytest.mark.parametrize("reviewer", ["charlie", 0, -1, 10**12, "bob", None, [1]])
def test_only_a_reviewer_of_the_institution_may_be_named(api, exams, users, reviewer):
    exam = exams["north"]
    named = users[reviewer].pk if reviewer == "charlie" else reviewer
    response = api("alice").post_json(assignment_url(exam), {"reviewer": named})
    assert response.status_code == 400
    exam.refresh_from_db()
    assert exam.reviewer is None


def test_unassign_makes_the_exam_new_again(api, exams, users):
    exam = exams["north"]
    client = api("bob")
    client.post_json(assignment_url(exam))
    response = client.delete(assignment_url(exam))
    assert response.status_code == 200
    exam.refresh_from_db()
    assert (exam.reviewer, exam.review_state) == (None, "new")


def test_a_reviewer_cannot_unassign_someone_elses_exam(api, exams, users):
    exam = exams["north"]
    api("alice").post_json(assignment_url(exam))
    assert api("bob").delete(assignment_url(exam)).status_code == 400
    assert api("alice").delete(assignment_url(exam)).status_code == 200


def test_a_signed_exam_keeps_its_reviewer(api, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    assert api("bob").delete(assignment_url(exam)).status_code == 409
    exam.refresh_from_db()
    assert exam.reviewer == users["bob"]


def test_a_clinician_cannot_assign(api, exams):
    assert (
        api("alice", "southside").post_json(assignment_url(exams["alice_south"])).status_code == 403
    )


# --- reports ----------------------------------------------------------------------------


def test_the_reports_list_pages_versions_with_their_deliveries(api, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    response = api("bob").get(reverse("api-exam-reports", args=[exam.pk]))
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    (version,) = body["results"]
    assert version["id"] == report.pk and version["state"] == report.state
    assert version["pdf_url"].endswith(reverse("api-report-pdf", args=[report.pk]))
    assert isinstance(version["deliveries"], list)


def test_the_reports_list_pages(api, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"], build=False)
    client = api("bob")
    for n in range(3):
        client.post_json(addenda_url(exam), {"text": f"Addendum {n}."})
    url = reverse("api-exam-reports", args=[exam.pk])
    first = client.get(url, {"page_size": 3}).json()
    assert [r["version"] for r in first["results"]] == [4, 3, 2]
    second = client.get(first["next"]).json()
    assert [r["version"] for r in second["results"]] == [1]


def test_a_clinician_sees_the_reports_of_their_own_exam_only(api, exams, users):
    sign(exams["alice_south"], users["charlie"])
    client = api("alice", "southside")
    assert (
        client.get(reverse("api-exam-reports", args=[exams["alice_south"].pk])).status_code == 200
    )
    assert (
        client.get(reverse("api-exam-reports", args=[exams["charlie_south"].pk])).status_code == 404
    )


def test_the_pdf_is_the_file_and_audited(api, exams, users):
    report = sign(exams["north"], users["bob"])
    response = api("alice").get(
        reverse("api-report-pdf", args=[report.pk]), headers={"Accept": "application/pdf"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(
        response.streaming_content if response.streaming else [response.content]
    ).startswith(b"%PDF")
    event = AuditEvent.objects.get(action="download_report")
    assert event.object_id == str(report.pk)
    assert event.detail == {"version": 1, "via": "api"}


def test_a_pdf_not_made_yet_or_of_another_institution_is_404(api, exams, users):
    report = sign(exams["north"], users["bob"], build=False)
    assert api("bob").get(reverse("api-report-pdf", args=[report.pk])).status_code == 404
    built(report)
    assert api("charlie").get(reverse("api-report-pdf", args=[report.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="download_report").exists()


def test_retry_is_for_reviewers_and_the_exams_institution(api, exams, users):
    report = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=report.pk).update(state="failed", last_error="503")
    url = reverse("api-report-retry", args=[report.pk])
    assert api("charlie").post_json(url).status_code == 404
    response = api("bob").post_json(url)
    assert response.status_code == 200
    assert response.json()["retried"] is True
    assert response.json()["report"]["state"] == "pending"
    Report.objects.filter(pk=report.pk).update(state="pushed")
    assert api("bob").post_json(url).json()["retried"] is False  # delivered already


def test_a_clinician_cannot_retry(api, exams, users):
    report = sign(exams["alice_south"], users["charlie"])
    url = reverse("api-report-retry", args=[report.pk])
    assert api("alice", "southside").post_json(url).status_code == 403
