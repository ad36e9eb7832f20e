# ruff: noqa: F811 (the fixtures imported below are arguments here)
"""A QA reviewer's day and an operator earning privileges, in a real browser.

Bob is a reviewer at Northside who scans and documents his own lung exams; the
institution runs its QA program with the privileges gate and asks for one QA-passed lung
exam. His first exam signs as preliminary and goes to the QA queue; Lee, a QA reviewer,
finds it in the queue, scores it with the ACEP rubric and writes feedback ("Score and
next"). Bob finds the feedback in his inbox and on his credentialing page, now
*credentialed by count*, and his next lung exam signs final: the attestation requirement
lifted by itself. Every page is checked by axe-core at desktop and phone sizes.
"""

import pytest

from portal.exams.models import Exam
from portal.qa.models import Credential, QAReview, QASettings
from portal.reports.models import Findings
from portal.reports.review import findings_of
from portal.tenants.models import Membership
from tests.browser.test_login_browser import log_in
from tests.conftest import make_user
from tests.factories import make_exam
from tests.qa.credentialing_fixtures import exam_type, set_required
from tests.reports.conftest import complete_worksheet, sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def program(settings, tmp_path, trio, northside, monkeypatch):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    # The worker is played by nobody: the reports stay where signing left them.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    QASettings.objects.update_or_create(
        institution=northside,
        defaults={
            "is_active": True,
            "privileges_gate": True,
            "sample_percent": 0,
            "double_read_percent": 0,
        },
    )
    lung = exam_type(northside)
    set_required(lung, 1)
    lee = make_user("lee@example.org", "Lee QA")
    Membership.objects.create(
        user=lee, institution=northside, role=Membership.Role.REVIEWER, is_qa_reviewer=True
    )
    alice, bob, _ = trio
    return {"bob": bob, "lee": lee, "lung": lung}


def test_a_qa_reviewers_day_lifts_an_operators_attestation_requirement(
    browser, viewport, live_server, northside, program
):
    phone = viewport["width"] < 600
    size = {"viewport": viewport, "is_mobile": phone, "has_touch": phone}
    bob, lee, lung = program["bob"], program["lee"], program["lung"]
    first = make_exam(northside, bob, patient_name="Nora North", captures=2)
    assert sign(first, bob, build=False) is None  # held: preliminary, awaiting attestation
    first.refresh_from_db()
    assert first.review_state == Exam.ReviewState.PRELIMINARY
    review = QAReview.objects.get(exam=first)
    assert (review.reason, review.assignee) == (QAReview.Reason.IN_TRAINING, lee)

    # Lee's day: the queue, the exam with its rubric, a score and feedback.
    qa = browser.new_page(**size)
    log_in(qa, live_server, "lee@example.org")
    qa.goto(f"{live_server.url}/qa/")
    row = qa.locator("main table tbody tr").filter(has_text="Not yet credentialed")
    assert row.count() == 1
    row.locator("a").first.click()
    qa.wait_for_selector("form.qa-score-form")
    assert "Minimal criteria met" in qa.locator("main").inner_text()  # ACEP definitions shown
    qa.check("#quality-4")
    qa.check("input[name=interpretation][value=agree]")
    qa.fill("textarea[name=feedback]", "Good sweep of both lungs; add the bases next time.")
    qa.click("button[name=then][value=next]")
    qa.wait_for_load_state()
    review.refresh_from_db()
    assert (review.state, review.passed, review.scored_by) == ("done", True, lee)
    qa.goto(f"{live_server.url}/qa/reviews/{review.pk}/")
    assert "QA passed" in qa.locator("main").inner_text()
    qa.close()

    # Bob: the feedback reached him, and the count credentialed him.
    credential = Credential.objects.get(user=bob, exam_type=lung)
    assert credential.basis == Credential.Basis.COUNT
    operator = browser.new_page(**size)
    log_in(operator, live_server, "bob@example.org")
    operator.goto(f"{live_server.url}/inbox/")
    assert "QA feedback on your" in operator.locator("main").inner_text()
    operator.goto(f"{live_server.url}/qa/credentialing/")
    text = operator.locator("main").inner_text()
    assert "Credentialed (by count)" in text
    operator.click("text=Your QA feedback")
    assert "add the bases next time" in operator.locator("main").inner_text()

    # His next lung exam signs final: no attestation, no QA at 100 %.
    second = make_exam(northside, bob, patient_name="Otto Other", captures=1)
    findings = findings_of(second)
    findings.template = lung.current_template()
    complete_worksheet(findings)
    findings.impression = "Normal lung ultrasound."
    findings.save()
    Exam.objects.filter(pk=second.pk).update(exam_type=lung)
    operator.goto(f"{live_server.url}/exams/{second.pk}/")
    operator.click("text=Review and sign…")
    assert "preliminary" not in operator.locator("main").inner_text().lower()
    operator.click("button.primary:has-text('Sign')")
    operator.wait_for_selector("#reports")
    second.refresh_from_db()
    assert second.review_state == Exam.ReviewState.SIGNED
    assert not Findings.objects.get(exam=second).signed_as_trainee
    assert not QAReview.objects.filter(exam=second).exists()
    operator.close()
