"""The statistics of the QA program: reviewer agreement, rates with intervals, rater bias.

Pure Python on purpose: the portal's runtime dependencies stay small (no numpy/scipy),
and these are a few sums over tables of at most a handful of categories. The tests check
every number against scikit-learn and statsmodels, which are test-only dependencies.

Sums run on exact fractions and are turned into floats at the end: then "chance agreement
is total" is an exact test instead of a float compared with 1.0, and a variance that is
zero in theory never comes out as -1e-17 (whose square root would be an error).

Every ratio is ``None`` when it is undefined (no pairs, an empty denominator): a page or a
CSV shows "not enough data" instead of crashing on a ZeroDivisionError or printing NaN.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Any, Literal

# The two-sided 95% normal quantile, 1.959964: the exact value rather than the rounded
# 1.96, so the intervals are the ones statsmodels (and R) report for 95%.
Z_95 = NormalDist().inv_cdf(0.975)

# The ACEP global image-quality scale (portal.qa.rubric.QUALITY_LEVELS), lowest first.
QUALITY_SCALE = (1, 2, 3, 4, 5)

Weighting = Literal["linear", "quadratic"]


def _ratio(numerator: int | Fraction, denominator: int | Fraction) -> float | None:
    return None if denominator == 0 else float(Fraction(numerator) / denominator)


@dataclass(frozen=True)
class Agreement:
    """How well two raters agree beyond chance, over ``n`` exams both of them scored.

    ``observed`` and ``expected`` are the agreement seen and the agreement chance alone
    would give with each rater's own mix of answers (for a weighted kappa: partial credit
    for near misses). ``se`` is the asymptotic standard error (Fleiss, Cohen & Everitt
    1969) and ``ci_low``/``ci_high`` the 95% interval around ``kappa``, clipped to the
    range kappa can take. ``weights`` is ``None`` for the plain kappa.
    """

    n: int
    observed: float | None
    expected: float | None
    kappa: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    weights: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``n`` as a rate, with its 95% Wilson score interval."""

    successes: int
    n: int
    value: float | None
    low: float | None
    high: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Accuracy:
    """An operator's reads against the confirmed outcome (e.g. CT), with intervals.

    Sensitivity is among the patients who had the finding, specificity among those who
    did not; the predictive values are among the operator's positive and negative reads.
    """

    tp: int
    fp: int
    fn: int
    tn: int
    sensitivity: Proportion
    specificity: Proportion
    ppv: Proportion
    npv: Proportion

    def as_dict(self) -> dict[str, Any]:
        """One flat row (``sensitivity``, ``sensitivity_low``, …), ready for a CSV writer."""
        row: dict[str, Any] = {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}
        for name in ("sensitivity", "specificity", "ppv", "npv"):
            rate: Proportion = getattr(self, name)
            row[name] = rate.value
            row[f"{name}_n"] = rate.n
            row[f"{name}_low"] = rate.low
            row[f"{name}_high"] = rate.high
        return row


@dataclass(frozen=True)
class RaterBias:
    """A reviewer's scores beside their partners' on the same exams.

    ``mean_difference`` is this rater minus the partner: negative means the rater scores
    harshly compared with their peers, positive loosely.
    """

    n: int
    rater_mean: float | None
    partner_mean: float | None
    mean_difference: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _empty_agreement(weights: str | None) -> Agreement:
    return Agreement(0, None, None, None, None, None, None, weights)


def _two(pair: Any, number: int) -> tuple[Any, Any]:
    try:
        a, b = pair
    except (TypeError, ValueError):
        raise ValueError(f"pair {number} is not two answers: {pair!r}") from None
    return a, b


def _pair_table(
    pairs: Sequence[tuple[Hashable, Hashable]], categories: Sequence[Hashable], what: str
) -> list[list[int]]:
    """Counts of (rater A's answer, rater B's answer) as a square table over ``categories``.

    An answer outside ``categories`` is a ValueError naming it: silently dropping the pair
    would change the kappa, and adding a category would change it for everyone else.
    """
    index = {category: i for i, category in enumerate(categories)}
    if len(index) != len(categories):
        raise ValueError(f"{what} must be distinct, got {list(categories)!r}")
    table = [[0] * len(categories) for _ in categories]
    for number, pair in enumerate(pairs):
        a, b = _two(pair, number)
        for label in (a, b):
            if label not in index:
                raise ValueError(
                    f"pair {number} has {label!r}, which is not one of the {what} "
                    f"{list(categories)!r}"
                )
        table[index[a]][index[b]] += 1
    return table


def _kappa(table: list[list[int]], distance: list[list[Fraction]], weights: str | None):
    """Kappa and its standard error from a square table and a disagreement weight matrix.

    ``distance`` is 0 on the diagonal and at most 1 elsewhere; the plain kappa is the
    case where every disagreement counts 1. One formula for both keeps the weighted and
    unweighted results consistent: with all-or-nothing weights the Fleiss–Cohen–Everitt
    variance below reduces to the one for the plain kappa.
    """
    n = sum(map(sum, table))
    if n == 0:
        return _empty_agreement(weights)
    k = len(table)
    p = [[Fraction(count, n) for count in row] for row in table]
    rows = [sum(p[i]) for i in range(k)]  # rater A's mix of answers
    cols = [sum(p[i][j] for i in range(k)) for j in range(k)]  # rater B's
    w = [[1 - distance[i][j] for j in range(k)] for i in range(k)]  # agreement credit
    observed = sum(w[i][j] * p[i][j] for i in range(k) for j in range(k))
    expected = sum(w[i][j] * rows[i] * cols[j] for i in range(k) for j in range(k))
    if expected == 1:
        # Chance alone explains all agreement: both raters gave one and the same answer
        # every time. Kappa is 0/0 there (scikit-learn returns NaN); saying nothing is
        # honest, since such pairs cannot tell a careful rater from one who always
        # answers the same.
        return Agreement(n, float(observed), 1.0, None, None, None, None, weights)
    kappa = (observed - expected) / (1 - expected)
    # Fleiss, Cohen & Everitt (1969): the variance of kappa is the spread, over the pairs,
    # of each cell's credit corrected by the raters' average credit for its row and column.
    # It is exactly non-negative (a mean of squares minus the square of the mean).
    row_credit = [sum(w[i][j] * cols[j] for j in range(k)) for i in range(k)]
    col_credit = [sum(w[i][j] * rows[i] for i in range(k)) for j in range(k)]
    spread = sum(
        p[i][j] * (w[i][j] - (row_credit[i] + col_credit[j]) * (1 - kappa)) ** 2
        for i in range(k)
        for j in range(k)
    )
    variance = (spread - (kappa - expected * (1 - kappa)) ** 2) / ((1 - expected) ** 2 * n)
    se = math.sqrt(variance)
    kappa_float = float(kappa)
    return Agreement(
        n=n,
        observed=float(observed),
        expected=float(expected),
        kappa=kappa_float,
        se=se,
        ci_low=max(-1.0, kappa_float - Z_95 * se),
        ci_high=min(1.0, kappa_float + Z_95 * se),
        weights=weights,
    )


def cohen_kappa(
    pairs: Iterable[tuple[Hashable, Hashable]], categories: Sequence[Hashable] | None = None
) -> Agreement:
    """Cohen's kappa for two raters' categorical answers (e.g. agree / false positive …).

    ``pairs`` holds one (first reviewer's answer, second reviewer's answer) per double-read
    exam. Raw percent agreement flatters a rubric where nearly every answer is "agree";
    kappa discounts the agreement two raters would reach by chance with their own mix of
    answers. Pass ``categories`` to check the answers against the rubric; otherwise the
    answers seen are the categories.

    Kappa is ``None`` when there are no pairs, or when both raters gave one and the same
    answer every time: chance then predicts all the agreement and kappa is 0/0.
    """
    pairs = [_two(pair, number) for number, pair in enumerate(pairs)]
    if categories is None:
        categories = list(dict.fromkeys(label for pair in pairs for label in pair))
    table = _pair_table(pairs, list(categories), "categories")
    k = len(table)
    distance = [[Fraction(int(i != j)) for j in range(k)] for i in range(k)]
    return _kappa(table, distance, None)


def weighted_kappa(
    pairs: Iterable[tuple[Hashable, Hashable]],
    levels: Sequence[Hashable] = QUALITY_SCALE,
    weights: Weighting = "quadratic",
) -> Agreement:
    """Weighted kappa for an ordinal scale such as the 1–5 image-quality score.

    On an ordinal scale a 4 against a 5 is a near miss and a 1 against a 5 is not; the
    plain kappa counts both as plain disagreement. Here a disagreement costs its distance
    on the scale (``"linear"``) or the square of it (``"quadratic"``, the usual choice,
    close to the intraclass correlation), divided by the largest possible so that the
    credit for agreement runs from 0 to 1. Distances are steps between ``levels`` in the
    order given (lowest first), as scikit-learn and statsmodels count them.

    Kappa is ``None`` when there are no pairs, or when both raters gave the same one level
    every time (chance then predicts all the agreement: 0/0).
    """
    if weights not in ("linear", "quadratic"):
        raise ValueError(f'weights must be "linear" or "quadratic", got {weights!r}')
    levels = list(levels)
    table = _pair_table(list(pairs), levels, "levels")
    power = 1 if weights == "linear" else 2
    widest = max(len(levels) - 1, 1) ** power  # a one-level scale has no disagreement
    distance = [
        [Fraction(abs(i - j) ** power, widest) for j in range(len(levels))]
        for i in range(len(levels))
    ]
    return _kappa(table, distance, weights)


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of at least 0, got {value!r}")


def wilson_interval(
    successes: int, total: int, z: float = Z_95
) -> tuple[float, float] | tuple[None, None]:
    """The Wilson score interval for ``successes`` out of ``total`` (95% by default).

    Wilson rather than the textbook p ± z·sqrt(p(1−p)/n): with the small counts of one
    operator's exams (say 9 of 10) that interval leaves [0, 1] or shrinks to nothing at
    0/n and n/n, while Wilson stays inside and keeps its coverage. ``(None, None)`` when
    there is nothing to count.
    """
    _check_count("successes", successes)
    _check_count("total", total)
    if successes > total:
        raise ValueError(f"successes ({successes}) cannot exceed total ({total})")
    if not z > 0:
        raise ValueError(f"z must be positive, got {z!r}")
    if total == 0:
        return None, None
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    # At 0/n the lower bound is exactly 0 and at n/n the upper is exactly 1: say so rather
    # than print rounding noise (2.8e-17), and never let rounding leave [0, 1].
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == total else min(1.0, centre + half_width)
    return low, high


def proportion(successes: int, total: int) -> Proportion:
    """``successes`` out of ``total`` with its 95% Wilson interval; ``None``s when total is 0."""
    low, high = wilson_interval(successes, total)
    return Proportion(successes, total, _ratio(successes, total), low, high)


def diagnostic_accuracy(tp: int, fp: int, fn: int, tn: int) -> Accuracy:
    """Sensitivity, specificity and predictive values of an operator's reads.

    The counts compare the operator's read (positive / negative for a finding) with the
    confirmed outcome: ``tp`` read positive and had it, ``fp`` read positive and did not,
    ``fn`` read negative and had it, ``tn`` read negative and did not. Each rate carries
    its own denominator and interval, since an operator's 3 of 3 says far less than 60 of
    60.
    """
    for name, value in (("tp", tp), ("fp", fp), ("fn", fn), ("tn", tn)):
        _check_count(name, value)
    return Accuracy(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        sensitivity=proportion(tp, tp + fn),
        specificity=proportion(tn, tn + fp),
        ppv=proportion(tp, tp + fp),
        npv=proportion(tn, tn + fn),
    )


def rater_bias(pairs: Iterable[tuple[float, float]]) -> RaterBias:
    """How a reviewer's 1–5 scores sit against their partners' on the same exams.

    ``pairs`` holds one (this reviewer's score, the partner's score) per double-read exam.
    Kappa says how far two reviewers agree, not in which direction they differ; the mean
    difference does, so a QA lead sees who scores harshly (negative) or loosely
    (positive). All ``None`` when there are no pairs.
    """
    mine: list[float] = []
    theirs: list[float] = []
    for number, pair in enumerate(pairs):
        a, b = _two(pair, number)
        for score in (a, b):
            if (
                isinstance(score, bool)
                or not isinstance(score, int | float)
                or not math.isfinite(score)
            ):
                raise ValueError(f"pair {number} has {score!r}, which is not a score")
        mine.append(a)
        theirs.append(b)
    n = len(mine)
    if n == 0:
        return RaterBias(0, None, None, None)
    return RaterBias(
        n=n,
        rater_mean=math.fsum(mine) / n,
        partner_mean=math.fsum(theirs) / n,
        mean_difference=math.fsum(a - b for a, b in zip(mine, theirs, strict=True)) / n,
    )


# Landis & Koch (1977), the bands clinicians know: upper bound of each band, and its name.
KAPPA_BANDS = (
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.00, "almost perfect"),
)


def describe_kappa(kappa: float | None) -> str:
    """A kappa in the words of Landis & Koch: poor (below 0), slight … almost perfect.

    ``None`` (too few pairs, or nothing but chance to judge by) reads "not enough pairs".
    """
    if kappa is None or math.isnan(kappa):
        return "not enough pairs"
    if kappa < 0:
        return "poor"
    for upper, words in KAPPA_BANDS:
        if kappa <= upper:
            return words
    return "almost perfect"
