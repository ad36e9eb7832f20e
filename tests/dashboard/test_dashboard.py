import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Capture, Exam
from portal.reports.models import Report
from tests.conftest import make_user
from tests.dashboard.conftest import exam, in_southside

URL = "/"


def link(user, institution, state, token=None):
    return ClariusLink.objects.create(
        user=user, institution=institution, state=state, token=token or uuid.uuid4().hex
    )


def receipt(link, state, received_at):
    made = NotificationReceipt.objects.create(
        request_uuid=uuid.uuid4(), state=state, link=link, customer_id=link.token
    )
    NotificationReceipt.objects.filter(pk=made.pk).update(received_at=received_at)
    return made


@pytest.fixture
def northside_exams(trio, northside, southside, today_at):
    """Northside: 2 new, 1 in review (bob's), 1 signed, 1 reported, 1 incomplete."""
    alice, bob, charlie = trio
    exam(northside, alice, submitted=today_at(0.5))
    exam(northside, alice, submitted=today_at(0.25))
    exam(northside, alice, submitted=today_at(0.5, days=3), review_state="in_review", reviewer=bob)
    exam(
        northside,
        alice,
        submitted=today_at(0.25, days=3),
        review_state="signed",
        signed_at=today_at(0.5, days=3),
    )
    exam(
        northside,
        alice,
        submitted=today_at(0.5, days=45),
        review_state="reported",
        signed_at=today_at(0.5, days=44),
    )
    exam(northside, None, submitted=today_at(0.5, days=1), status=Exam.Status.INCOMPLETE)
    exam(southside, charlie, submitted=today_at(0.5))  # never counted in Northside


def test_it_is_the_home_page_and_needs_a_login(client, db):
    assert reverse("home") == URL
    assert client.get(URL).status_code == 302


def test_it_counts_the_institutions_exams_by_state(client, trio, northside_exams):
    client.force_login(trio[1])
    response = client.get(URL)
    assert response.context["counts"] == {
        "new": 3,  # the incomplete one is new too
        "in_review": 1,
        "preliminary": 0,  # no trainee signed: no card
        "signed": 1,
        "reported": 1,
        "ingestion_failures": 1,
        "receiving": 0,
        "assigned_to_me": 1,
    }
    html = response.content.decode()
    assert '<span class="stat-value" data-count="new">3</span>' in html
    assert '<span class="stat-value" data-count="ingestion_failures">1</span>' in html
    assert "/worklist/?status=incomplete" in html


def test_a_clinician_only_counts_their_own_exams(client, trio, southside):
    alice, _, charlie = trio
    exam(southside, alice, review_state="signed", signed_at=timezone.now())
    exam(southside, charlie)
    exam(southside, charlie)
    client.force_login(alice)
    in_southside(client)
    response = client.get(URL)
    counts = response.context["counts"]
    assert (counts["new"], counts["signed"]) == (0, 1)
    assert response.context["exams_total"] == 1
    # No integration health for a clinician: no panels, no members' links, no work.
    assert response.context["panels"] == []
    assert "members" not in response.context and "work" not in response.context
    assert "These figures count the exams you performed" in response.content.decode()


def test_charlie_sees_southside_figures_only(client, trio, northside_exams):
    client.force_login(trio[2])
    response = client.get(URL)
    assert response.context["counts"]["new"] == 1
    assert response.context["exams_total"] == 1
    assert [e.institution.slug for e in response.context["recent"]] == ["southside"]


def test_exams_per_day_is_an_inline_svg_bar_chart_with_the_right_numbers(
    client, trio, northside_exams
):
    client.force_login(trio[1])
    response = client.get(URL)
    chart = response.context["exams_chart"]
    assert len(chart.bars) == 30
    assert response.context["exams_total"] == 5  # the 45-day-old exam is outside
    today = timezone.localdate()
    assert chart.bars[-1].label == f"{today:%b %-d}: 2 exams"
    assert chart.bars[-2].label.endswith(": 1 exam")
    assert chart.bars[-4].label.endswith(": 2 exams")
    # The tallest bar reaches the top gridline's scale; empty days have no height.
    assert chart.bars[-1].height > chart.bars[-2].height > 0
    assert chart.bars[0].height == 0
    html = response.content.decode()
    assert html.count("<svg") == 2
    assert 'role="img"' in html
    assert '<title id="chart-exams-title">Exams per day</title>' in html
    assert f"{today:%b %-d}: 2 exams</title></rect>" in html
    assert "<script" not in html.split("<main", 1)[1]  # no chart library


def test_the_median_turnaround_is_computed_from_submission_to_signature(client, trio, northside):
    alice = trio[0]
    now = timezone.now()
    for hours in (2, 4, 10):
        exam(
            northside,
            alice,
            first_submitted_at=now - timedelta(hours=hours + 1),
            signed_at=now - timedelta(hours=1),
            review_state="signed",
        )
    exam(
        northside,
        alice,
        first_submitted_at=now - timedelta(days=5, hours=6),
        signed_at=now - timedelta(days=5),
        review_state="signed",
    )
    exam(northside, alice)  # not signed: no turnaround
    client.force_login(trio[1])
    response = client.get(URL)
    assert response.context["turnaround_median"] == "5 hours"  # median of 2, 4, 6, 10
    assert response.context["signed_total"] == 4
    bars = response.context["turnaround_chart"].bars
    signed_today = timezone.localtime(now - timedelta(hours=1)).date()
    assert bars[-1 - (timezone.localdate() - signed_today).days].label.endswith("median 4 hours")
    assert '<strong data-figure="turnaround">5 hours</strong>' in response.content.decode()


def test_an_empty_institution_still_draws_its_charts(client, trio):
    client.force_login(trio[1])
    response = client.get(URL)
    html = response.content.decode()
    assert html.count("<svg") == 2
    assert "Nothing yet in the last 30 days" in html
    assert response.context["turnaround_median"] == "–"
    assert "No exams yet" in html


def test_recent_exams_link_to_the_exam_page(client, trio, northside):
    made = exam(northside, trio[0], patient_name="Ann Smith")
    client.force_login(trio[1])
    html = client.get(URL).content.decode()
    assert f'href="/exams/{made.pk}/"' in html
    assert "Ann Smith" in html


def test_the_integration_panel_shows_notifications_failures_and_links(
    client, trio, northside, southside, ago
):
    alice, bob, charlie = trio
    alices = link(alice, northside, ClariusLink.State.CONFIRMED)
    link(bob, northside, ClariusLink.State.REJECTED)
    receipt(alices, NotificationReceipt.State.FETCHED, ago(hours=2))
    receipt(alices, NotificationReceipt.State.FAILED, ago(days=2))
    latest_elsewhere = receipt(
        link(charlie, southside, ClariusLink.State.CONFIRMED),
        NotificationReceipt.State.FAILED,
        ago(minutes=1),
    )
    made = exam(northside, alice)
    capture = Capture.objects.create(
        institution=northside,
        exam=made,
        submission=made.submissions.get(),
        position=5,
        source_url="https://example.invalid/",
        state=Capture.State.FAILED,
    )
    Report.objects.create(
        institution=northside,
        exam=made,
        submission=capture.submission,
        version=1,
        name="r",
        file="x.pdf",
        source="generated",
        state=Report.State.FAILED,
    )
    client.force_login(alice)  # the administrator: a reviewer sees no integration panel
    response = client.get(URL)
    [(panel, integration)] = response.context["panels"]
    assert panel.key == "clarius"
    work = response.context["work"]
    assert integration["last_notification"] < latest_elsewhere.received_at
    assert abs(integration["last_notification"] - ago(hours=2)) < timedelta(seconds=5)
    assert integration["failed_notifications"] == 1
    assert work["failed_captures"] == 1
    assert work["failed_reports"] == 1
    assert integration["rejected_links"] == 1
    states = {m.user.email: m.links[0].state for m in response.context["members"]}
    assert states == {"alice@example.org": "confirmed", "bob@example.org": "rejected"}
    html = response.content.decode()
    assert "Rejected by Clarius" in html
    assert '<dd class="bad" data-count="failed_captures">1</dd>' in html
    client.force_login(bob)
    response = client.get(URL)
    assert (
        response.context["panels"] == [] and "Rejected by Clarius" not in response.content.decode()
    )


def test_the_dashboard_costs_the_same_queries_with_more_data(client, trio, northside):
    alice, bob, _ = trio
    client.force_login(alice)
    client.get(URL)

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            client.get(URL)
        return len(queries)

    before = count()
    for i in range(15):
        user = make_user(f"member{i}@example.org")
        northside.memberships.create(user=user, role="clinician")
        link(user, northside, ClariusLink.State.CONFIRMED)
        exam(northside, user, review_state="signed", signed_at=timezone.now())
    assert count() == before
    # counts, per day, turnaround per day and overall, recent, work, members, and one
    # per integration panel (Clarius); the rest is the middleware's (alice belongs to
    # two institutions)
    assert before == 12


def test_a_user_without_an_institution_is_told_so(client, db):
    client.force_login(make_user("lonely@example.org"))
    response = client.get(URL)
    assert "not a member of any active institution" in response.content.decode()
