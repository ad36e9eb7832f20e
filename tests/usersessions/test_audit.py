"""Sign-ins, sign-outs, idle sign-outs and "sign out everywhere" are recorded."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from portal.exams.models import AuditEvent
from portal.usersessions import audit
from tests.usersessions.conftest import age_session, sign_in

pytestmark = pytest.mark.django_db

SESSION_ACTIONS = {
    audit.LOGIN,
    audit.LOGOUT,
    audit.IDLE_LOGOUT,
    audit.MAX_AGE_LOGOUT,
    audit.END_SESSION,
    audit.SIGN_OUT_EVERYWHERE,
}


def logged(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "portal.sessions"]


def test_sign_in_idle_sign_out_and_sign_out_everywhere_are_logged(client, bob, caplog):
    caplog.set_level(logging.INFO, logger="portal.sessions")
    sign_in(client, bob.email)
    key = client.session.session_key
    age_session(client, idle=31 * 60)
    client.get(reverse("home"))
    sign_in(client, bob.email)
    client.post(reverse("session-sign-out-everywhere"))
    sign_in(client, bob.email)
    client.post(reverse("logout"))
    messages = logged(caplog)
    assert [m.split(":")[0] for m in messages] == [
        "session login",
        "session idle_logout",
        "session login",
        "session sign_out_everywhere",
        "session login",
        "session logout",
    ]
    assert all(f"user {bob.pk} from " in m for m in messages)
    assert f"user {bob.pk} from 10.0.0.1" in messages[0]
    assert not any(key in m for m in messages)


def test_they_go_to_each_institutions_audit_log(client, alice, northside, southside):
    assert set(AuditEvent.Action.values) >= SESSION_ACTIONS
    sign_in(client, alice.email)
    events = AuditEvent.objects.filter(action=audit.LOGIN, user=alice)
    assert {e.institution_id for e in events} == {northside.pk, southside.pk}
    assert {e.ip_address for e in events} == {"10.0.0.1"}
    age_session(client, idle=31 * 60)
    client.get(reverse("home"))
    assert AuditEvent.objects.filter(action=audit.IDLE_LOGOUT, user=alice).count() == 2


def test_an_administrator_ending_a_members_sessions_is_recorded(client, alice, bob, northside):
    from portal.tenants.models import Membership

    sign_in(Client(), bob.email)
    sign_in(client, alice.email)
    member = Membership.objects.get(institution=northside, user=bob)
    client.post(reverse("member-sign-out", args=[member.pk]))
    event = AuditEvent.objects.for_institution(northside).get(action=audit.SIGN_OUT_EVERYWHERE)
    assert event.user == alice and event.detail == {"member": bob.pk, "sessions": 1}
