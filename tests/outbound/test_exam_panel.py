"""The exam page's PACS and EHR panel: per destination "Sent", "Sending (n of m)" or
"Failed: reason"; shown only where the institution has destinations, to whoever can see
the exam, with a link to the destination for administrators; one query whatever the
number of destinations and objects."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.outbound import kinds, planning, sending
from portal.outbound.models import Transmission
from portal.tenants.models import Membership
from tests.conftest import make_user
from tests.factories import make_exam
from tests.outbound.conftest import as_user, make_destination


def panel(html: str) -> str:
    start = html.find('id="deliveries"')
    return html[start : html.find("</section>", start)] if start >= 0 else ""


def test_the_panel_says_per_destination_what_happened(client, trio, northside, receiver):
    alice, bob, _ = trio
    pacs = make_destination(northside, name="Main PACS")
    ehr = make_destination(northside, name="Hospital EHR")
    other = make_destination(northside, name="Archive")
    exam = make_exam(northside, bob, captures=2)
    planning.plan_exam(exam)
    receiver.answers = ["ok", "ok", "ok", kinds.DeliveryFailed("The EHR refused the message")]
    for row in Transmission.objects.filter(destination__in=[pacs, ehr]).order_by(
        "destination_id", "pk"
    ):
        sending.send_transmission(row.pk)
    failed = Transmission.objects.filter(destination=ehr, state="pending").get()
    Transmission.objects.filter(pk=failed.pk).update(state="failed")

    as_user(client, alice)
    html = panel(client.get(reverse("exam-detail", args=[exam.pk])).content.decode())
    assert "Main PACS" in html and "Sent (2)" in html
    assert "Failed (1 of 2): The EHR refused the message" in html
    assert "Archive" in html and "Sending (0 of 2 sent)" in html
    assert reverse("destination-detail", args=[pacs.pk]) in html

    as_user(client, bob)  # a reviewer: the same words, no link to the admin page
    html = panel(client.get(reverse("exam-detail", args=[exam.pk])).content.decode())
    assert "Failed (1 of 2)" in html and reverse("destination-detail", args=[pacs.pk]) not in html
    assert other.pk


def test_the_operator_sees_it_and_no_destination_means_no_panel(
    client, trio, northside, southside, receiver
):
    alice, bob, charlie = trio
    clinician = make_user("dana@example.org")
    Membership.objects.create(user=clinician, institution=northside, role=Membership.Role.CLINICIAN)
    exam = make_exam(northside, clinician, captures=1)
    as_user(client, clinician)
    assert panel(client.get(reverse("exam-detail", args=[exam.pk])).content.decode()) == ""

    make_destination(northside, name="Main PACS")
    html = panel(client.get(reverse("exam-detail", args=[exam.pk])).content.decode())
    assert "Nothing of this exam is sent" in html  # added after the exam was ready
    planning.plan_exam(exam)
    html = panel(client.get(reverse("exam-detail", args=[exam.pk])).content.decode())
    assert "Sending (0 of 1 sent)" in html

    # Another institution's destinations never show on this exam, nor this one's there.
    make_destination(southside, name="South PACS")
    south_exam = make_exam(southside, charlie, captures=1)
    planning.plan_exam(south_exam)
    as_user(client, alice)
    assert "South PACS" not in client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    as_user(client, charlie)
    html = panel(client.get(reverse("exam-detail", args=[south_exam.pk])).content.decode())
    assert "South PACS" in html and "Main PACS" not in html


def test_the_panel_costs_one_query_however_many_destinations(client, trio, northside, receiver):
    alice = trio[0]
    exam = make_exam(northside, captures=2)
    make_destination(northside, name="One")
    planning.plan_exam(exam)
    as_user(client, alice)
    url = reverse("exam-detail", args=[exam.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(4):
        make_destination(northside, name=f"More {n}")
    Transmission.objects.all().delete()
    planning.plan_exam(exam)
    assert Transmission.objects.count() == 10
    with CaptureQueriesContext(connection) as many:
        assert "More 3" in client.get(url).content.decode()
    assert len(many) == len(few)
    outbound = [q for q in many.captured_queries if "outbound_" in q["sql"]]
    assert len(outbound) == 1
