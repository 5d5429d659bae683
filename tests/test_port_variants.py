"""Each porting mistake transforms the faithful mapping exactly as its description says."""

from __future__ import annotations

import numpy as np
import pytest

from snnval.errors import SpecError
from snnval.loaders import Readout
from snnval.port_variants import FAITHFUL_NEST, LADDER, MISTAKES, apply_mistakes, variant_plan
from snnval.scenarios import SCENARIOS
from snnval.stimulus import TF_INPUT_SCALE, Events

pytestmark = pytest.mark.quick


@pytest.fixture(scope="module")
def faithful():
    spec, stim = SCENARIOS["glif3_network"].build(1.0)
    # the deterministic TF input: real amplitudes 1.3 p on the LGN sources (not 0/1 spikes)
    lgn = stim.events.source != spec.source_names.index("bkg")
    ev = stim.events
    amp = np.where(lgn, TF_INPUT_SCALE * 0.02, ev.amplitude)
    stim = type(stim)(stim.dt_ms, stim.n_steps, stim.n_trials, Events(ev.trial, ev.step, ev.source, amp))
    readout = Readout(np.arange(20).reshape(10, 2))
    return spec, stim, readout


def _apply(faithful, *mistakes, seed=3):
    spec, stim, readout = faithful
    return apply_mistakes(spec, stim, readout, tuple(mistakes), seed)


def test_no_mistake_is_the_faithful_mapping(faithful):
    m = _apply(faithful)
    assert m.semantics == FAITHFUL_NEST
    assert m.semantics.initial_v == "v_reset" and m.semantics.delay_rounding == "tf_clip_half_even"
    np.testing.assert_array_equal(m.spec.synapses.weight_pA, faithful[0].synapses.weight_pA)
    assert m.stimulus.content_hash() == faithful[1].content_hash()


def test_weights_div_1000(faithful):
    spec = faithful[0]
    m = _apply(faithful, "weights_div_1000")
    vsc = spec.per_neuron("vsc_mV")
    np.testing.assert_allclose(m.spec.synapses.weight_pA * vsc[spec.synapses.post] * 1000, spec.synapses.weight_pA)
    np.testing.assert_allclose(m.spec.inputs.weight_pA * vsc[spec.inputs.post] * 1000, spec.inputs.weight_pA)


def test_clip_sampling_turns_amplitudes_into_spikes(faithful):
    spec, stim, _ = faithful
    bkg = spec.source_names.index("bkg")
    m = _apply(faithful, "clip_sampling")
    ev = m.stimulus.events
    lgn = ev.source != bkg
    assert set(np.unique(ev.amplitude[lgn])) == {1.0}
    n_before = int((stim.events.source != bkg).sum())
    # each event of amplitude 1.3 * 0.02 becomes a spike with probability 0.02: binomial, 6 sigma
    expected, sd = 0.02 * n_before, np.sqrt(n_before * 0.02 * 0.98)
    assert abs(lgn.sum() - expected) < 6 * sd
    np.testing.assert_array_equal(ev.amplitude[~lgn], stim.events.amplitude[stim.events.source == bkg])


@pytest.mark.parametrize(("name", "window"), [("window_50_100", (50.0, 100.0)), ("window_50_200", (50.0, 200.0))])
def test_readout_windows(faithful, name, window):
    assert _apply(faithful, name).readout.window_ms == window


def test_no_background(faithful):
    spec = faithful[0]
    m = _apply(faithful, "no_background")
    assert not np.any(m.stimulus.events.source == spec.source_names.index("bkg"))
    assert len(m.stimulus.events) < len(faithful[1].events)


def test_independent_background_keeps_the_mean_drive(faithful):
    spec, stim, _ = faithful
    bkg = spec.source_names.index("bkg")
    m = _apply(faithful, "independent_background")
    assert m.spec.n_sources == spec.n_sources + spec.n_neurons
    new_bkg = m.spec.inputs.pre >= spec.n_sources
    # every neuron's background synapse now comes from its own source
    np.testing.assert_array_equal(m.spec.inputs.pre[new_bkg] - spec.n_sources, m.spec.inputs.post[new_bkg])
    ev = m.stimulus.events
    per_source = np.bincount(
        ev.source[ev.source >= spec.n_sources] - spec.n_sources,
        weights=ev.amplitude[ev.source >= spec.n_sources],
        minlength=spec.n_neurons,
    )
    mean_common = stim.events.amplitude[stim.events.source == bkg].sum()
    # Binomial(10, 0.1) per step: mean 1 per step and source; 1000 steps -> sd ~ 30 per source
    assert abs(per_source.mean() - mean_common) < 0.1 * stim.n_steps
    assert per_source.std() > 5.0, "independent sources must differ from each other"


def test_initial_v_and_delays(faithful):
    m = _apply(faithful, "initial_v_e_l", "delays_sort_bug")
    assert m.semantics.initial_v == "e_l"
    d0, d1 = faithful[0].synapses.delay_ms, m.spec.synapses.delay_ms
    np.testing.assert_array_equal(np.sort(d0), np.sort(d1))
    assert np.mean(d0 != d1) > 0.5


def test_deterministic_for_a_seed(faithful):
    a = _apply(faithful, *MISTAKES.keys() - {"window_50_200"}, seed=5)
    b = _apply(faithful, *MISTAKES.keys() - {"window_50_200"}, seed=5)
    assert a.stimulus.content_hash() == b.stimulus.content_hash()
    assert a.spec.content_hash() == b.spec.content_hash()


def test_unknown_mistake_refused(faithful):
    with pytest.raises(SpecError, match="mistakes"):
        _apply(faithful, "weights_times_pi")


def test_plan_covers_each_mistake_and_the_ladder():
    plan = variant_plan()
    names = [p[0] for p in plan]
    assert names[0] == "faithful" and set(MISTAKES) <= set(names)
    ladder = [p[2] for p in plan if p[0].startswith("ladder ")]
    assert ladder[0] == LADDER and all(len(a) == len(b) + 1 for a, b in zip(ladder, ladder[1:], strict=False))
