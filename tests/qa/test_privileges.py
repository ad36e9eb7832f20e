# ruff: noqa: F811 (the fixtures imported below are arguments here)
"""Privileges gate the workflow: an operator not yet credentialed for an exam type signs
its exams as preliminary, until QA-passed exams (or an administrator's grant) credential
them; then their next exam of that type signs final and is only sampled.

bob is a reviewer at Northside and the operator of his exams; lee scores QA; alice is
the attending (an administrator) who attests.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.exams.models import Exam
from portal.qa import credentialing
from portal.qa.models import Credential, QAReview, QASettings
from portal.qa.scoring import score
from portal.reports.models import Report
from portal.reports.review import NotAllowed, attest_findings, findings_of
from portal.tenants.models import Membership
from tests.api.conftest import api, complete_answers  # noqa: F401
from tests.conftest import make_user
from tests.factories import make_exam
from tests.qa.credentialing_fixtures import exam_type, set_required
from tests.reports.conftest import FINDINGS, login, media_root, sign, users  # noqa: F401

REQUIRED = 2


@pytest.fixture
def program(trio, northside):
    QASettings.objects.update_or_create(
        institution=northside,
        defaults={
            "is_active": True,
            "privileges_gate": True,
            "sample_percent": 0,
            "double_read_percent": 0,
        },
    )
    set_required(exam_type(northside), REQUIRED)
    lee = make_user("lee@example.org", "Lee QA")
    Membership.objects.create(
        user=lee, institution=northside, role=Membership.Role.REVIEWER, is_qa_reviewer=True
    )
    alice, bob, _ = trio
    return {"alice": alice, "bob": bob, "lee": lee, "lung": exam_type(northside)}


def bobs_exam(northside, program):
    return make_exam(northside, program["bob"])


def settings_of(northside, **fields):
    QASettings.objects.filter(institution=northside).update(**fields)


def pass_qa(review, lee):
    return score(review, lee, image_quality=4, interpretation="agree", feedback="Good views.")


def test_an_uncredentialed_operator_signs_preliminary_and_another_attending_attests(
    northside, program
):
    exam = bobs_exam(northside, program)
    report = sign(exam, program["bob"], build=False)
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.PRELIMINARY
    assert report is None  # the institution holds the report until it is attested
    assert not Report.objects.filter(exam=exam).exists()
    review = QAReview.objects.get(exam=exam)
    assert review.reason == QAReview.Reason.IN_TRAINING and review.operator == program["bob"]
    with pytest.raises(NotAllowed):
        attest_findings(findings_of(exam), program["bob"])
    final = attest_findings(findings_of(exam), program["alice"])
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.SIGNED
    assert final is not None and "attested" in final.name


def test_without_holding_the_report_goes_out_named_preliminary(northside, program):
    northside.hold_trainee_reports = False
    northside.save(update_fields=["hold_trainee_reports"])
    exam = bobs_exam(northside, program)
    report = sign(exam, program["bob"], build=False)
    assert report is not None and report.name.startswith("Preliminary")
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.PRELIMINARY


def test_reaching_the_threshold_lifts_the_gate_from_the_next_exam(northside, program):
    bob, lee, alice, lung = program["bob"], program["lee"], program["alice"], program["lung"]
    for _ in range(REQUIRED):
        exam = bobs_exam(northside, program)
        sign(exam, bob, build=False)
        attest_findings(findings_of(exam), alice)
        assert not Credential.objects.filter(user=bob).exists()
        pass_qa(QAReview.objects.get(exam=exam), lee)
    credential = Credential.objects.get(user=bob, exam_type=lung)
    assert credential.basis == Credential.Basis.COUNT
    cell = credentialing.operator_progress(northside.pk, bob).for_type(lung.pk)
    assert cell.status == credentialing.BY_COUNT and cell.since == credential.since

    following = bobs_exam(northside, program)
    report = sign(following, bob, build=False)
    following.refresh_from_db()
    assert following.review_state == Exam.ReviewState.SIGNED
    assert report is not None and not report.name.startswith("Preliminary")
    # Credentialed now: not selected at 100% (the sample is 0% here).
    assert not QAReview.objects.filter(exam=following).exists()

    settings_of(northside, sample_percent=100)
    sampled = bobs_exam(northside, program)
    sign(sampled, bob, build=False)
    assert QAReview.objects.get(exam=sampled).reason == QAReview.Reason.SAMPLED


def test_a_failed_review_does_not_count(northside, program):
    bob, lee = program["bob"], program["lee"]
    for _ in range(REQUIRED):
        exam = bobs_exam(northside, program)
        sign(exam, bob, build=False)
        score(
            QAReview.objects.get(exam=exam),
            lee,
            image_quality=2,
            interpretation="agree",
        )
    assert not Credential.objects.filter(user=bob).exists()
    nxt = bobs_exam(northside, program)
    sign(nxt, bob, build=False)
    nxt.refresh_from_db()
    assert nxt.review_state == Exam.ReviewState.PRELIMINARY


def test_a_grant_lifts_the_gate(northside, program):
    credentialing.grant(
        northside.pk, program["bob"], program["lung"], program["alice"], "Credentialed elsewhere"
    )
    exam = bobs_exam(northside, program)
    assert sign(exam, program["bob"], build=False) is not None
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.SIGNED
    assert not QAReview.objects.filter(exam=exam).exists()


@pytest.mark.parametrize(
    "fields", [{"privileges_gate": False}, {"is_active": False}], ids=["gate off", "inactive"]
)
def test_without_the_gate_or_the_program_the_signature_is_final(northside, program, fields):
    settings_of(northside, **fields)
    exam = bobs_exam(northside, program)
    assert sign(exam, program["bob"], build=False) is not None
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.SIGNED


def test_a_reviewer_signing_someone_elses_exam_is_not_gated(northside, program):
    exam = make_exam(northside, program["lee"])
    sign(exam, program["bob"], build=False)
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.SIGNED


def test_the_api_sign_endpoint_is_gated_too(northside, program, api):
    exam = bobs_exam(northside, program)
    client = api("bob")
    etag = client.get(reverse("api-exam-findings", args=[exam.pk]))["ETag"]
    body = {**FINDINGS, "image_quality": 4, **complete_answers(exam)}
    saved = client.put_json(reverse("api-exam-findings", args=[exam.pk]), body, If_Match=etag)
    assert saved.status_code == 200, saved.content
    response = client.post_json(reverse("api-exam-sign", args=[exam.pk]))
    assert response.status_code == 202, response.content
    assert response.json()["review_state"] == "preliminary"
    assert "trainee" not in response.json()["detail"]
    assert QAReview.objects.get(exam=exam).reason == QAReview.Reason.IN_TRAINING
    attest = client.post_json(reverse("api-exam-attest", args=[exam.pk]))
    assert attest.status_code == 403


def test_the_exam_page_offers_attestation_to_another_attending_only(northside, program, client):
    exam = bobs_exam(northside, program)
    sign(exam, program["bob"], build=False)
    url = reverse("exam-detail", args=[exam.pk])
    client.force_login(program["bob"])
    own = client.get(url).content.decode()
    assert "Review and attest" not in own
    assert "Preliminary (awaiting attestation)" in own
    client.force_login(program["alice"])
    theirs = client.get(url).content.decode()
    assert "Review and attest" in theirs


def test_the_signed_event_says_preliminary_then_final_for_partner_deliveries(
    northside, program, monkeypatch
):
    from portal import events

    heard = []
    monkeypatch.setattr(
        events, "_subscribers", [*events.subscribers(), lambda t, e, **d: heard.append((t, d))]
    )
    northside.hold_trainee_reports = False
    northside.save(update_fields=["hold_trainee_reports"])
    exam = bobs_exam(northside, program)
    sign(exam, program["bob"], build=False)
    attest_findings(findings_of(exam), program["alice"])
    signed = [d for t, d in heard if t == events.EXAM_SIGNED]
    assert [d["report_status"] for d in signed] == ["preliminary", "final"]
    assert [d["report_version"] for d in signed] == [1, 2]
