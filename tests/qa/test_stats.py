"""The QA statistics against hand-computed values and two reference implementations.

scikit-learn's ``cohen_kappa_score`` checks every kappa (plain, linear, quadratic);
statsmodels' ``cohens_kappa`` checks the standard errors and intervals, and its
``proportion_confint(method="wilson")`` the Wilson intervals. Both are test-only
dependencies: the portal computes in pure Python.
"""

import ast
import json
import math
import sys
import warnings
from dataclasses import FrozenInstanceError
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.proportion import proportion_confint

from portal.qa import stats
from portal.qa.stats import (
    Z_95,
    cohen_kappa,
    describe_kappa,
    diagnostic_accuracy,
    proportion,
    rater_bias,
    weighted_kappa,
    wilson_interval,
)

TOLERANCE = 1e-9
INTERPRETATIONS = ["agree", "false_positive", "false_negative", "other"]
LEVELS = (1, 2, 3, 4, 5)
bounded = settings(max_examples=60, deadline=None)


def close(actual, expected):
    return actual == pytest.approx(expected, abs=TOLERANCE, rel=0)


def pairs_from_table(labels, table):
    """[[2, 1], [0, 3]] over ("y", "n") → two (y, y), one (y, n) and three (n, n)."""
    return [
        (labels[i], labels[j])
        for i, row in enumerate(table)
        for j, count in enumerate(row)
        for _ in range(count)
    ]


def table_from_pairs(labels, pairs):
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for a, b in pairs:
        table[index[a], index[b]] += 1
    return table


def sklearn_kappa(pairs, labels, weights=None):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the 0/0 kappa warns before returning NaN
        return cohen_kappa_score(
            [a for a, _ in pairs], [b for _, b in pairs], labels=list(labels), weights=weights
        )


def assert_matches_references(result, pairs, labels, weights=None):
    """``result`` is the kappa scikit-learn computes and has statsmodels' SE and interval."""
    reference = sklearn_kappa(pairs, labels, weights)
    if result.kappa is None:
        assert math.isnan(reference)
        assert result.se is None and result.ci_low is None and result.ci_high is None
        return
    assert close(result.kappa, reference)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # a variance of -1e-17 has no square root
        sm = cohens_kappa(table_from_pairs(labels, pairs), wt=weights)
    # Compare variances: where the variance is 0 in theory, statsmodels' rounding can make
    # it -1e-17 (and its SE NaN) while ours, computed exactly, is 0.
    assert close(result.se**2, sm.var_kappa)
    if sm.var_kappa > 1e-12:
        assert close(result.se, sm.std_kappa)
    assert close(result.ci_low, max(-1.0, sm.kappa - Z_95 * result.se))
    assert close(result.ci_high, min(1.0, sm.kappa + Z_95 * result.se))
    if sm.var_kappa > 1e-12:
        assert close(result.ci_low, max(-1.0, sm.kappa_low))
        assert close(result.ci_high, min(1.0, sm.kappa_upp))
    assert -1.0 <= result.ci_low <= result.kappa <= result.ci_high <= 1.0


# --- Cohen's kappa: by hand ------------------------------------------------------------


def test_it_computes_a_two_by_two_kappa_by_hand():
    # Two reviewers, "yes"/"no", 50 double-read exams:
    #            B yes  B no
    #   A yes      20     5     (A: 25 yes, 25 no; B: 30 yes, 20 no)
    #   A no       10    15
    # p_o = (20 + 15) / 50 = 0.70;  p_e = 0.5·0.6 + 0.5·0.4 = 0.50
    # kappa = (0.70 − 0.50) / (1 − 0.50) = 0.40
    # Fleiss–Cohen–Everitt variance, with 1 − kappa = 0.6:
    #   diagonal:  0.4·(1 − (0.5 + 0.6)·0.6)² + 0.3·(1 − (0.5 + 0.4)·0.6)²
    #            = 0.4·0.34² + 0.3·0.46² = 0.04624 + 0.06348 = 0.10972
    #   off-diagonal: 0.6²·(0.1·(0.6 + 0.5)² + 0.2·(0.4 + 0.5)²) = 0.36·0.283 = 0.10188
    #   minus (kappa − p_e·(1 − kappa))² = (0.4 − 0.3)² = 0.01
    #   var = (0.10972 + 0.10188 − 0.01) / ((1 − 0.5)²·50) = 0.2016 / 12.5 = 0.016128
    pairs = pairs_from_table(("yes", "no"), [[20, 5], [10, 15]])
    result = cohen_kappa(pairs)
    assert result.n == 50
    assert close(result.observed, 0.70)
    assert close(result.expected, 0.50)
    assert close(result.kappa, 0.40)
    assert close(result.se, math.sqrt(0.016128))
    assert close(result.ci_low, 0.40 - Z_95 * math.sqrt(0.016128))
    assert close(result.ci_high, 0.40 + Z_95 * math.sqrt(0.016128))
    assert result.weights is None
    assert_matches_references(result, pairs, ("yes", "no"))


def test_it_computes_a_three_category_kappa_by_hand():
    # Interpretation answers of two reviewers on 25 exams:
    #                 B agree  B false+  B false−   (row total)
    #   A agree         10        2         1          13
    #   A false+         1        4         0           5
    #   A false−         2        0         5           7
    #   (column total)  13        6         6          25
    # p_o = (10 + 4 + 5) / 25 = 0.76
    # p_e = (13·13 + 5·6 + 7·6) / 25² = 241 / 625 = 0.3856
    # kappa = (0.76 − 0.3856) / (1 − 0.3856) = 0.3744 / 0.6144 = 39/64 = 0.609375
    labels = ("agree", "false_positive", "false_negative")
    pairs = pairs_from_table(labels, [[10, 2, 1], [1, 4, 0], [2, 0, 5]])
    result = cohen_kappa(pairs, categories=INTERPRETATIONS)
    assert result.n == 25
    assert close(result.observed, 0.76)
    assert close(result.expected, 0.3856)
    assert close(result.kappa, 0.609375)
    # An answer nobody gave ("other") changes nothing.
    assert close(cohen_kappa(pairs).kappa, 0.609375)
    assert_matches_references(result, pairs, INTERPRETATIONS)


def test_it_computes_a_linear_weighted_kappa_by_hand():
    # Scores (A, B) on a 1–3 scale: (1, 2), (2, 2), (3, 3). Linear disagreement |i − j| / 2.
    # Observed disagreement: one pair of three is a step apart: (1/3)·(1/2) = 1/6.
    # Marginals: A = 1/3 each of 1, 2, 3; B = 2/3 of 2, 1/3 of 3. Expected disagreement:
    #   A=1: (1/3)(2/3)(1/2) + (1/3)(1/3)(1) = 1/9 + 1/9;  A=2: (1/3)(1/3)(1/2) = 1/18
    #   A=3: (1/3)(2/3)(1/2) = 1/9;  total 7/18
    # kappa = 1 − (1/6) / (7/18) = 1 − 3/7 = 4/7; observed 5/6, expected 11/18.
    pairs = [(1, 2), (2, 2), (3, 3)]
    result = weighted_kappa(pairs, levels=(1, 2, 3), weights="linear")
    assert close(result.kappa, 4 / 7)
    assert close(result.observed, 5 / 6)
    assert close(result.expected, 11 / 18)
    assert result.weights == "linear"
    assert_matches_references(result, pairs, (1, 2, 3), "linear")


# --- Cohen's kappa: edge cases ---------------------------------------------------------


def test_it_says_nothing_when_there_are_no_pairs():
    for result in (
        cohen_kappa([]),
        cohen_kappa([], categories=INTERPRETATIONS),
        weighted_kappa([]),
        weighted_kappa(iter([]), weights="linear"),
    ):
        assert result.n == 0
        assert result.observed is None and result.expected is None
        assert result.kappa is None and result.se is None
        assert result.ci_low is None and result.ci_high is None
        assert describe_kappa(result.kappa) == "not enough pairs"


@pytest.mark.parametrize("categories", [None, ["agree"], INTERPRETATIONS])
def test_it_has_no_kappa_when_both_raters_always_give_the_one_same_answer(categories):
    pairs = [("agree", "agree")] * 12
    result = cohen_kappa(pairs, categories=categories)
    assert result.n == 12
    assert result.observed == 1.0 and result.expected == 1.0
    assert result.kappa is None and result.se is None
    assert result.ci_low is None and result.ci_high is None
    assert math.isnan(sklearn_kappa(pairs, categories or ["agree"]))


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_it_has_no_weighted_kappa_when_both_raters_always_give_the_same_level(weights):
    result = weighted_kappa([(4, 4)] * 7, weights=weights)
    assert (result.n, result.observed, result.expected, result.kappa) == (7, 1.0, 1.0, None)
    assert result.se is None
    # A scale of one level has nothing to disagree about either.
    assert weighted_kappa([(3, 3)], levels=(3,), weights=weights).kappa is None


def test_it_gives_one_for_perfect_agreement():
    pairs = [("agree", "agree")] * 5 + [("other", "other")] * 3 + [("false_negative",) * 2]
    result = cohen_kappa(pairs, categories=INTERPRETATIONS)
    assert result.kappa == 1.0 and result.observed == 1.0
    assert result.se == 0.0 and result.ci_low == 1.0 and result.ci_high == 1.0
    assert_matches_references(result, pairs, INTERPRETATIONS)
    for weights in ("linear", "quadratic"):
        scores = [(1, 1), (3, 3), (5, 5), (5, 5)]
        weighted = weighted_kappa(scores, weights=weights)
        assert weighted.kappa == 1.0 and weighted.se == 0.0
        assert_matches_references(weighted, scores, LEVELS, weights)


def test_it_gives_minus_one_for_complete_disagreement():
    pairs = [("agree", "other"), ("other", "agree")] * 4
    result = cohen_kappa(pairs)
    assert result.observed == 0.0 and result.expected == 0.5
    assert result.kappa == -1.0 and result.ci_low == -1.0
    assert describe_kappa(result.kappa) == "poor"
    assert_matches_references(result, pairs, ["agree", "other"])
    # Raters who never agree and each always give one answer: no better than chance.
    assert cohen_kappa([("agree", "other")] * 3).kappa == 0.0
    scores = [(1, 5), (5, 1)] * 3
    weighted = weighted_kappa(scores, weights="quadratic")
    assert weighted.kappa < 0
    assert_matches_references(weighted, scores, LEVELS, "quadratic")


def test_it_refuses_an_answer_outside_the_categories():
    with pytest.raises(ValueError, match=r"pair 1 has 'maybe', which is not one of the categories"):
        cohen_kappa([("agree", "agree"), ("agree", "maybe")], categories=INTERPRETATIONS)
    with pytest.raises(ValueError, match="not one of the categories"):
        cohen_kappa([("agree", "agree")], categories=[])


@pytest.mark.parametrize("score", [0, 6, "5", 3.5, None])
def test_it_refuses_a_score_outside_the_levels(score):
    with pytest.raises(ValueError, match=r"pair 0 has .*, which is not one of the levels"):
        weighted_kappa([(3, score)])


@pytest.mark.parametrize("bad", [("agree",), ("a", "b", "c"), "agree", 5, None])
def test_it_refuses_a_pair_that_is_not_two_answers(bad):
    for compute in (cohen_kappa, weighted_kappa, rater_bias):
        with pytest.raises(ValueError, match="pair 1 is not two"):
            compute([(1, 1), bad])


def test_it_refuses_repeated_categories_and_unknown_weights():
    with pytest.raises(ValueError, match="categories must be distinct"):
        cohen_kappa([("agree", "agree")], categories=["agree", "agree"])
    with pytest.raises(ValueError, match="levels must be distinct"):
        weighted_kappa([(1, 1)], levels=(1, 1, 2))
    with pytest.raises(ValueError, match='weights must be "linear" or "quadratic"'):
        weighted_kappa([(1, 1)], weights="cubic")


# --- Kappa against the references ------------------------------------------------------

FIXED_CATEGORICAL = [
    (INTERPRETATIONS, [[40, 3, 2, 1], [2, 6, 0, 1], [3, 0, 5, 0], [1, 1, 0, 2]]),
    (("yes", "no"), [[1, 0], [0, 0]]),  # one pair, agreeing
    (("yes", "no"), [[0, 1], [0, 0]]),  # one pair, disagreeing
    (("yes", "no"), [[45, 4], [1, 0]]),  # chance explains almost all the agreement
    (("yes", "no"), [[0, 7], [3, 0]]),  # never agree
]
FIXED_SCORES = [
    [(1, 1), (2, 3), (3, 3), (5, 4), (4, 4), (2, 2), (1, 3)],
    pairs_from_table(LEVELS, [[2, 1, 0, 0, 0], [1, 5, 2, 0, 0], [0, 3, 9, 4, 1], [0, 0, 2, 8, 3]]),
    [(3, 4), (4, 5), (2, 3), (4, 5)],  # one rater a step harsher, always
]


@pytest.mark.parametrize(("labels", "table"), FIXED_CATEGORICAL)
def test_it_matches_the_references_on_fixed_answers(labels, table):
    pairs = pairs_from_table(labels, table)
    assert_matches_references(cohen_kappa(pairs, categories=labels), pairs, labels)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("pairs", FIXED_SCORES)
def test_it_matches_the_references_on_fixed_scores(pairs, weights):
    if weights is None:
        result = cohen_kappa(pairs, categories=LEVELS)
    else:
        result = weighted_kappa(pairs, weights=weights)
    assert result.n == len(pairs)
    assert_matches_references(result, pairs, LEVELS, weights)


@bounded
@given(st.lists(st.tuples(*[st.sampled_from(INTERPRETATIONS)] * 2), max_size=80))
def test_it_matches_the_references_on_any_answers(pairs):
    result = cohen_kappa(pairs, categories=INTERPRETATIONS)
    assert result.n == len(pairs)
    if pairs:
        assert_matches_references(result, pairs, INTERPRETATIONS)
    else:
        assert result.kappa is None and result.observed is None


@bounded
@given(
    st.lists(st.tuples(*[st.integers(1, 5)] * 2), max_size=80),
    st.sampled_from([None, "linear", "quadratic"]),
)
def test_it_matches_the_references_on_any_scores(pairs, weights):
    if weights is None:
        result = cohen_kappa(pairs, categories=LEVELS)
    else:
        result = weighted_kappa(pairs, weights=weights)
    assert result.n == len(pairs)
    if pairs:
        assert_matches_references(result, pairs, LEVELS, weights)
    else:
        assert result.kappa is None and result.observed is None


@bounded
@given(st.lists(st.tuples(*[st.integers(1, 5)] * 2), min_size=1, max_size=40))
def test_it_gives_the_same_kappa_whatever_the_order_of_the_pairs(pairs):
    forward = weighted_kappa(pairs)
    backward = weighted_kappa(list(reversed(pairs)))
    assert forward == backward
    swapped = weighted_kappa([(b, a) for a, b in pairs])
    assert swapped.kappa == forward.kappa  # kappa does not care who was rater A


# --- Wilson intervals and proportions --------------------------------------------------


def test_it_computes_a_wilson_interval_by_hand():
    # 9 of 10, z = 1.96: centre = (0.9 + 1.96²/20) / (1 + 1.96²/10) = 1.09208 / 1.38416
    # half-width = 1.96·sqrt(0.9·0.1/10 + 1.96²/400) / 1.38416 = 1.96·sqrt(0.0186040) / 1.38416
    centre = (0.9 + 1.96**2 / 20) / (1 + 1.96**2 / 10)
    half = 1.96 * math.sqrt(0.009 + 1.96**2 / 400) / (1 + 1.96**2 / 10)
    low, high = wilson_interval(9, 10, z=1.96)
    assert close(low, centre - half) and close(high, centre + half)
    # The default is the exact 95% quantile 1.959964…, as statsmodels and R use.
    assert close(Z_95, 1.959963984540054)
    assert wilson_interval(9, 10) != (low, high)


@bounded
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_it_matches_statsmodels_wilson_interval(counts):
    successes, total = counts
    low, high = wilson_interval(successes, total)
    ref_low, ref_high = proportion_confint(successes, total, alpha=0.05, method="wilson")
    assert close(low, ref_low) and close(high, ref_high)
    assert 0.0 <= low <= successes / total <= high <= 1.0


@pytest.mark.parametrize("z", [1.0, 1.96, 2.5758293035489004])
@pytest.mark.parametrize(("successes", "total"), [(0, 1), (1, 1), (3, 4), (0, 50), (50, 50)])
def test_it_matches_statsmodels_for_any_confidence(successes, total, z):
    alpha = 2 * (1 - NormalDist().cdf(z))
    low, high = wilson_interval(successes, total, z=z)
    ref_low, ref_high = proportion_confint(successes, total, alpha=alpha, method="wilson")
    assert close(low, ref_low) and close(high, ref_high)


def test_it_gives_exact_bounds_at_none_and_all():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0


def test_it_has_no_interval_for_a_zero_total():
    assert wilson_interval(0, 0) == (None, None)
    assert proportion(0, 0).as_dict() == {
        "successes": 0,
        "n": 0,
        "value": None,
        "low": None,
        "high": None,
    }


@pytest.mark.parametrize(
    ("successes", "total", "z"),
    [(-1, 5, Z_95), (6, 5, Z_95), (1, -1, Z_95), (1.5, 5, Z_95), (True, 5, Z_95), (1, 5, 0)],
)
def test_it_refuses_impossible_counts(successes, total, z):
    with pytest.raises(ValueError):
        wilson_interval(successes, total, z=z)


def test_it_gives_a_proportion_with_its_interval():
    rate = proportion(3, 4)
    assert rate.value == 0.75 and rate.n == 4 and rate.successes == 3
    ref_low, ref_high = proportion_confint(3, 4, method="wilson")
    assert close(rate.low, ref_low) and close(rate.high, ref_high)


# --- Diagnostic accuracy ----------------------------------------------------------------


def test_it_computes_sensitivity_and_specificity_with_intervals():
    # 10 patients had the finding, the operator read 9 of them positive: sensitivity 9/10.
    # 32 did not, the operator read 30 of them negative: specificity 30/32 = 0.9375.
    # PPV 9/(9 + 2) = 9/11, NPV 30/(30 + 1) = 30/31.
    accuracy = diagnostic_accuracy(tp=9, fp=2, fn=1, tn=30)
    assert accuracy.sensitivity.value == 0.9 and accuracy.sensitivity.n == 10
    assert accuracy.specificity.value == 0.9375 and accuracy.specificity.n == 32
    assert close(accuracy.ppv.value, 9 / 11) and close(accuracy.npv.value, 30 / 31)
    for rate, (s, n) in [
        (accuracy.sensitivity, (9, 10)),
        (accuracy.specificity, (30, 32)),
        (accuracy.ppv, (9, 11)),
        (accuracy.npv, (30, 31)),
    ]:
        ref_low, ref_high = proportion_confint(s, n, method="wilson")
        assert close(rate.low, ref_low) and close(rate.high, ref_high)
    row = accuracy.as_dict()
    assert row["tp"] == 9 and row["sensitivity"] == 0.9 and row["sensitivity_n"] == 10
    assert row["specificity_low"] == accuracy.specificity.low
    assert all(not isinstance(value, dict) for value in row.values())  # one CSV row


def test_it_has_no_sensitivity_without_a_patient_who_had_the_finding():
    accuracy = diagnostic_accuracy(tp=0, fp=1, fn=0, tn=12)
    assert accuracy.sensitivity.value is None and accuracy.sensitivity.low is None
    assert accuracy.ppv.value == 0.0 and accuracy.npv.value == 1.0
    nothing = diagnostic_accuracy(0, 0, 0, 0)
    assert nothing.as_dict()["specificity"] is None
    json.dumps(nothing.as_dict())


@pytest.mark.parametrize("counts", [(-1, 0, 0, 0), (0, 0, 1.0, 0), (0, None, 0, 0)])
def test_it_refuses_impossible_accuracy_counts(counts):
    with pytest.raises(ValueError):
        diagnostic_accuracy(*counts)


# --- Rater bias ------------------------------------------------------------------------


def test_it_shows_a_harsh_rater_as_a_negative_difference():
    # This reviewer gave 3, 2, 4; the partners 4, 4, 4: differences −1, −2, 0, mean −1.
    bias = rater_bias([(3, 4), (2, 4), (4, 4)])
    assert bias.n == 3
    assert bias.rater_mean == 3.0 and bias.partner_mean == 4.0
    assert bias.mean_difference == -1.0
    assert rater_bias([(5, 4), (4, 4)]).mean_difference == 0.5  # loose: positive


def test_it_has_no_bias_without_pairs():
    assert rater_bias([]).as_dict() == {
        "n": 0,
        "rater_mean": None,
        "partner_mean": None,
        "mean_difference": None,
    }


@pytest.mark.parametrize("score", ["3", None, True, float("nan"), float("inf")])
def test_it_refuses_a_bias_score_that_is_not_a_number(score):
    with pytest.raises(ValueError, match="which is not a score"):
        rater_bias([(3, 3), (score, 4)])


@bounded
@given(st.lists(st.tuples(*[st.integers(1, 5)] * 2), min_size=1, max_size=80))
def test_it_agrees_with_numpy_on_the_mean_difference(pairs):
    bias = rater_bias(pairs)
    diffs = np.array([a - b for a, b in pairs], dtype=float)
    assert close(bias.mean_difference, diffs.mean())
    assert close(bias.mean_difference, bias.rater_mean - bias.partner_mean)


# --- Words, dictionaries, and the module's own rules ------------------------------------


@pytest.mark.parametrize(
    ("kappa", "words"),
    [
        (None, "not enough pairs"),
        (float("nan"), "not enough pairs"),
        (-1.0, "poor"),
        (-0.01, "poor"),
        (0.0, "slight"),
        (0.20, "slight"),
        (0.21, "fair"),
        (0.40, "fair"),
        (0.41, "moderate"),
        (0.60, "moderate"),
        (0.61, "substantial"),
        (0.80, "substantial"),
        (0.81, "almost perfect"),
        (1.0, "almost perfect"),
    ],
)
def test_it_describes_kappa_in_landis_and_koch_words(kappa, words):
    assert describe_kappa(kappa) == words


def test_it_gives_json_ready_frozen_results():
    result = weighted_kappa([(3, 4), (4, 4), (2, 3)])
    row = result.as_dict()
    assert set(row) == {"n", "observed", "expected", "kappa", "se", "ci_low", "ci_high", "weights"}
    assert json.loads(json.dumps(row)) == row
    assert all(type(row[key]) is float for key in ("observed", "expected", "kappa", "se"))
    with pytest.raises(FrozenInstanceError):
        result.kappa = 1.0
    json.dumps(cohen_kappa([]).as_dict())
    json.dumps(proportion(1, 3).as_dict())


def test_it_needs_nothing_beyond_the_standard_library():
    # The portal's runtime dependencies must not grow for the QA statistics: no Django,
    # numpy or scipy; scikit-learn and statsmodels are for these tests only.
    tree = ast.parse(Path(stats.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names
