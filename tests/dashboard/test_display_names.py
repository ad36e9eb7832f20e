"""Outside names on the staff pages and in the audit export: isolated, without controls."""

import csv
import io

from django.urls import reverse

from portal.exams.models import AuditEvent, Patient
from portal.exams.templatetags.display import isolated, plain
from portal.text import storable
from tests.dashboard.conftest import animal, exam
from tests.many_captures import HOSTILE_NAME, has_bidi


def hostile_exam(institution, operator):
    made = exam(institution, operator)
    Patient.objects.filter(exam=made).update(
        first_name=storable(HOSTILE_NAME), last_name="", identifier="\u202e321-NRM"
    )
    operator.full_name = "\u202eBob\u2066 Reviewer"
    operator.save()
    return made


def test_the_filter_strips_controls_and_isolates_the_name():
    assert isolated("\u202eNora\u2066 \x00North\nEnd") == "<bdi>Nora North End</bdi>"
    assert isolated("<b>&</b>") == "<bdi>&lt;b&gt;&amp;&lt;/b&gt;</bdi>"
    assert isolated("\u202e\x00", "–") == "–" and isolated(None, "–") == "–"
    assert plain("a\u202eb\x00\tc") == "ab c"
    assert len(isolated("x" * 10_000)) == len("<bdi></bdi>") + 200


def test_the_worklist_isolates_patient_operator_and_identifier(client, trio, northside):
    alice, bob, _ = trio
    hostile_exam(northside, bob)
    client.force_login(alice)
    page = client.get(reverse("worklist")).content.decode()
    assert not has_bidi(page) and "\x00" not in page
    assert "<bdi>Nora North Tab End</bdi>" in page
    assert "<code><bdi>321-NRM</bdi></code>" in page
    assert '<td data-label="Clinician"><bdi>Bob Reviewer</bdi></td>' in page


def test_the_worklist_isolates_an_animals_species(client, trio, northside):
    alice, bob, _ = trio
    animal(exam(northside, bob), "\u202eRex", kind="\u2066Canine")
    client.force_login(alice)
    page = client.get(reverse("worklist")).content.decode()
    assert '<bdi>Rex</bdi> <span class="muted">(<bdi>Canine</bdi>)</span>' in page


def test_the_dashboards_recent_exams_isolate_names(client, trio, northside):
    alice, bob, _ = trio
    hostile_exam(northside, bob)
    client.force_login(alice)
    page = client.get(reverse("home")).content.decode()
    assert "<bdi>Nora North Tab End</bdi>" in page and "<bdi>Bob Reviewer</bdi>" in page
    assert not has_bidi(page)


def audit_event(institution, user, **detail):
    return AuditEvent.objects.create(
        institution=institution,
        user=user,
        action="view_exam",
        object_type="exam",
        object_id="1",
        ip_address="10.0.0.1",
        detail=detail,
    )


def test_the_audit_log_page_shows_event_details_without_controls(client, trio, northside):
    alice = trio[0]
    audit_event(northside, alice, via="\u202eapi", note="=1+2\u2066")
    client.force_login(alice)
    page = client.get(reverse("audit-log")).content.decode()
    assert "<bdi>via</bdi>: <bdi>api</bdi>" in page and not has_bidi(page)


def test_the_audit_export_strips_controls_and_guards_formulas(client, trio, northside):
    alice = trio[0]
    alice.email = "alice@\u202eexample.org"  # a domain may hold any letter
    alice.save()
    audit_event(northside, alice, via="api")
    AuditEvent.objects.filter(institution=northside).update(object_id="\u202e=HYPERLINK(1)")
    client.force_login(alice)
    response = client.get(reverse("audit-log-csv"))
    body = b"".join(response.streaming_content).decode()
    assert not has_bidi(body)
    rows = list(csv.DictReader(io.StringIO(body)))
    viewed = next(r for r in rows if r["action"] == "view_exam")
    assert viewed["user"] == "alice@example.org"
    assert viewed["object_id"] == "'=HYPERLINK(1)"
