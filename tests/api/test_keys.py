"""Institution API keys on the REST API: the tenant and role rules, scope, the key's
life (revoked, expired, member gone), hostile headers, throttling, hashing, audit."""

import datetime
import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from portal.api import keys
from portal.api.models import ApiKey
from portal.exams.models import AuditEvent
from portal.reports.models import Report
from portal.tenants.models import Membership
from tests.api.keyring import bearer, key_for
from tests.factories import make_exam


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def exams(trio, northside, southside):
    alice, bob, charlie = trio
    return {
        "northside": make_exam(northside, bob, patient_name="Nora North"),
        "southside": make_exam(southside, charlie, patient_name="Sam South"),
        "alice-south": make_exam(southside, alice, patient_name="Ada South"),
    }


def users(trio):
    return dict(zip(["alice", "bob", "charlie"], trio, strict=True))


def endpoint(name, exam):
    capture = exam.captures.get()
    return {
        "list": ("get", reverse("api-exam-list"), {}),
        "detail": ("get", reverse("api-exam-detail", args=[exam.pk]), {}),
        "captures": ("get", reverse("api-exam-captures", args=[exam.pk]), {}),
        "media": ("get", reverse("api-capture-media", args=[capture.pk]), {}),
        "reports": ("post", reverse("api-exam-reports", args=[exam.pk]), report_form()),
    }[name]


def report_form():
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    return {"name": "Report", "file": SimpleUploadedFile("r.pdf", pdf, "application/pdf")}


def call(client, name, exam, key, **headers):
    method, url, data = endpoint(name, exam)
    return getattr(client, method)(url, data, headers={**bearer(key), **headers})


# (user, key's institution, exam) -> status of detail/captures/media; the web's rules.
MATRIX = [
    ("alice", "northside", "northside", 200),  # admin: every exam of Northside
    ("alice", "northside", "southside", 404),  # another institution's
    ("alice", "southside", "alice-south", 200),  # clinician there: her own exams
    ("alice", "southside", "southside", 404),  # ... not charlie's
    ("bob", "northside", "northside", 200),
    ("bob", "northside", "southside", 404),
    ("charlie", "southside", "southside", 200),
    ("charlie", "southside", "alice-south", 200),
    ("charlie", "southside", "northside", 404),
]


@pytest.mark.parametrize(("user", "slug", "exam", "status"), MATRIX)
@pytest.mark.parametrize("name", ["detail", "captures", "media"])
def test_a_key_sees_what_its_member_sees_in_its_institution(
    client, trio, exams, user, slug, exam, status, name
):
    key = key_for(users(trio)[user], slug, scope="read")
    assert call(client, name, exams[exam], key).status_code == status


LISTS = [
    ("alice", "northside", {"northside"}),
    ("alice", "southside", {"alice-south"}),
    ("bob", "northside", {"northside"}),
    ("charlie", "southside", {"southside", "alice-south"}),
]


@pytest.mark.parametrize(("user", "slug", "visible"), LISTS)
def test_the_list_holds_what_the_keys_member_sees(client, trio, exams, user, slug, visible):
    key = key_for(users(trio)[user], slug, scope="read")
    data = client.get(reverse("api-exam-list"), headers=bearer(key)).json()
    assert {e["id"] for e in data["results"]} == {exams[name].pk for name in visible}


@pytest.mark.parametrize(
    ("user", "slug", "exam", "scope", "status"),
    [
        ("bob", "northside", "northside", "write", 201),  # a reviewer's write key
        ("alice", "northside", "northside", "write", 201),  # an admin's
        ("bob", "northside", "northside", "read", 403),  # scope read: no writes
        ("alice", "southside", "alice-south", "write", 403),  # a clinician's role
        ("charlie", "southside", "northside", "write", 404),  # another institution's exam
    ],
)
def test_sending_a_report_with_a_key(client, trio, exams, user, slug, exam, scope, status):
    key = key_for(users(trio)[user], slug, scope=scope)
    response = call(client, "reports", exams[exam], key)
    assert response.status_code == status
    assert Report.objects.count() == (1 if status == 201 else 0)
    if status == 201:
        assert Report.objects.get().created_by == users(trio)[user]


def test_a_read_key_may_not_write_anywhere(client, trio, exams):
    key = key_for(users(trio)["bob"], scope="read")
    for method in ["post", "put", "patch", "delete"]:
        response = getattr(client, method)(reverse("api-exam-list"), headers=bearer(key))
        assert response.status_code == 403, method
    assert "scope" in client.post(reverse("api-exam-list"), headers=bearer(key)).json()["detail"]


@pytest.mark.parametrize("named", ["southside", "westside", "nowhere", "NORTHSIDE", "", " x "])
@pytest.mark.parametrize("name", ["list", "detail", "captures", "media", "reports"])
def test_a_key_never_reaches_another_institution(client, trio, exams, named, name):
    # Alice is a member of Southside too; her Northside key still never reaches it.
    key = key_for(users(trio)["alice"], "northside")
    response = call(client, name, exams["northside"], key, **{"X-Portal-Institution": named})
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "not a member of institution" in response.json()["detail"]
    assert not Report.objects.exists()
    assert not AuditEvent.objects.exclude(action__in=["create_api_key", "api_key_used"]).exists()


@pytest.mark.parametrize("name", ["list", "detail", "captures", "media"])
def test_a_key_may_name_its_own_institution(client, trio, exams, name):
    key = key_for(users(trio)["alice"], "northside", scope="read")
    for named in ["northside", " northside "]:
        response = call(client, name, exams["northside"], key, **{"X-Portal-Institution": named})
        assert response.status_code == 200


def test_the_session_of_another_user_does_not_widen_a_key(client, trio, exams):
    client.force_login(users(trio)["charlie"])  # a Southside session in the same client
    key = key_for(users(trio)["bob"], scope="read")
    data = client.get(reverse("api-exam-list"), headers=bearer(key)).json()
    assert {e["id"] for e in data["results"]} == {exams["northside"].pk}


def test_bearer_and_token_forms_both_work(client, trio, exams):
    key = key_for(users(trio)["bob"], scope="read")
    url = reverse("api-exam-list")
    for header in [f"Bearer {key}", f"Token {key}", f"bearer   {key}  ", f"TOKEN\t{key}"]:
        assert client.get(url, HTTP_AUTHORIZATION=header).status_code == 200, header


def assert_401(response):
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"]


def test_revoked_expired_and_orphaned_keys_are_401(client, trio, exams):
    bob = users(trio)["bob"]
    url = reverse("api-exam-list")
    revoked = key_for(bob, scope="read")
    assert client.get(url, headers=bearer(revoked)).status_code == 200
    keys.revoke_key(ApiKey.objects.get(prefix=keys.parse(revoked)[0]), by=bob)
    assert_401(client.get(url, headers=bearer(revoked)))

    expired = key_for(bob, scope="read")
    ApiKey.objects.filter(prefix=keys.parse(expired)[0]).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert_401(client.get(url, headers=bearer(expired)))
    assert "expired" in client.get(url, headers=bearer(expired)).json()["detail"]

    # The member left: the key stops, and joining again does not revive it.
    left = key_for(bob, scope="read")
    Membership.objects.filter(user=bob).delete()
    assert_401(client.get(url, headers=bearer(left)))
    Membership.objects.create(user=bob, institution=exams["northside"].institution, role="admin")
    assert_401(client.get(url, headers=bearer(left)))


def test_a_deactivated_user_or_institution_invalidates_the_key(client, trio, exams):
    bob = users(trio)["bob"]
    url = reverse("api-exam-list")
    key = key_for(bob, scope="read")
    bob.is_active = False
    bob.save()
    assert_401(client.get(url, headers=bearer(key)))
    bob.is_active = True
    bob.save()
    assert client.get(url, headers=bearer(key)).status_code == 200
    institution = exams["northside"].institution
    institution.is_active = False
    institution.save()
    assert_401(client.get(url, headers=bearer(key)))


def test_a_role_change_applies_to_the_key_at_once(client, trio, exams):
    charlie = users(trio)["charlie"]
    key = key_for(charlie, scope="read")
    assert (
        client.get(endpoint("detail", exams["southside"])[1], headers=bearer(key)).status_code
        == 200
    )
    Membership.objects.filter(user=charlie).update(role=Membership.Role.CLINICIAN)
    # A clinician now: his own exam still, not alice's.
    assert (
        client.get(endpoint("detail", exams["southside"])[1], headers=bearer(key)).status_code
        == 200
    )
    detail = endpoint("detail", exams["alice-south"])[1]
    assert client.get(detail, headers=bearer(key)).status_code == 404


HOSTILE = [
    "Bearer",
    "Bearer ",
    "Token",
    "Bearer cpk_",
    "Bearer cpk_aaaaaaaa_",
    "Bearer cpk_aaaaaaaa_" + "a" * 32,  # well-formed, unknown
    "Bearer cpk_AAAAAAAA_" + "A" * 32,
    "Bearer cpk_aaaaaaaa_" + "a" * 5000,
    "Bearer cpk_aaaa\x00aaaa_" + "a" * 32,
    "Bearer \x00",
    "Token 0123456789abcdef0123456789abcdef01234567",  # an old DRF token
    "Bearer cpk_aaaaaaaa_" + "é" * 32,
    "Bearer cpk_aaaaaaaa_" + "a" * 32 + " extra",
    "Bearer 💥",
    "Bearer " + "x" * 100_000,
    "Bearer cpk_aaaaaaaa_aaaa'; DROP TABLE api_apikey; --",
]


@pytest.mark.parametrize("header", HOSTILE)
def test_hostile_authorization_headers_are_a_401_never_a_5xx(client, trio, exams, header):
    key_for(users(trio)["bob"], scope="read")  # a real key exists
    for name in ["list", "detail", "reports"]:
        method, url, data = endpoint(name, exams["northside"])
        response = getattr(client, method)(url, data, HTTP_AUTHORIZATION=header)
        assert_401(response)
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("header", ["Basic Ym9iOnB3", "Digest x", "\x00", "", "   "])
def test_other_schemes_are_left_to_the_session(client, trio, exams, header):
    url = reverse("api-exam-list")
    assert_401(client.get(url, HTTP_AUTHORIZATION=header))
    client.force_login(users(trio)["bob"])
    assert client.get(url, HTTP_AUTHORIZATION=header).status_code == 200


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_unknown(client, trio, exams):
    key = key_for(users(trio)["bob"], scope="read")
    prefix, secret = keys.parse(key)
    wrong = f"cpk_{prefix}_{'a' * len(secret)}"
    response = client.get(reverse("api-exam-list"), headers=bearer(wrong))
    assert_401(response)
    assert response.json()["detail"] == "Unknown API key."


def test_the_session_still_needs_csrf_when_writing(trio, exams):
    from django.test import Client

    session = Client(enforce_csrf_checks=True)
    session.force_login(users(trio)["bob"])
    response = session.post(*endpoint("reports", exams["northside"])[1:])
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    keyed = Client(enforce_csrf_checks=True)
    response = keyed.post(
        *endpoint("reports", exams["northside"])[1:],
        headers=bearer(key_for(users(trio)["bob"])),
    )
    assert response.status_code == 201


def test_a_key_is_throttled_per_key_with_retry_after(client, trio, exams, settings):
    cache.clear()
    settings.PORTAL_API_KEY_RATE = "3/min"
    url = reverse("api-exam-list")
    first = key_for(users(trio)["bob"], scope="read")
    assert [client.get(url, headers=bearer(first)).status_code for _ in range(3)] == [200] * 3
    throttled = client.get(url, headers=bearer(first))
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    assert 0 < int(throttled["Retry-After"]) <= 60
    # Another key (of the same member) has its own count; the browser is not counted.
    second = key_for(users(trio)["bob"], scope="read")
    assert client.get(url, headers=bearer(second)).status_code == 200
    client.force_login(users(trio)["bob"])
    assert all(client.get(url).status_code == 200 for _ in range(5))


def test_the_database_holds_no_secret(trio):
    text = key_for(users(trio)["bob"], scope="read")
    assert re.fullmatch(r"cpk_[a-z2-7]{8}_[a-z2-7]{32}", text)
    prefix, secret = keys.parse(text)
    row = ApiKey.objects.get(prefix=prefix)
    assert row.secret_hash == keys.hash_secret(secret) != secret
    assert len(row.secret_hash) == 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apikey")
        dumped = repr(cursor.fetchall())
    assert secret not in dumped and text not in dumped
    events = repr(list(AuditEvent.objects.values()))
    assert secret not in events and f"cpk_{prefix}" in events


def test_the_hash_is_keyed(trio, settings):
    text = key_for(users(trio)["bob"], scope="read")
    _prefix, secret = keys.parse(text)
    before = keys.hash_secret(secret)
    settings.PORTAL_API_KEY_HASH_KEY = "another key"
    assert keys.hash_secret(secret) != before
    with pytest.raises(keys.KeyRefused):
        keys.check(text)


def test_last_use_is_written_at_most_once_a_minute(client, trio, exams, django_assert_num_queries):
    key = key_for(users(trio)["bob"], scope="read")
    row = ApiKey.objects.get(prefix=keys.parse(key)[0])
    assert row.last_used_at is None
    url = reverse("api-exam-list")
    client.get(url, headers=bearer(key), REMOTE_ADDR="192.0.2.7")
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None and row.last_used_ip == "192.0.2.7"
    client.get(url, headers=bearer(key), REMOTE_ADDR="192.0.2.8")
    row.refresh_from_db()
    assert (row.last_used_at, row.last_used_ip) == (first, "192.0.2.7")
    ApiKey.objects.filter(pk=row.pk).update(last_used_at=first - datetime.timedelta(minutes=2))
    client.get(url, headers=bearer(key), REMOTE_ADDR="192.0.2.8")
    row.refresh_from_db()
    assert row.last_used_at > first and row.last_used_ip == "192.0.2.8"


def test_access_with_a_key_is_audited_with_the_key(client, trio, exams):
    bob = users(trio)["bob"]
    key = key_for(bob, scope="read")
    exam = exams["northside"]
    for name in ["detail", "captures", "media"]:
        assert call(client, name, exam, key).status_code == 200
    client.force_login(bob)
    client.get(reverse("api-exam-detail", args=[exam.pk]))
    events = AuditEvent.objects.exclude(action__in=["create_api_key", "api_key_used"]).order_by(
        "at"
    )
    keyed = [e.detail.get("api_key") for e in events]
    assert keyed == [f"cpk_{keys.parse(key)[0]}"] * 3 + [None]
    assert all(e.user == bob for e in events)
    # The key's use itself: once that day, however many requests.
    used = AuditEvent.objects.filter(action="api_key_used")
    assert [(e.user, e.detail["api_key"]) for e in used] == [(bob, f"cpk_{keys.parse(key)[0]}")]


def test_making_and_revoking_a_key_are_audit_events(trio):
    alice, bob, _charlie = trio
    membership = Membership.objects.get(user=bob)
    key, _text = keys.create_key(membership, name="EHR", scope="read", created_by=alice)
    assert keys.revoke_key(key, by=alice) is True
    assert keys.revoke_key(key, by=alice) is False  # once
    events = AuditEvent.objects.order_by("at")
    assert [(e.action, e.user, e.institution) for e in events] == [
        ("create_api_key", alice, membership.institution),
        ("revoke_api_key", alice, membership.institution),
    ]
    assert events[0].detail["api_key"] == key.shown_prefix
    assert events[0].detail["member"] == "bob@example.org"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"name": "  "}, "name"),
        ({"name": "\x00"}, "name"),
        ({"scope": "admin"}, "scope"),
        ({"expires_at": timezone.now() - datetime.timedelta(days=1)}, "future"),
    ],
)
def test_a_key_is_refused_with_a_reason(trio, kwargs, reason):
    membership = Membership.objects.get(user=trio[1])
    arguments = {"name": "EHR", "scope": "read", **kwargs}
    with pytest.raises(keys.KeyInvalid, match=reason):
        keys.create_key(membership, **arguments)
    assert not ApiKey.objects.exists()


def test_a_key_belongs_to_one_institution_through_the_tenant_rule(trio, northside, southside):
    key_for(trio[0], "northside")
    key_for(trio[2], "southside")
    assert ApiKey.objects.for_institution(northside).count() == 1
    assert ApiKey.objects.for_institution(None).count() == 0


def authorization_texts():
    from hypothesis import strategies as st

    key_like = st.builds(
        lambda scheme, prefix, secret: f"{scheme} cpk_{prefix}_{secret}",
        st.sampled_from(["Bearer", "Token", "bearer", "TOKEN"]),
        st.text(max_size=12),
        st.text(max_size=80),
    )
    return st.one_of(st.text(max_size=300), key_like)


def test_any_authorization_header_is_answered_without_a_5xx(client, trio, exams, settings):
    from hypothesis import given

    settings.PORTAL_API_KEY_RATE = "1000000/min"
    key_for(users(trio)["bob"], scope="read")
    url = reverse("api-exam-list")

    @given(header=authorization_texts())
    def check(header):
        response = client.get(url, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    check()
