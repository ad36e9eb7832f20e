"""A signed exam sent by C-STORE to a real Orthanc, and read back through its REST API."""

from __future__ import annotations

import pytest

from integrations.dicom import cstore
from portal.outbound import uids
from portal.outbound.kinds import DeliveryFailed
from portal.outbound.models import Transmission
from portal.outbound.sending import resend, send_transmission
from tests import services
from tests.dicom.conftest import (
    check_arrived,
    dicom_destination,
    orthanc_study,
    send_due,
    signed_exam,
)

pytestmark = pytest.mark.django_db


def test_a_signed_exam_arrives_whole_and_readable(northside, trio, media_root, pacs):
    alice, bob, _ = trio
    destination = dicom_destination(northside, pacs)
    exam, report = signed_exam(northside, bob)
    rows = Transmission.objects.filter(exam=exam, destination=destination)
    assert sorted(rows.values_list("what", flat=True)) == [
        "clip",
        "image",
        "image",
        "image",
        "report",
    ]

    assert send_due(exam) == ["sent"] * 5

    for row in rows:
        assert row.state == Transmission.State.SENT
        assert row.remote_answer == "C-STORE status 0x0000"
        assert row.uid == uids.for_transmission(row)
    study = check_arrived(pacs, exam, report, images=3, clips=1)

    # Sent again: the PACS replaces each object (the same UIDs), no duplicate.
    assert resend(rows) == 5
    assert send_due(exam) == ["sent"] * 5
    statistics = pacs.rest(f"/studies/{study['ID']}/statistics")
    assert int(statistics["CountInstances"]) == 5


def test_the_pacs_down_mid_study_is_retried_until_it_is_back(northside, trio, media_root, pacs):
    _, bob, _ = trio
    destination = dicom_destination(northside, pacs)
    exam, _ = signed_exam(northside, bob, images=3, clips=0)
    pks = list(
        Transmission.objects.filter(exam=exam, destination=destination)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert send_transmission(pks[0]) == "sent"
    pacs.stop()
    try:
        outcomes = send_due(exam)
        assert set(outcomes) == {"retry"}, outcomes
        for row in Transmission.objects.filter(pk__in=pks[1:]):
            assert row.state == Transmission.State.PENDING
            assert row.attempts == 1
            assert "connection refused" in row.last_error
            assert row.next_attempt_at is not None
        destination.refresh_from_db()
        assert destination.failing_since is not None
    finally:
        pacs.start()  # the same ports and storage
    assert send_due(exam) == ["sent"] * (len(pks) - 1)
    assert not Transmission.objects.filter(exam=exam).exclude(state="sent").exists()
    study = orthanc_study(pacs, uids.study_uid(exam))
    assert int(pacs.rest(f"/studies/{study['ID']}/statistics")["CountInstances"]) == len(pks)
    destination.refresh_from_db()
    assert destination.failing_since is None and destination.last_success_at is not None


def test_a_wrong_called_ae_title_fails_naming_the_rejection(northside, trio, media_root, pacs):
    _, bob, _ = trio
    dicom_destination(northside, pacs, called_ae="NOTORTHANC")
    exam, _ = signed_exam(northside, bob, images=1, clips=0)
    assert send_due(exam) == ["failed", "failed"]  # the image and the report
    for row in Transmission.objects.filter(exam=exam):
        assert row.state == Transmission.State.FAILED
        assert row.attempts == 1  # permanent: no retry with the same titles
        assert "rejected the association: called AE title not recognised" in row.last_error
    assert orthanc_study(pacs, uids.study_uid(exam)) is None


def test_c_echo_answers_or_says_why_not(northside, pacs):
    answer = cstore.echo(dicom_destination(northside, pacs))
    assert answer.startswith(
        f"C-ECHO answered (status 0x0000) by ORTHANC@127.0.0.1:{pacs.dicom_port}"
    )
    assert answer.endswith(" ms")

    with pytest.raises(DeliveryFailed) as rejected:
        cstore.echo(dicom_destination(northside, pacs, called_ae="WRONG"))
    assert "rejected the association: called AE title not recognised" in str(rejected.value)
    assert rejected.value.permanent

    closed = services.closed_port()
    with pytest.raises(DeliveryFailed) as refused:
        cstore.echo(dicom_destination(northside, pacs, port=closed))
    assert f"127.0.0.1:{closed}: connection refused" in str(refused.value)
    assert not refused.value.permanent


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("ORTHANC", True),
        ("  PACS 1 ", True),
        ("A" * 16, True),
        ("A" * 17, False),
        ("PA\\CS", False),
        ("PA\nCS", False),
        ("", False),
        ("   ", False),
        ("PÄCS", False),
    ],
)
def test_ae_titles_are_checked(title, ok):
    if ok:
        assert cstore.check_ae_title(title) == title.strip()
    else:
        with pytest.raises(ValueError):
            cstore.check_ae_title(title)


def test_describe_names_the_ae_and_address(northside, pacs):
    destination = dicom_destination(northside, pacs, tls=True)
    assert destination.address == f"ORTHANC@127.0.0.1:{pacs.dicom_port} (TLS)"
