"""Branded error pages (templates/404.html, 403.html, 500.html), with DEBUG off as in
production: the portal's frame, plain words and a way back; a 404 for another
institution's exam is the same page as for an address that never existed; the 500 page
renders with no request context and no database."""

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from tests.factories import make_exam

pytestmark = pytest.mark.urls("tests.error_urls")


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]


def main_of(response) -> str:
    """The page's <title> and <main>: what a reader sees of the error, without the
    per-request tokens of the frame."""
    html = response.content.decode()
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    main = re.search(r"<main\b.*?</main>", html, re.S).group(0)
    return title + main


@pytest.mark.django_db
def test_a_missing_page_is_the_portals_404_with_a_way_back(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'class="site-header"' in html  # the portal's frame
    assert "Skip to main content" in html
    assert f'href="{reverse("login")}"' in html  # signed out: the way back is to log in
    assert "no-such-page" not in main_of(response)  # nothing of the address is echoed


@pytest.mark.django_db
def test_another_institutions_exam_looks_like_any_404(client, bob, southside):
    """A reviewer of Northside opening a Southside exam learns nothing: the same page,
    the same words, as for an exam that does not exist."""
    theirs = make_exam(southside, patient_name="Sam Southside")
    client.force_login(bob)
    other = client.get(reverse("exam-detail", args=[theirs.pk]))
    missing = client.get(reverse("exam-detail", args=[theirs.pk + 1000]))
    nowhere = client.get("/no-such-page/")
    assert other.status_code == missing.status_code == nowhere.status_code == 404
    assert main_of(other) == main_of(missing) == main_of(nowhere)
    assert "Sam" not in other.content.decode()
    assert "Southside" not in main_of(other)
    assert f'href="{reverse("worklist")}"' in other.content.decode()


@pytest.mark.django_db
def test_the_api_still_answers_a_404_as_a_problem(client):
    response = client.get("/api/v1/no-such-operation/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
def test_a_refusal_is_the_portals_403(client, bob):
    client.force_login(bob)
    response = client.get("/test-errors/403/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You are not allowed to do this" in html
    assert "ask an administrator" in html
    assert "not for you" not in html  # the exception's words are for the log
    assert f'href="{reverse("home")}"' in html


@pytest.mark.django_db
def test_a_crash_is_the_portals_500_without_the_error(bob):
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    response = client.get("/test-errors/500/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "boom" not in html and "Traceback" not in html
    assert 'href="/"' in html
    assert "css/portal.css" in html


def test_the_500_page_needs_no_request_context_and_no_database():
    """Rendered the way Django renders it after a crash, outside any database access
    (this test has none: a query would fail it)."""
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert '<html lang="en">' in html
    assert "<main" in html and 'class="skip-link"' in html
    assert "favicon.svg" in html


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_svg(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("img/favicon.svg")


@pytest.mark.django_db
def test_a_refused_host_is_the_portals_plain_400(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    html = response.content.decode()
    assert "The request could not be understood" in html
    assert "evil.example" not in html
