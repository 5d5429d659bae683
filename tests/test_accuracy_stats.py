"""Accuracy statistics against published values and against independent scipy code paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from snnval.accuracy import (
    accuracy_with_ci,
    confusion_matrix,
    mcnemar_exact,
    predict_from_pool_counts,
    prediction_agreement,
    wilson_interval,
)
from snnval.errors import SpecError

# Worked examples of Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison
# of seven methods", Statistics in Medicine 17:857-872: Wilson score interval without continuity correction,
# 95 %, as printed there to 4 decimals.
NEWCOMBE_WILSON = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


def _wilson_by_hand(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson interval from the inverted score test: solve (p - x)^2 = z^2 x (1 - x) / n for x.

    Written as the roots of a quadratic in x, a different algebraic route from the centre/half-width form
    in snnval.accuracy, so an algebra slip in either shows up.
    """
    p = k / n
    a = 1 + z * z / n
    b = -(2 * p + z * z / n)
    c = p * p
    disc = math.sqrt(b * b - 4 * a * c)
    return ((-b - disc) / (2 * a), (-b + disc) / (2 * a))


@pytest.mark.parametrize(("k", "n", "lo", "hi"), NEWCOMBE_WILSON)
def test_wilson_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    got_lo, got_hi = wilson_interval(k, n)
    assert round(got_lo, 4) == pytest.approx(lo, abs=1e-12)
    assert round(got_hi, 4) == pytest.approx(hi, abs=1e-12)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize(
    ("k", "n"), [(0, 1), (0, 5), (1, 5), (3, 7), (29, 29), (50, 100), (81, 263), (999, 1000), (10000, 10000)]
)
def test_wilson_matches_hand_formula_and_scipy(k: int, n: int, confidence: float) -> None:
    z = stats.norm.ppf(0.5 + confidence / 2)
    lo, hi = wilson_interval(k, n, confidence)
    ref_lo, ref_hi = _wilson_by_hand(k, n, z)
    assert lo == pytest.approx(max(ref_lo, 0.0), abs=1e-12)
    assert hi == pytest.approx(min(ref_hi, 1.0), abs=1e-12)
    sc = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert lo == pytest.approx(sc.low, abs=1e-12)
    assert hi == pytest.approx(sc.high, abs=1e-12)


def test_wilson_bounds_are_exact_at_the_extremes() -> None:
    assert wilson_interval(0, 50)[0] == 0.0
    assert wilson_interval(50, 50)[1] == 1.0
    lo, hi = wilson_interval(25, 50)
    assert 0.0 < lo < 0.5 < hi < 1.0
    assert (lo + hi) / 2 == pytest.approx(0.5)  # symmetric at p = 1/2


@pytest.mark.parametrize(
    ("k", "n", "field", "text"),
    [
        (0, 0, "n", "no trials"),
        (5, 4, "k", "0 <= k <= n"),
        (-1, 4, "k", "non-negative"),
        (1.5, 4, "k", "integer"),
        (True, 4, "k", "integer"),
    ],
)
def test_wilson_rejects_bad_counts(k, n, field: str, text: str) -> None:
    with pytest.raises(SpecError, match=text) as info:
        wilson_interval(k, n)
    assert info.value.field == field


def test_wilson_rejects_bad_confidence() -> None:
    with pytest.raises(SpecError, match="confidence"):
        wilson_interval(1, 2, confidence=95)


def test_accuracy_with_ci() -> None:
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 10)
    pred = labels.copy()
    pred[:13] = (pred[:13] + 1) % 10  # 13 wrong
    acc = accuracy_with_ci(pred, labels)
    assert (acc.k, acc.n, acc.value) == (87, 100, 0.87)
    assert acc.ci == wilson_interval(87, 100)
    assert acc.as_accuracy_fields() == {"n": 100, "correct": 87, "accuracy": 0.87, "ci95": list(acc.ci)}
    assert acc.half_width == pytest.approx((acc.hi - acc.lo) / 2)


def test_accuracy_all_equal_and_all_wrong() -> None:
    labels = np.full(20, 3)
    perfect = accuracy_with_ci(labels, labels)
    assert perfect.value == 1.0 and perfect.hi == 1.0 and perfect.lo == pytest.approx(wilson_interval(20, 20)[0])
    wrong = accuracy_with_ci(np.full(20, 4), labels)
    assert wrong.value == 0.0 and wrong.lo == 0.0


def test_accuracy_accepts_integral_floats_but_not_scores() -> None:
    assert accuracy_with_ci(np.array([1.0, 2.0]), [1, 3]).k == 1
    with pytest.raises(SpecError, match="integer class indices"):
        accuracy_with_ci(np.array([0.7, 2.0]), [1, 3])
    with pytest.raises(SpecError, match="integer class indices"):
        accuracy_with_ci(np.array([True, False]), [1, 0])


@pytest.mark.parametrize(
    ("pred", "labels", "text"),
    [
        ([], [], "at least one trial"),
        ([1, 2], [1], "same number of trials"),
        ([[1, 2]], [[1, 2]], "1-D"),
        (["a"], ["a"], "integer class indices"),
    ],
)
def test_accuracy_rejects_bad_input(pred, labels, text: str) -> None:
    with pytest.raises(SpecError, match=text):
        accuracy_with_ci(pred, labels)


def test_prediction_agreement() -> None:
    a = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    b = np.array([0, 1, 2, 3, 9, 9, 6, 7])
    agr = prediction_agreement(a, b)
    assert (agr.k, agr.n, agr.value) == (6, 8, 0.75)
    assert agr.ci == wilson_interval(6, 8)
    assert prediction_agreement(a, a).value == 1.0
    with pytest.raises(SpecError, match="pred_b"):
        prediction_agreement(a, b[:3])


def _paired(b: int, c: int, both: int = 7, neither: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Correctness vectors with ``b`` A-only-correct, ``c`` B-only-correct and some concordant trials."""
    ca = np.array([True] * b + [False] * c + [True] * both + [False] * neither)
    cb = np.array([False] * b + [True] * c + [True] * both + [False] * neither)
    order = np.random.default_rng(0).permutation(ca.size)  # position must not matter
    return ca[order], cb[order]


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (0, 5), (3, 3), (10, 2), (2, 10), (25, 13), (60, 40), (4, 5)])
def test_mcnemar_exact_matches_scipy_binomtest(b: int, c: int) -> None:
    ca, cb = _paired(b, c)
    res = mcnemar_exact(ca, cb)
    assert (res.b, res.c) == (b, c)
    expected = 1.0 if b + c == 0 else stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert res.p == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert 0.0 <= res.p <= 1.0
    assert res.as_dict() == {"b": b, "c": c, "p": res.p}


def test_mcnemar_is_symmetric_and_ignores_concordant_trials() -> None:
    ca, cb = _paired(12, 3, both=0, neither=0)
    ca2, cb2 = _paired(12, 3, both=500, neither=200)
    assert mcnemar_exact(ca, cb).p == pytest.approx(mcnemar_exact(ca2, cb2).p)
    assert mcnemar_exact(cb, ca).p == pytest.approx(mcnemar_exact(ca, cb).p)
    assert (mcnemar_exact(cb, ca).b, mcnemar_exact(cb, ca).c) == (3, 12)


def test_mcnemar_identical_runners() -> None:
    ca = np.array([1, 0, 1, 1, 0])
    assert mcnemar_exact(ca, ca).as_dict() == {"b": 0, "c": 0, "p": 1.0}


def test_mcnemar_rejects_bad_input() -> None:
    with pytest.raises(SpecError, match="0/1"):
        mcnemar_exact([0, 2], [1, 1])
    with pytest.raises(SpecError, match="same number of trials"):
        mcnemar_exact([True], [True, False])
    with pytest.raises(SpecError, match="at least one trial"):
        mcnemar_exact([], [])


def test_confusion_matrix() -> None:
    labels = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(pred, labels, n_classes=3)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.sum() == labels.size
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(labels, minlength=3))  # rows are true labels
    assert np.trace(cm) == accuracy_with_ci(pred, labels).k


def test_confusion_matrix_default_ten_classes_and_range_check() -> None:
    labels = np.arange(10)
    assert confusion_matrix(labels, labels).shape == (10, 10)
    np.testing.assert_array_equal(confusion_matrix(labels, labels), np.eye(10, dtype=np.int64))
    with pytest.raises(SpecError, match=r"classes in \[0, 10\) \(element 1 is 10\)"):
        confusion_matrix([0, 10], [0, 1])
    with pytest.raises(SpecError, match="labels"):
        confusion_matrix([0, 1], [0, -1])
    with pytest.raises(SpecError, match="n_classes"):
        confusion_matrix([0], [0], n_classes=0)


def test_predict_from_pool_counts_argmax_and_ties_to_class_zero() -> None:
    counts = np.array(
        [
            [0, 3, 1, 0],  # clear winner: 1
            [2, 2, 0, 0],  # tie between 0 and 1 -> 0
            [0, 0, 5, 5],  # tie between 2 and 3 -> 2 (first maximum)
            [0, 0, 0, 0],  # silent readout -> class 0
        ]
    )
    pred = predict_from_pool_counts(counts)
    np.testing.assert_array_equal(pred, [1, 0, 2, 0])
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(pred, np.argmax(counts, axis=1))


def test_predict_from_pool_counts_rejects_bad_input() -> None:
    with pytest.raises(SpecError, match="2-D"):
        predict_from_pool_counts([1, 2, 3])
    with pytest.raises(SpecError, match="at least one readout pool"):
        predict_from_pool_counts(np.zeros((3, 0)))
    with pytest.raises(SpecError, match="finite"):
        predict_from_pool_counts(np.array([[1.0, np.nan]]))
