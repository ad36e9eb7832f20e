"""The staff pages in a real browser: a reviewer's dashboard and worklist, an admin's members
and audit log; with screenshots (laptop and tablet) in var/test-artifacts/.

Here rather than in tests/dashboard/ because the browser fixtures live in this folder's
conftest, and a second Playwright instance cannot run beside the session's.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Exam
from tests.browser.test_login_browser import log_in
from tests.conftest import make_user
from tests.dashboard.conftest import animal, exam

pytestmark = pytest.mark.django_db(transaction=True)

PATIENTS = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "John Backus",
    "Margaret Hamilton",
    "Ken Thompson",
]
STATES = ["new", "new", "in_review", "signed", "reported"]


def patient_key(shown):
    """How the worklist sorts a patient cell: "Last First", or the animal's name."""
    if " (" in shown:
        return shown.split(" (")[0].lower()
    first, last = shown.split(" ", 1)
    return f"{last} {first}".lower()


@pytest.fixture
def busy_northside(trio, northside):
    """A month of exams from two clinicians, in every state, and their Clarius links."""
    alice, bob, _ = trio
    dana = make_user("dana@example.org", "Dana Doctor")
    northside.memberships.create(user=dana, role="clinician")
    now = timezone.now()
    for i in range(36):
        submitted = now - timedelta(days=(i * 7) % 29, hours=i % 9)
        state = STATES[i % len(STATES)]
        signed = (
            submitted + timedelta(hours=2 + (i * 5) % 30)
            if state in ("signed", "reported")
            else None
        )
        exam(
            northside,
            dana if i % 3 else alice,
            patient_name=PATIENTS[i % len(PATIENTS)],
            submitted=submitted,
            review_state=state,
            reviewer=bob if state != "new" else None,
            signed_at=signed if signed and signed < now else None,
            status=Exam.Status.INCOMPLETE if i == 4 else Exam.Status.READY,
        )
    animal(exam(northside, dana, submitted=now - timedelta(hours=3)), "Biscuit", "Dog")
    link = ClariusLink.objects.create(
        user=dana, institution=northside, token=uuid.uuid4().hex, state="confirmed"
    )
    NotificationReceipt.objects.create(
        request_uuid=uuid.uuid4(), state="fetched", link=link, customer_id=link.token
    )
    ClariusLink.objects.create(
        user=alice, institution=northside, token=uuid.uuid4().hex, state="pending"
    )


def test_a_reviewer_opens_the_dashboard_and_the_worklist(
    page, screenshot, live_server, busy_northside
):
    log_in(page, live_server, "bob@example.org")
    assert page.locator("h1").inner_text() == "Northside Clinic"
    assert page.locator("svg.bar-chart").count() == 2
    new = Exam.objects.filter(review_state="new").count()
    assert page.locator("[data-count=new]").inner_text() == str(new)
    # The integrations' health is the administrators' (test_dashboard_browser.py).
    assert page.locator(".integration").count() == 0
    assert page.locator("#chart-turnaround-desc").count() == 1

    page.click("nav.main-nav >> text=Worklist")
    assert page.locator("h1").inner_text() == "Worklist"
    assert page.locator("table.worklist tbody tr").count() == 25
    screenshot("worklist")

    # Filter to new exams, sort by patient, and take one.
    page.select_option("#id_review_state", "new")
    page.click("form.filters button[type=submit]")
    page.click("th >> text=Patient")
    names = page.locator("table.worklist tbody td[data-label=Patient]").all_inner_texts()
    assert names == sorted(names, key=patient_key)
    assert all("New" in s for s in page.locator("td[data-label=State]").all_inner_texts())
    page.locator("table.worklist tbody tr").first.locator("text=Assign to me").click()
    assert "assigned to you" in page.locator(".messages").inner_text()
    assert "review_state=new" in page.url

    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, upright
    page.goto(f"{live_server.url}/")
    screenshot("dashboard-tablet")
    page.goto(f"{live_server.url}/worklist/")
    screenshot("worklist-tablet")


def test_an_admin_invites_someone_and_reads_the_audit_log(
    page, screenshot, live_server, busy_northside
):
    log_in(page, live_server, "alice@example.org")
    page.click("nav.main-nav >> text=Members")
    page.fill("#id_email", "erin@example.org")
    page.select_option("#id_role", "reviewer")
    page.click("text=Send the invitation")
    assert "Invitation sent to erin@example.org" in page.locator(".messages").inner_text()
    assert "erin@example.org" in page.locator(".invitation-list").inner_text()
    screenshot("members")

    page.click("nav.main-nav >> text=Audit log")
    assert "Invited a member" in page.locator("table").inner_text()
    screenshot("audit-log")
