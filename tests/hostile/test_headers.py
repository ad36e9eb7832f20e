"""Whatever headers a client sends, the login page, the webhook and the API answer without
a 5xx, and what they store from a header is storable.

Header values as a server hands them on: any bytes read as Latin-1 (NUL and every C0/C1
control included), plus the lone surrogates an unusual server or a test client may
pass; sometimes very long. On the headers the portal reads or stores: the
User-Agent and Accept (django-axes and the session list store them), the session cookie
(looked up in the database), X-Forwarded-For, X-Portal-Institution (looked up by the
API), Authorization, Range, Referer and Origin (CSRF).
"""

import json
import uuid

import pytest
from axes.models import AccessAttempt, AccessLog
from django.test import Client
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from integrations.clarius.models import ClariusLink, NotificationEndpoint, NotificationReceipt
from portal.text import has_unstorable
from portal.usersessions.models import UserSession
from tests.conftest import PASSWORD

pytestmark = pytest.mark.hostile

TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"
API = "https://cloud.clarius.com/api/public/v0/"
HEADERS = [
    "HTTP_USER_AGENT",
    "HTTP_ACCEPT",
    "HTTP_COOKIE",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_PORTAL_INSTITUTION",
    "HTTP_AUTHORIZATION",
    "HTTP_RANGE",
    "HTTP_REFERER",
    "HTTP_ORIGIN",
    "HTTP_ACCEPT_LANGUAGE",
]
characters = st.one_of(
    st.characters(max_codepoint=0xFF),
    st.sampled_from("\x00\x01\x1b\x7f\x85\xff\ud800\udfff;=,\"'\\ "),
)
values = st.one_of(
    st.text(alphabet=characters, max_size=60),
    st.tuples(st.sampled_from("x\x00é"), st.integers(256, 20_000)).map(lambda p: p[0] * p[1]),
)
headers = st.dictionaries(st.sampled_from(HEADERS), values, min_size=1, max_size=3)


def rows():
    return {
        "attempts": AccessAttempt.objects.count(),
        "logs": AccessLog.objects.count(),
        "sessions": UserSession.objects.count(),
        "receipts": NotificationReceipt.objects.count(),
    }


def answered(response, sent):
    assert response.status_code < 500, response.content[:300]
    unstorable = any(has_unstorable(value) for value in sent.values())
    event(f"HTTP {response.status_code}{' (unstorable header)' if unstorable else ''}")


def stored_headers_are_storable():
    for session in UserSession.objects.all():
        assert not has_unstorable(session.user_agent) and len(session.user_agent) <= 300
    for row in [*AccessLog.objects.all(), *AccessAttempt.objects.all()]:
        assert not has_unstorable(row.user_agent) and not has_unstorable(row.http_accept)


@pytest.fixture
def targets(db, bob, northside, monkeypatch, settings):
    from tests.api.keyring import key_for

    settings.PORTAL_API_KEY_RATE = "1000000/min"  # every example with the one key

    endpoint = NotificationEndpoint.objects.create()
    ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
    )
    monkeypatch.setattr("portal.work.registry.enqueue", lambda *args: None)
    return {
        "webhook": reverse("clarius-notifications", args=[endpoint.secret]),
        "token": key_for(bob, scope="read"),
    }


@given(sent=headers, right_password=st.booleans())
def test_the_login_page_never_answers_5xx_whatever_the_headers(targets, sent, right_password):
    AccessAttempt.objects.all().delete()  # each example starts below the lockout
    answered(Client().get(reverse("login"), **sent), sent)
    before = rows()
    password = PASSWORD if right_password else "not the password"
    response = Client().post(
        reverse("login"), {"username": "bob@example.org", "password": password}, **sent
    )
    answered(response, sent)
    # One session for a sign-in, none otherwise; whatever was stored can be stored.
    signed_in = response.status_code == 302 and "/login/" not in response["Location"]
    assert rows()["sessions"] == before["sessions"] + (1 if signed_in else 0)
    stored_headers_are_storable()


@given(sent=headers)
def test_the_webhook_never_answers_5xx_whatever_the_headers(targets, sent):
    request_uuid = uuid.uuid4()
    body = {
        "request_uuid": str(request_uuid),
        "exam_uuid": str(uuid.uuid4()),
        "customer_id": TOKEN,
        "download_url": f"{API}exams/download-requests/{request_uuid}/data/",
        "submitted_at": "2026-11-27T03:10:47.231755Z",
    }
    before = rows()
    response = Client().post(
        targets["webhook"], json.dumps(body), content_type="application/json", **sent
    )
    answered(response, sent)
    # A notification is recorded once, whatever headers came with it.
    assert rows()["receipts"] == before["receipts"] + 1
    if response.status_code == 202:
        assert NotificationReceipt.objects.filter(request_uuid=request_uuid).count() == 1


@given(sent=headers)
def test_an_api_call_never_answers_5xx_whatever_the_headers(targets, sent):
    sent = {"HTTP_AUTHORIZATION": f"Bearer {targets['token']}", **sent}
    before = rows()
    answered(Client().get(reverse("api-exam-list"), **sent), sent)
    assert rows() == before  # a read writes nothing
