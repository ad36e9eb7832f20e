"""The dashboard by role and the audit log, in a real browser at both sizes (axe-core
checks every page): a clinician's own numbers, an administrator's integration health,
and audit rows that name the exam and patient identifier.

The desktop run saves var/test-artifacts/dashboard.png (the README's picture).
"""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Capture, Exam
from portal.reports.models import Findings
from tests.browser.test_login_browser import log_in
from tests.browser.test_staff_browser import busy_northside  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def desktop(page) -> bool:
    return page.viewport_size["width"] > 600


@pytest.fixture
def rated(busy_northside):  # noqa: F811 - the fixture imported above
    """Dana's signed exams rated by the reviewer, a download being retried, and exams
    waiting for Bob's unlinked Clarius account."""
    now = timezone.now()
    for n, made in enumerate(Exam.objects.filter(operator__email="dana@example.org")[:8]):
        when = now - timedelta(days=n * 3, minutes=30)
        Exam.objects.filter(pk=made.pk).update(
            review_state="signed",
            signed_at=when,
            first_submitted_at=when - timedelta(minutes=20 + n * 5),
        )
        Findings.objects.create(
            institution=made.institution,
            exam=made,
            signed_at=when,
            image_quality=2 + n % 4,
            clinician_feedback="Good views" if n % 2 else "",
        )
    made = Exam.objects.filter(operator__email="dana@example.org").first()
    Capture.objects.create(
        institution=made.institution,
        exam=made,
        submission=made.submissions.get(),
        position=9,
        source_url="https://example.invalid/",
        state=Capture.State.PENDING,
        attempts=3,
        last_error="HTTP 503",
    )
    bob = made.institution.memberships.get(user__email="bob@example.org").user
    ClariusLink.objects.create(
        user=bob, institution=made.institution, token="bobs-token", state="revoked"
    )
    for _ in range(2):
        NotificationReceipt.objects.create(
            request_uuid=uuid.uuid4(), state="unassigned", customer_id="bobs-token"
        )


def test_a_clinician_reads_their_own_numbers(page, screenshot, live_server, rated):
    log_in(page, live_server, "dana@example.org")
    assert page.locator("h1").inner_text() == "Northside Clinic"
    assert "These figures count the exams you performed" in page.locator(".lead").inner_text()
    month = timezone.now() - timedelta(days=29)
    feedback = Exam.objects.filter(operator__email="dana@example.org", signed_at__gte=month)
    assert page.locator("[data-count=mine_feedback]").inner_text() == str(feedback.count())
    # Exams per day, turnaround and image quality; no integration health at all.
    assert page.locator("svg.bar-chart").count() == 3
    assert page.locator(".integration, #work-heading").count() == 0
    # The axis in a unit that fits the data: its ticks differ ("0 h" four times did not).
    axis = page.locator("#chart-turnaround-title ~ g.chart-grid text").all_text_contents()
    assert len(axis) > 2 and len(set(axis)) == len(axis)
    assert page.locator("[data-figure=turnaround]").inner_text().endswith(("minutes", "hours"))
    if desktop(page):
        screenshot("dashboard-clinician")


def test_an_admin_sees_integration_health_and_reads_the_audit_log(
    page, screenshot, live_server, rated
):
    log_in(page, live_server, "alice@example.org")
    assert page.locator(".integration").count() == 1
    assert page.locator("[data-count=retrying_captures]").inner_text() == "1"
    waiting = page.locator("[data-count=waiting_unlinked]").inner_text()
    assert "2 exams waiting" in waiting and "Bob Reviewer" in waiting
    if desktop(page):
        screenshot("dashboard")

    # Open an exam, then read that in the audit log as a privacy officer would.
    made = Exam.objects.filter(operator__email="dana@example.org").first()
    page.goto(f"{live_server.url}/exams/{made.pk}/")
    page.goto(f"{live_server.url}{reverse('audit-log')}")
    page.select_option("#id_kind", "patient_data")
    page.click("form.filters button[type=submit]")
    # The filter is a GET: wait for the filtered page before counting its rows.
    page.wait_for_url("**kind=patient_data**")
    rows = page.locator("table tbody tr")
    expect(rows.first).to_be_visible()
    concerns = rows.first.locator("td[data-label=Concerns]").inner_text()
    assert f"patient ID MRN-{made.pk}" in concerns and concerns.startswith("Exam of ")
    assert "Viewed an exam" in rows.first.inner_text()
    page.select_option("#id_kind", "sessions")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**kind=sessions**")
    assert "Signed in" in page.locator("table tbody").inner_text()
