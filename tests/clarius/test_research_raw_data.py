"""An exam's research raw data: parsed metadata shown, raw files kept, errors explained,
and the tenant and role rules."""

import pytest
from django.urls import reverse

from integrations.clarius.models import RawDataFile
from integrations.clarius.research import service as research
from portal import storage
from portal.exams.models import AuditEvent, Exam
from portal.tenants.models import Membership
from tests.conftest import make_user
from tests.factories import make_exam

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(northside):
    """A clinician at Northside, who performed the exam."""
    user = make_user("carol@example.org", "Carol Clinician")
    Membership.objects.create(user=user, institution=northside, role=Membership.Role.CLINICIAN)
    return user


@pytest.fixture
def scan(clarius_settings, clarius_sandbox, northside, carol, settings, tmp_path):
    """Carol's exam, uploaded to Clarius by a user whose institution has the bundle."""
    settings.PORTAL_MEDIA_ROOT = tmp_path
    uploader = clarius_sandbox.add_user("Carol", research_bundle=True)
    request = clarius_sandbox.upload_exam(uploader, captures=2, videos=0, notify=False)
    exam = make_exam(northside, carol)
    Exam.objects.filter(pk=exam.pk).update(exam_uuid=request.exam_uuid)
    exam.refresh_from_db()
    return exam, clarius_sandbox.state.exams[request.exam_uuid]


def connected(user):
    research.connect(user, "researcher@example.com", "research-pass")
    return user


def url(exam):
    return reverse("clarius-raw-data", args=[exam.pk])


def test_the_parsed_metadata_is_shown_and_audited(client, bob, scan):
    exam, sandbox_exam = scan
    client.force_login(connected(bob))
    response = client.get(url(exam))
    assert response.status_code == 200
    body = response.content.decode()
    assert len(response.context["rows"]) == 2
    assert sandbox_exam.probe_model in body and sandbox_exam.probe_serial in body
    assert "B pre-scan" in body and "jpeg" in body and "7.544 MHz" in body
    assert "1078 samples × 192 lines × 1 byte" in body
    assert "MI " in body and "TIb " in body and "TIs " in body
    capture = response.context["rows"][0][0]
    assert capture.metadata.date_time.strftime("%Y-%m-%d %H:%M:%S %z") in body
    event = AuditEvent.objects.get(action="research_raw_data")
    assert (event.user, event.object_id, event.detail) == (bob, str(exam.pk), {"captures": 2})


def test_a_raw_file_is_copied_into_the_portal_and_downloaded(
    client, bob, scan, django_capture_on_commit_callbacks
):
    exam, sandbox_exam = scan
    client.force_login(connected(bob))
    capture_uuid = sandbox_exam.captures[0].capture_uuid
    fetch = reverse("clarius-raw-data-fetch", args=[exam.pk, capture_uuid])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(fetch).status_code == 302
    row = RawDataFile.objects.get()
    assert (row.state, row.institution_id) == ("done", exam.institution_id)
    assert storage.local_file(row.file).stat().st_size == row.size > 0
    assert "Download the raw file" in client.get(url(exam)).content.decode()
    response = client.get(reverse("clarius-raw-data-file", args=[exam.pk, row.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == storage.local_file(row.file).read_bytes()
    assert response["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="raw_data_download", user=bob).count() == 1


def test_still_processing_is_explained(client, bob, scan):
    exam, sandbox_exam = scan
    sandbox_exam.processing = True
    client.force_login(connected(bob))
    assert "still processing this exam" in client.get(url(exam)).content.decode()


def test_no_research_bundle_is_a_clear_403(client, bob, scan, clarius_sandbox):
    exam, sandbox_exam = scan
    clarius_sandbox.state.users[sandbox_exam.customer_token].research_bundle = False
    client.force_login(connected(bob))
    assert "needs the Research Bundle" in client.get(url(exam)).content.decode()


def test_an_exam_clarius_does_not_know_is_a_clear_404(client, bob, northside, scan):
    other = make_exam(northside, bob)
    client.force_login(connected(bob))
    response = client.get(url(other))
    assert response.status_code == 200
    assert "does not know this exam" in response.content.decode()


def test_without_a_research_account_the_page_says_how_to_connect(client, bob, scan):
    client.force_login(bob)
    body = client.get(url(scan[0])).content.decode()
    assert reverse("clarius-research") in body


# Who may see the raw data of Carol's Northside exam.
@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("alice", 200),  # admin of Northside
        ("bob", 200),  # reviewer at Northside
        ("carol", 200),  # the clinician who performed it
        ("dave", 404),  # another clinician at Northside
        ("charlie", 404),  # admin of Southside: another tenant's exam does not exist
        ("alice-at-southside", 404),  # a member of both, working in Southside
    ],
)
def test_the_tenant_and_role_rules(
    client, scan, alice, bob, carol, charlie, northside, who, status
):
    exam, sandbox_exam = scan
    dave = make_user("dave@example.org")
    Membership.objects.create(user=dave, institution=northside, role=Membership.Role.CLINICIAN)
    users = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "charlie": charlie}
    user = users[who.split("-")[0]]
    client.force_login(connected(user))
    if who == "alice-at-southside":
        client.post(reverse("switch-institution"), {"institution": "southside"})
    capture_uuid = sandbox_exam.captures[0].capture_uuid
    assert client.get(url(exam)).status_code == status
    fetch = reverse("clarius-raw-data-fetch", args=[exam.pk, capture_uuid])
    assert client.post(fetch).status_code == (302 if status == 200 else 404)
    if status == 404:
        assert not RawDataFile.objects.exists()
        assert not AuditEvent.objects.filter(user=user).exists()


def test_another_tenants_raw_file_is_a_404(client, scan, charlie, southside):
    exam, _ = scan
    row = RawDataFile.objects.create(
        institution=exam.institution,
        exam=exam,
        capture_uuid="8c3b7d0e-0000-4000-8000-000000000000",
        state="done",
        file="x",
    )
    client.force_login(charlie)
    charlies_exam = make_exam(southside, charlie)
    for exam_pk in (exam.pk, charlies_exam.pk):
        response = client.get(reverse("clarius-raw-data-file", args=[exam_pk, row.pk]))
        assert response.status_code == 404
