"""Unit tests of snnval.compare on synthetic RunResults built directly (no simulator)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from snnval import spiketrain_metrics as metrics
from snnval.compare import (
    Comparison,
    TraceTolerance,
    compare,
    compare_spikes,
    compare_traces,
    emd_acceptance,
    match_spikes,
    population_statistics,
    statistical_comparison,
)
from snnval.contract import RunResult
from snnval.errors import SpecError

DT = 0.1
N_STEPS = 200
RECORDED = np.array([3, 7, 11])
V_TOL = {"V_m": TraceTolerance(atol=1e-9, rtol=0.0, reason="test: float64 agreement")}


def make_run(spikes=(), n_steps=N_STEPS, n_trials=2, dt=DT, recorded=RECORDED, state=None, name="ref", profile="p"):
    """spikes: iterable of (trial, step, neuron)."""
    arr = np.asarray(list(spikes), dtype=np.int64).reshape(-1, 3)
    if state is None:
        t = np.arange(n_steps)[None, :, None]
        state = {
            "V_m": np.broadcast_to(
                -70.0 + 0.01 * t + 0.1 * np.arange(len(recorded)), (n_trials, n_steps, len(recorded))
            ).copy()
        }
    return RunResult.from_spikes(dt, n_steps, n_trials, arr[:, 0], arr[:, 1], arr[:, 2], recorded, state,
                                 {"simulator": name, "profile": profile})  # fmt: skip


SPIKES = [(0, 10, 3), (0, 40, 3), (0, 15, 7), (1, 12, 3), (1, 90, 11), (1, 91, 7), (0, 150, 11)]


def copy_run(run: RunResult, name="cand", spikes=None) -> RunResult:
    sp = list(zip(run.spike_trial, run.spike_step, run.spike_neuron, strict=True)) if spikes is None else spikes
    return make_run(sp, run.n_steps, run.n_trials, run.dt_ms, run.recorded_neurons,
                    {k: v.copy() for k, v in run.state.items()}, name=name)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Identical runs
# --------------------------------------------------------------------------------------------


def test_identical_runs_pass_with_zero_figures():
    a = make_run(SPIKES)
    b = copy_run(a)
    c = compare(a, b, V_TOL)
    assert c.passed and not c.trivial
    assert c.first_divergence is None
    s = c.spikes
    assert (s.n_reference, s.n_candidate, s.n_matched, s.n_missing, s.n_extra) == (7, 7, 7, 0, 0)
    assert s.mean_abs_shift_steps == 0.0 and s.n_shifted == 0
    assert s.van_rossum.mean == 0.0 and s.victor_purpura.mean == 0.0
    assert s.van_rossum.n_trains == 6  # (trial, neuron) trains with a spike
    v = c.traces.variables["V_m"]
    assert (v.max_abs, v.mean_abs, v.max_rel, v.mean_rel, v.n_failed) == (0.0, 0.0, 0.0, 0.0, 0)
    assert v.moves and v.n_values == 2 * N_STEPS * 3
    assert c.reference == "ref" and c.candidate == "cand"


# --------------------------------------------------------------------------------------------
# Spike matching
# --------------------------------------------------------------------------------------------


def test_one_step_shift_is_missing_and_extra_at_k0_and_matched_at_k1():
    a = make_run(SPIKES)
    moved = [(0, 41, 3) if s == (0, 40, 3) else s for s in SPIKES]
    b = copy_run(a, spikes=moved)

    k0 = compare_spikes(a, b, 0)
    assert (k0.n_matched, k0.n_missing, k0.n_extra) == (6, 1, 1)
    assert not k0.passed
    d = k0.first_divergence
    assert (d.step, d.trial, d.neuron, d.kind, d.variable) == (40, 0, 3, "missing", "spikes")

    k1 = compare_spikes(a, b, 1)
    assert (k1.n_matched, k1.n_missing, k1.n_extra) == (7, 0, 0)
    assert k1.passed and k1.first_divergence is None
    assert k1.n_shifted == 1 and k1.mean_abs_shift_steps == pytest.approx(1 / 7)
    fs = k1.first_shift
    assert (fs.step, fs.trial, fs.neuron, fs.reference, fs.candidate) == (40, 0, 3, 40.0, 41.0)


def test_distance_summaries_of_a_one_step_shift():
    a = make_run(SPIKES)
    b = copy_run(a, spikes=[(0, 41, 3) if s == (0, 40, 3) else s for s in SPIKES])
    s = compare_spikes(a, b, 0, van_rossum_tau_ms=5.0, victor_purpura_q_per_ms=0.1)
    ta, tb = [1.1, 4.1], [1.1, 4.2]  # neuron 3, trial 0: steps 10 and 40 vs 10 and 41, at (k+1)*dt
    assert s.victor_purpura.max == pytest.approx(metrics.victor_purpura_distance(ta, tb, 0.1))
    assert s.van_rossum.max == pytest.approx(metrics.van_rossum_distance(ta, tb, 5.0))
    assert s.van_rossum.worst == (0, 3)
    assert s.van_rossum.mean == pytest.approx(s.van_rossum.max / 6)


def test_first_divergence_is_the_earliest():
    a = make_run(SPIKES)
    spikes = [s for s in SPIKES if s != (0, 150, 11)]  # missing at step 150
    spikes += [(1, 20, 11)]  # extra at step 20 in trial 1
    spikes = [s for s in spikes if s != (1, 90, 11)]  # missing at step 90
    b = copy_run(a, spikes=spikes)
    sc = compare_spikes(a, b)
    assert (sc.n_missing, sc.n_extra) == (2, 1)
    d = sc.first_divergence
    assert (d.step, d.trial, d.neuron, d.kind) == (20, 1, 11, "extra")

    # A trace divergence earlier than every spike divergence wins in the combined comparison ...
    b.state["V_m"][1, 5, 2] += 1.0
    c = compare(a, b, V_TOL)
    assert (c.first_divergence.step, c.first_divergence.variable) == (5, "V_m")
    # ... and on the same step the state is reported before the spike (it is the nearer cause).
    b.state["V_m"][1, 5, 2] -= 1.0
    b.state["V_m"][0, 20, 0] += 1.0
    c = compare(a, b, V_TOL)
    assert (c.first_divergence.step, c.first_divergence.kind, c.first_divergence.neuron) == (20, "trace", 3)


def test_missing_extra_counts_and_max_mismatches_rule():
    a = make_run(SPIKES)
    b = copy_run(a, spikes=SPIKES[1:] + [(0, 199, 7)])
    sc = compare_spikes(a, b, 0, max_mismatches=2)
    assert (sc.n_missing, sc.n_extra, sc.passed) == (1, 1, True)
    assert not compare_spikes(a, b, 0, max_mismatches=1).passed
    # index arrays point into the runs' own spike arrays
    assert (a.spike_trial[sc.missing[0]], a.spike_step[sc.missing[0]], a.spike_neuron[sc.missing[0]]) == (0, 10, 3)
    assert (b.spike_step[sc.extra[0]], b.spike_neuron[sc.extra[0]]) == (199, 7)
    np.testing.assert_array_equal(a.spike_step[sc.matched_reference], b.spike_step[sc.matched_candidate])


def test_matching_prefers_a_maximum_matching_over_nearest_pairs():
    # k = 2: pairing 3<->2 (nearest) would leave 0 and 5 unmatched; the rule matches 0<->2 and 3<->5.
    a = make_run([(0, 0, 3), (0, 3, 3)])
    b = copy_run(a, spikes=[(0, 2, 3), (0, 5, 3)])
    sc = compare_spikes(a, b, 2)
    assert (sc.n_matched, sc.n_missing, sc.n_extra) == (2, 0, 0)
    assert sc.mean_abs_shift_steps == 2.0


def _greedy_reference(a_steps, b_steps, k):
    """Plain two-pointer greedy on one train: the rule the vectorised code must reproduce."""
    pairs, j = [], 0
    used = [False] * len(b_steps)
    for i, s in enumerate(a_steps):
        for j, t in enumerate(b_steps):
            if not used[j] and abs(t - s) <= k:
                used[j] = True
                pairs.append((i, j))
                break
    return pairs


trains = st.lists(st.integers(0, 40), max_size=10, unique=True).map(sorted)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(trains, trains), min_size=1, max_size=5), st.integers(0, 4))
def test_matching_is_the_greedy_rule_and_maximum(pairs, k):
    key_a = np.concatenate([np.full(len(x), g) for g, (x, _) in enumerate(pairs)]).astype(np.int64)
    key_b = np.concatenate([np.full(len(y), g) for g, (_, y) in enumerate(pairs)]).astype(np.int64)
    step_a = np.concatenate([np.asarray(x, np.int64) for x, _ in pairs])
    step_b = np.concatenate([np.asarray(y, np.int64) for _, y in pairs])
    ma, mb = match_spikes(key_a, step_a, key_b, step_b, k, 41)
    got = set(zip(ma.tolist(), mb.tolist(), strict=True))
    expected, off_a, off_b = set(), 0, 0
    for x, y in pairs:
        expected |= {(off_a + i, off_b + j) for i, j in _greedy_reference(x, y, k)}
        off_a, off_b = off_a + len(x), off_b + len(y)
    assert got == expected
    # and it is a maximum matching of the "same train, within k steps" graph
    adj = (key_a[:, None] == key_b[None, :]) & (np.abs(step_a[:, None] - step_b[None, :]) <= k)
    if adj.size:
        best = np.count_nonzero(maximum_bipartite_matching(csr_matrix(adj.astype(np.int8)), perm_type="column") >= 0)
        assert len(got) == best


def test_matching_many_neurons_is_vectorised_and_exact():
    rng = np.random.default_rng(0)
    n_neurons, n_steps = 5000, 2000
    neuron = rng.integers(0, n_neurons, 40_000)
    step = rng.integers(0, n_steps, 40_000)
    keep = np.unique(np.stack([neuron, step], 1), axis=0)
    a = make_run([(0, s, n) for n, s in keep], n_steps=n_steps, n_trials=1, recorded=np.array([0]), state={})
    jitter = rng.integers(-1, 2, keep.shape[0])
    moved = np.clip(keep[:, 1] + jitter, 0, n_steps - 1)
    uniq = np.unique(np.stack([keep[:, 0], moved], 1), axis=0)
    b = make_run([(0, s, n) for n, s in uniq], n_steps=n_steps, n_trials=1, recorded=np.array([0]), state={})
    sc = compare_spikes(a, b, 1)
    assert sc.n_matched == uniq.shape[0]  # every candidate spike is within 1 step of a distinct reference spike
    assert sc.n_extra == 0 and sc.n_missing == a.n_spikes - uniq.shape[0]


def test_spike_outside_the_grid_is_refused():
    a = make_run(SPIKES)
    b = RunResult(DT, N_STEPS, 2, np.array([0]), np.array([N_STEPS]), np.array([3]), RECORDED, {}, {})
    with pytest.raises(SpecError, match="spike_step"):
        compare_spikes(a, b)


# --------------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------------


def test_trace_perturbation_reports_exactly_that_place():
    a = make_run(SPIKES)
    b = copy_run(a)
    b.state["V_m"][1, 77, 1] += 0.25
    b.state["V_m"][0, 150, 2] += 0.1  # later: not the first, but counted
    tc = compare_traces(a, b, V_TOL)
    v = tc.variables["V_m"]
    assert not tc.passed and v.n_failed == 2
    d = tc.first_divergence
    assert (d.step, d.trial, d.neuron, d.variable, d.kind) == (77, 1, 7, "V_m", "trace")
    assert d.reference == a.state["V_m"][1, 77, 1] and d.candidate == b.state["V_m"][1, 77, 1]
    assert v.max_abs == pytest.approx(0.25, abs=1e-12)
    assert v.mean_abs == pytest.approx(0.35 / v.n_values, rel=1e-9)
    assert v.max_rel == pytest.approx(0.25 / abs(a.state["V_m"][1, 77, 1]), rel=1e-9)
    assert d.t_ms == pytest.approx(7.8)


def test_trace_tolerance_rule_atol_plus_rtol():
    a = make_run(SPIKES)
    b = copy_run(a)
    b.state["V_m"] *= 1 + 1e-6  # relative change 1e-6, absolute up to ~7e-5 mV
    assert not compare_traces(a, b, {"V_m": TraceTolerance(1e-5, 0.0, "abs only")}).passed
    assert compare_traces(a, b, {"V_m": TraceTolerance(0.0, 1.01e-6, "rel only")}).passed


def test_nan_on_one_side_fails_nan_on_both_passes():
    a = make_run(SPIKES)
    b = copy_run(a)
    a.state["V_m"][0, 3, 0] = b.state["V_m"][0, 3, 0] = np.nan
    assert compare_traces(a, b, V_TOL).passed
    b.state["V_m"][0, 9, 1] = np.nan
    tc = compare_traces(a, b, V_TOL)
    assert not tc.passed and (tc.first_divergence.step, tc.first_divergence.neuron) == (9, 7)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"dt": 0.2}, "dt_ms"),
        ({"n_steps": N_STEPS - 1}, "n_steps"),
        ({"n_trials": 1}, "n_trials"),
        ({"recorded": np.array([3, 7, 12])}, "recorded_neurons"),
    ],
)
def test_grid_mismatch_raises(change, field):
    a = make_run(SPIKES)
    b = make_run([s for s in SPIKES if s[0] < change.get("n_trials", 2)], **change)
    with pytest.raises(SpecError, match=field):
        compare(a, b, V_TOL)


def test_missing_variable_and_missing_reason_raise():
    a = make_run(SPIKES)
    with pytest.raises(SpecError, match="ASC"):
        compare_traces(a, copy_run(a), {"ASC": TraceTolerance(1e-9, 0, "x")})
    with pytest.raises(SpecError, match="reason"):
        TraceTolerance(1e-9, 0.0, "")
    with pytest.raises(SpecError, match="atol"):
        TraceTolerance(-1.0, 0.0, "negative")


# --------------------------------------------------------------------------------------------
# Reports and trivial comparisons
# --------------------------------------------------------------------------------------------


def test_to_dict_is_strict_json_and_summary_is_readable():
    a = make_run(SPIKES)
    b = copy_run(a, spikes=SPIKES[1:])
    b.state["V_m"][0, 30, 0] += 1e-3
    c = compare(a, b, V_TOL, match_window_steps=1)
    text = json.dumps(c.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["passed"] is False and back["spikes"]["n_missing"] == 1
    expected = {"step": 10, "t_ms": pytest.approx(1.1), "trial": 0, "neuron": 3, "variable": "spikes"}
    expected |= {"kind": "missing", "reference": None, "candidate": None}
    assert back["first_divergence"] == expected
    assert back["traces"]["variables"]["V_m"]["max_abs"] == pytest.approx(1e-3)
    figures = c.report_figures()  # the nightly results schema's "figures" record
    assert (figures["spikes_matched"], figures["spikes_missing"], figures["spikes_extra"]) == (6, 1, 0)
    assert figures["max_abs_dV_mV"] == pytest.approx(1e-3) and figures["first_divergence"]["step"] == 10
    summary = c.summary()
    assert "FAILED" in summary and "V_m [mV]: max abs 0.001" in summary
    assert "matched 6, missing 1, extra 0" in summary
    assert "first divergence: step 10 (t = 1.1 ms), trial 0, neuron 3" in summary


def test_two_empty_runs_are_flagged_trivial():
    flat = {"V_m": np.full((2, N_STEPS, 3), -70.0)}
    a = make_run([], state=flat)
    b = make_run([], state={k: v.copy() for k, v in flat.items()})
    c = compare(a, b, V_TOL)
    assert c.spikes.n_reference == 0 and c.spikes.n_candidate == 0
    assert c.spikes.trivial and c.traces.trivial and c.trivial
    assert c.passed  # vacuously: the flag is what callers must check
    assert c.to_dict()["trivial"] is True
    assert "WARNING: trivial comparison" in c.summary()
    assert json.dumps(c.to_dict(), allow_nan=False)
    # spikes alone make it non-trivial
    assert not compare(make_run(SPIKES, state=flat), copy_run(make_run(SPIKES, state=flat))).trivial


# --------------------------------------------------------------------------------------------
# Statistical tier
# --------------------------------------------------------------------------------------------


def poisson_run(seed, rate_Hz, n_neurons=60, n_steps=5000, dt=0.1, common=0.0):
    rng = np.random.default_rng(seed)
    p = rate_Hz * dt * 1e-3
    shared = rng.random(n_steps) < p * common
    spikes = (rng.random((n_steps, n_neurons)) < p * (1 - common)) | shared[:, None]
    step, neuron = np.nonzero(spikes)
    return RunResult.from_spikes(dt, n_steps, 1, np.zeros_like(step), step, neuron, np.array([0]), {}, {})


def test_population_statistics_against_single_train_metrics():
    run = make_run([(0, s, 3) for s in (10, 30, 50, 70)] + [(0, s, 7) for s in (5, 9, 40, 41)] + [(1, 100, 3)])
    stats = population_statistics(run, {"E": [3, 7, 11], "I": [20]}, bin_ms=0.2)
    e = stats["E"]
    duration_s = N_STEPS * DT * 1e-3
    np.testing.assert_allclose(e.rate_Hz, np.array([4, 4, 0, 1, 0, 0]) / duration_s)
    t7 = (np.array([5, 9, 40, 41]) + 1) * DT
    np.testing.assert_allclose(e.cv_isi, [0.0, metrics.cv_isi(t7)], atol=1e-12)  # neuron 3 regular
    np.testing.assert_allclose(e.lv, [0.0, metrics.lv(t7)], atol=1e-12)
    assert np.all(np.abs(e.cc) <= 1) and e.cc.size > 0  # pairs with silent neuron 11 dropped
    assert stats["I"].rate_Hz.tolist() == [0.0, 0.0] and stats["I"].cv_isi.size == 0
    with pytest.raises(SpecError, match="bin_ms"):
        population_statistics(run, {"E": [3]}, bin_ms=0.25)


def test_population_correlation_of_identical_trains_is_one():
    run = make_run([(0, s, n) for s in (10, 30, 31, 90) for n in (3, 7)], n_trials=1)
    cc = population_statistics(run, {"E": [3, 7]}, bin_ms=1.0)["E"].cc
    assert cc.shape == (1,) and cc[0] == pytest.approx(1.0, abs=1e-15)


def test_emd_acceptance_rule():
    rng = np.random.default_rng(1)
    ref_a = [rng.normal(5, 1, 300) for _ in range(5)]
    ref_b = [rng.normal(5, 1, 300) for _ in range(5)]
    same = [rng.normal(5, 1, 300) for _ in range(5)]
    shifted = [rng.normal(5.5, 1, 300) for _ in range(5)]
    ok = emd_acceptance(same, ref_a, ref_b, statistic="rate_Hz")
    bad = emd_acceptance(shifted, ref_a, ref_b, statistic="rate_Hz")
    assert ok.passed and not bad.passed
    assert ok.emd_candidate.size == 25 and ok.emd_reference.size == 25
    assert bad.cohens_d == pytest.approx(0.5, abs=0.1)
    assert bad.cohens_d_ci95[0] < bad.cohens_d < bad.cohens_d_ci95[1]
    # one run per set: literally EMD(candidate, A) <= EMD(B, A)
    single = emd_acceptance(same[:1], ref_a[:1], ref_b[:1])
    assert single.passed == (single.emd_candidate[0] <= single.emd_reference[0])
    assert json.dumps(bad.to_dict(), allow_nan=False)
    empty = emd_acceptance([np.array([])], ref_a, ref_b)
    assert not empty.passed and "not testable" in empty.note


def test_statistical_comparison_end_to_end():
    pops = {"E": np.arange(40), "I": np.arange(40, 60)}

    def stats(seeds, rate):
        return [population_statistics(poisson_run(s, rate, common=0.2), pops, bin_ms=2.0) for s in seeds]

    # 10 runs per set, as in the NEST GPU protocol (with 4, an equivalent candidate fails one of
    # these six checks in ~7 % of seed draws; with 10, in none of 50 draws we tried).
    ref_a, ref_b = stats(range(0, 10), 20.0), stats(range(10, 20), 20.0)
    good = statistical_comparison(stats(range(20, 30), 20.0), ref_a, ref_b)
    bad = statistical_comparison(stats(range(30, 40), 40.0), ref_a, ref_b)
    assert good.passed, good.summary()
    assert not bad.passed
    assert not bad.results[("E", "rate_Hz")].passed and bad.results[("E", "rate_Hz")].cohens_d > 1
    assert "statistical tier: FAILED" in bad.summary()
    assert json.dumps(bad.to_dict(), allow_nan=False)


def test_comparison_is_a_plain_dataclass_of_parts():
    a = make_run(SPIKES)
    c = compare(a, copy_run(a))
    assert isinstance(c, Comparison) and c.traces is None and c.passed
