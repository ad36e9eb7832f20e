"""What goes to each destination, and when (``portal.outbound.planning``): a ready exam's
images and clips to every active destination taking images, each report version with
the result status the receiver files it as; planning twice plans nothing new."""

from __future__ import annotations

import pytest

from portal import events
from portal.exams.models import Capture, Exam
from portal.outbound import kinds, planning
from portal.outbound.models import Transmission
from portal.reports.models import Report
from tests.factories import add_stored_capture, make_exam
from tests.outbound.conftest import KEY, make_destination

P, F, C = "P", "F", "C"


@pytest.fixture
def reports_only(receiver):
    """A kind that carries reports only (an EHR), registered for the test."""
    kind = kinds.Kind(
        key="outbound-reports",
        label="Report receiver",
        carries=kinds.REPORT,
        send=receiver.send,
        test=receiver.test,
        describe=receiver.describe,
    )
    kinds.register(kind)
    yield kind
    kinds._kinds.entries.pop(kind.key, None)


def report_of(exam, version, addenda=0) -> Report:
    return Report.objects.create(
        institution=exam.institution,
        exam=exam,
        submission=exam.submissions.get(),
        version=version,
        name=f"Report v{version}",
        file=f"reports/{exam.pk}/v{version}.pdf",
        source=Report.Source.GENERATED,
        addenda_included=addenda,
    )


def test_a_ready_exam_plans_each_capture_to_each_destination_taking_images(
    northside, southside, receiver, reports_only
):
    pacs = make_destination(northside, name="PACS")
    archive = make_destination(northside, name="Archive")
    no_images = make_destination(northside, name="Reports only", send_images=False)
    ehr = make_destination(northside, name="EHR", kind=reports_only.key)
    off = make_destination(northside, name="Off", is_active=False)
    gone = make_destination(northside, name="Uninstalled kind", kind="uninstalled")
    elsewhere = make_destination(southside, name="South")
    exam = make_exam(northside, captures=2)
    clip = add_stored_capture(exam, "video/mp4", b"\x00\x00\x00\x18ftypmp42")
    add_stored_capture(exam, "image/jpeg", b"\xff\xd8", duplicate_of=clip)  # a duplicate: skipped
    waiting = add_stored_capture(exam, "image/jpeg", b"\xff\xd8")
    Capture.objects.filter(pk=waiting.pk).update(state=Capture.State.PENDING)

    events.emit(events.EXAM_READY, exam)

    rows = Transmission.objects.order_by("destination_id", "capture__position")
    assert {r.destination_id for r in rows} == {pacs.pk, archive.pk}
    for destination in (pacs, archive):
        mine = [r for r in rows if r.destination_id == destination.pk]
        assert [r.what for r in mine] == ["image", "image", "clip"]
        assert all(r.state == "pending" and r.attempts == 0 and r.next_attempt_at for r in mine)
        assert all(r.institution_id == northside.pk for r in mine)
    assert not Transmission.objects.filter(
        destination__in=[no_images, ehr, off, gone, elsewhere]
    ).exists()


def test_planning_again_changes_nothing(northside, receiver):
    make_destination(northside)
    exam = make_exam(northside, captures=3)
    planning.plan_exam(exam)
    first = list(Transmission.objects.values_list("pk", "capture_id"))
    Transmission.objects.update(state="sent")
    planning.plan_exam(exam)
    events.emit(events.EXAM_READY, exam)
    assert list(Transmission.objects.values_list("pk", "capture_id")) == first
    assert set(Transmission.objects.values_list("state", flat=True)) == {"sent"}
    # A capture that arrives later is planned on the next "ready", alone.
    add_stored_capture(exam, "image/jpeg", b"\xff\xd8")
    planning.plan_exam(exam)
    assert Transmission.objects.count() == 4
    assert Transmission.objects.filter(state="pending").count() == 1


def test_report_versions_carry_p_f_and_c(northside, receiver, reports_only):
    pacs = make_destination(northside, name="PACS", send_report=False)
    ehr = make_destination(northside, name="EHR", kind=reports_only.key)
    both = make_destination(northside, name="Both", kind=KEY)
    exam = make_exam(northside, captures=1)

    Exam.objects.filter(pk=exam.pk).update(review_state=Exam.ReviewState.PRELIMINARY)
    exam.refresh_from_db()
    v1 = report_of(exam, 1)
    planning.plan_report(v1)
    # Attested: the final version.
    Exam.objects.filter(pk=exam.pk).update(review_state=Exam.ReviewState.SIGNED)
    exam.refresh_from_db()
    v2 = report_of(exam, 2)
    planning.plan_report(v2)
    # An addendum: corrected.
    v3 = report_of(exam, 3, addenda=1)
    planning.plan_report(v3)
    planning.plan_report(v3)  # twice: once

    for destination in (ehr, both):
        statuses = list(
            Transmission.objects.filter(destination=destination)
            .order_by("report__version")
            .values_list("report__version", "result_status", "what")
        )
        assert statuses == [(1, P, "report"), (2, F, "report"), (3, C, "report")]
    assert not Transmission.objects.filter(destination=pacs).exists()


def test_a_replaced_final_version_is_a_correction(northside, receiver, reports_only):
    ehr = make_destination(northside, name="EHR", kind=reports_only.key)
    exam = make_exam(northside, captures=1, review_state=Exam.ReviewState.SIGNED)
    planning.plan_report(report_of(exam, 1))
    planning.plan_report(report_of(exam, 2))  # e.g. an uploaded PDF replacing it
    assert list(
        Transmission.objects.filter(destination=ehr)
        .order_by("report__version")
        .values_list("result_status", flat=True)
    ) == [F, C]
    # A destination added since holds no earlier result: the next version is final there.
    late = make_destination(northside, name="Late EHR", kind=reports_only.key)
    planning.plan_report(report_of(exam, 3))
    assert Transmission.objects.get(destination=late).result_status == F
    assert Transmission.objects.get(destination=ehr, report__version=3).result_status == C


def test_a_switched_off_destination_is_planned_nothing(northside, receiver):
    off = make_destination(northside, is_active=False)
    exam = make_exam(northside, captures=2)
    planning.plan_exam(exam)
    planning.plan_report(report_of(exam, 1))
    planning.plan_file(exam, "research/export.dcm")
    assert not Transmission.objects.filter(destination=off).exists()


def test_a_research_file_is_planned_once_per_destination(northside, receiver, reports_only):
    pacs = make_destination(northside)
    make_destination(northside, name="EHR", kind=reports_only.key)
    exam = make_exam(northside, captures=0)
    planning.plan_file(exam, "research/1/export.dcm")
    planning.plan_file(exam, "research/1/export.dcm")
    row = Transmission.objects.get()
    assert (row.destination, row.what, row.source) == (pacs, "research", "research/1/export.dcm")
