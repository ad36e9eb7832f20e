"""What `make demo` offers, in a real browser: Connect in Clarius, link, upload, exam lands."""

import time

import pytest

from integrations.clarius.client import ServiceClient
from integrations.clarius.models import ClariusLink
from integrations.clarius.registration import wanted_settings
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


def test_a_clinician_connects_in_clarius_and_their_upload_lands_in_the_portal(
    page, live_server, clarius_sandbox, clarius_settings, settings, tmp_path, northside, screenshot
):
    settings.PORTAL_BASE_URL = live_server.url
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    with ServiceClient.from_settings() as client:
        client.update_settings(**wanted_settings())
    clinician = make_user("cleo@example.org", "Cleo Clinician")
    Membership.objects.create(user=clinician, institution=northside, role="clinician")
    sandbox_user = clarius_sandbox.add_user("Cleo Clinician", "cleo@example.org")

    page.goto(clarius_sandbox.pages_url)
    page.locator(f"form[action*='{sandbox_user.customer_token}/connect'] button").click()
    assert "/accounts/login/" in page.url
    assert sandbox_user.customer_token not in page.url
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
