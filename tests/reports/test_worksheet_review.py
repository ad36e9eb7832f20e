"""The structured worksheet's rules: complete before signing, type changes on a draft,
versions that never change what was signed, attestation of trainees, addenda about
images that came after signing, and who may do each."""

from datetime import UTC

import pytest
from django.urls import reverse

from portal.exams.models import Capture, Exam
from portal.reports.models import Findings, Report
from portal.reports.review import (
    IncompleteWorksheet,
    InvalidWorksheet,
    ReviewRefused,
    add_addendum,
    attest_findings,
    fill_worksheet,
    findings_of,
    save_findings,
    sign_findings,
)
from portal.reports.views import worksheet_summary
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType, WorksheetTemplate
from tests.reports.conftest import complete_worksheet, sign, worksheet_post


def lung(institution):
    return ExamType.objects.get(institution=institution, code="lung")


def draft(exam, user, **changes):
    findings = findings_of(exam)
    findings.impression = "Normal lungs."
    complete_worksheet(findings)
    for name, value in changes.items():
        setattr(findings, name, value)
    save_findings(findings, user)
    return findings


def make_trainee(user, institution, trainee=True):
    Membership.objects.filter(user=user, institution=institution).update(is_trainee=trainee)


def test_signing_is_refused_field_by_field_while_incomplete(exams, users):
    exam = exams["north"]
    findings = findings_of(exam)
    fill_worksheet(findings, exam_type=lung(exam.institution), answers={}, views={}, key_images={})
    findings.impression = ""
    with pytest.raises(IncompleteWorksheet) as refused:
        sign_findings(findings, users["bob"])
    errors = refused.value.errors
    assert "right_sliding" in errors and "left_effusion" in errors
    assert "view:right_anterior" in errors and "impression" in errors
    assert not Findings.objects.filter(signed_at__isnull=False).exists()
    assert not Report.objects.exists()


def test_signing_without_an_exam_type_is_refused(exams, users):
    findings = findings_of(exams["north"])
    findings.impression = "Something."
    with pytest.raises(IncompleteWorksheet) as refused:
        sign_findings(findings, users["bob"])
    assert "exam_type" in refused.value.errors


def test_a_view_not_obtained_needs_a_reason_and_then_counts(exams, users):
    exam = exams["north"]
    findings = complete_worksheet(findings_of(exam))
    views = dict(findings.views)
    views["left_lateral"] = {"not_obtained": "  "}
    with pytest.raises(InvalidWorksheet) as refused:
        fill_worksheet(
            findings,
            exam_type=lung(exam.institution),
            answers=findings.answers,
            views=views,
            key_images={},
        )
    assert "view:left_lateral" in refused.value.errors
    views["left_lateral"] = {"not_obtained": "Chest drain dressing"}
    fill_worksheet(
        findings,
        exam_type=lung(exam.institution),
        answers=findings.answers,
        views=views,
        key_images={},
    )
    findings.impression = "Normal."
    assert sign_findings(findings, users["bob"]) is not None
    summary = worksheet_summary(Findings.objects.get(exam=exam))
    assert ("Left lateral", "Not obtained: Chest drain dressing") in summary["views"]


def test_invalid_values_and_foreign_key_images_are_refused(exams):
    exam = exams["north"]
    findings = findings_of(exam)
    other = Capture.objects.filter(exam=exams["alice_south"]).first()
    with pytest.raises(InvalidWorksheet) as refused:
        fill_worksheet(
            findings,
            exam_type=lung(exam.institution),
            answers={"right_sliding": "maybe", "nonsense": 1},
            views={"right_anterior": "sideways"},
            key_images={str(other.pk): "not ours", "x": "y"},
        )
    errors = refused.value.errors
    assert {"right_sliding", "nonsense", "view:right_anterior"} <= set(errors)
    assert f"key_images:{other.pk}" in errors and "key_images:x" in errors
    # Another institution's exam type is refused too.
    with pytest.raises(InvalidWorksheet):
        fill_worksheet(
            findings,
            exam_type=lung(exams["alice_south"].institution),
            answers={},
            views={},
            key_images={},
        )


def test_changing_the_type_on_a_draft_keeps_what_fits_and_says_what_does_not(login, exams):
    exam = exams["north"]
    client = login("bob")
    client.post(reverse("exam-findings", args=[exam.pk]), worksheet_post(exam))
    findings = Findings.objects.get(exam=exam)
    assert findings.answers["right_sliding"] == "present"
    # FAST's worksheet shares the eFAST lung-sliding codes only where they match.
    data = worksheet_post(exam, exam_type="fast")
    response = client.post(reverse("exam-findings", args=[exam.pk]), data, follow=True)
    page = response.content.decode()
    findings.refresh_from_db()
    exam.refresh_from_db()
    assert exam.exam_type.code == "fast" and exam.exam_type_confirmed
    assert findings.template.exam_type.code == "fast"
    assert "did not fit its worksheet and were left out" in page
    assert "Right hemithorax: B-lines" in page
    assert "right_b_lines" not in findings.answers


def test_an_edit_of_the_template_never_changes_a_signed_worksheet(exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    findings = Findings.objects.get(exam=exam)
    first = findings.template
    definition = dict(first.definition)
    definition["sections"] = [
        {**definition["sections"][0], "title": "Renamed by an administrator"},
        *definition["sections"][1:],
    ]
    WorksheetTemplate.objects.create(
        institution=exam.institution,
        exam_type=first.exam_type,
        version=first.version + 1,
        definition=definition,
    )
    findings.refresh_from_db()
    assert findings.template == first
    titles = [title for title, _ in worksheet_summary(findings)["sections"]]
    assert "Renamed by an administrator" not in titles


def test_a_trainee_signs_as_preliminary_and_an_attending_edits_and_attests(exams, users):
    exam = exams["north"]
    bob, alice = users["bob"], users["alice"]
    make_trainee(bob, exam.institution)
    findings = draft(exam, bob)
    assert sign_findings(findings, bob) is None  # held until attested (the default)
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.PRELIMINARY
    assert not Report.objects.exists()
    # The trainee cannot change it any more; the attending can, before attesting.
    findings = Findings.objects.get(exam=exam)
    findings.impression = "Trainee's second thoughts."
    with pytest.raises(ReviewRefused):
        save_findings(findings, bob)
    with pytest.raises(ReviewRefused, match="trainee cannot attest"):
        attest_findings(Findings.objects.get(exam=exam), bob)
    findings = Findings.objects.get(exam=exam)
    findings.impression = "Normal lungs; attending's wording."
    save_findings(findings, alice)
    report = attest_findings(findings, alice)
    findings.refresh_from_db()
    exam.refresh_from_db()
    assert (findings.signed_by, findings.signed_as_trainee) == (bob, True)
    assert findings.attested_by == alice
    assert findings.attestation_statement == exam.institution.attestation_statement
    assert exam.review_state == Exam.ReviewState.SIGNED
    assert report.version == 1 and "attested" in report.name
    with pytest.raises(ReviewRefused):
        attest_findings(findings, alice)  # once


def test_without_the_hold_a_trainee_report_goes_out_preliminary_then_final(exams, users):
    exam = exams["north"]
    exam.institution.hold_trainee_reports = False
    exam.institution.save()
    bob, alice = users["bob"], users["alice"]
    make_trainee(bob, exam.institution)
    preliminary = sign_findings(draft(exam, bob), bob)
    assert preliminary.name.startswith("Preliminary")
    final = attest_findings(Findings.objects.get(exam=exam), alice)
    assert (preliminary.version, final.version) == (1, 2)


def test_an_attending_signing_a_trainees_exam_attests_it(exams, users):
    exam = exams["north"]  # performed by bob
    make_trainee(users["bob"], exam.institution)
    sign(exam, users["alice"])
    findings = Findings.objects.get(exam=exam)
    assert findings.attested_by == users["alice"] and not findings.signed_as_trainee


def test_an_addendum_about_late_images_clears_the_flag(exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    late = exam.captures.first()
    Capture.objects.filter(pk=late.pk).update(after_signing=True)
    Exam.objects.filter(pk=exam.pk).update(new_images_since_signing=True)
    exam.refresh_from_db()
    addendum, _ = add_addendum(exam, users["bob"], "Two new views.", captures=[late.pk])
    exam.refresh_from_db()
    assert list(addendum.captures.all()) == [late]
    assert not exam.new_images_since_signing
    stranger = exams["alice_south"].captures.first()
    with pytest.raises(ReviewRefused, match="not one of this exam"):
        add_addendum(exam, users["bob"], "More.", captures=[stranger.pk])


@pytest.mark.parametrize("name", ["exam-review", "exam-impression", "exam-attest"])
def test_the_new_actions_follow_the_tenant_and_role_rules(login, exams, name):
    north, south = exams["north"], exams["alice_south"]
    assert login("charlie").post(reverse(name, args=[north.pk])).status_code == 404
    client = login("alice", "southside")  # a clinician there
    assert client.post(reverse(name, args=[south.pk]), worksheet_post(south)).status_code == 403
    assert client.post(reverse(name, args=[north.pk])).status_code == 404


def test_review_shows_the_report_before_signing_and_a_trainee_is_told(login, exams, users):
    exam = exams["north"]
    make_trainee(users["bob"], exam.institution)
    response = login("bob").post(reverse("exam-review", args=[exam.pk]), worksheet_post(exam))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Sign as preliminary" in page and "Lung sliding" in page
    assert not Findings.objects.get(exam=exam).is_signed


def test_report_names_carry_the_institutions_date_whatever_zone_the_request_runs_in(exams, users):
    from datetime import datetime

    from portal.reports.issuing import signed_name

    institution = exams["north"].institution
    institution.time_zone = "Pacific/Auckland"
    late_utc = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # Dec 2 in Auckland
    assert signed_name(late_utc, institution).endswith("2026-12-02")


def test_each_review_step_on_the_page_is_in_the_audit_log(login, exams, users):
    from portal.exams.models import AuditEvent

    exam = exams["north"]
    client = login("bob")
    client.post(reverse("exam-assign", args=[exam.pk]))
    client.post(reverse("exam-sign", args=[exam.pk]), worksheet_post(exam))
    client.post(reverse("exam-addendum", args=[exam.pk]), {"text": "More."})
    actions = list(
        AuditEvent.objects.filter(institution=exam.institution, object_id=str(exam.pk))
        .exclude(action="view_exam")
        .order_by("at")
        .values_list("action", "user__email")
    )
    assert actions == [
        ("assign_exam", "bob@example.org"),
        ("sign_findings", "bob@example.org"),
        ("add_addendum", "bob@example.org"),
    ]


def test_an_attestation_is_in_the_audit_log(login, exams, users):
    from portal.exams.models import AuditEvent

    exam = exams["north"]
    make_trainee(users["bob"], exam.institution)
    sign_findings(draft(exam, users["bob"]), users["bob"])
    response = login("alice").post(reverse("exam-attest", args=[exam.pk]))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="attest_findings")
    assert (event.user, event.object_id, event.detail) == (
        users["alice"],
        str(exam.pk),
        {"report_version": 1},
    )
