"""The exam page in a real browser: the image viewer zooms, report states update live."""

import pytest

from portal.reports.models import Report
from tests.browser.test_login_browser import log_in
from tests.factories import make_exam, mark_delivered
from tests.reports.conftest import add_jpeg_captures, sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def exam(settings, tmp_path, bob, northside, monkeypatch):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    # Nothing leaves the machine: the push is played by the test, not by Clarius.
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    exam = make_exam(northside, bob, patient_name="Nora North", captures=0)
    add_jpeg_captures(exam, 2)
    return exam


def test_it_opens_a_capture_full_size_and_zooms(page, live_server, bob, exam, screenshot):
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    screenshot("exam-page-worksheet")
    page.click("a.zoomable >> nth=0")
    viewer = page.locator("#capture-viewer")
    assert viewer.is_visible()
    image = viewer.locator("img")
    assert "/captures/" in image.get_attribute("src")
    image.click()
    assert "zoomed" in image.get_attribute("class")
    image.click()
    assert "zoomed" not in (image.get_attribute("class") or "")
    page.click("#capture-viewer button")
    assert not viewer.is_visible()


def test_it_follows_a_report_to_clarius_without_reloading(page, live_server, bob, exam, screenshot):
    report = sign(exam, bob)
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    item = page.locator(f'.report-item[data-report-id="{report.pk}"]')
    assert item.locator('[data-field="state"]').inner_text() == "Sending to Clarius"
    page.evaluate("window.notReloaded = true")

    mark_delivered(report)
    page.wait_for_selector(f'.report-item[data-report-id="{report.pk}"][data-state="pushed"]')
    assert item.locator('[data-field="state"]').inner_text() == "Sent to Clarius"
    assert page.locator("#review-state").inner_text() == "Reported to Clarius"
    assert page.evaluate("window.notReloaded") is True
    screenshot("exam-page")


def test_it_shows_a_failure_and_the_retry_button_live(page, live_server, bob, exam):
    report = sign(exam, bob)
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    item = page.locator(f'.report-item[data-report-id="{report.pk}"]')
    assert item.locator('[data-field="retry"]').is_hidden()

    Report.objects.filter(pk=report.pk).update(
        state="failed", next_attempt_at=None, last_error="ServerError: HTTP 503"
    )
    page.wait_for_selector(f'.report-item[data-report-id="{report.pk}"][data-state="failed"]')
    assert item.locator('[data-field="last_error"]').inner_text() == "ServerError: HTTP 503"
    assert item.locator('[data-field="retry"]').is_visible()
