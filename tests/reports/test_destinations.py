"""The destination seam: a signed version goes to every registered destination, each
delivery durable work of its own, the version's state their summary."""

import pytest

from portal.reports import destinations, issuing, tasks
from portal.reports.destinations import DeliveryFailed, Destination
from portal.reports.models import Delivery, Report
from tests.reports.conftest import sign


class FakeClarius:
    def __init__(self):
        self.uploads = []

    def upload_report(self, request_uuid, name, path, *, filename):
        self.uploads.append(request_uuid)
        return type("Receipt", (), {"extra": {"id": f"r-{len(self.uploads)}"}})()

    def close(self):
        pass


class Archive:
    """A second destination, as PACS or the EHR will be: it records or refuses."""

    def __init__(self):
        self.sent, self.refuse = [], None

    def send(self, delivery, path):
        if self.refuse:
            raise self.refuse
        self.sent.append((delivery.report_id, path.read_bytes()[:5]))
        return f"archive-{delivery.report_id}"


@pytest.fixture
def clarius(monkeypatch):
    fake = FakeClarius()
    monkeypatch.setattr("integrations.clarius.clients.service_client", lambda: fake)
    return fake


@pytest.fixture
def archive(monkeypatch):
    archive = Archive()
    monkeypatch.setitem(
        destinations._destinations.entries,
        "archive",
        Destination(key="archive", label="the archive", send=archive.send),
    )
    return archive


def due_now(report):
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(1)
    Report.objects.filter(pk=report.pk).update(next_attempt_at=past)
    Delivery.objects.filter(report=report, state="pending").update(next_attempt_at=past)


def test_clarius_is_the_registered_destination():
    assert [d.key for d in destinations.registered()] == ["clarius"]


def test_a_version_goes_to_every_destination(exams, users, clarius, archive):
    report = sign(exams["north"], users["bob"])
    assert sorted(report.deliveries.values_list("destination", flat=True)) == [
        "archive",
        "clarius",
    ]
    assert tasks.push_report(report.pk) == "pushed"
    report.refresh_from_db()
    assert report.state == Report.State.PUSHED
    assert report.state_label == "Sent to Clarius and the archive"
    assert archive.sent == [(report.pk, b"%PDF-")] and len(clarius.uploads) == 1
    assert set(report.deliveries.values_list("remote_id", flat=True)) == {
        "r-1",
        f"archive-{report.pk}",
    }
    exams["north"].refresh_from_db()
    assert exams["north"].review_state == "reported"


def test_a_failing_destination_is_retried_without_sending_again_where_it_arrived(
    exams, users, clarius, archive
):
    archive.refuse = DeliveryFailed("the archive is down for maintenance")
    report = sign(exams["north"], users["bob"])
    assert tasks.push_report(report.pk) == "retry"
    report.refresh_from_db()
    assert report.state == Report.State.PENDING
    assert report.last_error == "the archive: the archive is down for maintenance"
    assert report.deliveries.get(destination="clarius").state == Delivery.State.SENT

    archive.refuse = None
    due_now(report)
    assert tasks.push_report(report.pk) == "pushed"
    assert len(clarius.uploads) == 1  # Clarius had it: not sent twice
    assert len(archive.sent) == 1


def test_a_permanent_failure_fails_the_version_and_a_retry_sends_only_what_failed(
    exams, users, clarius, archive
):
    archive.refuse = DeliveryFailed("the archive refuses PDFs", permanent=True)
    report = sign(exams["north"], users["bob"])
    assert tasks.push_report(report.pk) == "failed"
    report.refresh_from_db()
    assert (report.state, report.can_retry) == (Report.State.FAILED, True)
    assert "the archive refuses PDFs" in report.last_error

    archive.refuse = None
    assert issuing.retry_report(report)
    assert tasks.push_report(report.pk) == "pushed"
    assert (len(clarius.uploads), len(archive.sent)) == (1, 1)


def test_an_unexpected_error_in_a_destination_is_recorded_and_retried(
    exams, users, clarius, archive
):
    archive.refuse = RuntimeError("a bug in the destination")
    report = sign(exams["north"], users["bob"])
    assert tasks.push_report(report.pk) == "retry"
    delivery = report.deliveries.get(destination="archive")
    assert delivery.state == "pending" and "RuntimeError: a bug" in delivery.last_error


def test_a_destination_that_is_no_longer_installed_fails_visibly(exams, users, clarius):
    report = sign(exams["north"], users["bob"])
    Delivery.objects.create(
        institution_id=report.institution_id,
        report=report,
        destination="gone",
        next_attempt_at=report.created_at,
    )
    assert tasks.push_report(report.pk) == "failed"
    gone = report.deliveries.get(destination="gone")
    assert gone.state == "failed" and "no destination 'gone'" in gone.last_error


def test_deliveries_stay_in_their_institution(exams, users, clarius):
    north = sign(exams["north"], users["bob"])
    [delivery] = north.deliveries.all()
    assert delivery.institution_id == north.institution_id == exams["north"].institution_id
