"""The dashboard by role: a clinician's own numbers, the program's for reviewers, the
integrations' health for administrators only; durations in units that fit; counters
that agree with the work rows (retrying is not "0 failed")."""

import uuid
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.dashboard.charts import duration_chart, duration_unit
from portal.exams.models import Capture
from portal.exams.templatetags.display import duration_words
from portal.reports.models import Findings
from tests.dashboard.conftest import exam, in_southside

URL = "/"


def capture(made, state, **fields):
    return Capture.objects.create(
        institution=made.institution,
        exam=made,
        submission=made.submissions.get(),
        position=Capture.objects.filter(exam=made).count(),
        source_url="https://example.invalid/",
        state=state,
        **fields,
    )


def signed(made, quality=None, feedback="", when=None):
    when = when or timezone.now()
    made.review_state = "signed"
    made.signed_at = when
    made.save()
    Findings.objects.create(
        institution=made.institution,
        exam=made,
        image_quality=quality,
        clinician_feedback=feedback,
        signed_at=when,
    )
    return made


# --- What each role sees ----------------------------------------------------------------


def test_a_clinician_sees_their_own_numbers_and_no_integration_health(client, trio, southside):
    alice, _, charlie = trio
    now = timezone.now()
    exam(southside, alice, submitted=now - timedelta(days=2))
    exam(southside, alice, submitted=now - timedelta(days=20))
    signed(exam(southside, alice, submitted=now - timedelta(hours=3)), quality=4, feedback="Nice")
    exam(southside, charlie)  # another clinician's
    client.force_login(alice)
    in_southside(client)
    response = client.get(URL)
    mine = response.context["mine"]
    assert (mine["week"], mine["month"], mine["feedback"], mine["written_feedback"]) == (2, 3, 1, 1)
    assert mine["awaiting"] == 2
    html = response.content.decode()
    assert "Your exams in the last 7 days" in html
    assert "Feedback received in 30 days (1 with a note)" in html
    assert response.context["quality_chart"] is not None
    assert "Image quality" in html
    # No integration health: no Clarius panel, no downloads, no members' links.
    assert response.context["panels"] == []
    assert "Downloads and reports" not in html
    assert "Notifications" not in html and "Members' Clarius links" not in html


def test_a_clinician_without_ratings_is_told_so(client, trio, southside):
    alice = trio[0]
    signed(exam(southside, alice), quality=None)
    client.force_login(alice)
    in_southside(client)
    response = client.get(URL)
    assert response.context["quality_chart"] is None
    assert "No ratings yet" in response.content.decode()


def test_the_quality_chart_averages_each_week_on_a_1_to_5_scale(client, trio, southside):
    alice = trio[0]
    for quality in (3, 4):
        signed(exam(southside, alice), quality=quality)
    client.force_login(alice)
    in_southside(client)
    chart = client.get(URL).context["quality_chart"]
    assert chart.bars[-1].label.endswith(": 3.5 of 5 (2 exams)")
    assert [label for _, label in chart.y_ticks] == ["0", "1", "2", "3", "4", "5"]


def test_a_reviewer_sees_the_program_but_no_integration_panel(client, trio, northside):
    alice, bob, _ = trio
    exam(northside, alice)
    client.force_login(bob)
    response = client.get(URL)
    assert response.context["counts"]["new"] == 1
    assert response.context["panels"] == []
    assert "mine" not in response.context
    assert "whole program" in response.content.decode()


def test_an_admin_sees_the_integration_panel_and_the_work(client, trio, northside):
    client.force_login(trio[0])
    response = client.get(URL)
    assert [panel.key for panel, _ in response.context["panels"]] == ["clarius"]
    html = response.content.decode()
    assert "Downloads and reports" in html and "Members' Clarius links" in html


# --- Counters agree with the work rows ----------------------------------------------


def test_a_download_being_retried_counts_as_retrying_not_as_zero_failed(
    client, trio, northside, southside
):
    alice, _, charlie = trio
    made = exam(northside, alice)
    capture(made, Capture.State.PENDING, attempts=3, last_error="HTTP 503 from Clarius")
    capture(made, Capture.State.PENDING)  # not tried yet: neither
    capture(made, Capture.State.FAILED, attempts=8, last_error="gave up")
    elsewhere = exam(southside, charlie)
    capture(elsewhere, Capture.State.PENDING, attempts=1, last_error="timeout")
    client.force_login(alice)
    response = client.get(URL)
    work = response.context["work"]
    assert (work["retrying_captures"], work["failed_captures"]) == (1, 1)
    html = response.content.decode()
    assert '<dd data-count="retrying_captures">1</dd>' in html
    assert '<dd class="bad" data-count="failed_captures">1</dd>' in html


def test_retrying_notifications_are_counted_too(client, trio, northside):
    alice = trio[0]
    link = ClariusLink.objects.create(
        user=alice, institution=northside, state=ClariusLink.State.CONFIRMED, token="t1"
    )
    NotificationReceipt.objects.create(
        request_uuid=uuid.uuid4(),
        state=NotificationReceipt.State.PENDING,
        link=link,
        customer_id="t1",
        attempts=2,
        last_error="HTTP 500",
    )
    client.force_login(alice)
    [(_, status)] = client.get(URL).context["panels"]
    assert (status["retrying_notifications"], status["failed_notifications"]) == (1, 0)


def test_exams_waiting_for_an_unlinked_account_are_shown_to_the_admin(
    client, trio, northside, southside
):
    alice, bob, charlie = trio
    # Bob's link was unlinked (or never confirmed); two exams arrived for his account since.
    ClariusLink.objects.create(
        user=bob, institution=northside, state=ClariusLink.State.REVOKED, token="bobs-token"
    )
    ClariusLink.objects.create(
        user=charlie, institution=southside, state=ClariusLink.State.PENDING, token="charlies"
    )
    for token in ["bobs-token", "bobs-token", "charlies", "nobodys"]:
        NotificationReceipt.objects.create(
            request_uuid=uuid.uuid4(), state=NotificationReceipt.State.UNASSIGNED, customer_id=token
        )
    client.force_login(alice)
    response = client.get(URL)
    [(_, status)] = response.context["panels"]
    assert status["waiting_unlinked"] == 2
    assert status["waiting_members"] == ["Bob Reviewer"]
    html = response.content.decode()
    assert "2 exams waiting" in html and "Bob Reviewer" in html
    assert reverse("clarius-institution-links") in html
    # Charlie's own institution sees only his.
    client.force_login(charlie)
    [(_, status)] = client.get(URL).context["panels"]
    assert (status["waiting_unlinked"], status["waiting_members"]) == (1, ["Charlie Stranger"])


# --- Durations -----------------------------------------------------------------------


def test_durations_read_in_minutes_hours_or_days():
    assert duration_words(timedelta(minutes=20)) == "20 minutes"
    assert duration_words(timedelta(seconds=10)) == "1 minute"
    assert duration_words(timedelta(hours=2, minutes=5)) == "2 hours and 5 minutes"
    assert duration_words(timedelta(hours=3)) == "3 hours"
    assert duration_words(timedelta(days=3, hours=4, minutes=10)) == "3 days and 4 hours"
    assert duration_words(timedelta(days=1)) == "1 day"
    assert duration_words("PT15M") == "15 minutes"
    assert duration_words(None) == "" and duration_words("nonsense") == ""


def test_the_axis_unit_is_chosen_from_the_data():
    assert duration_unit([20 * 60, None, 5 * 60]) == (60, "min")
    assert duration_unit([5 * 3600]) == (3600, "h")
    assert duration_unit([4 * 86400]) == (86400, "d")
    assert duration_unit([]) == (60, "min")


def test_a_turnaround_of_minutes_is_not_0_h_on_the_axis():
    today = timezone.localdate()
    series = [(today - timedelta(days=n), timedelta(minutes=m)) for n, m in [(2, 12), (1, 35)]]
    series.append((today, None))
    chart = duration_chart(
        series, title="t", description="d", label=lambda day, d: duration_words(d) or "none"
    )
    ticks = [label for _, label in chart.y_ticks]
    assert ticks == ["0 min", "10 min", "20 min", "30 min", "40 min"]
    assert [bar.label for bar in chart.bars] == ["12 minutes", "35 minutes", "none"]


def test_a_clinicians_turnaround_in_minutes_on_the_page(client, trio, southside):
    alice = trio[0]
    now = timezone.now()
    for minutes in (20, 40):
        made = exam(southside, alice, submitted=now - timedelta(minutes=minutes + 5))
        made.signed_at = now - timedelta(minutes=5)
        made.review_state = "signed"
        made.save()
    client.force_login(alice)
    in_southside(client)
    response = client.get(URL)
    assert response.context["turnaround_median"] == "30 minutes"
    ticks = [label for _, label in response.context["turnaround_chart"].y_ticks]
    assert "0 h" not in ticks and ticks[-1].endswith(" min")
