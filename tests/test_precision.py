"""The precision tier's classification on hand-made runs (the real controls are in validation/)."""

from __future__ import annotations

import numpy as np
import pytest

from snnval.acceptance import PRECISION_RULES, precision_rule
from snnval.contract import RunResult
from snnval.errors import SpecError
from snnval.precision import accuracy_movement, precision_compare, rounding_bound_mV
from snnval.scenarios import get_scenario

pytestmark = pytest.mark.quick

SPEC = get_scenario("synaptic_events").build_spec().validated()  # one Allen cell
V_TH = float(SPEC.per_neuron("V_th_mV")[0])
E_L = float(SPEC.per_neuron("E_L_mV")[0])
T = 400


def _run(v, spike_steps):
    steps = np.asarray(spike_steps, np.int64)
    z = np.zeros(steps.size, np.int64)
    return RunResult.from_spikes(1.0, T, 1, z, steps, z, np.array([0]), {"V_m": v[None, :, None]}, {})


def test_margin_within_bound_is_a_precision_flip_and_beyond_is_real():
    v = np.full(T, E_L + 0.5 * (V_TH - E_L))
    bound = rounding_bound_mV(_run(v, []), SPEC, precision_rule("float32", 1.0))[0, 100, 0]
    # 16 eps x (3 x 10 mV per step) x tau_m/dt steps: ~2e-3 mV, far below a PSP (~0.1-1 mV)
    assert 1e-4 < bound < 1e-2
    for margin, kind in ((0.1 * bound, "precision_flip"), (10 * bound, "real")):
        ref_v = v.copy()
        ref_v[100] = V_TH + margin  # the reference spikes at step 100 just above threshold
        cand_v = ref_v.copy()
        cand_v[100] = V_TH - margin  # the candidate stays just below: no spike
        pc = precision_compare(_run(ref_v, [50, 100, 300]), _run(cand_v, [50, 300]), SPEC)
        assert [e.kind for e in pc.episodes] == [kind]
        e = pc.episodes[0]
        assert e.first.step == 100 and e.first.kind == "missing" and e.n_spike_mismatches == 1
        assert e.margin_mV == pytest.approx(margin, rel=1e-6)
        assert e.realigned and e.reach_steps == 1
        assert pc.passed is (kind == "precision_flip")


def test_episodes_split_after_realignment_and_run_to_the_end():
    v = np.full(T, V_TH)  # margin 0 everywhere: every mismatch is a flip
    gap = int(PRECISION_RULES["float32"].realign_ms)
    ref = _run(v, [20, 30, 21 + gap + 1, T - gap + 10])
    cand = _run(v, [21, 30])
    pc = precision_compare(ref, cand, SPEC)
    assert pc.n_flips == 3 and pc.n_real == 0
    first, second, third = pc.episodes
    assert (first.first.step, first.end_step, first.realigned) == (20, 21, True)  # 20 missing, 21 extra
    assert (second.first.step, second.realigned) == (21 + gap + 1, True)  # more than the gap after the first
    assert (third.first.step, third.realigned) == (T - gap + 10, False)  # too close to the end to re-align
    assert pc.tolerant.n_matched == 2  # 20 <-> 21 within +-1 step, 30 <-> 30


def test_requires_recorded_voltage():
    v = np.full(T, E_L)
    bare = RunResult.from_spikes(1.0, T, 1, [], [], [], np.array([0]), {}, {})
    with pytest.raises(SpecError, match="V_m"):
        precision_compare(_run(v, []), bare, SPEC)
    with pytest.raises(SpecError, match="dtype"):
        precision_rule("float16", 1.0)


def test_accuracy_movement_paired():
    labels = np.arange(100) % 10
    same = accuracy_movement(labels, labels, labels)
    assert same["prediction_agreement"] == 1.0 and not same["moved"]
    worse = labels.copy()
    worse[:30] = (worse[:30] + 1) % 10  # 30 trials lost, none gained
    moved = accuracy_movement(labels, worse, labels)
    assert moved["mcnemar_b"] == 30 and moved["mcnemar_c"] == 0 and moved["moved"]


def test_hard_reset_margin_is_read_from_the_run_that_did_not_spike():
    """With reset=hard_same_step the spiking run records V_reset in the spike step: its V says nothing
    about the margin, so the other run's (pre-reset, within B of the reference) V is used."""
    v = np.full(T, E_L + 0.5 * (V_TH - E_L))
    ref_v, cand_v = v.copy(), v.copy()
    ref_v[100] = float(SPEC.per_neuron("V_reset_mV")[0])  # hard reset in the spike step
    cand_v[100] = V_TH - 1e-6
    flip = precision_compare(_run(ref_v, [100]), _run(cand_v, []), SPEC, hard_reset=True)
    assert [e.kind for e in flip.episodes] == ["precision_flip"]
    assert flip.episodes[0].margin_mV == pytest.approx(1e-6, rel=1e-3)
    # read without the hard-reset rule, the reference's V_reset is ~15 mV from threshold: "real"
    naive = precision_compare(_run(ref_v, [100]), _run(cand_v, []), SPEC, hard_reset=False)
    assert [e.kind for e in naive.episodes] == ["real"]
