"""``GET /api/v1/exams/<id>/deliveries/``: per destination and object, scoped as every
exam sub-resource (another institution's exam, or a clinician's view of someone else's,
is a 404)."""

from __future__ import annotations

from django.urls import reverse

from portal.outbound import kinds, planning, sending
from portal.outbound.models import Transmission
from portal.tenants.models import Membership
from tests.conftest import make_user
from tests.factories import make_exam
from tests.outbound.conftest import as_user, make_destination


def test_each_object_to_each_destination_with_its_state(client, trio, northside, receiver):
    alice, bob, _ = trio
    pacs = make_destination(northside, name="Main PACS", secret="hidden-Tok3n")
    ehr = make_destination(northside, name="Hospital EHR")
    exam = make_exam(northside, bob, captures=2)
    planning.plan_exam(exam)
    rows = list(Transmission.objects.order_by("destination_id", "pk"))
    receiver.answers = ["Stored\x00 (0x0000)", kinds.DeliveryFailed("Refused: \u202eevil")]
    sending.send_transmission(rows[0].pk)
    sending.send_transmission(rows[2].pk)

    as_user(client, bob)
    response = client.get(reverse("api-exam-deliveries", args=[exam.pk]))
    assert response.status_code == 200
    body = response.json()
    assert "hidden-Tok3n" not in response.content.decode()
    results = body["results"]
    assert [r["id"] for r in results] == [r.pk for r in rows]
    first, _, third, _ = results
    assert first["destination"] == {
        "id": pacs.pk,
        "name": "Main PACS",
        "kind": "outbound-tests",
        "kind_label": "Test receiver",
    }
    assert first["what"] == "image" and first["capture_id"] == rows[0].capture_id
    assert first["report_version"] is None and first["state"] == "sent"
    assert first["uid"] == f"2.25.{rows[0].pk}" and first["sent_at"]
    assert first["remote_answer"] == "Stored (0x0000)"
    assert third["destination"]["id"] == ehr.pk
    assert third["state"] == "pending" and third["attempts"] == 1 and third["next_attempt_at"]
    assert third["last_error"].startswith("Refused:") and "\u202e" not in third["last_error"]
    assert set(first) == {
        "id",
        "destination",
        "what",
        "capture_id",
        "report_version",
        "result_status",
        "uid",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "remote_answer",
        "created_at",
    }


def test_pages_and_the_tenant_and_role_rule(client, trio, northside, southside, receiver):
    alice, bob, charlie = trio
    dana = make_user("dana@example.org")
    Membership.objects.create(user=dana, institution=northside, role=Membership.Role.CLINICIAN)
    make_destination(northside)
    exam = make_exam(northside, bob, captures=3)
    planning.plan_exam(exam)
    url = reverse("api-exam-deliveries", args=[exam.pk])

    as_user(client, alice)
    page = client.get(url, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert client.get(url, {"cursor": "garbage"}).status_code == 400

    # A clinician sees the deliveries of their own exams only.
    own = make_exam(northside, dana, captures=1)
    planning.plan_exam(own)
    as_user(client, dana)
    assert client.get(url).status_code == 404
    assert len(client.get(reverse("api-exam-deliveries", args=[own.pk])).json()["results"]) == 1
    # Another institution's exam does not exist; nor does a hostile id.
    as_user(client, charlie)
    assert client.get(url).status_code == 404
    south = make_exam(southside, charlie, captures=1)
    assert client.get(reverse("api-exam-deliveries", args=[south.pk])).json()["results"] == []
    assert client.get(f"/api/v1/exams/{2**70}/deliveries/").status_code == 404
    client.logout()
    assert client.get(url).status_code in (401, 403)
