"""Task-accuracy statistics: confidence intervals, agreement, paired tests, confusion matrices, readout.

Everything here works on plain integer class labels (one per trial) so that any adapter's output can be
scored the same way. Proportions carry a Wilson score interval rather than the normal ("Wald") interval,
because nightly quick runs use few trials and accuracies near 0 or 1, where the Wald interval undercovers
and can leave [0, 1] (Newcombe 1998, Statistics in Medicine 17:857-872, compares seven methods).

Two simulators scored on the *same* frozen stimuli are paired observations, so they are compared with the
exact McNemar test on discordant trials, not by checking whether two independent CIs overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from snnval.errors import SpecError

#: Spike-count window (ms, half-open [start, stop)) of the TF Billeh readout, for documentation and callers.
TF_READOUT_WINDOW_MS = (150.0, 200.0)


@dataclass(frozen=True)
class Proportion:
    """``k`` successes out of ``n`` trials with a Wilson score interval ``[lo, hi]`` at ``confidence``."""

    k: int
    n: int
    value: float
    lo: float
    hi: float
    confidence: float = 0.95

    @property
    def ci(self) -> tuple[float, float]:
        return (self.lo, self.hi)

    @property
    def half_width(self) -> float:
        """Half the interval width; the scale used to call a change in accuracy a regression."""
        return (self.hi - self.lo) / 2.0

    def as_accuracy_fields(self) -> dict:
        """The ``n``, ``correct``, ``accuracy``, ``ci95`` fields of a results-dict ``accuracy`` entry."""
        return {"n": self.n, "correct": self.k, "accuracy": self.value, "ci95": [self.lo, self.hi]}


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired correctness.

    ``b``: trials A got right and B got wrong; ``c``: A wrong, B right; ``p``: two-sided exact p-value.
    """

    b: int
    c: int
    p: float

    def as_dict(self) -> dict:
        return {"b": self.b, "c": self.c, "p": self.p}


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``.

    With ``z`` the two-sided normal quantile and ``p = k / n``::

        centre     = (p + z^2 / (2n)) / (1 + z^2 / n)
        half-width = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))

    The bounds are exactly 0 when ``k == 0`` and exactly 1 when ``k == n`` (the formula gives them up to
    rounding; returning them exactly keeps "100 %" printing as 100 %).

    Raises :class:`~snnval.errors.SpecError` for ``n <= 0`` (no trials: there is no proportion to bound),
    ``k`` outside ``[0, n]``, non-integer counts, or ``confidence`` outside (0, 1).
    """
    k = _as_count(k, "k")
    n = _as_count(n, "n")
    if n == 0:
        raise SpecError("wilson_interval", "n", "at least one trial (n = 0: no trials, so no proportion to bound)")
    if k > n:
        raise SpecError("wilson_interval", "k", f"0 <= k <= n = {n} (got k = {k})")
    if not (isinstance(confidence, int | float) and 0.0 < confidence < 1.0):
        raise SpecError("wilson_interval", "confidence", f"a number strictly between 0 and 1 (got {confidence!r})")
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def accuracy_with_ci(pred, labels, confidence: float = 0.95) -> Proportion:
    """Fraction of trials where ``pred == labels``, with a Wilson interval.

    ``pred`` and ``labels`` are 1-D integer class indices of equal, non-zero length.
    """
    p = _labels(pred, "pred", "accuracy_with_ci")
    y = _labels(labels, "labels", "accuracy_with_ci")
    _same_length(p, y, "pred", "labels", "accuracy_with_ci")
    return _proportion(int(np.count_nonzero(p == y)), p.size, confidence)


def prediction_agreement(pred_a, pred_b, confidence: float = 0.95) -> Proportion:
    """Fraction of trials on which two runners predict the same class (right or wrong), with a Wilson interval.

    Agreement separates "both simulators are 80 % accurate" from "they make the same decisions": two runners
    can have equal accuracy while disagreeing on many trials.
    """
    a = _labels(pred_a, "pred_a", "prediction_agreement")
    b = _labels(pred_b, "pred_b", "prediction_agreement")
    _same_length(a, b, "pred_a", "pred_b", "prediction_agreement")
    return _proportion(int(np.count_nonzero(a == b)), a.size, confidence)


def mcnemar_exact(correct_a, correct_b) -> McNemarResult:
    """Exact (binomial) McNemar test: do runners A and B differ in accuracy on the same trials?

    Only discordant trials carry information: ``b`` = A right and B wrong, ``c`` = A wrong and B right.
    Under the null hypothesis each discordant trial is equally likely to fall either way, so
    ``b ~ Binomial(b + c, 1/2)`` and the two-sided p-value is ``min(1, 2 * P[X <= min(b, c)])``
    (the binomial is symmetric at 1/2, so doubling the smaller tail is exact). ``b + c == 0`` gives
    ``p = 1``: with no discordant trials there is no evidence of a difference.

    ``correct_a`` and ``correct_b`` are 1-D boolean (or 0/1) arrays, one element per trial, equal length.
    The exact test is used instead of the chi-square approximation because nightly quick runs have few
    discordant trials, where the approximation is poor.
    """
    a = _booleans(correct_a, "correct_a")
    b_arr = _booleans(correct_b, "correct_b")
    _same_length(a, b_arr, "correct_a", "correct_b", "mcnemar_exact")
    b = int(np.count_nonzero(a & ~b_arr))
    c = int(np.count_nonzero(~a & b_arr))
    n = b + c
    if n == 0:
        return McNemarResult(b=0, c=0, p=1.0)
    p = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))
    return McNemarResult(b=b, c=c, p=p)


def confusion_matrix(pred, labels, n_classes: int = 10) -> np.ndarray:
    """Confusion matrix ``M[true, predicted]`` (rows: true label, columns: prediction), int64 counts.

    Raises :class:`~snnval.errors.SpecError` when a label or prediction lies outside ``[0, n_classes)``,
    rather than silently dropping or wrapping it.
    """
    if not (isinstance(n_classes, int | np.integer) and n_classes >= 1):
        raise SpecError("confusion_matrix", "n_classes", f"a positive integer (got {n_classes!r})")
    p = _labels(pred, "pred", "confusion_matrix")
    y = _labels(labels, "labels", "confusion_matrix")
    _same_length(p, y, "pred", "labels", "confusion_matrix")
    for name, arr in (("pred", p), ("labels", y)):
        bad = (arr < 0) | (arr >= n_classes)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise SpecError("confusion_matrix", name, f"classes in [0, {n_classes}) (element {i} is {arr[i]})")
    flat = np.bincount(y * n_classes + p, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def predict_from_pool_counts(counts) -> np.ndarray:
    """TF readout rule: the predicted class of each trial is the pool with the most spikes.

    ``counts`` has shape ``(trials, n_pools)``: spike counts of each readout pool in the readout window
    (the TF Billeh model counts spikes in ``[150, 200)`` ms, :data:`TF_READOUT_WINDOW_MS`; counting is the
    caller's job, on the integer step grid).

    Ties go to the lowest class index, so a trial in which no pool spiked is predicted as class 0. This is
    exactly ``np.argmax(counts, axis=1)``, which returns the first maximum. The rule is spelled out because
    it matters: a simulator whose readout pools stay silent predicts class 0 on every trial, so its accuracy
    is the fraction of class-0 labels (not a neutral 1/n_classes), and any port of the readout must break
    ties the same way to agree trial by trial.

    Raises :class:`~snnval.errors.SpecError` for a non-2-D array, zero pools, or NaN counts (``np.argmax``
    would otherwise return the index of the first NaN without complaint).
    """
    arr = np.asarray(counts)
    if arr.ndim != 2:
        raise SpecError("predict_from_pool_counts", "counts", f"a 2-D array (trials, n_pools), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise SpecError("predict_from_pool_counts", "counts", "at least one readout pool (got 0 columns)")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise SpecError("predict_from_pool_counts", "counts", f"real numbers (got dtype {arr.dtype})")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise SpecError("predict_from_pool_counts", "counts", "finite spike counts (found NaN or inf)")
    return np.argmax(arr, axis=1).astype(np.int64)


# ----------------------------------------------------------------------------------------------- helpers


def _proportion(k: int, n: int, confidence: float) -> Proportion:
    lo, hi = wilson_interval(k, n, confidence)
    return Proportion(k=k, n=n, value=k / n, lo=lo, hi=hi, confidence=confidence)


def _as_count(value, name: str) -> int:
    # bool is an int subclass; True as a trial count is almost certainly a bug upstream.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SpecError("wilson_interval", name, f"a non-negative integer count (got {value!r})")
    if value < 0:
        raise SpecError("wilson_interval", name, f"a non-negative integer count (got {value})")
    return int(value)


def _labels(values, name: str, source: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SpecError(source, name, f"a 1-D array of class indices (got shape {arr.shape})")
    if arr.size == 0:
        raise SpecError(source, name, "at least one trial (got an empty array)")
    if arr.dtype.kind == "b":
        raise SpecError(source, name, "integer class indices (got booleans)")
    if arr.dtype.kind == "f":
        # Accept 3.0 but not 3.5 or NaN: a float prediction is usually an un-argmaxed score.
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise SpecError(source, name, "integer class indices (got non-integral floats)")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise SpecError(source, name, f"integer class indices (got dtype {arr.dtype})")
    return arr.astype(np.int64, copy=False)


def _booleans(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SpecError("mcnemar_exact", name, f"a 1-D array, one element per trial (got shape {arr.shape})")
    if arr.size == 0:
        raise SpecError("mcnemar_exact", name, "at least one trial (got an empty array)")
    if arr.dtype.kind != "b":
        if arr.dtype.kind not in "iuf" or not np.all((arr == 0) | (arr == 1)):
            raise SpecError("mcnemar_exact", name, "booleans or 0/1 values (correct / wrong per trial)")
        arr = arr.astype(bool)
    return arr


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, source: str) -> None:
    if a.size != b.size:
        raise SpecError(source, name_b, f"the same number of trials as {name_a} ({a.size}), got {b.size}")
