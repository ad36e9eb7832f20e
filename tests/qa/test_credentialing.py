# ruff: noqa: F811 (the fixtures imported from credentialing_fixtures are arguments here)
"""Credentialing: progress counts, the pages, grants and revocations, the letter, the log.

Who sees what: a member sees their own progress; QA leads and administrators see
everyone's; another member's page is a 404 for anyone else, and another institution's
member a 404 always.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from portal.exams.models import AuditEvent, Patient
from portal.qa import credentialing
from portal.qa.models import Credential, QAReview, QASettings
from tests.conftest import make_user
from tests.qa.credentialing_fixtures import (  # noqa: F401
    exam_type,
    people,
    reviewed,
    set_required,
    signed_in,
)


@pytest.fixture
def lung(northside):
    row = exam_type(northside)
    set_required(row, 3)
    return row


@pytest.fixture
def history(people, northside, lung):
    """dana: 2 passed, 1 failed, 1 pending lung reviews (in training); bob: 3 passed,
    credentialed by count."""
    lee, dana, bob = people["lee"], people["dana"], people["bob"]
    for passed in (True, True, False, None):
        reviewed(northside, dana, lung, passed=passed, scored_by=lee, feedback="Tilt the probe.")
    for _ in range(3):
        review = reviewed(northside, bob, lung, passed=True, scored_by=lee)
    credentialing.record_if_reached(review, review.scored_at)
    # A second read is about the reviewer, never counted for the operator.
    reviewed(northside, dana, lung, passed=True, scored_by=lee, read=2)
    return people


def cell(institution, user, exam_type_row):
    (row,) = credentialing.progress(institution.pk, [user.pk])
    return row.for_type(exam_type_row.pk)


# --- Progress ------------------------------------------------------------------------


def test_progress_counts_first_reads_per_operator_and_exam_type(history, northside, lung):
    dana = cell(northside, history["dana"], lung)
    assert (dana.passed, dana.failed, dana.pending, dana.required) == (2, 1, 1, 3)
    assert dana.status == credentialing.IN_TRAINING and dana.since is None
    bob = cell(northside, history["bob"], lung)
    assert (bob.passed, bob.failed, bob.pending) == (3, 0, 0)
    assert bob.status == credentialing.BY_COUNT and bob.since is not None
    (row,) = credentialing.progress(northside.pk, [history["dana"].pk])
    assert row.total_passed == 2
    assert row.total_required == QASettings.objects.get(institution=northside).total_required


def test_progress_takes_a_constant_number_of_queries(history, northside, lung):
    credentialing.progress(northside.pk)  # settings made on first use
    with CaptureQueriesContext(connection) as few:
        credentialing.progress(northside.pk, [history["dana"].pk])
    for n in range(15):
        user = credentialing.Membership.objects.create(
            user=make_user(f"op{n}@example.org"),
            institution=northside,
            role="clinician",
        ).user
        reviewed(northside, user, lung, passed=n % 2 == 0)
    with CaptureQueriesContext(connection) as many:
        rows = credentialing.progress(northside.pk)
    assert len(rows) == 19
    assert len(many.captured_queries) == len(few.captured_queries) <= 6


def test_progress_of_another_institution_is_empty_of_this_ones_rows(history, southside):
    rows = credentialing.progress(southside.pk)
    assert {r.user.email for r in rows} == {"alice@example.org", "charlie@example.org"}
    assert all(t.passed == 0 and t.credential is None for r in rows for t in r.types)


# --- Pages: who sees what ------------------------------------------------------------


def test_a_member_sees_their_own_progress_with_bars(history, signed_in):
    response = signed_in("dana").get(reverse("qa-credentialing"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Your credentialing" in text
    assert '<progress max="3" value="2"' in text and "2 of 3" in text
    assert "In training" in text
    assert "Bob Reviewer" not in text


@pytest.mark.parametrize("name", ["alice", "lee"])
def test_leads_and_admins_see_the_department(history, signed_in, name):
    response = signed_in(name).get(reverse("qa-credentialing"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Dana Clinician" in text and "Bob Reviewer" in text
    assert "Credentialed (by count)" in text


def test_the_department_table_filters_sorts_and_pages(history, signed_in, lung):
    client = signed_in("alice")
    url = reverse("qa-credentialing")
    only = client.get(url, {"exam_type": "lung", "status": "count"}).content.decode()
    assert "Bob Reviewer" in only and "Dana Clinician" not in only
    training = client.get(url, {"exam_type": "lung", "status": "in_training"}).content.decode()
    assert "Dana Clinician" in training and "Bob Reviewer" not in training
    for hostile in (
        {"sort": "x\x00"},
        {"status": "'; drop"},
        {"page": "9" * 40},
        {"exam_type": "z" * 5000},
    ):
        assert client.get(url, hostile).status_code == 200
    first = client.get(url, {"sort": "passed"}).content.decode()
    assert first.index("Bob Reviewer") < first.index("Dana Clinician")
    assert "Page 1 of" in client.get(url).content.decode()


@pytest.mark.parametrize("viewer", ["bob", "dana"])
def test_another_members_page_is_a_404_for_an_operator(history, signed_in, viewer):
    other = history["alice"]
    assert (
        signed_in(viewer).get(reverse("qa-credentialing-member", args=[other.pk])).status_code
        == 404
    )
    assert (
        signed_in(viewer).get(reverse("qa-credentialing-letter", args=[other.pk])).status_code
        == 404
    )


def test_an_operator_sees_their_own_page_with_feedback(history, signed_in):
    dana = history["dana"]
    response = signed_in("dana").get(reverse("qa-credentialing-member", args=[dana.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Tilt the probe." in text and "Not passed" in text
    assert "QA reviewer" not in text  # who scored is for the leads
    assert "Grant privileges" not in text


def test_a_lead_opens_an_operators_page_but_does_not_grant(history, signed_in):
    response = signed_in("lee").get(reverse("qa-credentialing-member", args=[history["dana"].pk]))
    assert response.status_code == 200
    assert "Lee Lead" in response.content.decode()  # the QA reviewer column
    assert "Grant privileges" not in response.content.decode()


def test_another_institution_never_sees_northsides_members(history, signed_in):
    client = signed_in("charlie")
    for name in ("qa-credentialing-member", "qa-credentialing-letter"):
        assert client.get(reverse(name, args=[history["dana"].pk])).status_code == 404
    text = client.get(reverse("qa-credentialing")).content.decode()
    assert "Dana Clinician" not in text and "Bob Reviewer" not in text
    rows = client.get(reverse("qa-credentialing-csv"))
    assert "dana@example.org" not in b"".join(rows.streaming_content).decode()


def test_a_clinician_at_southside_does_not_reach_northside(history, signed_in):
    client = signed_in("alice", "southside")
    url = reverse("qa-credentialing-member", args=[history["dana"].pk])
    assert client.get(url).status_code == 404
    assert client.get(reverse("qa-credentialing-csv")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, history):
    response = client.get(reverse("qa-credentialing"))
    assert response.status_code == 302 and "login" in response["Location"]


# --- Grants ----------------------------------------------------------------------------


def grant_url(user):
    return reverse("qa-credentialing-grant", args=[user.pk])


def test_an_admin_grants_with_a_note_and_it_is_audited(history, signed_in, lung):
    dana = history["dana"]
    response = signed_in("alice").post(
        grant_url(dana), {"exam_type": lung.pk, "note": "Credentialed at St Elsewhere, 2024"}
    )
    assert response.status_code == 302
    credential = Credential.objects.get(user=dana, exam_type=lung)
    assert credential.basis == "grant" and credential.granted_by == history["alice"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.GRANT_CREDENTIAL)
    assert event.detail["note"] == "Credentialed at St Elsewhere, 2024"
    page = signed_in("dana").get(reverse("qa-credentialing")).content.decode()
    assert "Credentialed (granted by" in page and "St Elsewhere" in page


@pytest.mark.parametrize("viewer", ["bob", "lee", "dana", "charlie"])
def test_only_an_admin_grants(history, signed_in, lung, viewer):
    response = signed_in(viewer).post(
        grant_url(history["dana"]), {"exam_type": lung.pk, "note": "why not"}
    )
    assert response.status_code == 404
    assert not Credential.objects.filter(user=history["dana"]).exists()


@pytest.mark.parametrize(
    "note",
    ["", "   ", "nul \x00 byte", "x" * 100_000],
)
def test_a_bad_note_is_a_400(history, signed_in, lung, note):
    response = signed_in("alice").post(
        grant_url(history["dana"]), {"exam_type": lung.pk, "note": note}
    )
    assert response.status_code == 400
    assert not Credential.objects.filter(user=history["dana"]).exists()


@pytest.mark.parametrize("value", ["", "abc", "9" * 30, "-1", "\x00"])
def test_a_bad_exam_type_is_a_400(history, signed_in, value):
    response = signed_in("alice").post(
        grant_url(history["dana"]), {"exam_type": value, "note": "ok"}
    )
    assert response.status_code == 400


def test_another_institutions_exam_type_is_refused(history, signed_in, southside):
    other = exam_type(southside)
    response = signed_in("alice").post(
        grant_url(history["dana"]), {"exam_type": other.pk, "note": "ok"}
    )
    assert response.status_code == 400
    assert (
        not Credential.objects.exists() or not Credential.objects.filter(exam_type=other).exists()
    )


def test_granting_what_is_held_is_a_409(history, signed_in, lung):
    response = signed_in("alice").post(
        grant_url(history["bob"]), {"exam_type": lung.pk, "note": "ok"}
    )
    assert response.status_code == 409
    assert Credential.objects.get(user=history["bob"], exam_type=lung).basis == "count"


def test_a_credential_by_count_is_not_revoked_by_hand(history, signed_in, lung):
    url = reverse("qa-credentialing-revoke", args=[history["bob"].pk])
    response = signed_in("alice").post(url, {"exam_type": lung.pk, "reason": "moved away"})
    assert response.status_code == 409
    assert "earned by count" in response.content.decode()
    assert Credential.objects.filter(user=history["bob"], exam_type=lung).exists()


def test_an_admin_revokes_a_grant_with_a_reason(history, signed_in, northside, lung):
    dana = history["dana"]
    credentialing.grant(northside.pk, dana, lung, history["alice"], "Prior privileges")
    url = reverse("qa-credentialing-revoke", args=[dana.pk])
    client = signed_in("alice")
    assert client.post(url, {"exam_type": lung.pk, "reason": ""}).status_code == 400
    assert (
        client.post(url, {"exam_type": lung.pk, "reason": "Letter not received"}).status_code == 302
    )
    assert not Credential.objects.filter(user=dana, exam_type=lung).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVOKE_CREDENTIAL)
    assert (
        event.detail["reason"] == "Letter not received"
        and event.detail["note"] == "Prior privileges"
    )
    assert signed_in("bob").post(url, {"exam_type": lung.pk, "reason": "x"}).status_code == 404


def test_revoking_a_grant_keeps_a_credential_earned_meanwhile(history, northside, lung):
    dana, alice, lee = history["dana"], history["alice"], history["lee"]
    credentialing.grant(northside.pk, dana, lung, alice, "Prior privileges")
    last = reviewed(northside, dana, lung, passed=True, scored_by=lee)
    _, earned = credentialing.revoke(northside.pk, dana, lung, "Counted instead")
    assert earned is not None and earned.basis == "count" and earned.since == last.scored_at


def test_grant_refuses_a_non_member(history, southside, lung):
    with pytest.raises(credentialing.CredentialRefused):
        credentialing.grant(lung.institution_id, history["charlie"], lung, history["alice"], "x")


# --- The letter -------------------------------------------------------------------------


def pdf_text(response) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_the_letter_lists_credentials_and_is_audited(history, signed_in, northside, lung):
    bob = history["bob"]
    northside.time_zone = "Europe/Berlin"
    northside.save(update_fields=["time_zone"])
    response = signed_in("bob").get(reverse("qa-credentialing-letter", args=[bob.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response)
    assert "Northside Clinic" in text and "Bob Reviewer" in text
    assert "Credentialing letter" in text and "Lung" in text
    assert "By count of QA-passed exams" in text
    assert "Medical director" in text
    assert re.search(r"Issued on \d{4}-\d\d-\d\d \d\d:\d\d CET", text), text
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT_CREDENTIALS)
    assert event.detail["what"] == "letter" and event.detail["user"] == bob.pk


def test_the_letter_of_a_grant_names_who_granted_and_why(history, signed_in, northside, lung):
    dana = history["dana"]
    credentialing.grant(northside.pk, dana, lung, history["alice"], "Credentialed at St Elsewhere")
    response = signed_in("lee").get(reverse("qa-credentialing-letter", args=[dana.pk]))
    text = pdf_text(response)
    assert "Granted by Alice Admin" in text.replace("\u2068", "").replace("\u2069", "")
    assert "St Elsewhere" in text


# --- The log ----------------------------------------------------------------------------


def csv_of(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("name", ["alice", "lee"])
def test_the_log_has_a_row_per_scored_first_read_and_per_grant(
    history, signed_in, northside, lung, name
):
    credentialing.grant(
        northside.pk,
        history["dana"],
        exam_type(northside, "fast"),
        history["alice"],
        "=cmd|' /C calc'!A0",
    )
    first = QAReview.objects.filter(operator=history["dana"], state="done").first()
    Patient.objects.create(
        institution=northside, exam=first.exam, extra={"accession_number": "+ACC-7"}
    )
    response = signed_in(name).get(reverse("qa-credentialing-csv"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="credentialing-log-')
    rows = csv_of(response)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["record", "date", "operator"]
    reviews = [r for r in body if r[0] == "qa_review"]
    assert len(reviews) == 6  # dana's 3 scored and bob's 3; no pending, no second read
    grants = [r for r in body if r[0] == "grant"]
    assert len(grants) == 1 and grants[0][header.index("note")].startswith("'=")
    accession = header.index("accession")
    assert [r[accession] for r in reviews if r[accession]] == ["'+ACC-7"]
    assert {r[header.index("exam_id")] for r in reviews} >= {str(first.exam_id)}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_CREDENTIALS).count() == 1


@pytest.mark.parametrize("name", ["bob", "dana"])
def test_the_log_is_for_leads_and_admins(history, signed_in, name):
    assert signed_in(name).get(reverse("qa-credentialing-csv")).status_code == 404


def test_the_pages_take_a_constant_number_of_queries(history, signed_in, northside, lung):
    client = signed_in("alice")
    dana = history["dana"]
    urls = [reverse("qa-credentialing"), reverse("qa-credentialing-member", args=[dana.pk])]
    for url in urls:
        client.get(url)  # sessions and settings made on first use
    before = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        before.append(len(queries.captured_queries))
    for n in range(10):
        user = make_user(f"more{n}@example.org", f"More {n}")
        credentialing.Membership.objects.create(user=user, institution=northside, role="clinician")
        reviewed(northside, user, lung, passed=True, scored_by=history["lee"])
        reviewed(northside, dana, lung, passed=False, scored_by=user)
        credentialing.grant(northside.pk, user, lung, history["alice"], f"Elsewhere {n}")
    after = []
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        after.append(len(queries.captured_queries))
    assert after == before


@pytest.mark.parametrize("user_id", ["0", "99999999999999999999999", "2147483648"])
def test_a_member_id_out_of_range_is_a_404(history, signed_in, user_id):
    client = signed_in("alice")
    for name in ("qa-credentialing-member", "qa-credentialing-letter"):
        url = reverse(name, args=[1]).replace("/1/", f"/{user_id}/")
        assert client.get(url).status_code == 404
    url = reverse("qa-credentialing-grant", args=[1]).replace("/1/", f"/{user_id}/")
    assert client.post(url, {"exam_type": "1", "note": "x"}).status_code == 404
