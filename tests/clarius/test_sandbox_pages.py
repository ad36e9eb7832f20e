"""The sandbox's web page, the clinician's side of Clarius Cloud."""

import re

import pytest
import requests


@pytest.fixture
def browser(clarius_sandbox):
    session = requests.Session()
    session.trust_env = False
    return session


def page(sandbox, browser):
    r = browser.get(sandbox.pages_url, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    return r.text


def test_the_page_uses_no_outside_assets(clarius_sandbox, browser):
    html = page(clarius_sandbox, browser)
    assert "<script" not in html
    assert not re.search(r"""(src|href)=['"]?https?://""", html)


def test_the_root_leads_to_the_page(clarius_sandbox, browser):
    r = browser.get(clarius_sandbox.api_origin + "/", timeout=5)
    assert r.url == clarius_sandbox.pages_url


def test_it_adds_a_user_and_shows_the_token_masked(clarius_sandbox, browser):
    r = browser.post(
        clarius_sandbox.pages_url + "users",
        data={"name": "Dr. Jane Doe", "email": "jane@example.com"},
        allow_redirects=False,
    )
    assert r.status_code == 303
    (user,) = clarius_sandbox.state.users.values()
    assert (user.name, user.email) == ("Dr. Jane Doe", "jane@example.com")
    html = page(clarius_sandbox, browser)
    assert "Dr. Jane Doe" in html
    assert f"{user.customer_token[:6]}…{user.customer_token[-4:]}" in html


def test_connect_explains_when_no_token_transfer_url_is_registered(clarius_sandbox, browser):
    user = clarius_sandbox.add_user("Ann")
    r = browser.get(f"{clarius_sandbox.pages_url}users/{user.customer_token}/connect", timeout=5)
    assert r.status_code == 200
    assert "token_transfer_url" in r.text


def test_connect_sends_the_browser_to_the_token_transfer_url(clarius_sandbox, browser):
    clarius_sandbox.state.settings["token_transfer_url"] = (
        "http://127.0.0.1:8000/clarius/connect/{token}/"
    )
    user = clarius_sandbox.add_user("Ann")
    r = browser.get(
        f"{clarius_sandbox.pages_url}users/{user.customer_token}/connect",
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 302
    assert r.headers["Location"] == f"http://127.0.0.1:8000/clarius/connect/{user.customer_token}/"


def test_upload_exam_creates_an_exam_and_notifies(
    clarius_sandbox, browser, clarius_webhook_receiver
):
    clarius_sandbox.state.settings["notification_url"] = clarius_webhook_receiver.url
    user = clarius_sandbox.add_user("Ann")
    r = browser.post(
        f"{clarius_sandbox.pages_url}users/{user.customer_token}/exams",
        data={"captures": "2", "videos": "0"},
        allow_redirects=False,
    )
    assert r.status_code == 303
    (exam,) = clarius_sandbox.state.exams.values()
    assert [c.kind for c in exam.captures] == ["image", "image"]
    clarius_sandbox.wait_for_deliveries()
    assert clarius_webhook_receiver.received[0].json()["exam_uuid"] == exam.exam_uuid
    html = page(clarius_sandbox, browser)
    assert exam.exam_uuid in html
    assert "HTTP 200" in html  # the recent notifications table


def test_reports_are_listed_and_downloadable(clarius_sandbox, browser):
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    report = clarius_sandbox.state.add_report(
        submission.request_uuid, "Radiology report", "findings.pdf", "application/pdf", b"%PDF-1"
    )
    html = page(clarius_sandbox, browser)
    assert "Radiology report" in html
    r = browser.get(f"{clarius_sandbox.pages_url}reports/{report.report_id}", timeout=5)
    assert r.content == b"%PDF-1"
    assert r.headers["Content-Type"] == "application/pdf"
    assert 'filename="findings.pdf"' in r.headers["Content-Disposition"]


def test_a_capture_link_redirects_to_a_fresh_signed_url(clarius_sandbox, browser):
    submission = clarius_sandbox.upload_exam(
        clarius_sandbox.add_user("Ann"), captures=1, videos=0, notify=False
    )
    capture_uuid = submission.capture_uuids[0]
    r = browser.get(f"{clarius_sandbox.pages_url}captures/{capture_uuid}", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/jpeg"


def test_a_cross_origin_form_post_is_refused(clarius_sandbox, browser):
    r = browser.post(
        clarius_sandbox.pages_url + "users",
        data={"name": "Mallory"},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert r.status_code == 403
    assert clarius_sandbox.state.users == {}


def test_the_reset_button_empties_the_sandbox(clarius_sandbox, browser):
    clarius_sandbox.add_user("Ann")
    r = browser.post(clarius_sandbox.pages_url + "reset", allow_redirects=False)
    assert r.status_code == 303
    assert clarius_sandbox.state.users == {}
