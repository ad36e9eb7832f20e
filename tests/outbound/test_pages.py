"""The administrators' destination pages: add, edit, test, switch off, remove, and the
delivery log with resend; the tenant and role matrix (alice: Northside admin, bob:
Northside reviewer, charlie: Southside admin) and hostile input (a 4xx, never a 5xx)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.outbound import planning, sending, views
from portal.outbound.models import Destination, Transmission
from portal.tenants.models import Membership
from tests.conftest import make_user
from tests.factories import make_exam
from tests.outbound.conftest import KEY, as_user, make_destination

Action = AuditEvent.Action


def no_inline_code(html: str):
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "inline event handler"


def form_data(**changes) -> dict:
    data = {
        "name": "Main PACS",
        "option_host": "pacs.example.org",
        "option_port": "11112",
        "option_station": "PORTAL",
        "send_images": "on",
        "send_report": "on",
        "is_active": "on",
        "secret": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_adds_a_destination_of_a_registered_kind(client, trio, receiver, northside):
    alice = trio[0]
    as_user(client, alice)
    page = client.get(reverse("destination-list"))
    assert page.status_code == 200
    html = page.content.decode()
    no_inline_code(html)
    assert reverse("destination-add", args=[KEY]) in html and "Add Test receiver" in html
    assert 'href="/institution/destinations/"' in html  # the navigation entry

    form = client.get(reverse("destination-add", args=[KEY]))
    assert form.status_code == 200
    html = form.content.decode()
    no_inline_code(html)
    for label in ("Host", "Port", "Station name", "TLS", "Web address", "Access token"):
        assert label in html
    assert "Not set." in html

    response = client.post(
        reverse("destination-add", args=[KEY]), form_data(secret="s3cret-token", option_tls="on")
    )
    assert response.status_code == 302
    d = Destination.objects.get()
    assert (d.institution, d.kind, d.created_by) == (northside, KEY, alice)
    assert d.options == {
        "host": "pacs.example.org",
        "port": 11112,
        "station": "PORTAL",
        "tls": True,
    }
    assert d.secret == "s3cret-token" and "s3cret" not in d.secret_encrypted
    assert d.send_images and d.send_report and d.is_active
    event = AuditEvent.objects.get(action=Action.ADD_DESTINATION)
    assert event.object_id == str(d.pk) and "s3cret" not in str(event.detail)
    log = client.get(reverse("audit-log")).content.decode()
    assert "Added a PACS or EHR destination" in log and f"Destination {d.pk}" in log

    for url in (reverse("destination-list"), reverse("destination-detail", args=[d.pk])):
        html = client.get(url).content.decode()
        assert "Main PACS" in html and "pacs.example.org:11112" in html
        assert "s3cret-token" not in html
    edit = client.get(reverse("destination-edit", args=[d.pk])).content.decode()
    assert "s3cret-token" not in edit and "Set. Leave blank to keep it" in edit
    assert 'value="pacs.example.org"' in edit


def test_defaults_fill_blank_options_and_the_kind_must_be_registered(client, trio, receiver):
    as_user(client, trio[0])
    response = client.post(
        reverse("destination-add", args=[KEY]), form_data(option_port="", option_station="")
    )
    assert response.status_code == 302
    assert Destination.objects.get().options == {
        "host": "pacs.example.org",
        "port": 104,
        "tls": False,
    }
    assert client.get(reverse("destination-add", args=["no-such-kind"])).status_code == 404
    assert client.post(reverse("destination-add", args=["no-such-kind"]), {}).status_code == 404


def test_the_secret_is_kept_replaced_or_cleared(client, trio, north_pacs):
    as_user(client, trio[0])
    edit = reverse("destination-edit", args=[north_pacs.pk])
    north_pacs.secret = "first-Tok3n"
    north_pacs.save()

    assert client.post(edit, form_data(name="Renamed")).status_code == 302
    north_pacs.refresh_from_db()
    assert (north_pacs.name, north_pacs.secret) == ("Renamed", "first-Tok3n")
    assert client.post(edit, form_data(secret="second-Tok3n")).status_code == 302
    north_pacs.refresh_from_db()
    assert north_pacs.secret == "second-Tok3n"
    html = client.get(reverse("destination-detail", args=[north_pacs.pk])).content.decode()
    assert "second-Tok3n" not in html and re.search(r"Access token</dt><dd>set<", html)
    assert client.post(edit, form_data(clear_secret="on")).status_code == 302
    north_pacs.refresh_from_db()
    assert north_pacs.secret == "" and north_pacs.secret_encrypted == ""
    html = client.get(reverse("destination-detail", args=[north_pacs.pk])).content.decode()
    assert re.search(r"Access token</dt><dd>not set<", html)

    changes = AuditEvent.objects.filter(action=Action.CHANGE_DESTINATION).order_by("at")
    assert [e.detail["changed"] for e in changes] == [
        ["name", "settings"],  # the port and station were added by the form
        ["name", "secret replaced"],
        ["secret cleared"],
    ]
    assert not any("Tok3n" in str(e.detail) for e in changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Main\x00PACS"},
        {"name": "x" * 10_000},
        {"name": ""},
        {"option_host": "pacs\x00.example.org"},
        {"option_host": ""},
        {"option_host": "h" * 201},
        {"option_station": "S" * 17},
        {"option_port": "0"},
        {"option_port": "65536"},
        {"option_port": "-1"},
        {"option_port": "9" * 400},
        {"option_port": "9" * 5000},
        {"option_port": "1e99"},
        {"option_port": "12\x00"},
        {"option_url": "javascript:alert(1)"},
        {"option_url": "ftp://pacs.example.org/"},
        {"option_url": "https://" + "a" * 300 + ".org/"},
        {"option_url": "https://pacs.example.org/\x00"},
        {"secret": "t" * 5000},
        {"secret": "tok\x00en"},
        {"send_images": None, "send_report": None},
    ],
)
def test_hostile_input_is_a_form_error(client, trio, north_pacs, changes):
    as_user(client, trio[0])
    for url in (
        reverse("destination-add", args=[KEY]),
        reverse("destination-edit", args=[north_pacs.pk]),
    ):
        response = client.post(url, form_data(**changes))
        assert response.status_code == 400, (url, changes)
        assert (
            'class="error"' in response.content.decode()
            or "form-errors" in response.content.decode()
        )
    assert Destination.objects.count() == 1
    north_pacs.refresh_from_db()
    assert north_pacs.name == "Main PACS"


def test_test_connection_says_the_answer_or_the_error(
    client, trio, north_pacs, receiver, monkeypatch
):
    from portal.outbound import kinds

    as_user(client, trio[0])
    url = reverse("destination-test", args=[north_pacs.pk])
    assert client.get(url).status_code == 405
    page = client.post(url, follow=True)
    assert page.status_code == 200
    assert "Main PACS answered: It answered the check in 3 ms." in page.content.decode()

    receiver.test_error = kinds.DeliveryFailed(
        "The receiver refused the association: <b>unknown AE</b>"
    )
    html = client.post(url, follow=True).content.decode()
    assert "did not pass the test: The receiver refused the association" in html
    assert "<b>unknown AE</b>" not in html and "&lt;b&gt;" in html

    receiver.test_error = RuntimeError("internal detail")
    html = client.post(url, follow=True).content.decode()
    assert "the test could not run (RuntimeError)" in html and "internal detail" not in html

    # A receiver that never answers: the page stops waiting.
    receiver.test_error = None
    receiver.test_hang = 30
    monkeypatch.setattr(views, "TEST_TIMEOUT", views.timedelta(seconds=0.3))
    html = client.post(url, follow=True).content.decode()
    assert "did not pass the test: no answer within 0 seconds" in html or "no answer within" in html


def test_switch_off_and_on_and_remove(client, trio, north_pacs, northside):
    as_user(client, trio[0])
    client.post(reverse("destination-active", args=[north_pacs.pk]), {"active": "0"})
    north_pacs.refresh_from_db()
    assert not north_pacs.is_active
    client.post(reverse("destination-active", args=[north_pacs.pk]), {"active": "1"})
    north_pacs.refresh_from_db()
    assert north_pacs.is_active
    assert AuditEvent.objects.filter(action=Action.CHANGE_DESTINATION).count() == 2

    planning.plan_exam(make_exam(northside, captures=2))
    Transmission.objects.filter(pk=Transmission.objects.first().pk).update(state="sent")
    remove = reverse("destination-remove", args=[north_pacs.pk])
    page = client.get(remove)
    assert page.status_code == 200
    html = page.content.decode()
    no_inline_code(html)
    assert "2 deliveries, 1 of them sent" in html and "Switch it off, keep the log" in html
    assert client.post(remove).status_code == 302
    assert not Destination.objects.exists() and not Transmission.objects.exists()
    event = AuditEvent.objects.get(action=Action.REMOVE_DESTINATION)
    assert event.detail["deliveries_removed"] == 2 and event.detail["name"] == "Main PACS"


def test_the_log_filters_pages_and_resends(
    client, trio, north_pacs, receiver, northside, monkeypatch
):
    alice, bob, _ = trio
    first = make_exam(northside, bob, patient_name="Ana Lopez", captures=2)
    second = make_exam(northside, bob, patient_name="Ben Okafor", captures=1)
    planning.plan_exam(first)
    planning.plan_exam(second)
    rows = list(Transmission.objects.order_by("pk"))
    assert len(rows) == 3
    receiver.answers = [
        "Stored",
        planning.kinds.DeliveryFailed("The receiver is full", permanent=True),
        planning.kinds.DeliveryFailed("Connection timed out"),
    ]
    for row in rows:
        sending.send_transmission(row.pk)
    states = dict(Transmission.objects.values_list("pk", "state"))
    assert [states[r.pk] for r in rows] == ["sent", "failed", "pending"]

    as_user(client, alice)
    detail = reverse("destination-detail", args=[north_pacs.pk])
    page = client.get(detail)
    assert page.status_code == 200
    html = page.content.decode()
    no_inline_code(html)
    assert "The receiver is full" in html and "Not retried, as trying again would not help" in html
    assert "Main PACS did not answer in time; retrying" in html
    assert "Stored" in html and "2.25." in html and "Resend all failed (1)" in html
    assert f"MRN-{first.pk}" in html and "Ana" not in html  # the patient's ID, not the name

    def shown(**params):
        response = client.get(detail, params)
        assert response.status_code == 200
        return set(map(int, re.findall(r'data-transmission="(\d+)"', response.content.decode())))

    assert shown(state="failed") == {rows[1].pk}
    assert shown(state="sent") == {rows[0].pk}
    assert shown(q="Okafor") == {rows[2].pk}
    assert shown(q=f"MRN-{first.pk}") == {rows[0].pk, rows[1].pk}
    assert shown(q=str(second.pk)) == {rows[2].pk}
    assert shown(what="clip") == set()
    assert len(shown(date_from="2000-01-01", date_to="2999-12-31")) == 3

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    page_one = client.get(detail).content.decode()
    assert len(re.findall(r'data-transmission="', page_one)) == 2
    next_link = re.search(r'href="(\?after=[^"]+)" rel="next"', page_one).group(1)
    page_two = client.get(detail + next_link.replace("&amp;", "&")).content.decode()
    assert len(re.findall(r'data-transmission="', page_two)) == 1

    resend = reverse("destination-resend", args=[north_pacs.pk])
    assert client.get(resend).status_code == 405
    response = client.post(resend, {"transmission": str(rows[0].pk), "back_state": "sent"})
    assert response.status_code == 302 and response["Location"].endswith("?state=sent")
    again = Transmission.objects.get(pk=rows[0].pk)
    assert (again.state, again.attempts) == ("pending", 0)
    assert client.post(resend, {"failed": "1"}).status_code == 302
    assert Transmission.objects.get(pk=rows[1].pk).state == "pending"
    events = AuditEvent.objects.filter(action=Action.RESEND_DELIVERIES).order_by("at")
    assert [e.detail.get("resent") for e in events] == [1, 1]
    assert events[0].detail["exam"] == first.pk
    receiver.answers = []
    for row in rows:
        sending.send_transmission(row.pk)
    # The third waits for its retry (not resent): the others are sent again.
    states = dict(Transmission.objects.values_list("pk", "state"))
    assert [states[r.pk] for r in rows] == ["sent", "sent", "pending"]
    north_pacs.refresh_from_db()
    assert north_pacs.failing_since is None and north_pacs.last_success_at is not None


@pytest.mark.parametrize(
    "params",
    [
        {"state": "bogus"},
        {"what": "x" * 500},
        {"q": "a\x00b"},
        {"q": "x" * 1000},
        {"date_from": "99999-01-01"},
        {"date_from": "0001-01-01"},
        {"date_from": "9999-12-31"},
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
        {"after": "not-a-cursor"},
        {"before": "x" * 5000},
    ],
)
def test_hostile_log_filters_are_a_400(client, trio, north_pacs, northside, params):
    planning.plan_exam(make_exam(northside, captures=1))
    as_user(client, trio[0])
    response = client.get(reverse("destination-detail", args=[north_pacs.pk]), params)
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["", "abc", "-1", "0", "9" * 30, "1\x00", str(2**63)])
def test_hostile_resend_is_a_4xx(client, trio, north_pacs, value):
    as_user(client, trio[0])
    response = client.post(
        reverse("destination-resend", args=[north_pacs.pk]), {"transmission": value}
    )
    assert response.status_code in (302, 404)  # "" says "choose a delivery"; the rest 404
    assert not AuditEvent.objects.filter(action=Action.RESEND_DELIVERIES).exists()


def destination_urls(pk) -> list[tuple[str, str]]:
    return [
        ("get", reverse("destination-detail", args=[pk])),
        ("get", reverse("destination-edit", args=[pk])),
        ("post", reverse("destination-edit", args=[pk])),
        ("post", reverse("destination-test", args=[pk])),
        ("post", reverse("destination-active", args=[pk])),
        ("get", reverse("destination-remove", args=[pk])),
        ("post", reverse("destination-remove", args=[pk])),
        ("post", reverse("destination-resend", args=[pk])),
    ]


def test_the_tenant_and_role_matrix(client, trio, north_pacs, south_pacs, northside, southside):
    alice, bob, charlie = trio
    clinician = make_user("dana@example.org")
    Membership.objects.create(user=clinician, institution=northside, role=Membership.Role.CLINICIAN)
    planning.plan_exam(make_exam(northside, captures=1))
    planning.plan_exam(make_exam(southside, captures=1))
    everything = [
        ("get", reverse("destination-list")),
        ("get", reverse("destination-add", args=[KEY])),
        ("post", reverse("destination-add", args=[KEY])),
        *destination_urls(north_pacs.pk),
    ]
    # Not an administrator here: a 404, as every admin page.
    for user in (bob, clinician):
        as_user(client, user)
        for method, url in everything:
            assert getattr(client, method)(url).status_code == 404, (user, method, url)
        html = client.get(reverse("home")).content.decode()
        assert reverse("destination-list") not in html
    # alice is only a clinician at Southside.
    as_user(client, alice, "southside")
    for method, url in destination_urls(south_pacs.pk):
        assert getattr(client, method)(url).status_code == 404
    # charlie administers Southside: Northside's destination does not exist for him.
    as_user(client, charlie)
    for method, url in destination_urls(north_pacs.pk):
        assert getattr(client, method)(url).status_code == 404, (method, url)
    listing = client.get(reverse("destination-list")).content.decode()
    assert "South PACS" in listing and "Main PACS" not in listing
    # Nothing changed anywhere.
    assert Destination.objects.count() == 2
    assert set(Transmission.objects.values_list("state", "attempts")) == {("pending", 0)}
    assert (
        not AuditEvent.objects.exclude(action=Action.VIEW_EXAM)
        .filter(
            action__in=[Action.ADD_DESTINATION, Action.CHANGE_DESTINATION, Action.RESEND_DELIVERIES]
        )
        .exists()
    )
    # Signed out: the sign-in page.
    client.logout()
    assert client.get(reverse("destination-list")).status_code == 302


def test_a_destination_of_a_kind_no_longer_installed_still_shows(client, trio, northside, receiver):
    gone = make_destination(northside, name="Old EHR", kind="uninstalled")
    as_user(client, trio[0])
    assert "no installed integration" in client.get(reverse("destination-list")).content.decode()
    page = client.get(reverse("destination-detail", args=[gone.pk]))
    assert page.status_code == 200 and "Test connection" not in page.content.decode()
    assert client.get(reverse("destination-edit", args=[gone.pk])).status_code == 302
    assert client.post(reverse("destination-test", args=[gone.pk])).status_code == 302


def test_every_registered_kind_has_an_add_form(client, trio, receiver):
    """Whatever the integrations register: its form renders, and an empty one is refused."""
    from portal.outbound import kinds

    as_user(client, trio[0])
    listing = client.get(reverse("destination-list")).content.decode()
    for kind in kinds.registered():
        assert f"Add {kind.label}" in listing
        url = reverse("destination-add", args=[kind.key])
        page = client.get(url)
        assert page.status_code == 200, kind.key
        no_inline_code(page.content.decode())
        assert client.post(url, {"name": ""}).status_code == 400
    assert not Destination.objects.exists()


def test_a_switched_off_destination_is_not_resent(client, trio, north_pacs, northside):
    planning.plan_exam(make_exam(northside, captures=1))
    Destination.objects.filter(pk=north_pacs.pk).update(is_active=False)
    as_user(client, trio[0])
    row = Transmission.objects.get()
    response = client.post(
        reverse("destination-resend", args=[north_pacs.pk]), {"transmission": row.pk}, follow=True
    )
    assert "switch it on to send again" in response.content.decode()
    assert "Resend" not in response.content.decode().split("Delivery log")[1]


def test_every_registered_kind_saves_from_its_form(client, trio, receiver):
    """Each kind's required options filled with a plausible value of their type: saved."""
    from portal.outbound import kinds

    plausible = {"text": "PACS1", "int": "104", "url": "https://pacs.example.org/api"}
    as_user(client, trio[0])
    for kind in kinds.registered():
        data = {"name": f"{kind.label} one", "is_active": "on"}
        data |= {"send_images": "on", "send_report": "on"}
        for option in kind.options:
            if option.required and option.type != "bool":
                data[f"option_{option.name}"] = plausible[option.type]
        response = client.post(reverse("destination-add", args=[kind.key]), data)
        assert response.status_code == 302, (kind.key, response.content.decode()[-2000:])
        saved = Destination.objects.get(kind=kind.key)
        assert client.get(reverse("destination-detail", args=[saved.pk])).status_code == 200
        assert client.get(reverse("destination-edit", args=[saved.pk])).status_code == 200


def test_the_pages_cost_the_same_queries_for_more_rows(client, trio, northside, receiver):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    as_user(client, trio[0])
    first = make_destination(northside, name="First")
    planning.plan_exam(make_exam(northside, captures=1))
    urls = [reverse("destination-list"), reverse("destination-detail", args=[first.pk])]
    client.get(urls[0])

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries))
        return result

    few = counts()
    for n in range(4):
        make_destination(northside, name=f"More {n}")
    for _ in range(3):
        planning.plan_exam(make_exam(northside, captures=4))
    assert Transmission.objects.filter(destination=first).count() == 13
    assert counts() == few
