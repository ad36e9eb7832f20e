"""The read API: exams and their media, through the tenant and role rules, audited."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import AuditEvent
from tests.api.keyring import key_for
from tests.api.problems import field_error, problem
from tests.factories import PNG, make_exam


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def exams(trio, northside, southside):
    alice, bob, charlie = trio
    return {
        "northside": make_exam(northside, bob, patient_name="Nora North"),
        "southside": make_exam(southside, charlie, patient_name="Sam South"),
    }


def access_events():
    """The log's events of access to exams and media (signing in, making keys and a
    key's first use of the day are logged too)."""
    return AuditEvent.objects.exclude(action__in=["login", "create_api_key", "api_key_used"])


def users(trio):
    return dict(zip(["alice", "bob", "charlie"], trio, strict=True))


# viewer -> the exams they see (alice works in Northside by default)
LIST_MATRIX = [("alice", {"northside"}), ("bob", {"northside"}), ("charlie", {"southside"})]


@pytest.mark.parametrize(("viewer", "visible"), LIST_MATRIX)
def test_the_list_holds_only_the_current_institutions_exams(client, trio, exams, viewer, visible):
    client.force_login(users(trio)[viewer])
    data = client.get(reverse("api-exam-list")).json()
    ids = {e["id"] for e in data["results"]}
    assert ids == {exams[name].pk for name in visible}


DETAIL_MATRIX = [
    ("alice", "northside", 200),
    ("alice", "southside", 404),
    ("bob", "northside", 200),
    ("bob", "southside", 404),
    ("charlie", "northside", 404),
    ("charlie", "southside", 200),
]


@pytest.mark.parametrize(("viewer", "owner", "status"), DETAIL_MATRIX)
def test_another_institutions_exam_is_a_404(client, trio, exams, viewer, owner, status):
    client.force_login(users(trio)[viewer])
    response = client.get(reverse("api-exam-detail", args=[exams[owner].pk]))
    assert response.status_code == status


@pytest.mark.parametrize(("viewer", "owner", "status"), DETAIL_MATRIX)
def test_another_institutions_media_is_a_404(client, trio, exams, viewer, owner, status):
    client.force_login(users(trio)[viewer])
    capture = exams[owner].captures.get()
    response = client.get(reverse("api-capture-media", args=[capture.pk]))
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == PNG
        assert "no-store" in response["Cache-Control"]


def test_a_clinician_sees_only_the_exams_they_performed(client, trio, exams, southside):
    alice, _, charlie = trio
    own = make_exam(southside, alice, patient_name="Own Exam")
    client.force_login(alice)
    client.post(reverse("switch-institution"), {"institution": "southside"})
    ids = {e["id"] for e in client.get(reverse("api-exam-list")).json()["results"]}
    assert ids == {own.pk}
    not_hers = exams["southside"].captures.get()
    assert client.get(reverse("api-capture-media", args=[not_hers.pk])).status_code == 404


def test_anonymous_requests_are_refused(client, exams):
    capture = exams["northside"].captures.get()
    for url in [
        reverse("api-exam-list"),
        reverse("api-exam-detail", args=[exams["northside"].pk]),
        reverse("api-capture-media", args=[capture.pk]),
    ]:
        assert client.get(url).status_code in (401, 403)


def test_an_exam_has_the_contracted_shape(client, trio, exams):
    client.force_login(users(trio)["bob"])
    exam = exams["northside"]
    data = client.get(reverse("api-exam-detail", args=[exam.pk])).json()
    assert set(data) >= {
        "id",
        "exam_uuid",
        "status",
        "submitted_at",
        "operator",
        "patient",
        "captures",
        "submissions",
        "reports",
    }
    assert data["exam_uuid"] == str(exam.exam_uuid)
    assert data["patient"]["first_name"] == "Nora"
    assert data["operator"]["email"] == "bob@example.org"
    capture = data["captures"][0]
    assert set(capture) >= {"id", "content_type", "size", "url"}
    assert capture["url"].endswith(f"/api/v1/captures/{capture['id']}/media")
    assert data["submissions"][0]["request_uuid"]


def test_the_list_filters_by_status_exam_uuid_and_time(client, trio, exams, northside):
    bob = users(trio)["bob"]
    old = make_exam(northside, bob, status="receiving")
    type(old).objects.filter(pk=old.pk).update(last_submitted_at=timezone.now() - timedelta(days=3))
    client.force_login(bob)
    url = reverse("api-exam-list")

    def ids(**params):
        return {e["id"] for e in client.get(url, params).json()["results"]}

    assert ids(status="receiving") == {old.pk}
    assert ids(exam_uuid=str(exams["northside"].exam_uuid)) == {exams["northside"].pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(submitted_after=since) == {exams["northside"].pk}


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [
        ("status", "bogus", "choose one of"),
        ("exam_uuid", "nope", "not a UUID"),
        ("submitted_after", "last tuesday", "not an ISO 8601"),
    ],
)
def test_malformed_filters_are_a_400_with_the_reason(client, trio, exams, param, value, message):
    client.force_login(users(trio)["bob"])
    response = client.get(reverse("api-exam-list"), {param: value})
    assert message in field_error(response, param)


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00"]
)
def test_a_timestamp_that_overflows_in_utc_is_a_400_not_a_crash(client, trio, exams, moment):
    client.force_login(users(trio)["bob"])
    response = client.get(reverse("api-exam-list"), {"submitted_after": moment})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "out of range" in field_error(response, "submitted_after")


def test_an_offset_postgresql_cannot_hold_is_read_in_utc(client, trio, exams):
    client.force_login(users(trio)["bob"])
    response = client.get(reverse("api-exam-list"), {"submitted_after": "2000-01-01T00:00+23:59"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("page", ["abc", "0", "-1", "99", "9" * 5000, "\x00"])
def test_a_page_that_is_not_one_of_the_list_is_a_400_with_the_reason(client, trio, exams, page):
    client.force_login(users(trio)["bob"])
    response = client.get(reverse("api-exam-list"), {"page": page})
    assert "not a page of this list" in field_error(response, "page")


def test_the_list_is_paginated_in_a_constant_number_of_queries(
    client, trio, northside, django_assert_max_num_queries
):
    bob = users(trio)["bob"]
    for _ in range(12):
        make_exam(northside, bob, captures=2)
    client.force_login(bob)
    with django_assert_max_num_queries(12):
        data = client.get(reverse("api-exam-list"), {"page_size": 10}).json()
    assert len(data["results"]) == 10 and data["next"] and data["previous"] is None


def test_viewing_an_exam_and_opening_media_are_audited(client, trio, exams):
    bob = users(trio)["bob"]
    exam = exams["northside"]
    capture = exam.captures.get()
    client.force_login(bob)
    client.get(reverse("api-exam-detail", args=[exam.pk]), REMOTE_ADDR="192.0.2.5")
    client.get(reverse("api-capture-media", args=[capture.pk]), REMOTE_ADDR="192.0.2.5")
    events = list(access_events().order_by("at"))
    assert [(e.action, e.object_type, e.object_id) for e in events] == [
        ("view_exam", "exam", str(exam.pk)),
        ("open_media", "capture", str(capture.pk)),
    ]
    assert all(e.user == bob and e.institution == exam.institution for e in events)
    assert all(e.ip_address == "192.0.2.5" for e in events)


def test_refused_access_is_not_audited_as_access(client, trio, exams):
    client.force_login(users(trio)["charlie"])
    client.get(reverse("api-capture-media", args=[exams["northside"].captures.get().pk]))
    assert not access_events().exists()


def test_key_authentication_works_in_the_keys_institution_only(client, trio, exams):
    alice = users(trio)["alice"]
    auth = {"HTTP_AUTHORIZATION": f"Token {key_for(alice, 'northside')}"}
    first = client.get(reverse("api-exam-list"), **auth).json()
    assert {e["id"] for e in first["results"]} == {exams["northside"].pk}
    south = {"HTTP_AUTHORIZATION": f"Bearer {key_for(alice, 'southside')}"}
    southside = client.get(reverse("api-exam-list"), **south)
    assert southside.json()["results"] == []  # a clinician there, with no exams of her own
    # Her Northside key never reaches Southside, though she is a member of both.
    for slug in ["southside", "nowhere"]:
        other = client.get(reverse("api-exam-list"), HTTP_X_PORTAL_INSTITUTION=slug, **auth)
        assert other.status_code == 403  # never another institution's data instead


# user -> an existing institution they are not a member of
FOREIGN = {"alice": "westside", "bob": "southside", "charlie": "northside"}
NOT_MINE = ["foreign", "nowhere", "", "   ", "north side", "../northside", "NORTHSIDE", "é" * 300]


def endpoints(exams, user):
    """Every API endpoint, on an object of the user's default institution."""
    exam = exams["southside" if user == "charlie" else "northside"]
    capture = exam.captures.get()
    return {
        "list": ("get", reverse("api-exam-list"), {}),
        "detail": ("get", reverse("api-exam-detail", args=[exam.pk]), {}),
        "captures": ("get", reverse("api-exam-captures", args=[exam.pk]), {}),
        "media": ("get", reverse("api-capture-media", args=[capture.pk]), {}),
        "reports": ("post", reverse("api-exam-reports", args=[exam.pk]), {"name": "Report"}),
    }


@pytest.fixture
def westside(db):
    from portal.tenants.models import Institution

    return Institution.objects.create(name="Westside Imaging", slug="westside")


@pytest.mark.parametrize("user", ["alice", "bob", "charlie"])
@pytest.mark.parametrize("endpoint", ["list", "detail", "captures", "media", "reports"])
@pytest.mark.parametrize("named", NOT_MINE)
def test_naming_an_institution_that_is_not_yours_is_a_403_on_every_endpoint(
    client, trio, exams, westside, user, endpoint, named
):
    from portal.reports.models import Report

    key = key_for(users(trio)[user])
    slug = FOREIGN[user] if named == "foreign" else named
    method, url, data = endpoints(exams, user)[endpoint]
    headers = {"Authorization": f"Bearer {key}", "X-Portal-Institution": slug}
    response = getattr(client, method)(url, data, headers=headers)
    # The reason, and no data.
    assert "not a member of institution" in problem(response, 403)["detail"]
    assert not access_events().exists()
    assert not Report.objects.exists()


def test_the_answer_is_the_same_for_a_foreign_and_a_nonexistent_institution(client, trio, exams):
    auth = {"Authorization": f"Bearer {key_for(users(trio)['bob'])}"}

    def detail(slug):
        headers = auth | {"X-Portal-Institution": slug}
        response = client.get(reverse("api-exam-list"), headers=headers)
        return response.status_code, response.json()["detail"].replace(slug, "<slug>")

    assert detail("southside") == detail("eastside")


@pytest.mark.parametrize("user", ["alice", "bob", "charlie"])
@pytest.mark.parametrize("endpoint", ["list", "detail", "captures", "media"])
def test_naming_your_own_institution_or_nothing_works_on_every_endpoint(
    client, trio, exams, user, endpoint
):
    key = key_for(users(trio)[user])
    method, url, data = endpoints(exams, user)[endpoint]
    own = "southside" if user == "charlie" else "northside"
    for headers in [{}, {"X-Portal-Institution": own}]:
        headers["Authorization"] = f"Bearer {key}"
        assert getattr(client, method)(url, data, headers=headers).status_code == 200


def test_the_header_chooses_among_your_institutions_with_a_session_too(client, trio, exams):
    client.force_login(users(trio)["alice"])  # works in Northside by default
    url = reverse("api-exam-detail", args=[exams["southside"].pk])
    assert client.get(url).status_code == 404
    # In Southside she is a clinician: still not charlie's exam, but Southside is asked.
    assert client.get(url, headers={"X-Portal-Institution": "southside"}).status_code == 404
    own = make_exam(exams["southside"].institution, users(trio)["alice"])
    own_url = reverse("api-exam-detail", args=[own.pk])
    assert client.get(own_url, headers={"X-Portal-Institution": "southside"}).status_code == 200
    client.force_login(users(trio)["bob"])
    response = client.get(reverse("api-exam-list"), headers={"X-Portal-Institution": "southside"})
    assert response.status_code == 403


def test_an_unknown_exam_is_a_404(client, trio, exams):
    client.force_login(users(trio)["bob"])
    assert client.get(reverse("api-exam-detail", args=[999999])).status_code == 404
    assert client.get(f"/api/v1/exams/?exam_uuid={uuid.uuid4()}").json()["results"] == []
