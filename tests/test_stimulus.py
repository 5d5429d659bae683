"""Frozen stimuli: event containers, validation and the sampling rules of :mod:`snnval.stimulus`.

Statistical checks. Every sampling test uses a fixed seed, so its outcome is deterministic; the
significance level only bounds how likely a *correct* sampler is to fail for the seed chosen (or for a new
seed if someone changes it). We use ``ALPHA = 1e-6``: negligible false alarms, and with 2e5-1e6 draws per
check the tests still reject the errors that matter here by a wide margin (the classic mix-up, sampling
x = 1.3 p as a probability, is a 30 % bias, i.e. > 50 standard errors at p = 0.05 and n = 1e6).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, getcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from snnval import stimulus as S
from snnval.errors import SpecError
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus

pytestmark = pytest.mark.quick

ALPHA = 1e-6


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- Events <-> dense ------------------------------------------------------------------------------------------

amplitudes = st.one_of(
    st.just(0.0),
    st.just(0.0),  # weight zeros: real inputs are sparse
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
dense_arrays = hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=6).flatmap(
    lambda shape: hnp.arrays(np.float64, shape, elements=amplitudes)
)


@given(dense_arrays)
def test_from_dense_dense_round_trip(x):
    ev = Events.from_dense(x)
    assert len(ev) == np.count_nonzero(x)
    np.testing.assert_array_equal(ev.dense(*x.shape), x)
    # events come out sorted by (trial, step, source), as the Events docstring promises
    keys = np.stack([ev.trial, ev.step, ev.source], axis=1)
    assert all(tuple(a) < tuple(b) for a, b in zip(keys[:-1], keys[1:], strict=True))
    assert ev.trial.dtype == ev.step.dtype == ev.source.dtype == np.int64


@settings(max_examples=50)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 9), st.integers(0, 4), st.floats(0.5, 2.0)), min_size=0, max_size=30
    )
)
def test_dense_sums_coincident_events_then_round_trips(rows):
    trial = np.array([r[0] for r in rows], dtype=np.int64)
    step = np.array([r[1] for r in rows], dtype=np.int64)
    source = np.array([r[2] for r in rows], dtype=np.int64)
    amp = np.array([r[3] for r in rows], dtype=float)
    ev = Events(trial, step, source, amp)
    x = ev.dense(3, 10, 5)
    expected = np.zeros((3, 10, 5))
    for t, s, k, a in rows:
        expected[t, s, k] += a
    np.testing.assert_allclose(x, expected, rtol=1e-15)
    again = Events.from_dense(x)
    np.testing.assert_array_equal(again.dense(3, 10, 5), x)


def test_from_dense_refuses_wrong_rank():
    with pytest.raises(SpecError, match="'x'"):
        Events.from_dense(np.zeros((3, 4)))


def test_concat_keeps_order():
    a = Events.from_dense(np.eye(3)[None] * 2.0)
    b = Events(np.array([0]), np.array([1]), np.array([0]), np.array([7.0]))
    c = a.concat(b)
    assert len(c) == 4
    assert list(zip(c.step.tolist(), c.source.tolist(), strict=True)) == [(0, 0), (1, 0), (1, 1), (2, 2)]


# --- determinism -------------------------------------------------------------------------------------------------

SAMPLERS = {
    "bernoulli": lambda g: S.sample_bernoulli(np.full((2, 50, 40), 0.1), g),
    "ported_clip": lambda g: S.sample_ported_clip(np.full((2, 50, 40), 0.13), g),
    "common_background": lambda g: S.common_background_counts(2, 50, g),
    "independent_poisson": lambda g: S.independent_poisson_counts(2, 50, 40, 100.0, 1.0, g),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampling_is_deterministic_for_a_seed(name):
    draw = SAMPLERS[name]
    a, b, c = draw(rng(1234)), draw(rng(1234)), draw(rng(1235))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float64
    assert not np.array_equal(a, c)


# --- Bernoulli and the ported clip rule -------------------------------------------------------------------------

P_GRID = [0.001, 0.01, 0.05, 0.135, 0.5, 0.9]


@pytest.mark.parametrize("p", P_GRID)
def test_bernoulli_rate_matches_p(p):
    n = 400_000
    k = int(S.sample_bernoulli(np.full(n, p), rng(7)).sum())
    assert stats.binomtest(k, n, p).pvalue > ALPHA, (k / n, p)


def test_bernoulli_only_zeros_and_ones_and_extremes():
    x = S.sample_bernoulli(np.array([[[0.0, 1.0, 0.3]]]).repeat(1000, axis=1), rng(3))
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert x[..., 0].sum() == 0 and x[..., 1].sum() == 1000


@pytest.mark.parametrize("p", P_GRID)
def test_ported_clip_rule_is_bernoulli_p_when_x_is_1_3_p(p):
    """The port's clip(x/1.3) rule on the TF input x = 1.3 p is the TF Bernoulli(p) rule."""
    n = 400_000
    x = S.deterministic_input(np.full(n, p))
    spikes = S.sample_ported_clip(x, rng(11))
    assert stats.binomtest(int(spikes.sum()), n, p).pvalue > ALPHA
    # Stronger than equal in distribution: with the same random stream both rules compare the same uniform
    # numbers against p and fl(fl(1.3 p) / 1.3), which differ by at most an ulp, so the samples coincide
    # except with probability ~1e-16 per draw.
    np.testing.assert_array_equal(spikes, S.sample_bernoulli(np.full(n, p), rng(11)))


@pytest.mark.parametrize("x", [1.3, 1.3000001, 2.0, 50.0, np.inf])
def test_ported_clip_rule_fires_always_above_1_3(x):
    assert np.all(S.sample_ported_clip(np.full((2, 300, 10), x), rng(5)) == 1.0)


@pytest.mark.parametrize("x", [0.0, -0.5, -np.inf])
def test_ported_clip_rule_never_fires_at_or_below_zero(x):
    assert np.all(S.sample_ported_clip(np.full((2, 300, 10), x), rng(5)) == 0.0)


def test_ported_clip_rule_keeps_shape():
    assert S.sample_ported_clip(np.zeros((3, 7, 2)), rng(0)).shape == (3, 7, 2)


def test_deterministic_input_is_1_3_p():
    p = np.array([0.0, 0.01, 0.1])
    np.testing.assert_array_equal(S.deterministic_input(p), 1.3 * p)


# --- rate -> probability ----------------------------------------------------------------------------------------


def _exact_probability(rate_Hz: float, dt_ms: float) -> float:
    """1 - exp(-rate dt / 1000) in 60-digit decimal arithmetic, rounded once to float64.

    For small a the Taylor series a - a**2/2 + ... is used: 1 - exp(-a) would cancel to 0 at any fixed precision.
    """
    getcontext().prec = 60
    a = Decimal(rate_Hz) * Decimal(dt_ms) / Decimal(1000)
    if a < Decimal("1e-3"):
        term, total = a, Decimal(0)
        for k in range(1, 20):  # a**20 / 20! < 1e-78: far below the 60 digits kept
            total += term
            term = -term * a / (k + 1)
        return float(total)
    return float(1 - (-a).exp())


# rate 0 or 1e-100 .. 1e5 Hz: keeps rate * dt / 1000 a normal float64 (subnormals lose relative precision).
rates = st.one_of(st.just(0.0), st.floats(1e-100, 1e5))


@settings(max_examples=200)
@given(rate=rates, dt=st.sampled_from([0.01, 0.1, 0.25, 1.0]))
def test_rate_to_probability_matches_1_minus_exp(rate, dt):
    p = float(S.rate_to_probability(np.array(rate), dt))
    # -expm1(-a) is accurate to a couple of ulp for every a >= 0 (unlike 1 - exp(-a), which loses about
    # u/a relative precision at small a); the reference is exact before its single rounding.
    # rate * dt / 1000 itself is two roundings. 8 eps covers all of it.
    assert p == pytest.approx(_exact_probability(rate, dt), rel=8 * np.finfo(float).eps, abs=0)
    assert 0.0 <= p <= 1.0


@given(rate=st.floats(1e-9, 10.0), dt=st.sampled_from([0.1, 1.0]))
def test_rate_to_probability_is_rate_dt_for_small_rates(rate, dt):
    a = rate * dt / 1000.0
    p = float(S.rate_to_probability(rate, dt))
    # 1 - exp(-a) = a - a**2/2 + ...: below a and within a relative a/2 of it (a <= 0.01 here).
    assert p <= a
    assert (a - p) / a <= a / 2 + 4 * np.finfo(float).eps


def test_rate_to_probability_vectorised_and_known_values():
    p = S.rate_to_probability(np.array([[0.0, 1000.0], [10.0, 100.0]]), 1.0)
    assert p.shape == (2, 2)
    assert p[0, 0] == 0.0
    assert p[0, 1] == pytest.approx(1 - np.exp(-1.0), rel=1e-15)
    assert p[1, 0] == pytest.approx(1 - np.exp(-0.01), rel=1e-12)


# --- background --------------------------------------------------------------------------------------------------


def test_common_background_counts_mean_one_per_step():
    n_trials, n_steps = 200, 600
    c = S.common_background_counts(n_trials, n_steps, rng(21))
    assert c.shape == (n_trials, n_steps, 1)
    assert np.all((c >= 0) & (c <= 10) & (c == np.round(c)))
    n = c.size
    # Binomial(10, 0.1): mean 1.0, variance 0.9. Two-sided z test on the mean (CLT is excellent at n = 1.2e5).
    z = (c.mean() - 1.0) / np.sqrt(0.9 / n)
    assert 2 * stats.norm.sf(abs(z)) > ALPHA, z
    # and the variance 0.9: the standard error of a sample variance is sqrt((mu4 - sigma**4) / n), with
    # mu4 = npq (1 + 3 (n - 2) pq) = 2.844 for Binomial(10, 0.1): 0.0041 here; 0.03 is ~7 standard errors.
    assert c.var() == pytest.approx(0.9, abs=0.03)


def test_independent_poisson_counts_mean():
    c = S.independent_poisson_counts(10, 600, 100, 250.0, 1.0, rng(8))
    lam = 0.25
    z = (c.mean() - lam) / np.sqrt(lam / c.size)
    assert 2 * stats.norm.sf(abs(z)) > ALPHA, z


# --- FrozenStimulus validation ------------------------------------------------------------------------------------


def _stimulus(**changes) -> FrozenStimulus:
    ev = Events(np.array([0, 1]), np.array([0, 9]), np.array([0, 2]), np.array([1.0, 0.5]))
    cur = CurrentSteps(np.array([0]), np.array([3]), np.array([1]), np.array([100.0]))
    base = FrozenStimulus(dt_ms=1.0, n_steps=10, n_trials=2, events=ev, currents=cur, seed=1)
    return dataclasses.replace(base, **changes)


def _with_events(**changes) -> FrozenStimulus:
    return _stimulus(events=dataclasses.replace(_stimulus().events, **changes))


def _with_currents(**changes) -> FrozenStimulus:
    return _stimulus(currents=dataclasses.replace(_stimulus().currents, **changes))


def test_valid_stimulus_passes():
    s = _stimulus()
    assert s.validated(n_sources=3, n_neurons=2) is s


@pytest.mark.parametrize(
    ("stim", "field_name"),
    [
        (_with_events(step=np.array([0, 10])), "events.step"),
        (_with_events(step=np.array([-1, 3])), "events.step"),
        (_with_events(source=np.array([0, 3])), "events.source"),
        (_with_events(source=np.array([-1, 0])), "events.source"),
        (_with_events(trial=np.array([0, 2])), "events.trial"),
        (_with_currents(step=np.array([10])), "currents.step"),
        (_with_currents(neuron=np.array([2])), "currents.neuron"),
        (_with_currents(trial=np.array([-1])), "currents.trial"),
        (_with_events(amplitude=np.array([1.0, np.nan])), "events.amplitude"),
        (_with_currents(amplitude_pA=np.array([np.inf])), "currents.amplitude_pA"),
        (_stimulus(dt_ms=0.0), "dt_ms"),
        (_stimulus(dt_ms=float("nan")), "dt_ms"),
        (_stimulus(n_steps=0), "n_steps/n_trials"),
    ],
)
def test_stimulus_validation_names_the_field(stim, field_name):
    with pytest.raises(SpecError) as info:
        stim.validated(n_sources=3, n_neurons=2)
    assert info.value.field == field_name
    assert f"'{field_name}'" in str(info.value)


def test_trial_extracts_one_trial():
    one = _stimulus().trial(1)
    assert one.n_trials == 1 and len(one.events) == 1 and len(one.currents) == 0
    assert one.events.step.tolist() == [9] and one.events.trial.tolist() == [0]


# --- current steps ------------------------------------------------------------------------------------------------


def test_current_change_arrives_one_step_later():
    cur = CurrentSteps(
        trial=np.array([0, 0, 0, 1]),
        step=np.array([5, 2, 8, 0]),  # deliberately unsorted
        neuron=np.array([0, 0, 1, 0]),
        amplitude_pA=np.array([-20.0, 50.0, 7.0, 3.0]),
    )
    x = cur.dense_arrivals(2, 10, 2)
    assert x.shape == (2, 10, 2)
    # neuron 0, trial 0: 50 pA set at step 2 -> in force from step 3; -20 pA set at 5 -> from step 6
    np.testing.assert_array_equal(x[0, :, 0], [0, 0, 0, 50, 50, 50, -20, -20, -20, -20])
    # neuron 1, trial 0: set at 8 -> from 9
    np.testing.assert_array_equal(x[0, :, 1], [0] * 9 + [7])
    # trial 1: set at step 0 -> from step 1
    np.testing.assert_array_equal(x[1, :, 0], [0] + [3] * 9)
    np.testing.assert_array_equal(x[1, :, 1], np.zeros(10))


def test_current_change_in_last_step_never_arrives():
    cur = CurrentSteps(np.array([0]), np.array([9]), np.array([0]), np.array([1.0]))
    assert not cur.dense_arrivals(1, 10, 1).any()


# --- gap found in review, now fixed ----------------------------------------------


def test_stimulus_hash_distinguishes_events_from_currents():
    ev = Events(np.array([0]), np.array([3]), np.array([1]), np.array([100.0]))
    cur = CurrentSteps(np.array([0]), np.array([3]), np.array([1]), np.array([100.0]))
    a = FrozenStimulus(1.0, 10, 1, events=ev)
    b = FrozenStimulus(1.0, 10, 1, currents=cur)
    assert a.content_hash() != b.content_hash()


def test_stimulus_hash_stable_and_sensitive():
    s = _stimulus()
    assert s.content_hash() == _stimulus().content_hash()
    assert _with_events(amplitude=np.array([1.0, np.nextafter(0.5, 1)])).content_hash() != s.content_hash()
    assert _stimulus(dt_ms=0.1).content_hash() != s.content_hash()
