"""snnval.spiketrain_metrics against Elephant 1.2 (the field's maintained reference implementation).

Tolerances, and why:

* van Rossum: compared as D^2, the quantity both implementations sum over (n+m)^2 kernel terms
  of size <= 1. Elephant divides the times by tau before taking differences, so each exponent
  carries an absolute rounding error of about (t_max/tau) * eps; ours differences the times
  first (exact against mpmath in test_van_rossum_against_high_precision). Bound:
  |dD^2| <= 4 * (n+m)^2 * eps * (1 + t_max/tau) (measured over 400 random pairs: at most 0.24
  of that). D itself is not compared near 0, where the square root would turn a 1e-16
  difference of D^2 into 1e-8.
* Victor-Purpura: the DP adds at most n+m costs along a path; different but equivalent min/plus
  orders differ by a few ulps per addition: rtol 1e-13 (measured: at most 3.2e-15).
* CV, LV, rates: a handful of float64 operations on <= 100 intervals: rtol 1e-12.
* Correlation: the binned counts must agree exactly (integers); the coefficients are dot products
  over <= 500 bins, so atol 1e-12.
"""

from __future__ import annotations

import warnings

import neo
import numpy as np
import pytest
import quantities as pq
from elephant.conversion import BinnedSpikeTrain
from elephant.spike_train_correlation import correlation_coefficient
from elephant.spike_train_dissimilarity import van_rossum_distance as el_van_rossum
from elephant.spike_train_dissimilarity import victor_purpura_distance as el_victor_purpura
from elephant.statistics import cv as el_cv
from elephant.statistics import lv as el_lv
from elephant.statistics import mean_firing_rate as el_rate
from hypothesis import given, settings
from hypothesis import strategies as st

from snnval import spiketrain_metrics as m
from snnval.errors import SpecError

T_STOP_MS = 1000.0
EPS = np.finfo(np.float64).eps


def neo_train(times_ms) -> neo.SpikeTrain:
    return neo.SpikeTrain(np.sort(np.asarray(times_ms, float)) * pq.ms, t_start=0 * pq.ms, t_stop=T_STOP_MS * pq.ms)


def random_train(rng, max_n=60) -> np.ndarray:
    return np.sort(rng.uniform(0, T_STOP_MS, rng.integers(0, max_n + 1)))


def jittered(rng, x, sd_ms=2.0) -> np.ndarray:
    """A train near x: jitter, drop some, add some (so distances are small but non-zero)."""
    keep = x[rng.random(x.size) > 0.1]
    keep = keep + rng.normal(0, sd_ms, keep.size)
    extra = rng.uniform(0, T_STOP_MS, rng.integers(0, 4))
    return np.sort(np.clip(np.concatenate((keep, extra)), 0, T_STOP_MS))


def elephant_vr(x, y, tau_ms) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(el_van_rossum([neo_train(x), neo_train(y)], time_constant=tau_ms * pq.ms)[0, 1])


def elephant_vp(x, y, q_per_ms) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(el_victor_purpura([neo_train(x), neo_train(y)], cost_factor=q_per_ms / pq.ms)[0, 1])


def assert_vr_close(ours, theirs, x, y, tau_ms):
    n = max(len(x) + len(y), 1)
    t_max = max(np.abs(np.concatenate((np.asarray(x, float), np.asarray(y, float)))).max(initial=0.0), 1.0)
    atol = 4 * n**2 * EPS * (1 + t_max / tau_ms)
    np.testing.assert_allclose(ours**2, theirs**2, rtol=0, atol=atol)


# --------------------------------------------------------------------------------------------
# van Rossum
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("tau_ms", [0.5, 5.0, 20.0, 200.0])
def test_van_rossum_random_trains(seed, tau_ms):
    rng = np.random.default_rng(seed)
    x = random_train(rng)
    y = jittered(rng, x) if seed % 2 else random_train(rng)
    assert_vr_close(m.van_rossum_distance(x, y, tau_ms), elephant_vr(x, y, tau_ms), x, y, tau_ms)


@pytest.mark.parametrize(
    "x, y, expected",
    [
        ([], [], 0.0),  # empty against empty
        ([12.5], [], 1.0),  # one spike against none: 1 by the normalisation
        ([], [12.5], 1.0),
        ([12.5], [12.5], 0.0),  # one spike, identical
        ([1.0, 5.0, 9.0, 300.0], [1.0, 5.0, 9.0, 300.0], 0.0),  # identical trains
    ],
)
def test_van_rossum_edge_cases(x, y, expected):
    ours = m.van_rossum_distance(x, y, 10.0)
    assert ours == pytest.approx(expected, abs=1e-15)
    assert_vr_close(ours, elephant_vr(x, y, 10.0), x, y, 10.0)


@pytest.mark.parametrize("offset_ms", [0.0, 100.0, 960.0, 1e5])
def test_van_rossum_against_high_precision(offset_ms):
    """Ours against a 50-digit evaluation of the closed form: a few ulps, whatever the absolute time."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    rng = np.random.default_rng(int(offset_ms))
    x = offset_ms + np.sort(rng.uniform(0, 50, 6))
    y = offset_ms + np.sort(rng.uniform(0, 50, 4))

    def kernel_sum(u, v):
        return mpmath.fsum(mpmath.exp(-abs(mpmath.mpf(a) - mpmath.mpf(b)) / 5) for a in u for b in v)

    exact = kernel_sum(x, x) + kernel_sum(y, y) - 2 * kernel_sum(x, y)
    ours = m.van_rossum_distance(x, y, 5.0)
    grouped = m.van_rossum_distances_grouped(np.zeros(6, int), x, np.zeros(4, int), y, 1, 5.0)[0]
    for value in (ours, grouped):
        assert abs(value**2 - float(exact)) <= 4 * 10**2 * EPS


def test_van_rossum_unsorted_input_and_symmetry():
    rng = np.random.default_rng(3)
    x, y = random_train(rng), random_train(rng)
    d = m.van_rossum_distance(x, y, 7.0)
    assert m.van_rossum_distance(rng.permutation(x), rng.permutation(y), 7.0) == pytest.approx(d, rel=1e-12)
    assert m.van_rossum_distance(y, x, 7.0) == pytest.approx(d, rel=1e-12)


def test_van_rossum_rejects_bad_tau():
    with pytest.raises(SpecError, match="tau_ms"):
        m.van_rossum_distance([1.0], [2.0], 0.0)


# --------------------------------------------------------------------------------------------
# Victor-Purpura
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("q_per_ms", [0.01, 0.1, 1.0, 10.0])
def test_victor_purpura_random_trains(seed, q_per_ms):
    rng = np.random.default_rng(100 + seed)
    x = random_train(rng)
    y = jittered(rng, x) if seed % 2 else random_train(rng)
    assert m.victor_purpura_distance(x, y, q_per_ms) == pytest.approx(elephant_vp(x, y, q_per_ms), rel=1e-13)


@pytest.mark.parametrize(
    "x, y, expected",
    [
        ([], [], 0.0),
        ([12.5], [], 1.0),  # one deletion
        ([], [12.5, 40.0], 2.0),  # two insertions
        ([12.5], [12.5], 0.0),
        ([12.5], [14.5], 0.2),  # one shift of 2 ms at q = 0.1/ms
        ([12.5], [100.0], 2.0),  # too far to shift: delete + insert
        ([1.0, 5.0, 9.0, 300.0], [1.0, 5.0, 9.0, 300.0], 0.0),
    ],
)
def test_victor_purpura_edge_cases(x, y, expected):
    ours = m.victor_purpura_distance(x, y, 0.1)
    assert ours == pytest.approx(expected, abs=1e-15)
    assert ours == pytest.approx(elephant_vp(x, y, 0.1), rel=1e-13, abs=1e-15)


def test_victor_purpura_limits_of_q():
    x, y = [1.0, 2.0, 3.0], [2.0, 7.0]
    assert m.victor_purpura_distance(x, y, 0.0) == 1.0  # q = 0: count difference
    assert m.victor_purpura_distance(x, y, np.inf) == 3.0  # q = inf: non-coincident spikes (2 + 1)
    assert elephant_vp(x, y, 0.0) == 1.0


# --------------------------------------------------------------------------------------------
# Grouped forms agree with the single-pair forms (independent implementations for vR)
# --------------------------------------------------------------------------------------------


train = st.lists(st.floats(0, 200, allow_nan=False, allow_subnormal=False), max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(train, train), min_size=1, max_size=6))
def test_grouped_distances_match_pairwise(pairs):
    ga = np.concatenate([np.full(len(x), g) for g, (x, _) in enumerate(pairs)]).astype(np.int64)
    gb = np.concatenate([np.full(len(y), g) for g, (_, y) in enumerate(pairs)]).astype(np.int64)
    ta = np.concatenate([np.asarray(x, float) for x, _ in pairs])
    tb = np.concatenate([np.asarray(y, float) for _, y in pairs])
    vr = m.van_rossum_distances_grouped(ga, ta, gb, tb, len(pairs), 3.0)
    vp = m.victor_purpura_distances_grouped(ga, ta, gb, tb, len(pairs), 0.3)
    for g, (x, y) in enumerate(pairs):
        assert_vr_close(vr[g], m.van_rossum_distance(x, y, 3.0), x, y, 3.0)
        assert vp[g] == pytest.approx(m.victor_purpura_distance(x, y, 0.3), rel=1e-12, abs=1e-12)


def test_grouped_distances_many_groups_of_mixed_length():
    rng = np.random.default_rng(7)
    xs = [random_train(rng, max_n=int(rng.choice([1, 5, 40]))) for _ in range(30)]
    ys = [jittered(rng, x) for x in xs]
    ga = np.repeat(np.arange(30), [x.size for x in xs])
    gb = np.repeat(np.arange(30), [y.size for y in ys])
    ta, tb = np.concatenate(xs), np.concatenate(ys)
    vr = m.van_rossum_distances_grouped(ga, ta, gb, tb, 31, 5.0)  # group 30 is empty on both sides
    vp = m.victor_purpura_distances_grouped(ga, ta, gb, tb, 31, 0.2)
    assert vr[30] == 0.0 and vp[30] == 0.0
    for g in range(30):
        assert_vr_close(vr[g], elephant_vr(xs[g], ys[g], 5.0), xs[g], ys[g], 5.0)
        assert vp[g] == pytest.approx(elephant_vp(xs[g], ys[g], 0.2), rel=1e-13)


# --------------------------------------------------------------------------------------------
# Rates, CV, LV
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_firing_rate(seed):
    rng = np.random.default_rng(200 + seed)
    x = random_train(rng, 100)
    ours = m.firing_rate(x, 100.0, 900.0)
    theirs = el_rate(x, t_start=100.0, t_stop=900.0) * 1000.0  # elephant: 1/ms for plain arrays in ms
    assert ours == pytest.approx(float(theirs), rel=1e-12)


def test_firing_rate_empty_and_bad_window():
    assert m.firing_rate([], 0.0, 500.0) == 0.0
    with pytest.raises(SpecError, match="t_stop_ms"):
        m.firing_rate([1.0], 5.0, 5.0)


@pytest.mark.parametrize("seed", range(8))
def test_cv_and_lv_random(seed):
    rng = np.random.default_rng(300 + seed)
    x = np.sort(rng.uniform(0, T_STOP_MS, rng.integers(3, 100)))
    intervals = np.diff(x)
    assert m.cv_isi(x) == pytest.approx(float(el_cv(intervals)), rel=1e-12)
    assert m.lv(x) == pytest.approx(float(el_lv(intervals)), rel=1e-12)


def test_cv_and_lv_regular_train_is_zero():
    x = np.arange(10) * 7.0
    assert m.cv_isi(x) == pytest.approx(0.0, abs=1e-15)
    assert m.lv(x) == pytest.approx(0.0, abs=1e-15)
    assert float(el_cv(np.diff(x))) == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("x", [[], [5.0], [5.0, 9.0]])
def test_cv_and_lv_undefined_below_two_intervals(x):
    # Deliberate difference for one interval: Elephant's cv returns 0.0 (std of one value),
    # which says nothing about irregularity; we return nan. lv agrees with Elephant's with_nan.
    assert np.isnan(m.cv_isi(x))
    assert np.isnan(m.lv(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(el_lv(np.diff(x), with_nan=True))


# --------------------------------------------------------------------------------------------
# Binned correlation
# --------------------------------------------------------------------------------------------


def elephant_binned(trains, bin_ms):
    return BinnedSpikeTrain([neo_train(t) for t in trains], bin_size=bin_ms * pq.ms, t_start=0 * pq.ms,
                            t_stop=T_STOP_MS * pq.ms)  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bin_ms", [2.0, 5.0])
def test_correlation_coefficients_random(seed, bin_ms):
    rng = np.random.default_rng(400 + seed)
    common = rng.uniform(0, T_STOP_MS, 40)  # shared events give positive correlations
    trains = [np.sort(np.concatenate((common[rng.random(40) < 0.5], random_train(rng, 50)))) for _ in range(8)]
    binned = elephant_binned(trains, bin_ms)
    counts = m.binned_counts(trains, 0.0, T_STOP_MS, bin_ms)
    np.testing.assert_array_equal(counts, binned.to_array())
    np.testing.assert_allclose(m.correlation_coefficients(counts), correlation_coefficient(binned), rtol=0, atol=1e-12)


def test_correlation_coefficients_edge_cases():
    trains = [[10.0, 50.0, 51.0], [10.5, 50.5, 300.0], [], [10.0, 50.0, 51.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = correlation_coefficient(elephant_binned(trains, 2.0))
    ours = m.correlation_coefficients(m.binned_counts(trains, 0.0, T_STOP_MS, 2.0))
    # The empty train has no variance: its row and column are nan (diagonal included), as in Elephant.
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.all(np.isnan(ours[2])) and np.all(np.isnan(ours[:, 2]))
    np.testing.assert_allclose(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)], rtol=0, atol=1e-12)
    assert ours[0, 3] == pytest.approx(1.0, abs=1e-15)  # identical trains
    assert np.all(np.diag(ours)[[0, 1, 3]] == 1.0)


def test_correlation_rejects_bad_input():
    with pytest.raises(SpecError):
        m.correlation_coefficients(np.zeros(5))
    with pytest.raises(SpecError, match="bin_ms"):
        m.binned_counts([[1.0]], 0.0, 1.0, 2.0)
