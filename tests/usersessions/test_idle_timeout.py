"""The idle timeout: per institution, the strictest applies, background requests do not count."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.tenants.models import Institution, Membership
from portal.usersessions import policy
from portal.usersessions.models import UserSession
from tests.conftest import make_user
from tests.usersessions.conftest import age_session, sign_in

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_signs_out_a_session_idle_longer_than_the_default_30_minutes(client, bob):
    sign_in(client, bob.email)
    age_session(client, idle=29 * 60)
    assert client.get(reverse("home")).status_code == 200

    age_session(client, idle=31 * 60)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    page = client.get(response.url)
    assert "You were signed out after 30 minutes without activity." in page.content.decode()
    assert not UserSession.objects.filter(user=bob).exists()


def test_it_follows_the_institutions_own_idle_timeout(client, bob, northside):
    northside.idle_timeout_minutes = 10
    northside.save()
    sign_in(client, bob.email)
    age_session(client, idle=11 * 60)
    response = client.get(reverse("worklist"))
    assert response.status_code == 302
    assert "after 10 minutes without activity" in " ".join(messages_of(response))


def test_a_member_of_several_institutions_gets_the_strictest_timeout(client, alice, southside):
    # alice: administrator of Northside (30 minutes) and clinician at Southside (7).
    southside.idle_timeout_minutes = 7
    southside.save()
    sign_in(client, alice.email)
    assert client.get(reverse("home")).context["current_institution"].slug == "northside"
    age_session(client, idle=8 * 60)
    assert client.get(reverse("home")).status_code == 302


def test_an_inactive_institution_does_not_shorten_the_timeout(client, alice, southside):
    Institution.objects.filter(pk=southside.pk).update(idle_timeout_minutes=5, is_active=False)
    sign_in(client, alice.email)
    age_session(client, idle=20 * 60)
    assert client.get(reverse("home")).status_code == 200


def test_a_superuser_without_membership_gets_the_setting(client, settings, db):
    settings.PORTAL_SESSION_IDLE_MINUTES = 15
    admin = make_user("root@example.org")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    sign_in(client, admin.email)
    age_session(client, idle=14 * 60)
    assert client.get(reverse("session-status")).json()["seconds_left"] <= 60
    age_session(client, idle=2 * 60)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/login/" in response.url


def test_a_page_load_is_activity_that_extends_the_deadline(client, bob):
    sign_in(client, bob.email)
    age_session(client, idle=25 * 60)
    assert client.get(reverse("worklist")).status_code == 200
    age_session(client, idle=25 * 60)  # 50 minutes since sign-in, 25 since the last page
    assert client.get(reverse("worklist")).status_code == 200


def test_background_requests_do_not_extend_the_deadline(client, bob):
    sign_in(client, bob.email)
    background = {"HTTP_X_PORTAL_BACKGROUND": "1"}
    for _ in range(3):
        age_session(client, idle=9 * 60)
        # The exam page's polling and the warning's status check, every 9 minutes.
        assert client.get(reverse("session-status"), **background).status_code == 200
        assert client.get(reverse("worklist"), **background).status_code == 200
    # Over 30 minutes of background requests only: signed out.
    age_session(client, idle=4 * 60)
    response = client.get(reverse("session-status"), **background)
    assert response.status_code == 401
    assert response.json() == {"authenticated": False}
    assert client.get(reverse("home")).status_code == 302


def test_the_status_endpoint_never_counts_as_activity_even_without_the_header(client, bob):
    sign_in(client, bob.email)
    active = client.session[policy.ACTIVE]
    age_session(client, idle=5 * 60)
    data = client.get(reverse("session-status")).json()
    assert client.session[policy.ACTIVE] == active - 5 * 60
    assert data["authenticated"] is True
    assert 24 * 60 <= data["seconds_left"] <= 25 * 60
    assert data["warning_seconds"] == 60 and data["limit"] == "idle"


def test_an_api_call_with_an_idle_session_is_refused(client, bob):
    sign_in(client, bob.email)
    assert client.get("/api/v1/exams/").status_code == 200
    age_session(client, idle=31 * 60)
    assert client.get("/api/v1/exams/").status_code in (401, 403)


def test_activity_is_written_at_most_once_a_minute(client, bob):
    sign_in(client, bob.email)

    def writes():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("worklist")).status_code == 200
        sql = [q["sql"] for q in queries.captured_queries]
        return [s for s in sql if s.startswith("UPDATE") and "session" in s]

    assert writes() == []
    assert writes() == []
    age_session(client, idle=61)
    written = writes()
    assert any("usersessions_usersession" in s for s in written)
    assert any("django_session" in s for s in written)
    assert writes() == []


def test_the_keep_alive_writes_the_activity_at_once(client, bob):
    sign_in(client, bob.email)
    age_session(client, idle=29 * 60 + 10)
    response = client.post(reverse("session-keep-alive"))
    assert response.status_code == 200
    assert response.json()["seconds_left"] >= 30 * 60 - 2
    age_session(client, idle=20 * 60)
    assert client.get(reverse("home")).status_code == 200


def test_the_keep_alive_cannot_revive_an_expired_session(client, bob):
    sign_in(client, bob.email)
    age_session(client, idle=31 * 60)
    response = client.post(reverse("session-keep-alive"))
    assert response.status_code == 401
    assert "_auth_user_id" not in client.session


def test_the_keep_alive_needs_the_csrf_token(bob):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    sign_in_page = client.get(reverse("login"))
    token = sign_in_page.cookies["csrftoken"].value
    client.post(
        reverse("login"),
        {"username": bob.email, "password": "correct-horse-battery", "csrfmiddlewaretoken": token},
    )
    assert "_auth_user_id" in client.session
    assert client.post(reverse("session-keep-alive")).status_code == 403
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("session-keep-alive"), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def test_the_expired_page_sends_a_signed_out_tab_to_the_login_page(client, bob):
    sign_in(client, bob.email)
    age_session(client, idle=31 * 60)
    response = client.get(reverse("session-expired"), {"next": "/worklist/"})
    assert response.status_code == 302
    assert response.url == reverse("login") + "?next=/worklist/"


def test_the_expired_page_returns_a_tab_whose_session_another_tab_kept(client, bob):
    sign_in(client, bob.email)
    response = client.get(reverse("session-expired"), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == "/"
    response = client.get(reverse("session-expired"), {"next": "/worklist/"})
    assert response.url == "/worklist/"


def test_a_session_from_before_the_policy_is_signed_out(client, bob):
    sign_in(client, bob.email)
    session = client.session
    del session[policy.ACTIVE]
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert "Please sign in again" in " ".join(messages_of(response))


def test_signed_in_pages_carry_the_warning_settings_and_no_inline_script(client, bob):
    sign_in(client, bob.email)
    html = client.get(reverse("home")).content.decode()
    assert 'id="session-timeout"' in html
    assert 'data-warning-seconds="60"' in html
    assert 'data-seconds-left="1800"' in html or 'data-seconds-left="1799"' in html
    assert "js/session-timeout.js" in html
    assert "style=" not in html.split('id="session-timeout"')[1].split("</div>")[0]
    client.logout()
    assert "js/session-timeout.js" not in client.get(reverse("login")).content.decode()


def test_membership_roles_do_not_change_the_rule(client, northside):
    clinician = make_user("carol@example.org")
    Membership.objects.create(user=clinician, institution=northside, role="clinician")
    northside.idle_timeout_minutes = 5
    northside.save()
    sign_in(client, clinician.email)
    age_session(client, idle=5 * 60 + 1)
    assert client.get(reverse("home")).status_code == 302


def test_the_exam_pages_report_polling_does_not_keep_a_session_alive(client, bob, northside):
    from tests.factories import make_exam

    exam = make_exam(northside)
    sign_in(client, bob.email)
    url = reverse("exam-reports-json", args=[exam.pk])
    polling = {"HTTP_X_PORTAL_BACKGROUND": "1", "HTTP_ACCEPT": "application/json"}
    for _ in range(6):
        age_session(client, idle=5 * 60 - 5)
        assert client.get(url, **polling).status_code == 200
    age_session(client, idle=60)
    response = client.get(url, **polling)
    assert response.status_code == 302 and reverse("login") in response.url


def test_the_exam_page_script_marks_its_polling_as_background():
    from pathlib import Path

    # Every page's polling goes through the one poller, which sends the header.
    static = Path(__file__).resolve().parents[2] / "static/js"
    assert '"X-Portal-Background": "1"' in (static / "portal.js").read_text()
    for name in ("exam.js", "media-state.js", "clarius-links.js"):
        assert "window.portalPoll(" in (static / name).read_text(), name


@pytest.mark.parametrize("next_url", ["0", "worklist", "//evil.example/", "/\\evil.example"])
def test_the_expired_page_goes_back_only_to_a_path_on_this_site(client, bob, next_url):
    sign_in(client, bob.email)
    response = client.get(reverse("session-expired"), {"next": next_url})
    assert response.status_code == 302 and response.url == "/"


def test_reports_the_browser_sends_by_itself_are_not_activity(client, bob):
    sign_in(client, bob.email)
    age_session(client, idle=29 * 60)
    client.post(
        "/csp-report/",
        data=b'{"csp-report": {}}',
        content_type="application/csp-report",
        HTTP_SEC_FETCH_DEST="report",
    )
    age_session(client, idle=2 * 60)
    assert client.get(reverse("home")).status_code == 302
