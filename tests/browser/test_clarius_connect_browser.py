"""What `make demo` offers, in a real browser: Connect in Clarius, link, upload, exam lands."""

import time

import pytest
from playwright.sync_api import expect

from integrations.clarius.account.registration import wanted_settings
from integrations.clarius.clients import service_client
from integrations.clarius.models import ClariusLink
from portal.exams.models import Exam
from portal.tenants.models import Membership
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_connect_upload_review_sign_and_the_report_reaches_clarius(
    page,
    browser,
    live_server,
    clarius_sandbox,
    clarius_settings,
    settings,
    tmp_path,
    northside,
    bob,
    screenshot,
):
    """The whole journey: a clinician links and uploads; a reviewer signs; Clarius has the PDF."""
    settings.PORTAL_BASE_URL = live_server.url
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    with service_client() as client:
        client.update_settings(**wanted_settings())
    clinician = make_user("cleo@example.org", "Cleo Clinician")
    Membership.objects.create(user=clinician, institution=northside, role="clinician")
    sandbox_user = clarius_sandbox.add_user("Cleo Clinician", "cleo@example.org")

    page.goto(clarius_sandbox.pages_url)
    page.locator(f"form[action*='{sandbox_user.customer_token}/connect'] button").click()
    assert "/accounts/login/" in page.url
    assert sandbox_user.customer_token not in page.url
    hint = "Sign in to link your Clarius account to the portal."
    assert page.locator(".login-hint").inner_text() == hint
    page.fill("input[name=username]", "cleo@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Link your Clarius account to Northside Clinic"
    screenshot("link-confirm")
    page.click("button.primary")
    assert "being linked to Northside Clinic" in page.locator(".messages").inner_text()
    wait_until(lambda: ClariusLink.objects.filter(state="confirmed").exists())

    page.goto(clarius_sandbox.pages_url)
    page.locator(f"form[action*='{sandbox_user.customer_token}/exams'] button").click()
    exam = wait_until(lambda: Exam.objects.filter(status="ready").first())
    assert exam.institution == northside and exam.operator == clinician
    assert exam.captures.filter(state="done").count() == 4
    assert exam.captures.filter(content_type="video/mp4").exists()

    # A reviewer of the institution finds it on the worklist and opens it.
    reviewer = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    reviewer.set_default_timeout(15_000)
    reviewer.goto(f"{live_server.url}/accounts/login/")
    reviewer.fill("input[name=username]", bob.email)
    reviewer.fill("input[name=password]", PASSWORD)
    reviewer.click("button[type=submit]")
    reviewer.goto(f"{live_server.url}/worklist/")
    reviewer.click(f"a[href='/exams/{exam.pk}/']")
    # The click navigates: wait for the exam page before counting what it shows.
    reviewer.wait_for_url(f"**/exams/{exam.pk}/")
    expect(reviewer.locator('.gallery a[data-kind="image"]')).to_have_count(3)
    # Three images and the clip's poster frame.
    expect(reviewer.locator(".gallery img")).to_have_count(4)
    reviewer.wait_for_function(
        "() => [...document.querySelectorAll('.gallery img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    reviewer.screenshot(path=str(screenshot("exam-page-ultrasound")), full_page=True)
    # The clip plays in the capture viewer.
    reviewer.click('.gallery a[data-kind="clip"]')
    reviewer.click('#capture-viewer [data-viewer="play"]')
    reviewer.wait_for_function(
        "() => { const v = document.querySelector('#capture-viewer video');"
        " return v.videoWidth > 0 && v.currentTime > 0.2; }"
    )
    reviewer.screenshot(path=str(screenshot("viewer-clip")))
    reviewer.click('#capture-viewer [data-viewer="close"]')

    # The biliary worksheet: chosen, then every section normal and every view obtained.
    reviewer.select_option("[name=exam_type]", "biliary")
    with reviewer.expect_navigation():
        reviewer.click("#findings button:has-text('Save draft')")
    for button in reviewer.locator("button.normal-macro").all():
        button.click()
    for view in reviewer.locator(".view-row").all():
        view.locator("input[value=obtained]").check()
    reviewer.fill("[name=indication]", "Right upper quadrant pain.")
    reviewer.fill("[name=findings]", "Echogenic foci with posterior shadowing.")
    reviewer.fill("[name=impression]", "Cholelithiasis.")
    reviewer.select_option("[name=image_quality]", "4")
    reviewer.fill("[name=clinician_feedback]", "Good views.")
    with reviewer.expect_navigation():
        reviewer.click("#findings button.primary")  # Review and sign…
    with reviewer.expect_navigation():
        reviewer.click("button:has-text('Sign')")
    assert "Signed by Bob Reviewer" in reviewer.locator("#findings").inner_text()

    # Clarius (the sandbox) now shows the signed PDF on that exam's request.
    def report_at_clarius():
        page.goto(clarius_sandbox.pages_url)
        return "Ultrasound report" in page.locator("#exams").inner_text()

    wait_until(report_at_clarius)
    link = page.locator("#exams a[href^='/sandbox/reports/']").first
    pdf = page.request.get(clarius_sandbox.api_origin + link.get_attribute("href"))
    assert pdf.body().startswith(b"%PDF-")
    exam.refresh_from_db()
    assert exam.review_state == "reported"


def test_a_link_waiting_for_confirmation_updates_itself(page, live_server, bob, northside, axe):
    from datetime import timedelta

    from django.utils import timezone

    from tests.browser.test_login_browser import log_in

    link = ClariusLink.objects.create(
        token="eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY",
        user=bob,
        institution=northside,
        state="pending",
        attempts=1,
        last_error="POST http://clarius.test/confirm: connection failed (ConnectionError)",
        next_attempt_at=timezone.now() + timedelta(minutes=3, seconds=-5),
    )
    log_in(page, live_server, "bob@example.org")
    page.goto(f"{live_server.url}/clarius/links/")
    row = page.locator(f'tr[data-link-id="{link.pk}"]')
    assert row.locator('[data-field="state"]').inner_text() == "Waiting for confirmation"
    assert (
        row.locator('[data-field="help"]')
        .inner_text()
        .startswith("Clarius could not be reached; retrying in 3 minutes, attempt 2 of")
    )
    page.evaluate("window.notReloaded = true")

    ClariusLink.objects.filter(pk=link.pk).update(state="confirmed", last_error="")
    page.wait_for_selector(f'tr[data-link-id="{link.pk}"][data-state="confirmed"]')
    assert row.locator('[data-field="state"]').inner_text() == "Confirmed"
    assert row.locator('[data-field="help"]').is_hidden()
    assert page.evaluate("window.notReloaded") is True
    axe.check(page)
