# ruff: noqa: F811 (the fixtures imported from calibration_fixtures are arguments here)
"""Reviewer calibration: the report's numbers, its edge cases, who sees it, its CSV."""

from __future__ import annotations

import csv
import datetime
import io
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from sklearn.metrics import cohen_kappa_score

from portal.qa import calibration
from portal.qa.models import QAReview
from portal.tenants.models import Membership
from tests.factories import make_exam
from tests.qa.calibration_fixtures import (  # noqa: F401 (fixtures)
    dave,
    double_read,
    exam_type,
    lead,
    member,
    qa_reviewers,
    scored,
)

URL = "/qa/calibration/"
A, FP, FN, OT = "agree", "false_positive", "false_negative", "other"
# Six pairs (read 1 by Ann, read 2 by Ben): (quality, interpretation, passed) each.
SIX = [
    ((4, A, True), (4, A, True)),
    ((5, A, True), (4, A, True)),
    ((3, A, True), (3, A, True)),
    ((2, A, True), (3, FP, False)),
    ((4, FN, False), (5, FN, False)),
    ((1, FP, False), (1, A, True)),
]


@pytest.fixture
def six(northside, qa_reviewers):
    ann, ben, _ = qa_reviewers
    return [double_read(northside, ann, ben, a, b) for a, b in SIX]


def test_report_matches_hand_computed_kappas(northside, qa_reviewers, six):
    # Interpretation: observed 4/6; chance (4·4 + 1·1 + 1·1)/36 = 1/2; kappa = 1/3.
    # Passed: observed 4/6; chance (4·4 + 2·2)/36 = 5/9; kappa = (1/9)/(4/9) = 1/4.
    result = calibration.report(calibration.pairs(northside.pk))
    overall = result.overall
    assert overall.pairs == 6
    assert overall.interpretation.kappa == pytest.approx(1 / 3)
    assert overall.interpretation.words == "fair"
    assert overall.passed.kappa == pytest.approx(0.25)
    assert overall.passed.words == "fair"
    q1 = [a[0] for a, _ in SIX]
    q2 = [b[0] for _, b in SIX]
    expected = cohen_kappa_score(q1, q2, labels=[1, 2, 3, 4, 5], weights="quadratic")
    assert overall.quality.kappa == pytest.approx(expected)
    low, high = overall.quality.agreement.ci_low, overall.quality.agreement.ci_high
    assert low < overall.quality.kappa < high
    # One exam type (FAST), the same six pairs.
    assert [(r.label, r.pairs) for r in result.exam_types] == [(exam_type(northside).name, 6)]
    # Ann scored 19 points against Ben's 20 on the same six exams: harsher by 1/6.
    ann, ben = result.reviewers
    assert (ann.label, ben.label) == ("Reviewer Ann", "Reviewer Ben")
    assert ann.bias.mean_difference == pytest.approx(-1 / 6)
    assert ann.bias_words == "scores harsher by 0.2 points"
    assert ben.bias_words == "scores looser by 0.2 points"
    # Kappa is symmetric: each reviewer's agreement with the other is the overall one.
    assert ann.interpretation.kappa == pytest.approx(1 / 3)
    assert ben.quality.kappa == pytest.approx(expected)


def test_matches_scikit_learn_on_a_larger_seeded_sample(northside, qa_reviewers):
    chance = random.Random(14)
    reviewers = qa_reviewers
    kinds = [exam_type(northside, "fast"), exam_type(northside, "lung")]
    drawn = []
    for _ in range(60):
        first, second = chance.sample(reviewers, 2)
        kind = chance.choice(kinds)
        a = (chance.randint(1, 5), chance.choice([A, A, A, FP, FN, OT]), chance.random() < 0.7)
        b = (
            min(5, max(1, a[0] + chance.choice([-1, 0, 0, 1]))),
            a[1] if chance.random() < 0.7 else chance.choice([A, FP, FN, OT]),
            a[2] if chance.random() < 0.8 else not a[2],
        )
        double_read(northside, first, second, a, b, kind=kind)
        drawn.append((first, second, kind, a, b))
    result = calibration.report(calibration.pairs(northside.pk))

    def check(row, pairs):
        assert row.pairs == len(pairs)
        firsts = [a for a, _ in pairs]
        seconds = [b for _, b in pairs]
        assert row.interpretation.kappa == pytest.approx(
            cohen_kappa_score([x[1] for x in firsts], [x[1] for x in seconds])
        )
        assert row.passed.kappa == pytest.approx(
            cohen_kappa_score([x[2] for x in firsts], [x[2] for x in seconds])
        )
        assert row.quality.kappa == pytest.approx(
            cohen_kappa_score(
                [x[0] for x in firsts],
                [x[0] for x in seconds],
                labels=[1, 2, 3, 4, 5],
                weights="quadratic",
            )
        )

    check(result.overall, [(a, b) for *_, a, b in drawn])
    for row in result.exam_types:
        check(row, [(a, b) for _, _, kind, a, b in drawn if kind.pk == row.key])
    assert len(result.exam_types) == 2
    for row in result.reviewers:
        mine = [(a, b) for first, _, _, a, b in drawn if first.pk == row.key]
        mine += [(b, a) for _, second, _, a, b in drawn if second.pk == row.key]
        check(row, mine)
        difference = sum(m[0] - t[0] for m, t in mine) / len(mine)
        assert row.bias.mean_difference == pytest.approx(difference)
    assert len(result.reviewers) == 3


def test_no_pairs(northside, qa_reviewers):
    result = calibration.report(calibration.pairs(northside.pk))
    assert result.overall.pairs == 0
    assert result.overall.interpretation.kappa is None
    assert result.overall.interpretation.words == "not enough pairs"
    assert result.exam_types == [] and result.reviewers == []


def test_one_category_only_and_perfect_agreement(northside, qa_reviewers):
    ann, ben, _ = qa_reviewers
    # Every answer "agree" and "passed": kappa is 0/0 → not enough pairs, never a number.
    for quality in (2, 3, 4, 5):
        double_read(northside, ann, ben, (quality, A, True), (quality, A, True))
    row = calibration.report(calibration.pairs(northside.pk)).overall
    assert row.interpretation.kappa is None
    assert row.interpretation.words == "not enough pairs"
    assert row.passed.kappa is None
    # The qualities differ between exams and agree within each: perfect agreement.
    assert row.quality.kappa == pytest.approx(1.0)
    assert row.quality.words == "almost perfect"
    assert row.quality.degenerate_interval == "every pair agreed"


def test_one_reviewer_always_giving_one_answer_has_no_interval(northside, qa_reviewers):
    ann, ben, _ = qa_reviewers
    for interpretation in (A, FP, A, FN):
        double_read(northside, ann, ben, (3, A, True), (3, interpretation, True))
    row = calibration.report(calibration.pairs(northside.pk)).overall
    # Chance explains the agreement seen (kappa 0) and the asymptotic variance is 0.
    assert row.interpretation.kappa == pytest.approx(0.0)
    assert "no interval" in row.interpretation.degenerate_interval
    six = calibration.report(calibration.pairs(northside.pk)).overall
    assert six.quality.kappa is None  # every quality a 3: 0/0


def test_one_pair_is_not_enough(northside, qa_reviewers):
    ann, ben, _ = qa_reviewers
    double_read(northside, ann, ben, (4, A, True), (2, FN, False))
    row = calibration.report(calibration.pairs(northside.pk)).overall
    assert row.pairs == 1
    assert row.quality.kappa is None and row.quality.words == "not enough pairs"
    assert row.interpretation.as_dict()["kappa"] is None


def test_only_done_pairs_of_the_institution_in_the_period(
    northside, southside, qa_reviewers, six, charlie
):
    ann, ben, _ = qa_reviewers
    # A read 2 still pending is no pair; nor is a read 1 alone.
    exam = make_exam(northside, captures=0, exam_type=exam_type(northside))
    scored(exam, 1, ann, 4, A, True)
    QAReview.objects.create(
        institution=northside,
        exam=exam,
        read=2,
        reason=QAReview.Reason.DOUBLE_READ,
        assignee=ben,
        due_at=timezone.now(),
    )
    lone = make_exam(northside, captures=0, exam_type=exam_type(northside))
    scored(lone, 1, ann, 4, A, True)
    # Another institution's pairs never count.
    other = member(southside, "sam@example.org", "Sam South", is_qa_reviewer=True)
    double_read(southside, charlie, other, (1, FP, False), (5, A, True))
    assert len(calibration.pairs(northside.pk)) == 6
    assert len(calibration.pairs(southside.pk)) == 1
    # The period is the day the second read was scored.
    old = timezone.now() - datetime.timedelta(days=40)
    double_read(northside, ann, ben, (4, A, True), (4, A, True), at=old)
    assert len(calibration.pairs(northside.pk)) == 7
    since = timezone.localdate() - datetime.timedelta(days=7)
    assert len(calibration.pairs(northside.pk, start=since)) == 6
    until = timezone.localdate() - datetime.timedelta(days=30)
    assert len(calibration.pairs(northside.pk, end=until)) == 1


def test_page_for_leads_and_admins_only(client, alice, bob, charlie, lead, dave, six):
    for user in (alice, lead):
        client.force_login(user)
        response = client.get(URL)
        assert response.status_code == 200
        page = response.content.decode()
        assert "Reviewer calibration" in page
        assert "0.33" in page and "fair" in page
        assert "scores harsher by 0.2 points" in page
    # A reviewer (not a QA lead), a QA reviewer, a clinician: 404.
    northside = six[0].institution
    qa_only = member(northside, "quinn@example.org", "Quinn", is_qa_reviewer=True)
    for user in (bob, dave, qa_only):
        client.force_login(user)
        assert client.get(URL).status_code == 404
    # Charlie's institution has no pairs: Northside's numbers never show there.
    client.force_login(charlie)
    page = client.get(URL).content.decode()
    assert "No exam has both QA reads scored" in page
    assert "Reviewer Ann" not in page
    client.force_login(alice)
    assert client.post(URL).status_code == 405
    client.logout()
    assert client.get(URL).status_code == 302


def test_page_shows_aggregates_only(client, alice, six):
    """Blinding: the report names no exam, so no second read is tied to an exam."""
    client.force_login(alice)
    page = client.get(URL).content.decode()
    for exam in six:
        assert reverse("exam-detail", args=[exam.pk]) not in page
        assert str(exam.exam_uuid) not in page


def test_no_pairs_page(client, alice):
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200
    assert "No exam has both QA reads scored" in response.content.decode()


def test_period_filter_and_bad_dates(client, alice, six):
    client.force_login(alice)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    page = client.get(URL, {"start": future}).content.decode()
    assert "No exam has both QA reads scored in this period" in page
    for bad in ({"start": "2026-13-45"}, {"start": "x" * 5000}, {"end": "2026-01-01\x00"}):
        assert client.get(URL, bad).status_code == 400
    today = timezone.localdate().isoformat()
    assert client.get(URL, {"start": today, "end": "2020-01-01"}).status_code == 400
    assert client.get(URL, {"start": today, "end": today}).status_code == 200


def test_csv_download_is_safe(client, alice, northside, qa_reviewers, six):
    ann = qa_reviewers[0]
    ann.full_name = '=HYPERLINK("http://evil")'
    ann.save()
    client.force_login(alice)
    response = client.get(URL, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == calibration.CSV_HEADER
    groups = [row[0] for row in rows[1:]]
    assert groups == ["overall", "exam_type", "reviewer", "reviewer"]
    overall = dict(zip(rows[0], rows[1], strict=True))
    assert overall["pairs"] == "6"
    assert float(overall["interpretation_kappa"]) == pytest.approx(1 / 3, abs=1e-3)
    assert overall["interpretation_words"] == "fair"
    names = [row[1] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in names
    bias = {row[1]: row[-2] for row in rows[1:] if row[0] == "reviewer"}
    assert bias["Reviewer Ben"] == "0.167"
    assert bias['\'=HYPERLINK("http://evil")'] == "-0.167"  # a number stays a number
    # A bad period is the page with its errors, not a file.
    assert client.get(URL, {"format": "csv", "start": "nope"}).status_code == 400


def test_queries_do_not_grow_with_pairs(client, alice, northside, qa_reviewers):
    ann, ben, cat = qa_reviewers
    client.force_login(alice)
    double_read(northside, ann, ben, (4, A, True), (3, A, True))
    client.get(URL)  # warm up (sessions, content types)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for i in range(12):
        first, second = [(ann, ben), (ben, cat), (cat, ann)][i % 3]
        kind = exam_type(northside, ["fast", "lung", "aorta"][i % 3])
        double_read(northside, first, second, (i % 5 + 1, A, True), (3, FN, False), kind=kind)
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    assert len(many) == len(few)


def test_admin_is_lead_but_a_lead_needs_a_reviewing_role(client, northside):
    clinician_lead = member(
        northside, "cl@example.org", "Clin Lead", Membership.Role.CLINICIAN, is_qa_lead=True
    )
    client.force_login(clinician_lead)
    assert client.get(URL).status_code == 404
