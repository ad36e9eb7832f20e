import json
import uuid

import pytest
from django.urls import reverse

from integrations.clarius.models import ClariusLink, NotificationEndpoint, NotificationReceipt

API = "https://cloud.clarius.com/api/public/v0/"
TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"


@pytest.fixture
def endpoint(db):
    return NotificationEndpoint.objects.create()


@pytest.fixture
def url(endpoint):
    return reverse("clarius-notifications", args=[endpoint.secret])


def payload(**overrides):
    request_uuid = str(uuid.uuid4())
    data = {
        "request_uuid": request_uuid,
        "exam_uuid": str(uuid.uuid4()),
        "customer_id": TOKEN,
        "download_url": f"{API}exams/download-requests/{request_uuid}/data/",
        "submitted_at": "2026-11-27T03:10:47.231755Z",
    }
    data.update(overrides)
    return data


def post(client, url, data, **extra):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


def test_it_accepts_a_notification_for_an_unknown_customer_as_unassigned(client, url):
    data = payload()
    response = post(client, url, data, HTTP_USER_AGENT="Clarius/1.0", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 202
    receipt = NotificationReceipt.objects.get()
    assert str(receipt.request_uuid) == data["request_uuid"]
    assert receipt.state == NotificationReceipt.State.UNASSIGNED
    assert receipt.next_attempt_at is None  # nothing to fetch until the token is linked
    assert json.loads(receipt.body) == data
    assert receipt.headers["User-Agent"] == "Clarius/1.0"
    assert receipt.remote_addr == "203.0.113.9"


def test_a_notification_for_a_confirmed_link_is_due_for_fetching_after_commit(
    client, url, bob, northside, django_capture_on_commit_callbacks, monkeypatch
):
    link = ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
    )
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, url, payload())
    assert response.status_code == 202
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == NotificationReceipt.State.PENDING
    assert receipt.link == link
    assert receipt.next_attempt_at is not None
    assert queued == [("integrations.clarius.tasks.fetch_receipt", receipt.pk)]


def test_a_duplicate_delivery_answers_2xx_and_changes_nothing(client, url):
    data = payload()
    assert post(client, url, data).status_code == 202
    again = post(client, url, {**data, "customer_id": "someone-else-entirely-123"})
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert NotificationReceipt.objects.get().customer_id == TOKEN


def test_a_wrong_secret_is_a_404_and_records_nothing(client, endpoint):
    response = post(client, reverse("clarius-notifications", args=["guess"]), payload())
    assert response.status_code == 404
    assert not NotificationReceipt.objects.exists()


def test_without_an_endpoint_every_secret_is_a_404(client, db):
    response = post(client, reverse("clarius-notifications", args=["anything"]), payload())
    assert response.status_code == 404


def test_a_retired_secret_is_a_404(client, endpoint):
    old = endpoint.secret
    endpoint.is_active = False
    endpoint.save()
    NotificationEndpoint.objects.create()
    assert post(client, reverse("clarius-notifications", args=[old]), payload()).status_code == 404


def test_only_post_is_allowed(client, url):
    assert client.get(url).status_code == 405
    assert client.put(url, "{}").status_code == 405


def test_an_oversized_body_is_413_and_recorded(client, url):
    response = post(client, url, json.dumps({**payload(), "padding": "x" * 70_000}))
    assert response.status_code == 413
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == NotificationReceipt.State.REJECTED
    assert "larger than 65536 bytes" in receipt.rejection_reason
    assert receipt.body == b""  # never read past the declared length


def test_a_rejected_body_is_kept_only_in_part(client, url):
    post(client, url, json.dumps({"padding": "x" * 60_000}))
    assert len(NotificationReceipt.objects.get().body) == 4096


def test_the_webhook_needs_no_csrf_token(url):
    from django.test import Client

    response = post(Client(enforce_csrf_checks=True), url, payload())
    assert response.status_code == 202


BAD_BODIES = [
    ("trailing comma", '{"request_uuid": "x",}', "not valid JSON"),
    ("not utf-8", b"\xff\xfe{}", "not valid JSON"),
    ("a list", "[1, 2]", "must be a JSON object"),
    ("empty", "", "not valid JSON"),
    ("missing fields", {"request_uuid": str(uuid.uuid4())}, "missing field(s): exam_uuid"),
    ("number uuid", payload(request_uuid=12), "must be strings: request_uuid"),
    ("bad uuid", payload(exam_uuid="not-a-uuid"), "exam_uuid is not a UUID"),
    ("bad token", payload(customer_id="<script>"), "customer_id is not a customer token"),
    ("bad url", payload(download_url="javascript:alert(1)"), "download_url is not an http(s) URL"),
    ("bad date", payload(submitted_at="yesterday"), "submitted_at is not an ISO 8601"),
    ("impossible date", payload(submitted_at="2026-13-45T00:00:00Z"), "submitted_at is not"),
    ("year zero in UTC", payload(submitted_at="0001-01-01T00:00:00+05:00"), "out of range"),
    ("a NUL first", b"\x00{}", "not valid JSON"),
    ("nested arrays", "[" * 1000 + "]" * 1000, "nested deeper than 16 levels"),
    ("nested objects", '{"a":' * 1000 + "1" + "}" * 1000, "nested deeper than 16 levels"),
    ("unclosed nesting", "[" * 10_000, "nested deeper than 16 levels"),
    ("a key twice", '{"a": 1, "a": 1}', "body repeats the key 'a'"),
    ("5000 digits", "[" + "1" * 5000 + "]", "a number of 5000 digits"),
    ("out of range", '{"x": 1e999}', "the number 1e999, out of range"),
    ("NaN", '{"x": NaN}', "NaN is not a JSON value"),
    ("NUL in url", payload(download_url=f"{API}x/\x00/"), "control or invisible characters"),
    ("bidi in url", payload(download_url=f"{API}x/\u202e/"), "control or invisible"),
    ("surrogate in url", payload(download_url=f"{API}x/\ud800/"), "control or invisible"),
]


@pytest.mark.parametrize(("name", "body", "reason"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_a_malformed_notification_is_400_with_the_reason_and_recorded(
    client, url, name, body, reason
):
    response = post(client, url, body)
    assert response.status_code == 400
    assert reason in response.json()["reason"]
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == NotificationReceipt.State.REJECTED
    assert reason in receipt.rejection_reason
    assert receipt.request_uuid is None  # a rejected call never blocks the real request


@pytest.mark.parametrize(
    "download_url",
    [
        "https://evil.example/api/public/v0/exams/download-requests/x/data/",
        "http://cloud.clarius.com/api/public/v0/exams/download-requests/x/data/",
        "https://cloud.clarius.com/admin/",
        "https://cloud.clarius.com.evil.example/api/public/v0/x/",
        "https://user:pw@cloud.clarius.com/api/public/v0/x/",
        "https://cloud.clarius.com/api/public/v0/../../admin/",
    ],
)
def test_a_download_url_off_the_clarius_api_is_rejected_and_never_fetched(
    client, url, download_url, settings
):
    settings.CLARIUS_ALLOW_HTTP = False
    response = post(client, url, payload(download_url=download_url))
    assert response.status_code == 400
    receipt = NotificationReceipt.objects.get()
    assert receipt.state == NotificationReceipt.State.REJECTED
    assert receipt.rejection_reason.startswith("download_url refused")
    assert receipt.next_attempt_at is None


def test_a_duplicated_field_is_refused_whichever_value_comes_last(client, url):
    data = payload()
    body = json.dumps(data)[:-1] + ', "customer_id": "someone-else-entirely-123"}'
    response = post(client, url, body)
    assert response.status_code == 400
    assert response.json()["reason"] == "body repeats the key 'customer_id'"
    assert NotificationReceipt.objects.get().state == NotificationReceipt.State.REJECTED


def test_a_body_with_a_nul_is_kept_byte_for_byte(client, url):
    body = b'\x00{"request_uuid": "\xff\xfe"}\x00'
    response = post(client, url, body)
    assert response.status_code == 400
    receipt = NotificationReceipt.objects.get()
    assert receipt.body == body
    assert receipt.body_text == '\\u0000{"request_uuid": "\\xff\\xfe"}\\u0000'


def test_an_escaped_nul_in_an_unknown_field_is_accepted_and_kept(client, url):
    body = json.dumps({**payload(), "note": "a\x00b"}).encode()
    assert b"\\u0000" in body
    assert post(client, url, body).status_code == 202
    assert NotificationReceipt.objects.get().body == body


def test_a_header_with_a_nul_is_stored_without_it(client, url):
    response = post(client, url, payload(), HTTP_USER_AGENT="Clarius\x00/1.0")
    assert response.status_code == 202
    assert NotificationReceipt.objects.get().headers["User-Agent"] == "Clarius/1.0"


def test_a_reason_quoting_a_hostile_key_is_stored_clean(client, url):
    response = post(client, url, '{"\\u0000\\u202e": 1, "\\u0000\\u202e": 2}')
    assert response.status_code == 400
    reason = NotificationReceipt.objects.get().rejection_reason
    assert reason == "body repeats the key ''"


def test_the_admin_shows_a_received_nul_as_an_escape(client, url):
    from django.contrib.auth import get_user_model
    from django.test import Client

    post(client, url, b"\x00{}\xe2\x80\xae")
    receipt = NotificationReceipt.objects.get()
    root = Client()
    root.force_login(get_user_model().objects.create_superuser(email="root@example.org"))
    page = root.get(reverse("admin:clarius_notificationreceipt_change", args=[receipt.pk]))
    assert page.status_code == 200
    assert "\\u0000{}\\u202e" in page.content.decode()


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "unlinked"])
def test_the_webhook_path_stays_a_few_queries(
    client, url, bob, northside, linked, monkeypatch, django_assert_num_queries
):
    if linked:
        ClariusLink.objects.create(
            token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
        )
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    post(client, url, payload())  # the active secret is now remembered
    # One INSERT that looks the link up itself; no savepoint even inside a transaction.
    with django_assert_num_queries(1):
        assert post(client, url, payload()).status_code == 202


def test_the_webhook_skips_the_middleware_made_for_people(client, url, settings):
    response = post(client, url, payload())
    assert response.status_code == 202
    # No session, CSRF, page policy or frame options: none of it is for Clarius.
    assert "Vary" not in response and "Content-Security-Policy" not in response
    assert not response.cookies
    # ... but the host is still checked, as for every other request.
    settings.ALLOWED_HOSTS = ["portal.example"]
    assert post(client, url, payload(), HTTP_HOST="evil.example").status_code == 400
    assert NotificationReceipt.objects.count() == 1


def test_a_wrong_secret_under_the_prefix_is_the_portals_404(client, endpoint):
    response = client.post(
        "/clarius/notifications/not-the-secret/extra/", "{}", content_type="application/json"
    )
    assert response.status_code == 404
    assert NotificationReceipt.objects.count() == 0
