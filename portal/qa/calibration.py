"""Reviewer calibration: how well the institution's QA reviewers agree with each other.

A *pair* is an exam with both QA reads scored: read 1 (the QA review the clinician gets
feedback from) and read 2 (the blinded second read). For each exam type, each reviewer
and overall, the report gives Cohen's kappa for the interpretation category and for
passed / not passed, the quadratic weighted kappa for the 1–5 image quality, each with
its 95% interval and the Landis–Koch words, and for a reviewer the mean difference of
their quality scores against their partners' (who scores harshly or loosely).

A reviewer's pairs are the ones they scored either read of, always counted as (their
answer, their partner's answer). Only aggregate numbers leave this module: a second read
stays blind to anyone who might still be scoring the first.

All pairs are read in one query (both reads of each exam), whatever the number of exam
types and reviewers; the statistics are sums in ``portal.qa.stats``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone

from portal.qa import rubric
from portal.qa.models import QAReview
from portal.qa.stats import (
    QUALITY_SCALE,
    Agreement,
    RaterBias,
    cohen_kappa,
    describe_kappa,
    rater_bias,
    weighted_kappa,
)

INTERPRETATION_CODES = [code for code, _ in rubric.INTERPRETATIONS]
PASSED_CODES = [True, False]
# Fewer pairs than this say nothing about agreement: the report prints words, not a number.
MIN_PAIRS = 2
# A mean difference smaller than this (in points of the 1–5 scale) is "in line".
BIAS_IN_LINE = 0.1


@dataclass(frozen=True)
class Read:
    reviewer_id: int | None
    reviewer_name: str
    quality: int | None
    interpretation: str
    passed: bool | None


@dataclass(frozen=True)
class Pair:
    exam_id: int
    exam_type_id: int | None
    exam_type_name: str
    scored_at: datetime.datetime
    first: Read
    second: Read


def day_bounds(start: datetime.date | None, end: datetime.date | None):
    """Whole local days ``start``..``end`` (inclusive) as aware datetimes in the current zone."""
    zone = timezone.get_current_timezone()
    low = datetime.datetime.combine(start, datetime.time.min, zone) if start else None
    high = (
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time.min, zone)
        if end
        else None
    )
    return low, high


def _name(full_name: str | None, email: str | None) -> str:
    return full_name or email or "A former member"


def pairs(
    institution_id: int,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> list[Pair]:
    """The institution's double-read exams with both reads done, in one query.

    Each row is a scored read 1 joined with the same exam's scored read 2 (one row per
    exam: a read number is unique per exam). ``start``/``end`` bound the day the second
    read was scored, in the current time zone.
    """
    # One filter() call: every condition on the joined second read applies to the same row.
    second = {
        "exam__qa_reviews__read": QAReview.SECOND_READ,
        "exam__qa_reviews__state": QAReview.State.DONE,
    }
    low, high = day_bounds(start, end)
    if low is not None:
        second["exam__qa_reviews__scored_at__gte"] = low
    if high is not None:
        second["exam__qa_reviews__scored_at__lt"] = high
    rows = (
        QAReview.objects.filter(
            institution_id=institution_id,
            read=QAReview.FIRST_READ,
            state=QAReview.State.DONE,
            **second,
        )
        .annotate(
            second_by=F("exam__qa_reviews__scored_by"),
            second_full_name=F("exam__qa_reviews__scored_by__full_name"),
            second_email=F("exam__qa_reviews__scored_by__email"),
            second_quality=F("exam__qa_reviews__image_quality"),
            second_interpretation=F("exam__qa_reviews__interpretation"),
            second_passed=F("exam__qa_reviews__passed"),
            second_scored_at=F("exam__qa_reviews__scored_at"),
        )
        .values(
            "exam_id",
            "exam_type_id",
            "exam_type__name",
            "exam__exam_type_id",
            "exam__exam_type__name",
            "scored_by",
            "scored_by__full_name",
            "scored_by__email",
            "image_quality",
            "interpretation",
            "passed",
            "second_by",
            "second_full_name",
            "second_email",
            "second_quality",
            "second_interpretation",
            "second_passed",
            "second_scored_at",
        )
        .order_by("exam_id")
    )
    found = []
    for row in rows:
        # The exam type QA judged (the snapshot at selection), else the exam's own.
        type_id = row["exam_type_id"] or row["exam__exam_type_id"]
        type_name = row["exam_type__name"] or row["exam__exam_type__name"] or "No exam type"
        found.append(
            Pair(
                exam_id=row["exam_id"],
                exam_type_id=type_id,
                exam_type_name=type_name,
                scored_at=row["second_scored_at"],
                first=Read(
                    row["scored_by"],
                    _name(row["scored_by__full_name"], row["scored_by__email"]),
                    row["image_quality"],
                    row["interpretation"],
                    row["passed"],
                ),
                second=Read(
                    row["second_by"],
                    _name(row["second_full_name"], row["second_email"]),
                    row["second_quality"],
                    row["second_interpretation"],
                    row["second_passed"],
                ),
            )
        )
    return found


@dataclass(frozen=True)
class KappaCell:
    """One kappa as a report shows it: a number with its interval, or "not enough pairs"."""

    agreement: Agreement

    @property
    def enough(self) -> bool:
        return self.agreement.n >= MIN_PAIRS and self.agreement.kappa is not None

    @property
    def kappa(self) -> float | None:
        return self.agreement.kappa if self.enough else None

    @property
    def words(self) -> str:
        return describe_kappa(self.kappa)

    @property
    def n(self) -> int:
        return self.agreement.n

    @property
    def degenerate_interval(self) -> str:
        """Why there is no interval to show, when the standard error is zero: every pair
        agreed, or one reviewer gave the same answer every time (the asymptotic variance
        is then zero, which is no certainty). Empty when the interval means something."""
        if not self.enough or self.agreement.se != 0:
            return ""
        if self.agreement.observed == 1:
            return "every pair agreed"
        return "one reviewer gave the same answer every time: no interval"

    def as_dict(self) -> dict:
        a = self.agreement
        return {
            "n": a.n,
            "kappa": self.kappa,
            "ci_low": a.ci_low if self.enough else None,
            "ci_high": a.ci_high if self.enough else None,
            "se": a.se if self.enough else None,
            "observed_agreement": a.observed,
            "words": self.words,
        }


def describe_bias(difference: float | None) -> str:
    """A reviewer's mean quality difference against their partners, in words."""
    if difference is None:
        return "not enough pairs"
    if abs(difference) < BIAS_IN_LINE:
        return "in line with partners"
    direction = "harsher" if difference < 0 else "looser"
    return f"scores {direction} by {abs(difference):.1f} points"


@dataclass
class Row:
    """One line of the report: a group of pairs and its agreement."""

    kind: str  # "overall", "exam_type" or "reviewer"
    key: int | None
    label: str
    pairs: int
    interpretation: KappaCell
    passed: KappaCell
    quality: KappaCell
    bias: RaterBias | None = None

    @property
    def bias_words(self) -> str:
        if self.bias is None:
            return ""
        if self.bias.n < MIN_PAIRS:
            return "not enough pairs"
        return describe_bias(self.bias.mean_difference)

    def as_dict(self) -> dict:
        row = {
            "group": self.kind,
            "id": self.key,
            "name": self.label,
            "pairs": self.pairs,
            "interpretation": self.interpretation.as_dict(),
            "passed": self.passed.as_dict(),
            "image_quality": self.quality.as_dict(),
        }
        if self.kind == "reviewer":
            enough = self.bias is not None and self.bias.n >= MIN_PAIRS
            row["rater_bias"] = {
                "n": self.bias.n if self.bias else 0,
                "mean_difference": self.bias.mean_difference if enough else None,
                "rater_mean": self.bias.rater_mean if enough else None,
                "partner_mean": self.bias.partner_mean if enough else None,
                "words": self.bias_words,
            }
        return row


@dataclass
class _Answers:
    """The (this side, other side) answers of a group of pairs, per question."""

    pairs: int = 0
    interpretation: list = field(default_factory=list)
    passed: list = field(default_factory=list)
    quality: list = field(default_factory=list)

    def add(self, mine: Read, theirs: Read) -> None:
        self.pairs += 1
        if mine.interpretation in INTERPRETATION_CODES and (
            theirs.interpretation in INTERPRETATION_CODES
        ):
            self.interpretation.append((mine.interpretation, theirs.interpretation))
        if mine.passed is not None and theirs.passed is not None:
            self.passed.append((mine.passed, theirs.passed))
        if mine.quality in QUALITY_SCALE and theirs.quality in QUALITY_SCALE:
            self.quality.append((mine.quality, theirs.quality))

    def row(self, kind: str, key, label: str) -> Row:
        return Row(
            kind=kind,
            key=key,
            label=label,
            pairs=self.pairs,
            interpretation=KappaCell(cohen_kappa(self.interpretation, INTERPRETATION_CODES)),
            passed=KappaCell(cohen_kappa(self.passed, PASSED_CODES)),
            quality=KappaCell(weighted_kappa(self.quality, QUALITY_SCALE, "quadratic")),
            bias=rater_bias(self.quality) if kind == "reviewer" else None,
        )


@dataclass
class Report:
    overall: Row
    exam_types: list[Row]
    reviewers: list[Row]

    @property
    def rows(self) -> list[Row]:
        return [self.overall, *self.exam_types, *self.reviewers]

    def as_dict(self) -> dict:
        return {
            "pairs": self.overall.pairs,
            "overall": self.overall.as_dict(),
            "exam_types": [r.as_dict() for r in self.exam_types],
            "reviewers": [r.as_dict() for r in self.reviewers],
        }


def report(found: list[Pair]) -> Report:
    """The calibration report of ``found`` pairs: overall, per exam type, per reviewer."""
    overall = _Answers()
    by_type: dict = defaultdict(_Answers)
    type_names: dict = {}
    by_reviewer: dict = defaultdict(_Answers)
    reviewer_names: dict = {}
    for pair in found:
        overall.add(pair.first, pair.second)
        by_type[pair.exam_type_id].add(pair.first, pair.second)
        type_names[pair.exam_type_id] = pair.exam_type_name
        if pair.first.reviewer_id == pair.second.reviewer_id:
            continue  # not a pair of two reviewers: says nothing about either
        for mine, theirs in ((pair.first, pair.second), (pair.second, pair.first)):
            if mine.reviewer_id is None:
                continue
            by_reviewer[mine.reviewer_id].add(mine, theirs)
            reviewer_names[mine.reviewer_id] = mine.reviewer_name
    types = sorted(by_type, key=lambda k: (type_names[k].lower(), k or 0))
    reviewers = sorted(by_reviewer, key=lambda k: (reviewer_names[k].lower(), k))
    return Report(
        overall=overall.row("overall", None, "All exam types"),
        exam_types=[by_type[k].row("exam_type", k, type_names[k]) for k in types],
        reviewers=[by_reviewer[k].row("reviewer", k, reviewer_names[k]) for k in reviewers],
    )


CSV_HEADER = [
    "group",
    "name",
    "pairs",
    "interpretation_kappa",
    "interpretation_ci_low",
    "interpretation_ci_high",
    "interpretation_words",
    "passed_kappa",
    "passed_ci_low",
    "passed_ci_high",
    "passed_words",
    "quality_weighted_kappa",
    "quality_ci_low",
    "quality_ci_high",
    "quality_words",
    "quality_mean_difference",
    "quality_bias_words",
]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def csv_rows(result: Report):
    """The report as CSV rows (lists of plain values; the caller makes cells safe)."""
    yield CSV_HEADER
    for row in result.rows:
        cells = [row.kind, row.label, row.pairs]
        for cell in (row.interpretation, row.passed, row.quality):
            data = cell.as_dict()
            cells += [
                _number(data["kappa"]),
                _number(data["ci_low"]),
                _number(data["ci_high"]),
                data["words"],
            ]
        if row.kind == "reviewer":
            bias = row.as_dict()["rater_bias"]
            cells += [_number(bias["mean_difference"]), bias["words"]]
        else:
            cells += ["", ""]
        yield cells
