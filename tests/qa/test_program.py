"""The QA program dashboard (/qa/program/): figures against hand counts, CSV downloads,
a fixed number of queries, tenancy, roles and hostile parameters."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.urls import reverse

from portal.qa import program_stats
from portal.tenants.models import Membership
from tests.qa.program_fixtures import BERLIN, END, START, WEEKS, build_program, exam, lead

URL = "/qa/program/"
PERIOD = {"start": START, "end": END}


@pytest.fixture
def program(northside, southside, alice, bob, charlie):
    return build_program(northside, southside, alice, bob, charlie)


def get(client, user, **params):
    client.force_login(user)
    return client.get(URL, params)


def test_the_url_name():
    assert reverse("qa-program") == URL


# --- Figures against hand counts ---------------------------------------------------------


def test_volume_per_local_week_across_the_clock_change(client, alice, program):
    figures = get(client, alice, **PERIOD).context["figures"]
    assert [row["week"] for row in figures.volume] == WEEKS
    lung, cardiac = program["lung"].pk, program["cardiac"].pk
    by_week = {row["week"]: row["by_type"] for row in figures.volume}
    # Sunday 18 Oct 23:30 CEST is the week of 12 Oct; Monday 19 Oct 00:30 CEST (a Sunday in
    # UTC) the week of 19 Oct; likewise either side of midnight after the change to CET.
    assert by_week[WEEKS[0]] == {lung: 1}
    assert by_week[WEEKS[1]] == {lung: 1, cardiac: 1}
    assert by_week[WEEKS[2]] == {lung: 2, cardiac: 1, None: 1}
    assert [row["total"] for row in figures.volume] == [1, 2, 4]


def test_operators_busiest_first(client, alice, program):
    figures = get(client, alice, **PERIOD).context["figures"]
    assert figures.operator_count == 3
    rows = [
        (o["email"], o["exams"], o["exam_types"], o["reviewed"], o["passed"])
        for o in figures.operators
    ]
    assert rows == [
        ("bob@example.org", 2, 1, 0, 0),  # 2 exams, one without a type
        ("trainee@example.org", 3, 2, 3, 2),
        ("alice@example.org", 2, 1, 0, 0),
    ] or rows[0] == ("trainee@example.org", 3, 2, 3, 2)
    assert rows[0] == ("trainee@example.org", 3, 2, 3, 2)


def test_backlog_and_turnaround(client, alice, program):
    figures = get(client, alice, **PERIOD).context["figures"]
    assert figures.backlog == {"pending": 3, "overdue": 1, "unassigned": 3}
    hours = datetime.timedelta(hours=1)
    weeks = {row["week"]: row for row in figures.turnaround}
    assert weeks[WEEKS[0]]["n"] == 0 and weeks[WEEKS[0]]["median"] is None
    last = weeks[WEEKS[2]]
    assert last["n"] == 3
    assert program_stats.seconds(last["median"]) == pytest.approx((20 * hours).total_seconds())
    # percentile_cont(0.9) of 10, 20, 80 h: 20 + 0.8 × 60 = 68 h.
    assert program_stats.seconds(last["p90"]) == pytest.approx((68 * hours).total_seconds())
    assert last["on_time"] == 2  # within 72 h
    overall = figures.turnaround_overall
    assert overall["n"] == 3 and overall["on_time"] == 2


def test_quality_distribution(client, alice, program):
    quality = get(client, alice, **PERIOD).context["figures"].quality
    assert [level["n"] for level in quality["levels"]] == [0, 1, 0, 1, 1]
    assert quality["n"] == 3 and quality["passed"] == 2
    assert quality["passed_share"] == pytest.approx(2 / 3)


def test_credentialing_counts(client, alice, program):
    rows = {
        c["exam_type_id"]: c for c in get(client, alice, **PERIOD).context["figures"].credentialing
    }
    lung = rows[program["lung"].pk]
    assert (lung["credentialed"], lung["by_count"], lung["by_grant"]) == (2, 1, 1)
    assert lung["credentialed_in_period"] == 1  # Alice's, on 20 October
    assert lung["in_training"] == 1  # the trainee; Alice holds the credential
    cardiac = rows[program["cardiac"].pk]
    assert (cardiac["credentialed"], cardiac["in_training"]) == (0, 2)  # the trainee, Bob
    assert lung["required"] >= 1


def test_the_page_shows_the_figures_and_charts(client, alice, program):
    response = get(client, alice, **PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-figure="pending">3<' in html
    assert 'data-figure="overdue">1<' in html
    assert 'data-figure="volume-total">7<' in html
    assert 'data-figure="turnaround-median">20 hours<' in html
    assert 'data-figure="passed-share">67 %<' in html
    assert html.count('<svg class="bar-chart"') == 3
    assert html.count('<details class="chart-data">') == 3  # the figures as text
    assert "<li>Week of Oct 26, 2026: 4 exams</li>" in html
    assert "<li>Week of Oct 26, 2026: median 20 hours</li>" in html
    assert "<li>Week of Oct 12, 2026: none scored</li>" in html
    assert "<li>5 (" in html


def test_default_period_is_the_last_twelve_weeks(client, alice, program):
    period = get(client, alice).context["period"]
    assert len(period.weeks) == 12
    assert period.start.weekday() == 0
    assert period.end == datetime.datetime.now(BERLIN).date()


# --- CSV -----------------------------------------------------------------------------------


def rows_of(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_csv_downloads(client, alice, program):
    client.force_login(alice)
    volume = rows_of(client.get(URL, {**PERIOD, "download": "volume"}))
    assert volume[0][0] == "Week (Monday)" and volume[0][-1] == "Total"
    assert [row[0] for row in volume[1:]] == [w.isoformat() for w in WEEKS]
    assert [row[-1] for row in volume[1:]] == ["1", "2", "4"]
    backlog = rows_of(client.get(URL, {**PERIOD, "download": "backlog"}))
    assert backlog[3][:5] == ["2026-10-26", "3", "20.0", "68.0", "2"]
    quality = rows_of(client.get(URL, {**PERIOD, "download": "quality"}))
    assert [row[2] for row in quality[1:6]] == ["0", "1", "0", "1", "1"]
    credentialing = rows_of(client.get(URL, {**PERIOD, "download": "credentialing"}))
    lung = next(row for row in credentialing if row[0] == program["lung"].name)
    assert lung[2:] == ["2", "1", "1", "1", "1"]
    operators = rows_of(client.get(URL, {**PERIOD, "download": "operators"}))
    assert operators[1][1] == "trainee@example.org"


def test_csv_cells_cannot_start_a_formula(client, alice, program):
    program["trainee"].full_name = '=HYPERLINK("http://evil")'
    program["trainee"].save()
    program["lung"].name = "+cmd"
    program["lung"].save()
    client.force_login(alice)
    operators = rows_of(client.get(URL, {**PERIOD, "download": "operators"}))
    assert operators[1][0].startswith("'=")
    credentialing = rows_of(client.get(URL, {**PERIOD, "download": "credentialing"}))
    assert any(row[0] == "'+cmd" for row in credentialing)
    volume = rows_of(client.get(URL, {**PERIOD, "download": "volume"}))
    assert "'+cmd" in volume[0]


def test_an_unknown_download_is_a_400(client, alice, program):
    assert get(client, alice, download="everything").status_code == 400


# --- Queries -------------------------------------------------------------------------------


def many_exams(institution, operators, exam_types, count):
    from tests.qa.program_fixtures import review

    start = datetime.datetime(2026, 10, 13, 9, tzinfo=BERLIN)
    for n in range(count):
        row = exam(
            institution,
            operators[n % len(operators)],
            exam_types[n % len(exam_types)],
            start + datetime.timedelta(hours=n),
        )
        scored = row.first_submitted_at + datetime.timedelta(hours=5) if n % 3 else None
        review(
            row,
            scored=scored,
            quality=1 + n % 5 if scored else None,
            passed=bool(n % 2) if scored else None,
        )


@pytest.mark.parametrize("extra", [10, 100])
def test_queries_do_not_grow_with_the_exams(
    client, alice, program, django_assert_num_queries, extra
):
    from portal.worksheets.models import ExamType

    types = list(ExamType.objects.filter(institution=program["lung"].institution))
    client.force_login(alice)
    client.get(URL, PERIOD)  # the session, the settings row
    with django_assert_num_queries(QUERIES) as first:
        client.get(URL, PERIOD)
    many_exams(program["lung"].institution, [alice, program["trainee"]], types, extra)
    with django_assert_num_queries(len(first.captured_queries)):
        response = client.get(URL, PERIOD)
    assert response.context["volume_total"] == 7 + extra


# The session, the user, the memberships, the QA settings, exam types, volume, operators
# (exams, their QA reads), backlog, turnaround per week and overall, quality, credentials,
# in training; the header's unread notifications.
QUERIES = 15


# --- Tenancy and roles -------------------------------------------------------------------


def test_another_institution_sees_only_its_own(client, charlie, program):
    figures = get(client, charlie, **PERIOD).context["figures"]  # Southside's administrator
    assert sum(row["total"] for row in figures.volume) == 1
    assert figures.quality["n"] == 1
    assert figures.backlog["pending"] == 0
    assert sum(c["credentialed"] for c in figures.credentialing) == 1
    assert "trainee@example.org" not in get(client, charlie, **PERIOD).content.decode()


def test_a_clinician_is_refused(client, alice, program, northside, southside):
    from tests.test_institution_switch import switch

    client.force_login(alice)
    switch(client, "southside")  # Alice is a clinician there
    assert client.get(URL, PERIOD).status_code == 404
    Membership.objects.filter(user=alice, institution=southside).update(is_qa_lead=True)
    assert client.get(URL, PERIOD).status_code == 404  # a clinician cannot lead QA


def test_roles(client, alice, bob, northside, program):
    assert get(client, bob, **PERIOD).status_code == 404  # a reviewer
    Membership.objects.filter(user=bob, institution=northside).update(is_qa_reviewer=True)
    assert get(client, bob, **PERIOD).status_code == 404  # a QA reviewer
    lead(bob, northside)
    assert get(client, bob, **PERIOD).status_code == 200  # a QA lead
    assert get(client, alice, **PERIOD).status_code == 200  # an administrator
    client.logout()
    assert client.get(URL).status_code == 302  # to the sign-in page


# --- Hostile parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday"},
        {"start": "2026-13-01"},
        {"end": "2026-02-30"},
        {"start": "2026-10-01\x00"},
        {"start": "9" * 5000},
        {"start": "0001-01-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},  # more than two years
        {"start": "2026-11-01", "end": "2026-10-01"},  # backwards
        {"end": "9999-12-31"},
        {"download": "\x00"},
    ],
)
def test_hostile_parameters_are_a_400(client, alice, program, params):
    response = get(client, alice, **params)
    assert response.status_code == 400
    assert b"cannot show this" in response.content


def test_a_list_of_dates_uses_the_last(client, alice, program):
    client.force_login(alice)
    response = client.get(URL + "?start=2026-10-12&start=2026-10-19&end=2026-11-01")
    assert response.status_code == 200
    assert response.context["period"].start == datetime.date(2026, 10, 19)


def test_two_years_is_allowed(client, alice, program):
    response = get(client, alice, start="2024-11-02", end="2026-11-01")
    assert response.status_code == 200
    assert len(response.context["figures"].volume) == len(response.context["period"].weeks)


def test_percentile_matches_postgres_rule():
    assert program_stats.continuous_percentile([10, 20, 80], 0.9) == pytest.approx(68)
    assert program_stats.continuous_percentile([5], 0.9) == 5
    assert program_stats.continuous_percentile([], 0.9) is None
    assert program_stats.continuous_percentile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)
