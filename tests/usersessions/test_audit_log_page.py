"""Sign-ins and sign-outs are in each institution's audit log page, its filters and its CSV."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.usersessions import audit, policy
from tests.conftest import PASSWORD
from tests.usersessions.conftest import age_session, sign_in

pytestmark = pytest.mark.django_db


def exported(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_a_sign_in_writes_one_event_per_institution_of_the_user(
    client, alice, northside, southside
):
    sign_in(client, alice.email)
    events = AuditEvent.objects.filter(user=alice)
    assert sorted((e.institution_id, e.action) for e in events) == sorted(
        [(northside.pk, "login"), (southside.pk, "login")]
    )
    for event in events:
        assert (event.object_type, event.object_id) == ("user", str(alice.pk))
        assert event.get_action_display() == "Signed in"
        # Neither the password nor the session key is part of an event.
        assert PASSWORD not in str(event.detail)
        assert client.session.session_key not in str(event.detail)


def test_every_way_of_signing_out_is_in_the_log_with_its_label(client, bob, northside):
    sign_in(client, bob.email)
    age_session(client, idle=31 * 60)
    client.get(reverse("home"))  # idle: signed out
    sign_in(client, bob.email)
    age_session(client, started=policy.max_seconds() + 60)
    client.get(reverse("home"))  # past the session's time limit
    sign_in(client, bob.email)
    client.post(reverse("session-sign-out-everywhere"))
    sign_in(client, bob.email)
    client.post(reverse("logout"))
    actions = list(
        AuditEvent.objects.for_institution(northside)
        .order_by("at")
        .values_list("action", flat=True)
    )
    assert actions == [
        "login",
        "idle_logout",
        "login",
        "session_max_age",
        "login",
        "sign_out_everywhere",
        "login",
        "logout",
    ]


def test_the_admin_sees_sign_ins_on_the_page_and_can_filter_and_export_them(
    client, alice, bob, northside
):
    sign_in(Client(), bob.email, ip="10.0.0.7")
    sign_in(client, alice.email)
    page = client.get(reverse("audit-log"), {"action": audit.LOGIN})
    assert page.status_code == 200
    rows = page.context["page"].rows
    assert {(e.user, e.action) for e in rows} == {(bob, "login"), (alice, "login")}
    html = page.content.decode()
    assert "Signed in" in html and "10.0.0.7" in html
    assert '<option value="idle_logout">Signed out after being idle</option>' in html

    export = exported(client.get(reverse("audit-log-csv"), {"action": audit.LOGIN}))
    assert {(r["user"], r["description"]) for r in export} == {
        ("bob@example.org", "Signed in"),
        ("alice@example.org", "Signed in"),
    }


def test_charlies_institution_never_shows_northsides_sign_ins(
    client, alice, bob, charlie, northside, southside
):
    sign_in(Client(), bob.email)  # Northside only
    sign_in(Client(), alice.email)  # Northside and Southside
    sign_in(client, charlie.email)
    page = client.get(reverse("audit-log"), {"action": audit.LOGIN})
    assert page.status_code == 200
    users = {e.user for e in page.context["page"].rows}
    assert users == {alice, charlie}  # alice is a Southside member too; bob is not
    assert "bob@example.org" not in page.content.decode()
    export = exported(client.get(reverse("audit-log-csv")))
    assert "bob@example.org" not in {r["user"] for r in export}
    assert {r["action"] for r in export} >= {"login", "export_audit_log"}
    # Filtering by a Northside member's id shows nothing of theirs.
    filtered = client.get(reverse("audit-log"), {"user": bob.pk})
    assert filtered.status_code in (200, 400)
    if filtered.status_code == 200:
        assert not [e for e in filtered.context["page"].rows if e.user == bob]


def test_an_admin_ending_a_members_sessions_is_only_in_that_institutions_log(
    alice, bob, charlie, northside, southside
):
    # alice administers Northside and is a clinician at Southside: ending bob's
    # sessions at Northside must not tell Southside (charlie's log) anything about bob.
    from portal.tenants.models import Membership

    member_client = Client()
    sign_in(member_client, bob.email)
    admin_client = Client()
    sign_in(admin_client, alice.email)
    membership = Membership.objects.get(user=bob, institution=northside)
    response = admin_client.post(reverse("member-sign-out", args=[membership.pk]))
    assert response.status_code == 302
    ended = AuditEvent.objects.filter(action="sign_out_everywhere")
    assert [e.institution_id for e in ended] == [northside.pk]
    assert not AuditEvent.objects.for_institution(southside).filter(detail__member=bob.pk).exists()
