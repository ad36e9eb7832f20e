"""Outcome-linked accuracy: each operator's signed reads against what the patient had.

For every exam with a recorded outcome and signed findings, each finding the outcome
names (positive or negative) is compared with the operator's signed answer for the same
worksheet field, both read by ``portal.qa.outcomes.polarity``: a true or false positive,
a false or true negative. Counts add up per operator and exam type into sensitivity and
specificity with Wilson intervals (``portal.qa.stats.diagnostic_accuracy``); every
disagreement is a *discordant* finding, listed for teaching.

A finding the operator did not answer, or answered "indeterminate", is not counted: it
is neither a positive nor a negative read.

Two queries whatever the number of exams: the outcomes with their exams' signed answers,
and the worksheet versions those answers are on.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q

from portal.qa.calibration import day_bounds
from portal.qa.models import Outcome
from portal.qa.outcomes import NEGATIVE, POSITIVE, polarity
from portal.qa.stats import Accuracy, Proportion, diagnostic_accuracy
from portal.worksheets.engine import DefinitionError, Worksheet
from portal.worksheets.models import WorksheetTemplate


@dataclass(frozen=True)
class Discordant:
    exam_id: int
    operator_id: int | None
    operator_name: str
    exam_type_name: str
    finding: str
    read: str  # the operator's read, as the worksheet says it (e.g. "Present")
    read_result: str  # positive / negative
    outcome_result: str
    source: str
    signed_at: datetime.datetime | None

    @property
    def kind(self) -> str:
        return "false positive" if self.read_result == POSITIVE else "false negative"

    def as_dict(self) -> dict:
        return {
            "exam": self.exam_id,
            "operator": {"id": self.operator_id, "name": self.operator_name},
            "exam_type": self.exam_type_name,
            "finding": self.finding,
            "read": self.read,
            "read_result": self.read_result,
            "outcome_result": self.outcome_result,
            "kind": self.kind,
            "source": self.source,
            "signed_at": self.signed_at,
        }


@dataclass
class Line:
    operator_id: int | None
    operator_name: str
    exam_type_id: int | None
    exam_type_name: str
    exams: int
    accuracy: Accuracy

    def as_dict(self) -> dict:
        return {
            "operator": {"id": self.operator_id, "name": self.operator_name},
            "exam_type": {"id": self.exam_type_id, "name": self.exam_type_name},
            "exams": self.exams,
            **self.accuracy.as_dict(),
        }


@dataclass
class Result:
    lines: list[Line]
    discordant: list[Discordant]
    exams: int  # exams with an outcome and signed findings

    def as_dict(self) -> dict:
        return {
            "exams": self.exams,
            "rows": [line.as_dict() for line in self.lines],
            "discordant": [d.as_dict() for d in self.discordant],
        }


def _sheets(template_ids) -> dict[int, Worksheet | None]:
    sheets = {}
    for template in WorksheetTemplate.objects.filter(pk__in=template_ids):
        try:
            sheets[template.pk] = Worksheet(template.definition)
        except DefinitionError:
            sheets[template.pk] = None
    return sheets


def accuracy(
    institution_id: int,
    *,
    operator_id: int | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> Result:
    """The institution's accuracy report (``operator_id``: one operator's own).

    ``start``/``end`` bound the day the findings were first signed, in the current zone.
    """
    outcomes = Outcome.objects.filter(
        institution_id=institution_id, exam__findings__signed_at__isnull=False
    )
    if operator_id is not None:
        outcomes = outcomes.filter(exam__operator_id=operator_id)
    low, high = day_bounds(start, end)
    if low is not None:
        outcomes = outcomes.filter(Q(exam__findings__signed_at__gte=low))
    if high is not None:
        outcomes = outcomes.filter(Q(exam__findings__signed_at__lt=high))
    rows = list(
        outcomes.values(
            "exam_id",
            "source",
            "results",
            "exam__operator_id",
            "exam__operator__full_name",
            "exam__operator__email",
            "exam__exam_type_id",
            "exam__exam_type__name",
            "exam__findings__answers",
            "exam__findings__template_id",
            "exam__findings__signed_at",
        ).order_by("-exam__findings__signed_at", "-exam_id")
    )
    sheets = _sheets({r["exam__findings__template_id"] for r in rows} - {None})
    counts: dict = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "exams": set()})
    names: dict = {}
    discordant: list[Discordant] = []
    for row in rows:
        sheet = sheets.get(row["exam__findings__template_id"])
        results = row["results"] if isinstance(row["results"], dict) else {}
        answers = row["exam__findings__answers"]
        answers = answers if isinstance(answers, dict) else {}
        if sheet is None:
            continue
        operator_name = (
            row["exam__operator__full_name"] or row["exam__operator__email"] or "No operator"
        )
        type_name = row["exam__exam_type__name"] or "No exam type"
        key = (row["exam__operator_id"], row["exam__exam_type_id"])
        names[key] = (operator_name, type_name)
        for code, truth in results.items():
            field = sheet.fields.get(code)
            if field is None or truth not in (POSITIVE, NEGATIVE):
                continue
            value = answers.get(code)
            read = polarity(field, value)
            if read is None:
                continue
            tally = counts[key]
            tally["exams"].add(row["exam_id"])
            if read == POSITIVE:
                tally["tp" if truth == POSITIVE else "fp"] += 1
            else:
                tally["fn" if truth == POSITIVE else "tn"] += 1
            if read != truth:
                discordant.append(
                    Discordant(
                        exam_id=row["exam_id"],
                        operator_id=row["exam__operator_id"],
                        operator_name=operator_name,
                        exam_type_name=type_name,
                        finding=field.label,
                        read=field.display(value),
                        read_result=read,
                        outcome_result=truth,
                        source=row["source"],
                        signed_at=row["exam__findings__signed_at"],
                    )
                )
    lines = []
    for key, tally in counts.items():
        operator_name, type_name = names[key]
        lines.append(
            Line(
                operator_id=key[0],
                operator_name=operator_name,
                exam_type_id=key[1],
                exam_type_name=type_name,
                exams=len(tally["exams"]),
                accuracy=diagnostic_accuracy(tally["tp"], tally["fp"], tally["fn"], tally["tn"]),
            )
        )
    lines.sort(key=lambda ln: (ln.operator_name.lower(), ln.exam_type_name.lower()))
    exams = len({e for tally in counts.values() for e in tally["exams"]})
    return Result(lines=lines, discordant=discordant, exams=exams)


def rate_words(rate: Proportion) -> str:
    """ "90% (9 of 10; 95% CI 60% to 98%)", or "no exams to count"."""
    if rate.value is None:
        return "none to count"
    return (
        f"{rate.value:.0%} ({rate.successes} of {rate.n}; 95% CI {rate.low:.0%} to {rate.high:.0%})"
    )


CSV_HEADER = [
    "operator",
    "exam_type",
    "exams",
    "tp",
    "fp",
    "fn",
    "tn",
    "sensitivity",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "specificity",
    "specificity_ci_low",
    "specificity_ci_high",
]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def csv_rows(result: Result):
    yield CSV_HEADER
    for line in result.lines:
        a = line.accuracy
        yield [
            line.operator_name,
            line.exam_type_name,
            line.exams,
            a.tp,
            a.fp,
            a.fn,
            a.tn,
            _number(a.sensitivity.value),
            _number(a.sensitivity.low),
            _number(a.sensitivity.high),
            _number(a.specificity.value),
            _number(a.specificity.low),
            _number(a.specificity.high),
        ]
