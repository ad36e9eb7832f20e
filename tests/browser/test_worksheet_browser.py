"""The worksheet in a real browser, from an exam Clarius sent to the PDF Clarius received.

A reviewer opens a new lung exam (the type proposed from the Clarius application), fills
every section with its Normal macro, marks one view not obtained with a reason, picks two
key images with captions, writes the interpretation from the answers, sees the report
before signing, and signs. A trainee signs another exam as preliminary and an attending
attests it. The PDFs the sandbox holds carry the exam type, the scan time in the
institution's zone, the structured sections and captions, both signatures, no QA text,
and patient names in Chinese and Arabic, drawn (not blank boxes).
"""

import zoneinfo

import pypdfium2
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from portal import storage
from portal.exams.models import Exam
from portal.reports import tasks
from portal.reports.models import Findings, Report
from portal.tenants.models import Membership
from tests.browser.test_login_browser import log_in
from tests.clarius.flow import deliver, link_confirmed, run_due_work
from tests.reports.test_report_push import sandbox_reports

pytestmark = pytest.mark.django_db(transaction=True)

CHINESE = {"first_name": "小明", "last_name": "王", "identifier": "MRN-CN-1"}
ARABIC = {"first_name": "محمد", "last_name": "عبد الله", "identifier": "MRN-AR-1"}


@pytest.fixture
def clinic(settings, tmp_path, clarius_settings, clarius_sandbox, bob, northside, monkeypatch):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    # The worker is played by the test (run_due_work, push): nothing runs behind its back.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    northside.time_zone = "Asia/Tokyo"
    northside.save()
    clarius_sandbox.state.send_application = True
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


def upload(sandbox, sandbox_user, patient):
    request = sandbox.upload_exam(
        sandbox_user, captures=3, videos=0, notify=False, patient=patient, application="Lung"
    )
    deliver(request)
    run_due_work()
    exam = Exam.objects.get(exam_uuid=request.exam_uuid)
    assert exam.exam_type.code == "lung" and not exam.exam_type_confirmed
    return exam, request


def send(report):
    """Draw and deliver the version as the worker would."""
    for _ in range(3):
        tasks.push_report(report.pk)
        report.refresh_from_db()
        if report.state == Report.State.PUSHED:
            return report
    raise AssertionError(f"not pushed: {report.state} {report.last_error}")


def received_pdf(sandbox, request, report):
    """The PDF the sandbox received for ``report`` (by checksum), as text and a reader."""
    held = {r["sha256"] for r in sandbox_reports(sandbox, request.request_uuid)}
    assert report.sha256 in held
    path = storage.local_file(report.file)
    reader = PdfReader(path)
    return " ".join(page.extract_text() for page in reader.pages), path


def dark_pixels_of(path, page_index=0):
    """How many dark pixels the page's top part has: names drawn as glyphs, not nothing."""
    document = pypdfium2.PdfDocument(str(path))
    image = document[page_index].render(scale=1.5).to_pil().convert("L")
    top = image.crop((0, 0, image.width, image.height // 3))
    return sum(1 for value in top.getdata() if value < 128)


def test_a_reviewer_documents_previews_and_signs_a_lung_exam(
    page, live_server, bob, clinic, clarius_sandbox, screenshot
):
    exam, request = upload(clarius_sandbox, clinic, CHINESE)
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    assert page.locator("select[name=exam_type]").input_value() == "lung"
    assert "(proposed)" in page.locator(".exam-meta").inner_text()

    for button in page.locator("button.normal-macro").all():
        button.click()
    template = exam.exam_type.current_template()
    views = [view["code"] for view in template.definition["views"]]
    for code in views[:-1]:
        page.check(f'input[name="view__{code}"][value="obtained"]')
    page.check(f'input[name="view__{views[-1]}"][value="not_obtained"]')
    page.fill(f'input[name="reason__{views[-1]}"]', "Chest drain dressing in the way")
    captures = list(exam.captures.order_by("position"))
    for capture, caption in zip(
        captures[:2], ["Right anterior, sliding", "Left B-lines"], strict=True
    ):
        page.check(f'input[name="key__{capture.pk}"]')
        page.fill(f'input[name="caption__{capture.pk}"]', caption)
    page.click("button.build-impression")
    expect(page.locator("textarea[name=impression]")).not_to_have_value("")
    page.fill("textarea[name=clinician_feedback]", "QA-ONLY feedback: nice sweep.")
    screenshot("worksheet-filled")

    page.click("text=Review and sign…")
    assert page.locator("h1").inner_text() == "Sign this report?"
    body = page.locator("main").inner_text()
    assert "Not obtained: Chest drain dressing in the way" in body
    assert "Right anterior, sliding" in body and "Left B-lines" in body
    screenshot("sign-confirm")
    page.click("button:has-text('Sign')")
    page.wait_for_selector("#reports")
    assert "Signed." in page.locator(".messages").inner_text()

    findings = Findings.objects.get(exam=exam)
    assert findings.is_signed and len(findings.key_images) == 2
    report = send(Report.objects.get(exam=exam))
    text, path = received_pdf(clarius_sandbox, request, report)
    flat = " ".join(text.split())
    assert "Lung" in flat
    local = exam.first_submitted_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert local.strftime("%Y-%m-%d %H:%M") in flat and "JST" in flat
    assert "Right anterior, sliding" in flat and "Left B-lines" in flat
    assert "Chest drain dressing in the way" in flat
    assert "QA-ONLY" not in flat and "Image quality" not in flat
    assert "小明" in text.replace(" ", "") and "王" in text
    assert dark_pixels_of(path) > 2000


def test_a_trainee_signs_and_an_attending_attests(
    browser, live_server, alice, bob, northside, clinic, clarius_sandbox
):
    Membership.objects.filter(user=bob, institution=northside).update(is_trainee=True)
    exam, request = upload(clarius_sandbox, clinic, ARABIC)
    trainee = browser.new_page()
    log_in(trainee, live_server, "bob@example.org")
    trainee.goto(f"{live_server.url}/exams/{exam.pk}/")
    for button in trainee.locator("button.normal-macro").all():
        button.click()
    template = exam.exam_type.current_template()
    for view in template.definition["views"]:
        trainee.check(f'input[name="view__{view["code"]}"][value="obtained"]')
    trainee.fill("textarea[name=impression]", "Normal lung ultrasound.")
    trainee.click("text=Review and sign…")
    assert "preliminary" in trainee.locator("main").inner_text()
    trainee.click("button:has-text('Sign as preliminary')")
    trainee.wait_for_selector("#reports")
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.PRELIMINARY
    assert not Report.objects.filter(exam=exam).exists()  # held until attested
    trainee.close()

    attending = browser.new_page()
    log_in(attending, live_server, "alice@example.org")
    attending.goto(f"{live_server.url}/exams/{exam.pk}/")
    assert "As the attending you may edit it" in attending.locator("#findings").inner_text()
    attending.fill("textarea[name=impression]", "Normal lung ultrasound; agree.")
    attending.click("text=Review and attest…")
    assert attending.locator("h1").inner_text() == "Attest this report?"
    attending.click("button:has-text('Attest and send the report')")
    attending.wait_for_selector("#reports")
    exam.refresh_from_db()
    assert exam.review_state == Exam.ReviewState.SIGNED
    findings = Findings.objects.get(exam=exam)
    assert (findings.signed_by, findings.attested_by) == (bob, alice)
    assert findings.impression == "Normal lung ultrasound; agree."

    report = send(Report.objects.get(exam=exam))
    text, path = received_pdf(clarius_sandbox, request, report)
    flat = " ".join(text.split())
    assert "Attested by" in flat and "trainee" in flat.lower()
    letters = set("محمدعبدالله")
    assert letters <= set(text)
    assert dark_pixels_of(path) > 2000
    attending.close()


def test_the_draft_saves_itself_and_leaving_with_unsaved_edits_asks_first(
    page, live_server, bob, clinic, clarius_sandbox
):
    exam, _ = upload(clarius_sandbox, clinic, {"first_name": "Ada", "last_name": "Auto"})
    page.clock.install()
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    page.fill("textarea[name=impression]", "Typed, never saved by hand.")
    assert "Unsaved changes" in page.locator(".autosave-state").inner_text()

    # Leaving now asks first (the browser's own "leave the site?" dialog).
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.evaluate("window.location.href = '/worklist/'")
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert f"/exams/{exam.pk}/" in page.url

    page.clock.fast_forward(21_000)
    expect(page.locator(".autosave-state")).to_contain_text("Draft saved automatically")
    findings = Findings.objects.get(exam=exam)
    assert findings.impression == "Typed, never saved by hand."
    assert not findings.is_signed
    # Saved: leaving asks nothing.
    page.goto(f"{live_server.url}/worklist/")
    assert dialogs == ["beforeunload"]
