"""The main pages, as each role, in a real browser under the Content-Security-Policy.

Every browser test fails on a violation (tests/browser/conftest.py); these walk the pages
no other browser test opens, and check that the watch and the report endpoint do see one.
"""

import time

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from clarius_sandbox.video import encode_clip
from tests.browser.test_login_browser import log_in
from tests.factories import add_stored_capture, make_exam
from tests.many_captures import add_captures
from tests.reports.conftest import add_jpeg_captures, sign

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError("timed out")


def add_clip(exam):
    """A playable H.264 clip, as the ingestion stores one."""
    return add_stored_capture(exam, "video/mp4", encode_clip(1, frames=8))


@pytest.fixture
def exam(settings, tmp_path, bob, northside, monkeypatch):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    exam = make_exam(northside, bob, patient_name="Nora North", captures=0)
    add_jpeg_captures(exam, 2)
    add_clip(exam)
    return exam


def visit(page, url):
    response = page.goto(url)
    assert response.status < 400, (url, response.status)
    # Every stylesheet and script came from the portal itself, and was allowed.
    assert page.evaluate("() => document.styleSheets.length") >= 1
    return response


def test_the_watch_catches_a_violation_and_the_browser_reports_it(
    page, live_server, db, csp_violations
):
    cache.clear()
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate("() => document.body.setAttribute('style', 'color: red')")
    violations = csp_violations.take()
    assert [v.get("directive") for v in violations if "directive" in v] == ["style-src-attr"]
    wait_until(lambda: cache.get("csp-violations:style-src-attr"))


def test_a_reviewer_walks_the_dashboard_worklist_and_an_exam_with_a_playing_clip(
    page, live_server, bob, exam, axe
):
    sign(exam, bob)
    log_in(page, live_server, "bob@example.org")
    for url in ("home", "worklist", "clarius-my-links", "password_change", "session-list"):
        visit(page, f"{live_server.url}{reverse(url)}")

    visit(page, f"{live_server.url}/exams/{exam.pk}/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.gallery img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # The clip plays in the viewer (opened from its thumbnail), then an image shows there.
    page.click('.gallery a[data-kind="clip"]')
    page.click('#capture-viewer [data-viewer="play"]')
    page.wait_for_function("() => document.querySelector('#capture-viewer video').currentTime > 0")
    axe.check(page)
    page.click('#capture-viewer [data-viewer="close"]')
    page.click("a.zoomable >> nth=0")
    page.wait_for_function("() => document.querySelector('#capture-viewer img').naturalWidth > 0")
    axe.check(page)
    page.click('#capture-viewer [data-viewer="close"]')

    for name in ("clarius-raw-data", "clarius-dicom"):
        visit(page, f"{live_server.url}{reverse(name, args=[exam.pk])}")
    visit(page, f"{live_server.url}{reverse('clarius-research')}")

    # The API's browsable pages, for a member signed in with a session.
    visit(page, f"{live_server.url}/api/v1/exams/")
    visit(page, f"{live_server.url}/api/v1/exams/{exam.pk}/")


def test_an_admin_walks_the_institution_pages(page, live_server, alice, bob):
    log_in(page, live_server, "alice@example.org")
    for url in (
        reverse("member-list"),
        reverse("institution-settings"),
        reverse("member-detail", args=[bob.memberships.get().pk]),
        reverse("clarius-institution-links"),
        reverse("audit-log"),
        reverse("api-keys"),
        reverse("worklist"),
    ):
        visit(page, f"{live_server.url}{url}")


def test_a_visitor_walks_the_login_reset_invitation_and_lockout_pages(
    page, live_server, bob, settings
):
    visit(page, f"{live_server.url}/accounts/login/")
    visit(page, f"{live_server.url}/accounts/password_reset/")
    page.fill("input[name=email]", "bob@example.org")
    page.click("button[type=submit]")
    assert "/accounts/password_reset/done/" in page.url
    visit(page, f"{live_server.url}/accounts/reset/MQ/not-a-token/")
    uid, token = urlsafe_base64_encode(force_bytes(bob.pk)), default_token_generator.make_token(bob)
    visit(page, f"{live_server.url}{reverse('password_reset_confirm', args=[uid, token])}")
    assert page.locator("input[name=new_password1]").count() == 1
    response = page.goto(f"{live_server.url}/no-such-page/")
    assert response.status == 404
    page.goto(f"{live_server.url}{reverse('invitation-open', args=['not-a-token'])}")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(page, live_server, "bob@example.org", "not-the-password")
    assert "Too many failed attempts" in page.locator("h1").inner_text()


def test_a_superuser_walks_every_admin_changelist_and_a_change_form(
    page, live_server, clarius_settings, northside, bob
):
    get_user_model().objects.create_superuser(email="root@example.org", password="pw-root-1")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "root@example.org")
    page.fill("input[name=password]", "pw-root-1")
    page.click("input[type=submit]")
    urls = [reverse("admin:index")]
    urls += [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    urls += [
        reverse("admin:tenants_institution_change", args=[northside.pk]),
        reverse("admin:accounts_user_change", args=[bob.pk]),
        reverse("admin:tenants_institution_add"),
    ]
    for url in urls:
        visit(page, f"{live_server.url}{url}")


def test_a_reviewer_pages_through_the_gallery_of_a_long_exam(page, live_server, bob, exam):
    add_captures(exam, 60)
    log_in(page, live_server, "bob@example.org")
    visit(page, f"{live_server.url}/exams/{exam.pk}/")
    page.locator(".gallery-pager a").last.click()
    assert "Page 2 of 2" in page.locator(".gallery-pager").inner_text()
