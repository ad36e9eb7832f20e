"""DICOM export: every option reaches Clarius as sent, the file is kept with its tags,
"still processing" is retried later, errors are explained, tenants and roles hold."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from integrations.clarius.api.client import DICOM_DEMOGRAPHICS, DICOM_SYNTAXES
from integrations.clarius.models import DicomExport, ResearchAccount
from integrations.clarius.research import service as research
from integrations.clarius.research import tasks as research_tasks
from portal import storage
from portal.exams.models import AuditEvent, Exam
from portal.tenants.models import Membership
from tests.conftest import make_user
from tests.factories import make_exam

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "syntax": DICOM_SYNTAXES[0],
    "resolution": "1024x768",
    "tz": "UTC",
    "b_image_only": False,
    "include_annotations": False,
    "include_demographics": False,
    "include_measurements": False,
    "include_scan_parameters": False,
}


@pytest.fixture
def scan(clarius_settings, clarius_sandbox, northside, bob, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path
    uploader = clarius_sandbox.add_user("Bob", research_bundle=True)
    request = clarius_sandbox.upload_exam(uploader, captures=1, videos=0, notify=False)
    exam = make_exam(northside, bob)
    Exam.objects.filter(pk=exam.pk).update(exam_uuid=request.exam_uuid)
    exam.refresh_from_db()
    return exam, clarius_sandbox.state.exams[request.exam_uuid]


@pytest.fixture
def member(client, bob, clarius_settings):
    research.connect(bob, "researcher@example.com", "research-pass")
    client.force_login(bob)
    return client


def url(exam):
    return reverse("clarius-dicom", args=[exam.pk])


def form(**options):
    """The form as a browser posts it: unticked boxes are absent."""
    data = {k: v for k, v in {**DEFAULTS, **options}.items() if v is not False}
    return {k: ("on" if v is True else v) for k, v in data.items()}


def export(member, exam, commit, **options):
    with commit(execute=True):
        response = member.post(url(exam), form(**options))
    assert response.status_code == 302, response.content.decode()[:2000]
    return DicomExport.objects.latest("pk")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"syntax": DICOM_SYNTAXES[1]},
        {"b_image_only": True},
        {"resolution": "800x600"},
        {"include_annotations": True},
        {"include_measurements": True},
        {"include_scan_parameters": True},
        {"include_demographics": True},
        {"include_demographics": True, "demographics": ["PATIENT_NAME", "EXAM_DATE"]},
        {"include_demographics": True, "demographics": list(DICOM_DEMOGRAPHICS)},
        {"tz": "America/Vancouver"},
        {
            "syntax": DICOM_SYNTAXES[1],
            "resolution": "640x480",
            "include_annotations": True,
            "include_demographics": True,
            "include_measurements": True,
            "include_scan_parameters": True,
            "demographics": ["PATIENT_ID", "ACOUSTIC_INDICES"],
            "tz": "Asia/Kolkata",
        },
    ],
    ids=lambda o: ",".join(o) or "defaults",
)
def test_every_option_reaches_clarius_as_sent(
    member, scan, django_capture_on_commit_callbacks, options
):
    exam, sandbox_exam = scan
    done = export(member, exam, django_capture_on_commit_callbacks, **options)
    sent = {**DEFAULTS, **options}
    (request,) = sandbox_exam.dicom_exports
    assert request.received == sent  # exactly, booleans as JSON booleans
    assert request.errors == {}
    assert done.parameters == sent
    assert done.state == "done", done.last_error


def test_the_file_is_kept_with_its_main_tags_and_offered_for_download(
    member, scan, bob, django_capture_on_commit_callbacks
):
    exam, sandbox_exam = scan
    done = export(
        member, exam, django_capture_on_commit_callbacks, resolution="800x600", tz="Europe/Paris"
    )
    path = storage.local_file(done.file)
    assert path.read_bytes()[128:132] == b"DICM"
    assert done.file.startswith(f"{exam.institution_id}/{exam.exam_uuid}/research/")
    assert (done.content_type, done.size) == ("application/dicom", path.stat().st_size)
    tags = done.tags
    assert tags["Modality"] == "US"
    assert (tags["Rows"], tags["Columns"]) == ("600", "800")
    # Generated patients sometimes have no identifier; an empty tag is not listed.
    assert tags.get("PatientID", "") == sandbox_exam.patient.get("identifier", "")
    assert tags["ManufacturerModelName"] == sandbox_exam.probe_model
    assert tags["TimezoneOffsetFromUTC"] in ("+0100", "+0200")
    assert "Ultrasound Image Storage" in tags["SOPClassUID"]
    assert "Explicit VR Little Endian" in tags["TransferSyntaxUID"]

    page = member.get(url(exam)).content.decode()
    assert "Ready" in page and "ManufacturerModelName" in page and "800x600" in page
    download = member.get(reverse("clarius-dicom-download", args=[exam.pk, done.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == path.read_bytes()
    assert download["Content-Type"] == "application/dicom"
    assert download["Content-Disposition"].startswith("attachment;")
    actions = list(AuditEvent.objects.filter(user=bob).values_list("action", flat=True))
    assert {"dicom_export", "dicom_download", "view_exam"} <= set(actions)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resolution": "1024"}, "Write it as &lt;width&gt;x&lt;height&gt;"),
        ({"resolution": "16x16"}, "each between 32 and 4096"),
        ({"resolution": "5000x700"}, "each between 32 and 4096"),
        ({"syntax": "jpeg lossless nonhierarchical process 14"}, "Select a valid choice"),
        ({"tz": "Mars/Olympus_Mons"}, "Select a valid choice"),
        ({"demographics": ["SHOE_SIZE"]}, "Select a valid choice"),
        ({"demographics": ["PATIENT_NAME"]}, "Tick “Demographics”"),
        ({"b_image_only": True, "include_annotations": True}, "B-image only turns every overlay"),
    ],
)
def test_invalid_options_are_refused_before_anything_is_sent(member, scan, options, message):
    exam, sandbox_exam = scan
    response = member.post(url(exam), form(**options))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert sandbox_exam.dicom_exports == []
    assert not DicomExport.objects.exists()


def test_still_processing_is_retried_later_and_the_user_told(
    member, scan, django_capture_on_commit_callbacks
):
    exam, sandbox_exam = scan
    sandbox_exam.processing = True
    waiting = export(member, exam, django_capture_on_commit_callbacks)
    assert waiting.state == "pending"
    assert waiting.next_attempt_at > timezone.now()
    assert "still processing" in waiting.last_error
    nudge = Schedule.objects.get(func="integrations.clarius.research.tasks.run_dicom_export")
    assert (nudge.args, nudge.schedule_type) == (f"({waiting.pk},)", Schedule.ONCE)
    assert nudge.next_run == waiting.next_attempt_at
    assert "tries again automatically" in member.get(url(exam)).content.decode()

    assert research_tasks.run_dicom_export(waiting.pk) == "not due"  # its backoff holds
    sandbox_exam.processing = False
    DicomExport.objects.filter(pk=waiting.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert research_tasks.run_dicom_export(waiting.pk) == "done"
    waiting.refresh_from_db()
    assert (waiting.state, waiting.last_error, waiting.attempts) == ("done", "", 2)


def test_no_research_bundle_is_a_clear_failure(
    member, scan, clarius_sandbox, django_capture_on_commit_callbacks
):
    exam, sandbox_exam = scan
    clarius_sandbox.state.users[sandbox_exam.customer_token].research_bundle = False
    failed = export(member, exam, django_capture_on_commit_callbacks)
    assert failed.state == "failed" and "needs the Research Bundle" in failed.last_error
    assert "needs the Research Bundle" in member.get(url(exam)).content.decode()


def test_an_exam_clarius_does_not_know_is_a_clear_failure(
    member, bob, northside, scan, django_capture_on_commit_callbacks
):
    other = make_exam(northside, bob)
    failed = export(member, other, django_capture_on_commit_callbacks)
    assert failed.state == "failed" and "does not know this exam" in failed.last_error


def test_a_disconnected_account_fails_the_export(member, bob, scan):
    exam, _ = scan
    member.post(url(exam), form())  # queued, not run: no commit in this test
    ResearchAccount.objects.filter(user=bob).delete()
    pending = DicomExport.objects.get()
    assert research_tasks.run_dicom_export(pending.pk) == "failed"
    pending.refresh_from_db()
    assert "disconnected" in pending.last_error


def test_without_a_research_account_nothing_is_requested(client, bob, scan):
    exam, sandbox_exam = scan
    client.force_login(bob)
    response = client.post(url(exam), form())
    assert response.status_code == 200 and reverse("clarius-research") in response.content.decode()
    assert not DicomExport.objects.exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("bob", 200), ("charlie", 404), ("alice-at-southside", 404)],
)
def test_the_tenant_and_role_rules(client, scan, alice, bob, charlie, who, status):
    exam, _ = scan
    done = DicomExport.objects.create(
        institution=exam.institution, exam=exam, state="done", file="x.dcm", requested_by=bob
    )
    user = {"alice": alice, "bob": bob, "charlie": charlie}[who.split("-")[0]]
    research.connect(user, "researcher@example.com", "research-pass")
    client.force_login(user)
    if who == "alice-at-southside":
        client.post(reverse("switch-institution"), {"institution": "southside"})
    assert client.get(url(exam)).status_code == status
    if status == 404:
        assert client.post(url(exam), form()).status_code == 404
        download = reverse("clarius-dicom-download", args=[exam.pk, done.pk])
        assert client.get(download).status_code == 404
        assert DicomExport.objects.count() == 1
        assert not AuditEvent.objects.filter(user=user).exists()


def test_a_clinician_sees_only_their_own_exams(client, scan, northside):
    exam, _ = scan
    dave = make_user("dave@example.org")
    Membership.objects.create(user=dave, institution=northside, role=Membership.Role.CLINICIAN)
    client.force_login(dave)
    assert client.get(url(exam)).status_code == 404
    own = make_exam(northside, dave)
    assert client.get(url(own)).status_code == 200


def test_the_exam_page_panel_links_to_both_pages(scan, bob):
    from django.template.loader import render_to_string

    exam, _ = scan
    html = render_to_string("clarius/research_panel.html", {"exam": exam, "user": bob})
    assert reverse("clarius-research") in html
    research.connect(bob, "researcher@example.com", "research-pass")
    bob.refresh_from_db()
    html = render_to_string("clarius/research_panel.html", {"exam": exam, "user": bob})
    assert reverse("clarius-raw-data", args=[exam.pk]) in html
    assert reverse("clarius-dicom", args=[exam.pk]) in html


def test_dicom_tags_are_cleaned_before_they_reach_a_column(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from integrations.clarius.research.service import dicom_tags

    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.PatientName = "Doe^\x07Jane\x00"
    dataset.PatientID = "MRN\x00123"
    path = tmp_path / "x.dcm"
    dataset.save_as(path, enforce_file_format=True)
    tags = dicom_tags(path, "application/dicom")
    assert tags["PatientName"] == "Doe^Jane"
    assert tags["PatientID"] == "MRN123"


def test_a_dicom_file_with_an_unknown_value_representation_is_a_reason_not_a_crash(tmp_path):
    # pydicom raised NotImplementedError for it, which no caller caught.
    from integrations.clarius.research.service import dicom_tags
    from tests.hostile.test_dicom_files import VALID

    tag = b"\x02\x00\x10\x00UI"  # (0002,0010) Transfer Syntax UID, VR "UI"
    assert tag in VALID
    path = tmp_path / "x.dcm"
    path.write_bytes(VALID.replace(tag, b"\x02\x00\x10\x00U.", 1))
    with pytest.raises(ValueError, match="not a readable DICOM file: NotImplementedError"):
        dicom_tags(path, "application/dicom")
