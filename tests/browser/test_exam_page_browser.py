"""The exam page in a real browser: the image viewer zooms, report states update live."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import work
from portal.exams.models import Capture
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


def test_it_opens_a_capture_in_the_viewer_and_zooms(page, live_server, bob, exam, screenshot, axe):
    # The viewer itself is tried in depth by test_viewer_browser.py.
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    screenshot("exam-page-worksheet")
    page.click("a.zoomable >> nth=0")
    viewer = page.locator("#capture-viewer")
    assert viewer.is_visible()
    image = viewer.locator("img")
    assert "/captures/" in image.get_attribute("src")
    assert viewer.locator("#viewer-title").inner_text().startswith("Image 1 of 2")
    page.click('#capture-viewer [data-viewer="zoom-in"]')
    # Panzoom applies the zoom in the next animation frame.
    page.wait_for_function(
        "() => document.querySelector('#capture-viewer [data-viewer=zoom]').textContent === '150%'"
    )
    axe.check(page)
    page.click('#capture-viewer [data-viewer="close"]')
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


def test_it_shows_a_failure_and_the_retry_button_live(page, live_server, bob, exam, axe):
    report = sign(exam, bob)
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    item = page.locator(f'.report-item[data-report-id="{report.pk}"]')
    assert item.locator('[data-field="retry"]').is_hidden()
    badge = item.locator('[data-field="state"]')
    summary = item.locator('[data-field="summary"]')
    boom = 'POST http://clarius.test/reports/ → HTTP 500: {"detail": "boom"}'

    # A failed attempt waiting for its retry: the badge and the words say so, live.
    Report.objects.filter(pk=report.pk).update(
        attempts=2, last_error=boom, next_attempt_at=timezone.now() + timedelta(seconds=110)
    )
    page.wait_for_selector(f'.report-item[data-report-id="{report.pk}"][data-tone="retrying"]')
    assert badge.inner_text() == "Retrying to send to Clarius"
    assert "push-retrying" in badge.get_attribute("class")
    assert summary.inner_text() == (
        "Clarius answered with an error (HTTP 500); retrying in 2 minutes, "
        f"attempt 3 of {work.MAX_ATTEMPTS}."
    )
    assert boom not in summary.inner_text()
    item.locator("summary").click()  # the raw error, as technical detail
    assert item.locator('[data-field="last_error"]').inner_text() == boom
    axe.check(page)

    Report.objects.filter(pk=report.pk).update(
        state="failed", attempts=work.MAX_ATTEMPTS, next_attempt_at=None, last_error=boom
    )
    page.wait_for_selector(f'.report-item[data-report-id="{report.pk}"][data-state="failed"]')
    assert badge.inner_text() == "Not sent to Clarius"
    assert "push-failed" in badge.get_attribute("class")
    assert summary.inner_text() == (
        f"Clarius answered with an error (HTTP 500). Gave up after {work.MAX_ATTEMPTS} "
        "attempts: Retry now."
    )
    assert item.locator('[data-field="retry"]').is_visible()
    axe.check(page)


def test_it_follows_failing_downloads_and_puts_arrived_captures_in_place(
    page, live_server, bob, exam, axe
):
    # Signed first (the page then has no worksheet form; the captures are what is followed).
    sign(exam, bob)
    # Two more captures still to come: one waiting, one failed once and backing off.
    add_jpeg_captures(exam, 2)
    waiting, failing = exam.captures.order_by("-pk")[:2]
    Capture.objects.filter(pk=waiting.pk).update(state="pending", next_attempt_at=timezone.now())
    Capture.objects.filter(pk=failing.pk).update(
        state="pending",
        attempts=1,
        last_error="GET https://media.clarius.test/… → HTTP 503: busy",
        next_attempt_at=timezone.now() + timedelta(seconds=230),
    )
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/exams/{exam.pk}/")
    summary = page.locator(".media-state")
    assert "2 of 4 captures still downloading from Clarius." in summary.inner_text()
    assert (
        "1 capture failed to download: Clarius answered with an error (HTTP 503); "
        f"retrying in 4 minutes, attempt 2 of {work.MAX_ATTEMPTS}."
    ) in summary.inner_text()
    failing_place = page.locator(f'.gallery-item[data-capture-id="{failing.pk}"]')
    assert "retrying" in failing_place.locator('[data-field="capture-state"]').get_attribute(
        "class"
    )
    failing_place.locator('[data-field="capture-detail"] summary').click()  # the raw error
    assert "HTTP 503: busy" in failing_place.locator('[data-field="capture-detail"]').inner_text()
    axe.check(page)
    page.evaluate("window.notReloaded = true")

    # The waiting one arrives, the failing one gives up: the page follows by itself.
    Capture.objects.filter(pk=waiting.pk).update(
        state="done", file=Capture.objects.get(pk=exam.captures.order_by("pk")[0].pk).file
    )
    Capture.objects.filter(pk=failing.pk).update(
        state="failed", attempts=work.MAX_ATTEMPTS, next_attempt_at=None
    )
    page.wait_for_selector(
        f'.gallery-item[data-capture-id="{waiting.pk}"][data-capture-state="done"]'
    )
    page.wait_for_selector(
        f'.gallery-item[data-capture-id="{failing.pk}"][data-capture-state="failed"]'
    )
    arrived = page.locator(f'.gallery-item[data-capture-id="{waiting.pk}"]')
    assert arrived.locator("img").count() == 1
    assert arrived.locator('[data-field="capture-state"]').count() == 0
    assert (
        failing_place.locator('[data-field="capture-state"]')
        .inner_text()
        .startswith(
            "Could not be downloaded. Clarius answered with an error (HTTP 503). Gave up after"
        )
    )
    assert summary.inner_text() == (
        "1 capture could not be downloaded: Clarius answered with an error (HTTP 503). "
        f"Gave up after {work.MAX_ATTEMPTS} attempts."
    )
    assert page.evaluate("window.notReloaded") is True
    axe.check(page)
