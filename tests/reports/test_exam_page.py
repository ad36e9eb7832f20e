"""The exam page: who sees it, what each role sees on it, and the audit of every view."""

import pytest
from django.conf import settings
from django.urls import reverse

from portal.exams.models import AuditEvent, Capture, Patient
from portal.reports.models import Findings
from portal.reports.review import add_addendum
from portal.text import storable
from tests.many_captures import HOSTILE_NAME, add_captures, has_bidi
from tests.reports.conftest import sign

# (viewer, working in, exam) -> status
MATRIX = [
    ("alice", None, "north", 200),
    ("bob", None, "north", 200),
    ("charlie", None, "north", 404),
    ("alice", "southside", "north", 404),
    ("alice", "southside", "alice_south", 200),
    ("alice", "southside", "charlie_south", 404),  # a clinician sees only her own exams
    ("charlie", None, "alice_south", 200),
    ("bob", None, "charlie_south", 404),
]


@pytest.mark.parametrize(("viewer", "institution", "exam", "status"), MATRIX)
def test_it_shows_the_exam_only_to_who_may_see_it(login, exams, viewer, institution, exam, status):
    client = login(viewer, institution)
    response = client.get(reverse("exam-detail", args=[exams[exam].pk]))
    assert response.status_code == status


def test_it_sends_anonymous_visitors_to_the_login_page(client, exams):
    response = client.get(reverse("exam-detail", args=[exams["north"].pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_shows_the_patient_submissions_and_captures(login, exams):
    exam = exams["north"]
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Nora North" in page
    assert f"MRN-{exam.pk}" in page
    assert str(exam.submissions.get().request_uuid) in page
    for capture in exam.captures.all():
        assert reverse("exam-capture", args=[exam.pk, capture.pk]) in page
    assert 'src="/static/js/exam.js"' in page


def test_it_shows_an_animal_patients_own_fields(login, exams):
    exam = exams["north"]
    patient = exam.patient
    patient.first_name = patient.last_name = ""
    patient.animal_name, patient.animal_type, patient.owner_name = "Rex", "Canine", "Ola Owner"
    patient.save()
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Rex" in page and "Canine" in page and "Ola Owner" in page
    assert "Species" in page and "Owner" in page


def test_it_links_a_clip_by_its_poster_frame_for_the_viewer(login, exams):
    exam = exams["north"]
    clip = exam.captures.last()
    Capture.objects.filter(pk=clip.pk).update(content_type="video/mp4", thumbnail="x.thumb.jpg")
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    media = reverse("exam-capture", args=[exam.pk, clip.pk])
    thumbnail = reverse("exam-capture-thumbnail", args=[exam.pk, clip.pk])
    # Without JavaScript the link plays the clip itself; with it, the viewer opens.
    assert f'<a href="{media}" class="zoomable zoomable-clip" data-kind="clip"' in page
    assert f'<img src="{thumbnail}" alt="Clip {clip.position + 1}"' in page
    assert 'id="capture-viewer"' in page


def test_a_clip_tells_the_viewer_its_frame_rate(login, exams):
    exam = exams["north"]
    clip = exam.captures.last()
    Capture.objects.filter(pk=clip.pk).update(
        content_type="video/mp4", thumbnail="x.thumb.jpg", frame_rate=15.0
    )
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert 'data-kind="clip" data-fps="15"' in page


def test_it_shows_captures_still_downloading(login, exams):
    exam = exams["north"]
    exam.captures.filter(position=1).update(state=Capture.State.PENDING)
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Downloading from Clarius" in page


def test_it_writes_a_view_exam_audit_event(login, exams, users):
    exam = exams["north"]
    login("bob").get(reverse("exam-detail", args=[exam.pk]))
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW_EXAM)
    assert (event.user, event.institution, event.object_type) == (
        users["bob"],
        exam.institution,
        "exam",
    )
    assert event.object_id == str(exam.pk)


def test_it_audits_nothing_for_a_stranger(login, exams):
    login("charlie").get(reverse("exam-detail", args=[exams["north"].pk]))
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("viewer", ["alice", "bob"])
def test_it_gives_reviewers_and_admins_the_worksheet(login, exams, viewer):
    page = login(viewer).get(reverse("exam-detail", args=[exams["north"].pk])).content.decode()
    assert reverse("exam-findings", args=[exams["north"].pk]) in page
    assert reverse("exam-review", args=[exams["north"].pk]) in page
    assert "Assign to me" in page


def test_it_gives_a_clinician_no_worksheet_and_hides_the_draft(login, exams, users):
    exam = exams["alice_south"]
    Findings.objects.create(
        institution=exam.institution, exam=exam, impression="Draft thoughts", clinician_feedback="x"
    )
    page = login("alice", "southside").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert reverse("exam-findings", args=[exam.pk]) not in page
    assert "Draft thoughts" not in page
    assert "not signed yet" in page
    assert "Assign to me" not in page


def test_it_shows_a_clinician_the_signed_findings_and_the_feedback(login, exams, users):
    exam = exams["alice_south"]
    sign(exam, users["charlie"], clinician_feedback="Tilt the probe less.")
    page = login("alice", "southside").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Cholelithiasis without cholecystitis." in page
    assert "Tilt the probe less." in page
    assert "4 / 5" in page
    assert "Signed by <bdi>Charlie Stranger</bdi>" in page
    assert reverse("exam-addendum", args=[exam.pk]) not in page
    assert reverse("report-retry", args=[exam.pk, exam.reports.get().pk]) not in page


def test_it_shows_signed_findings_read_only_with_the_addendum_form(login, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    page = login("alice").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert reverse("exam-findings", args=[exam.pk]) not in page
    assert reverse("exam-addendum", args=[exam.pk]) in page
    assert "Cholelithiasis without cholecystitis." in page


def test_it_lists_reports_with_their_state_error_and_retry(login, exams, users):
    exam = exams["north"]
    report = sign(exam, users["bob"])
    report.state, report.last_error = "failed", "HTTP 503 from Clarius: try later"
    report.save()
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert report.name in page
    assert "Not sent to Clarius" in page  # the badge, and the sentence:
    assert "Clarius answered with an error (HTTP 503)" in page
    assert "HTTP 503 from Clarius: try later" in page
    retry = reverse("report-retry", args=[exam.pk, report.pk])
    assert f'action="{retry}" data-field="retry">' in page  # shown, not hidden
    assert reverse("report-download", args=[exam.pk, report.pk]) in page


# Outside text on the page: names isolated, controls gone, sizes bounded ----------------


def hostile_patient(exam, **fields):
    Patient.objects.filter(exam=exam).update(**{k: storable(v) for k, v in fields.items()})


def test_it_isolates_names_and_strips_their_bidi_and_control_characters(login, exams, users):
    exam = exams["north"]
    hostile_patient(exam, first_name=HOSTILE_NAME, last_name="", identifier="\u202e321-NRM")
    users["bob"].full_name = "\u2066Bob\u202e Reviewer"
    users["bob"].save()
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert not has_bidi(page) and "\x00" not in page
    assert "<h1><bdi>Nora North Tab End</bdi></h1>" in page
    assert "<dd><bdi>321-NRM</bdi></dd>" in page
    assert "<dd><bdi>Bob Reviewer</bdi></dd>" in page  # the operator
    assert "<title>Exam of Nora North Tab End" in page


def test_it_escapes_a_name_inside_its_isolation(login, exams):
    exam = exams["north"]
    hostile_patient(exam, first_name="<script>alert(1)</script>", last_name="")
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt;</bdi>" in page
    assert "<script>alert" not in page


def test_it_caps_a_long_unknown_field_and_keeps_the_rest_behind_show_all(login, exams):
    exam = exams["north"]
    hostile_patient(exam, extra={"ward": "B4", "notes": "x" * 100_000, "\u202ekey": "v"})
    response = login("bob").get(reverse("exam-detail", args=[exam.pk]))
    page = response.content.decode()
    assert len(response.content) < 60_000
    assert "<dt><bdi>Ward</bdi></dt>" in page and "<bdi>B4</bdi>" in page
    assert "x" * 1001 not in page
    assert '<details class="extra-value"><summary><bdi>' + "x" * 199 + "…</bdi>" in page
    assert "<bdi>" + "x" * 999 + "…</bdi></details>" in page
    assert "<dt><bdi>Key</bdi></dt>" in page and not has_bidi(page)


def test_it_shows_a_few_dozen_unknown_fields_and_counts_the_others(login, exams):
    exam = exams["north"]
    hostile_patient(exam, extra={f"field {n:04}": "value" for n in range(5000)})
    response = login("bob").get(reverse("exam-detail", args=[exam.pk]))
    page = response.content.decode()
    assert "Field 0019" in page and "Field 0020" not in page
    assert "4980 more not shown" in page
    assert len(response.content) < 60_000


def test_it_shows_unknown_fields_that_are_not_text(login, exams):
    exam = exams["north"]
    hostile_patient(exam, extra={"size": 44, "tags": ["a", "b"], "nested": {"k": [1, None]}})
    page = login("bob").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "<bdi>44</bdi>" in page
    assert "<bdi>[&quot;a&quot;, &quot;b&quot;]</bdi>" in page
    assert "<bdi>{&quot;k&quot;: [1, null]}</bdi>" in page


def test_the_patient_panel_wraps_any_value_rather_than_widening_the_page():
    css = (settings.BASE_DIR / "static" / "css" / "portal.css").read_text().splitlines()
    rules = [line for line in css if "overflow-wrap: anywhere" in line]
    assert any(".patient-panel" in rule and ".worklist td" in rule for rule in rules)


# Thousands of captures: one page of them at a time ----------------------------------


def test_it_shows_one_page_of_5000_captures_in_a_small_page_and_few_queries(
    login, exams, django_assert_max_num_queries
):
    exam = exams["north"]
    add_captures(exam, 4998)
    client = login("bob")
    with django_assert_max_num_queries(40):
        response = client.get(reverse("exam-detail", args=[exam.pk]))
    assert response.status_code == 200
    assert len(response.content) < 150_000
    page = response.content.decode()
    assert page.count('class="gallery-item"') == 48
    assert "1–48 of 5000" in page and "Page 1 of 105" in page
    assert 'href="?captures=2#captures-title" rel="next">' in page
    assert 'href="?captures=105#captures-title">Last' in page


def test_the_pager_reaches_every_capture_in_order(login, exams):
    exam = exams["north"]
    add_captures(exam, 98)  # 100 in all: pages of 48, 48 and 4
    client = login("bob")
    url = reverse("exam-detail", args=[exam.pk])
    seen = []
    for number in (1, 2, 3):
        page = client.get(url, {"captures": number}).content.decode()
        seen += [c.pk for c in exam.captures.all() if f"/captures/{c.pk}/" in page]
    ordered = exam.captures.order_by("submission__submitted_at", "position", "id")
    assert seen == [c.pk for c in ordered]
    last = client.get(url, {"captures": 3}).content.decode()
    assert "97–100 of 100" in last and 'alt="Capture 100"' in last
    assert 'rel="prev"' in last and 'rel="next"' not in last


@pytest.mark.parametrize("number", ["abc", "-1", "0", "1e999", "9" * 5000, "2.5", ""])
def test_a_page_number_that_is_not_one_shows_a_page_not_an_error(login, exams, number):
    exam = exams["north"]
    add_captures(exam, 98)
    response = login("bob").get(reverse("exam-detail", args=[exam.pk]), {"captures": number})
    assert response.status_code == 200
    assert response.content.decode().count('class="gallery-item"') in (48, 4)


def test_a_few_captures_need_no_pager(login, exams):
    page = login("bob").get(reverse("exam-detail", args=[exams["north"].pk])).content.decode()
    assert "gallery-pager" not in page and "of 2</p>" not in page
    assert 'alt="Capture 1"' in page and 'alt="Capture 2"' in page


def test_it_isolates_the_signers_names(login, exams, users):
    exam = exams["north"]
    bob = users["bob"]
    bob.full_name = "\u202eBob\u2066 Reviewer"
    bob.save()
    sign(exam, bob)
    add_addendum(exam, bob, "Also: no free fluid.")
    page = login("alice").get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert page.count("Signed by <bdi>Bob Reviewer</bdi> on") == 2
    assert not has_bidi(page)
