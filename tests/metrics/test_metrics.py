"""/metrics: the Prometheus text format, the portal's figures read from the database,
and who may read them."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from integrations.clarius.models import NotificationReceipt
from portal.exams.models import Capture, Exam, Patient, Submission
from portal.metrics import collector
from portal.outbound.models import Destination, Transmission
from portal.reports.models import Delivery, Report

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def token(settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    settings.PORTAL_METRICS_ALLOW_LOCAL = False
    collector.forget_cached()
    return TOKEN


def scrape(client=None, **extra):
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def value(families, name, sample=None, **labels):
    family = families[name]
    sample = sample or name
    found = [s.value for s in family.samples if s.name == sample and s.labels == labels]
    assert len(found) == 1, (name, labels, [(s.name, s.labels) for s in family.samples])
    return found[0]


def exam_with_captures(institution, *, patient, sizes, state=Capture.State.DONE, stored_at=None):
    now = timezone.now()
    exam = Exam.objects.create(
        institution=institution,
        exam_uuid=uuid.uuid4(),
        first_submitted_at=now,
        last_submitted_at=now,
        status=Exam.Status.READY if state == Capture.State.DONE else Exam.Status.RECEIVING,
    )
    first, _, last = patient.partition(" ")
    Patient.objects.create(institution=institution, exam=exam, first_name=first, last_name=last)
    submission = Submission.objects.create(
        institution=institution,
        exam=exam,
        request_uuid=uuid.uuid4(),
        submitted_at=now,
        download_url="https://cloud.clarius.com/api/public/v0/x/",
    )
    for position, size in enumerate(sizes):
        Capture.objects.create(
            institution=institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=state,
            content_type="image/png",
            file=f"{institution.pk}/{exam.exam_uuid}/{position}.png" if size else "",
            size=size,
            downloaded_at=stored_at if state == Capture.State.DONE else None,
            next_attempt_at=None if state == Capture.State.DONE else now - timedelta(minutes=3),
        )
    return exam, submission


def receipt_for(submission, *, received_ago, state=NotificationReceipt.State.FETCHED):
    receipt = NotificationReceipt.objects.create(
        request_uuid=submission.request_uuid,
        exam_uuid=submission.exam.exam_uuid,
        customer_id="customer-token-1234",
        state=state,
        fetched_at=timezone.now(),
    )
    NotificationReceipt.objects.filter(pk=receipt.pk).update(
        received_at=timezone.now() - received_ago
    )
    return receipt


@pytest.fixture
def rows(alice, bob, charlie, northside, southside):
    """Exams, notifications, reports and transmissions in both institutions."""
    now = timezone.now()
    # Northside: ready 4 s after its notification; Southside: 90 s after.
    _, quick = exam_with_captures(
        northside,
        patient="Zelda Quixote",
        sizes=[1000, 2000],
        stored_at=now - timedelta(seconds=96),
    )
    receipt_for(quick, received_ago=timedelta(seconds=100))
    slow_exam, slow = exam_with_captures(
        southside, patient="Yorick Umbra", sizes=[500], stored_at=now - timedelta(seconds=10)
    )
    receipt_for(slow, received_ago=timedelta(seconds=100))
    # Ready two hours ago: outside the lag histogram's window.
    _, earlier = exam_with_captures(
        northside, patient="Vera Old", sizes=[None], stored_at=now - timedelta(hours=2)
    )
    receipt_for(earlier, received_ago=timedelta(hours=2, seconds=30))
    # Still downloading, notified 10 minutes ago: not in the histogram, but waiting.
    _, downloading = exam_with_captures(
        northside, patient="Waldo Vance", sizes=[None], state=Capture.State.PENDING
    )
    receipt_for(downloading, received_ago=timedelta(minutes=10))
    # Two calls the webhook rejected, and one the catch-up poll found.
    for _ in range(2):
        NotificationReceipt.objects.create(
            state=NotificationReceipt.State.REJECTED, rejection_reason="body is not JSON"
        )
    _, polled = exam_with_captures(southside, patient="Xena Tull", sizes=[250], stored_at=now)
    NotificationReceipt.objects.filter(pk=receipt_for(polled, received_ago=timedelta(0)).pk).update(
        source=NotificationReceipt.Source.POLL
    )
    # A report version delivered to Clarius, one failing; a PACS transmission failed.
    report = Report.objects.create(
        institution=southside,
        exam=slow_exam,
        submission=slow,
        version=1,
        name="Report",
        file=f"{southside.pk}/{slow_exam.exam_uuid}/report-1.pdf",
        size=4096,
        source=Report.Source.GENERATED,
        state=Report.State.PUSHED,
    )
    Delivery.objects.create(
        institution=southside, report=report, destination="clarius", state="sent"
    )
    failing = Report.objects.create(
        institution=southside,
        exam=slow_exam,
        submission=slow,
        version=2,
        name="Report",
        file=f"{southside.pk}/{slow_exam.exam_uuid}/report-2.pdf",
        size=8192,
        source=Report.Source.GENERATED,
        state=Report.State.PENDING,
        last_error="Clarius answered with an error (HTTP 500)",
        next_attempt_at=now + timedelta(minutes=2),
    )
    Delivery.objects.create(
        institution=southside, report=failing, destination="clarius", state="failed"
    )
    pacs = Destination.objects.create(
        institution=northside, name="Northside Main PACS", kind="dicom", options={}
    )
    Transmission.objects.create(
        institution=northside,
        destination=pacs,
        exam=slow_exam,
        what=Transmission.What.IMAGE,
        state=Transmission.State.FAILED,
    )


def test_the_portal_figures_after_rows_are_made(token, rows, northside, southside):
    families = scrape()

    # Accepted: four webhook calls and the poll's find; rejected: two calls.
    notifications = ("portal_notifications", "portal_notifications_total")
    assert value(families, *notifications, outcome="accepted") == 5
    assert value(families, *notifications, outcome="rejected") == 2
    assert value(families, "portal_work_rows", kind="exams.capture", state="done") == 5
    assert value(families, "portal_work_rows", kind="exams.capture", state="pending") == 1
    assert value(families, "portal_work_rows", kind="reports.report", state="pending") == 1
    assert value(families, "portal_work_due_rows", kind="exams.capture") == 1
    age = value(families, "portal_work_oldest_due_age_seconds", kind="exams.capture")
    assert 170 < age < 240
    assert value(families, "portal_work_oldest_due_age_seconds", kind="reports.report") == 0
    assert value(families, "portal_work_retrying_rows", kind="reports.report") == 1

    # Ingest lag: 4 s and 90 s over the last hour, and one more (the poll's) at about 0 s;
    # the exam still downloading is not in it but its notification waits 10 minutes.
    lag = "portal_ingest_lag_seconds"
    assert value(families, lag, f"{lag}_count") == 3
    assert value(families, lag, f"{lag}_bucket", le="5.0") == 2
    assert value(families, lag, f"{lag}_bucket", le="60.0") == 2
    assert value(families, lag, f"{lag}_bucket", le="120.0") == 3
    assert value(families, lag, f"{lag}_bucket", le="+Inf") == 3
    assert 90 < value(families, lag, f"{lag}_sum") < 100
    assert 590 < value(families, "portal_ingest_oldest_waiting_seconds") < 700

    # Reports and what went to the hospital.
    assert value(families, "portal_report_deliveries", destination="clarius", state="sent") == 1
    assert value(families, "portal_report_deliveries", destination="clarius", state="failed") == 1
    assert (
        value(families, "portal_outbound_transmissions", kind="dicom", what="image", state="failed")
        == 1
    )

    # Stored bytes: the captures' sizes and the report PDFs'.
    assert value(families, "portal_media_bytes", what="captures") == 1000 + 2000 + 500 + 250
    assert value(families, "portal_media_files", what="captures") == 4
    assert value(families, "portal_media_bytes", what="reports") == 4096 + 8192

    for source in ("work", "deliveries", "media", "clarius"):
        assert value(families, "portal_metrics_source_up", source=source) == 1
    # django-prometheus' request figures are there too.
    assert "django_http_requests_before_middlewares" in families


def test_no_label_names_an_institution_a_person_or_a_patient(token, rows, northside, southside):
    families = scrape()
    labels = {
        (key, str(v)) for f in families.values() for s in f.samples for key, v in s.labels.items()
    }
    assert not {key for key, _ in labels} & {"institution", "user", "patient", "exam"}
    words = ["northside", "southside", "alice", "bob", "charlie", "zelda", "quixote", "yorick"]
    words += ["main pacs", "customer-token"]
    for _, label in labels:
        assert not any(word in label.lower() for word in words), label


def test_a_scrape_reads_the_database_with_a_bounded_number_of_queries(
    token, rows, django_assert_max_num_queries
):
    with django_assert_max_num_queries(40):
        scrape()


def test_the_scrape_costs_the_same_queries_for_many_rows(token, northside):
    """The figures are aggregates: thousands more receipts and captures, no more queries."""
    now = timezone.now()
    exam, submission = exam_with_captures(northside, patient="A B", sizes=[10], stored_at=now)
    receipt_for(submission, received_ago=timedelta(seconds=5))
    with CaptureQueriesContext(connection) as few:
        scrape()
    NotificationReceipt.objects.bulk_create(
        NotificationReceipt(
            request_uuid=uuid.uuid4(),
            state=NotificationReceipt.State.FETCHED,
            customer_id="customer-token-1234",
            fetched_at=now,
        )
        for _ in range(2000)
    )
    Capture.objects.bulk_create(
        Capture(
            institution=northside,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=Capture.State.DONE,
            size=100,
            downloaded_at=now,
        )
        for position in range(1, 2001)
    )
    collector.forget_cached()
    with CaptureQueriesContext(connection) as many:
        families = scrape()
    assert value(families, "portal_work_rows", kind="exams.capture", state="done") == 2001
    assert value(families, "portal_ingest_lag_seconds", "portal_ingest_lag_seconds_count") == 2001
    assert len(many.captured_queries) == len(few.captured_queries)


# Who may read them.


def test_without_a_token_configured_metrics_are_off(settings, db):
    settings.PORTAL_METRICS_TOKEN = ""
    settings.PORTAL_METRICS_ALLOW_LOCAL = False
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_loopback_may_read_them_without_a_token_when_allowed(settings, db):
    settings.PORTAL_METRICS_TOKEN = ""
    settings.PORTAL_METRICS_ALLOW_LOCAL = True
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.7").get("/metrics").status_code == 404
    # Through a proxy on the same machine every visitor would look local: refused.
    proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.get("/metrics").status_code == 404


def test_with_a_token_only_the_right_bearer_token_reads_them(token, db):
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert Client().get("/metrics", HTTP_AUTHORIZATION=wrong).status_code == 401, wrong
    # Loopback needs the token too once one is configured.
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"bearer  {TOKEN}").status_code == 200
    assert Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_a_login_session_is_neither_needed_nor_enough(token, client, alice):
    client.force_login(alice)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_a_scraper_on_the_internal_network_is_answered(token, settings, db):
    """By container name over plain HTTP, on an https portal: no host check, no redirect."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    response = Client(HTTP_HOST="web:8000").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"portal_work_rows" in response.content


def test_the_alert_rules_name_figures_the_portal_exposes(token, rows):
    """deploy/prometheus/: the scrape config sends the token; each alert reads families
    /metrics has (a renamed metric would leave an alert that can never fire)."""
    import re
    from pathlib import Path

    import yaml

    folder = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
    config = yaml.safe_load((folder / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    assert config["rule_files"] == ["alerts.yml"]

    families = scrape()
    samples = {s.name for f in families.values() for s in f.samples}
    rules = yaml.safe_load((folder / "alerts.yml").read_text())["groups"][0]["rules"]
    assert [r["alert"] for r in rules] == [
        "PortalIngestLag",
        "PortalWorkFailed",
        "PortalWebhookRejections",
    ]
    for rule in rules:
        used = set(re.findall(r"\bportal_[a-z_]+", rule["expr"]))
        assert used and used <= samples, (rule["alert"], used - samples)
