"""The V1-sized benchmark network (snnval.v1_benchmark): sizes, in-degrees, signs, determinism, rates."""

from __future__ import annotations

import numpy as np
import pytest

from snnval.v1_benchmark import (
    BKG_IN_DEGREE,
    INHIBITORY_CLASSES,
    LGN_IN_DEGREE,
    TARGET_RATE_HZ,
    V1_N_NEURONS,
    V1BenchConfig,
    build_v1_benchmark,
    population_names,
    population_rates_Hz,
    population_sizes,
    rate_key,
    v1_stimulus,
)


def test_population_sizes_sum_to_v1_and_are_plausible():
    sizes = population_sizes(V1_N_NEURONS)
    assert sum(sizes.values()) == V1_N_NEURONS == 51_978
    assert len(sizes) == 17 and list(sizes) == population_names() and min(sizes.values()) > 100
    n_exc = sum(v for k, v in sizes.items() if k.endswith("_E"))
    assert 0.8 < n_exc / V1_N_NEURONS < 0.9  # ~85 % excitatory (modelling choice after Billeh et al. 2020)


def test_small_network_structure_and_determinism():
    cfg = V1BenchConfig(scale=1 / 32)
    spec = build_v1_benchmark(5, cfg)
    n = spec.n_neurons
    assert n == round(V1_N_NEURONS / 32) and spec.n_sources == cfg.n_lgn + cfg.n_bkg and cfg.n_lgn == 544
    assert len(spec.synapses) == 100 * n
    np.testing.assert_array_equal(np.bincount(spec.synapses.post, minlength=n), 100)  # fixed in-degree
    inh = np.zeros(n, bool)
    for p, ids in spec.populations.items():
        inh[ids] = p.split("_")[1] in INHIBITORY_CLASSES
    syn = spec.synapses
    assert np.all((syn.weight_pA < 0) == inh[syn.pre])  # Dale: sign by the presynaptic class
    np.testing.assert_array_equal(syn.receptor, inh[syn.pre] + 2 * inh[syn.post])
    assert set(np.unique(syn.delay_ms)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    lgn = spec.inputs.pre < cfg.n_lgn
    k_lgn = np.bincount(spec.inputs.post[lgn], minlength=n)
    for p, ids in spec.populations.items():
        assert np.all(k_lgn[ids] == LGN_IN_DEGREE[p.split("_")[0]])
    np.testing.assert_array_equal(np.bincount(spec.inputs.post[~lgn], minlength=n), BKG_IN_DEGREE)
    again = build_v1_benchmark(5, cfg)
    assert again.content_hash() == spec.content_hash()
    assert build_v1_benchmark(6, cfg).content_hash() != spec.content_hash()
    stim = v1_stimulus(spec, 2, n_steps=600)
    assert stim.content_hash() == v1_stimulus(spec, 2, n_steps=600).content_hash()
    assert np.all(stim.events.amplitude == 1.0) and stim.events.source.max() < spec.n_sources
    # LGN rates rise with the grating at 100 ms (2x the spontaneous mean); background stays at 100 Hz
    lgn_ev = stim.events.source < cfg.n_lgn
    before = np.count_nonzero(lgn_ev & (stim.events.step < 100)) / 100
    after = np.count_nonzero(lgn_ev & (stim.events.step >= 100)) / 500
    assert 1.6 < after / before < 2.4


@pytest.mark.nightly
@pytest.mark.sim("nest")
def test_rates_at_one_eighth_size_are_realistic():
    """NEST at 1/8 size fires at the tuned rates: each class within a factor 2 of its target."""
    from snnval.adapters import RunConfig, get_adapter
    from snnval.semantics import profile

    adapter = get_adapter("nest")
    if not adapter.availability().available:
        pytest.skip(adapter.availability().reason)
    spec = build_v1_benchmark(1, V1BenchConfig(scale=0.125))
    stim = v1_stimulus(spec, 2)
    res = adapter.run(
        spec, stim, RunConfig(profile("nest-glif-psc"), record=(), record_neurons=np.zeros(0, np.int64), threads=2)
    )
    rates = population_rates_Hz(spec, res.spike_neuron, 0.6)
    for key, target in TARGET_RATE_HZ.items():
        pops = [p for p in rates if rate_key(p) == key]
        sizes = np.array([spec.populations[p].size for p in pops])
        r = float(np.dot([rates[p] for p in pops], sizes) / sizes.sum())
        assert target / 2 < r < target * 2, (key, r, target)
    assert 2.0 < res.n_spikes / spec.n_neurons / 0.6 < 8.0


def test_v1_accuracy_model_readout_and_stimulus():
    from snnval.v1_accuracy import POOL_SIZE, v1_accuracy_model, v1_digit_stimulus

    spec, readout, n_lgn = v1_accuracy_model(1, scale=1 / 32)
    assert readout.pool_neurons.shape == (10, POOL_SIZE) == (10, 30)
    assert np.isin(readout.pool_neurons, spec.populations["L5_E"]).all()
    assert np.unique(readout.pool_neurons).size == 10 * POOL_SIZE
    img = np.zeros((2, 8, 8))
    img[0, 2:6, 3] = 1.0  # a bar, and a blank image
    stim = v1_digit_stimulus(spec, img.reshape(2, 64), n_lgn, seed=3)
    assert stim.n_steps == 600 and stim.n_trials == 2 and np.all(stim.events.amplitude == 1.0)
    lgn = stim.events.source < n_lgn
    during = lgn & (stim.events.step >= 50) & (stim.events.step < 150)
    # the bar drives its fibres above the spontaneous rate; the blank image leaves only spontaneous events
    assert np.count_nonzero(during & (stim.events.trial == 0)) > 1.5 * np.count_nonzero(
        during & (stim.events.trial == 1)
    )


@pytest.mark.nightly
@pytest.mark.sim("tf")
@pytest.mark.sim("nest")
def test_v1_accuracy_check_tf_and_nest_agree_at_small_scale():
    """The accuracy-tier pipeline at 1/20 size: both simulators run, predictions agree, spikes are identical."""
    from snnval.v1_accuracy import v1_accuracy_check

    out = v1_accuracy_check(n_samples=2, scale=0.05)
    assert out["tf"]["n_spikes"] > 1000 and out["identical_spikes"]
    assert out["agreement"]["k"] == out["agreement"]["n"] == 2
    assert out["tf"]["realtime_factor"] > 0 and out["nest"]["realtime_factor"] > 0
