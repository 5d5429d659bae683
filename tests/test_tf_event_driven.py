"""The TF reference's event-driven propagation against its dense sparse-matmul formulation (real TF).

A plain run on a large network propagates only the (neuron, delay) columns that spiked and the sources
that emitted (CSR by column, ``unsorted_segment_sum``); training and small networks keep the dense
formulation (a sparse (N*R x N*D) matmul against the spike buffer every step, and the precomputed
(B, T, N, R) input drive), which was the only forward pass before. Both add the same terms in the
same order, so spikes and synaptic currents must be bit-identical. V_m may differ in the last bits:
TensorFlow's graph optimiser (Grappler's arithmetic optimisation) rewrites the two graphs' V update
differently (with it switched off both agree bit for bit; measured max 2.8e-14 mV on glif3_network and
on the V1 benchmark network), hence ATOL_MV.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.semantics import profile
from snnval.stimulus import Events, FrozenStimulus
from snnval.v1_benchmark import V1BenchConfig, build_v1_benchmark, v1_stimulus

tf = pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.sim("tf")]

#: a few ulp of ~70 mV (2.8e-14 measured), far below any tolerance of the suite (1e-6 mV trace tier)
ATOL_MV = 1e-12


def _both(spec, stim, prof, record_ids):
    from snnval.adapters.tf_reference import TFGlif3Network

    net = TFGlif3Network(spec, stim.dt_ms, profile(prof), "float64")
    x = stim.events.dense(stim.n_trials, stim.n_steps, max(spec.n_sources, 1))
    out = []
    for event_driven in (True, False):
        f = tf.function(lambda x_, e=event_driven: net.simulate(x_, None, record_ids, ("V_m", "I_syn"), event_driven=e))
        out.append({k: v.numpy() for k, v in f(x).items()})
    return out


@pytest.mark.parametrize("prof", ["nest-glif-psc", "tf-billeh"])
def test_event_driven_equals_dense_on_a_small_v1_network(prof):
    spec = build_v1_benchmark(3, V1BenchConfig(scale=0.02))
    stim = v1_stimulus(spec, 4, n_trials=2, n_steps=150)
    # real amplitudes and a second input delay group: the input path multiplies by the event's value
    amp = np.random.default_rng(0).uniform(0.5, 1.5, len(stim.events))
    ev = stim.events
    stim = FrozenStimulus(1.0, 150, 2, events=Events(ev.trial, ev.step, ev.source, amp))
    inputs = spec.inputs
    delay = np.where(np.arange(len(inputs)) % 3 == 0, 2.0, 1.0)
    spec = type(spec)(**{**spec.__dict__, "inputs": type(inputs)(**{**inputs.__dict__, "delay_ms": delay})})
    event, dense = _both(spec, stim, prof, np.arange(0, spec.n_neurons, 7))
    assert event["z"].sum() > 200 and event["z"][1].sum() != event["z"][0].sum()  # active, trials differ
    np.testing.assert_array_equal(event["z"], dense["z"])
    np.testing.assert_array_equal(event["I_syn"], dense["I_syn"])
    assert np.abs(event["I_syn"]).max() > 1.0
    np.testing.assert_allclose(event["V_m"], dense["V_m"], rtol=0, atol=ATOL_MV)


def test_event_driven_equals_dense_on_glif3_network():
    from snnval.scenarios import get_scenario

    spec, stim = get_scenario("glif3_network").build(1.0)
    event, dense = _both(spec, stim, "nest-glif-psc", np.arange(spec.n_neurons))
    assert event["z"].sum() > 1000
    np.testing.assert_array_equal(event["z"], dense["z"])
    np.testing.assert_array_equal(event["I_syn"], dense["I_syn"])
    np.testing.assert_allclose(event["V_m"], dense["V_m"], rtol=0, atol=ATOL_MV)


def test_event_driven_is_chosen_by_size_and_never_for_training():
    from snnval.adapters.tf_reference import EVENT_DRIVEN_MIN_SYNAPSES, TFGlif3Network
    from snnval.scenarios import get_scenario

    small, _ = get_scenario("glif3_network").build(1.0)
    assert not TFGlif3Network(small, 1.0, profile("nest-glif-psc")).use_event_driven()
    big = build_v1_benchmark(1, V1BenchConfig(scale=0.05))
    assert len(big.synapses) + len(big.inputs) >= EVENT_DRIVEN_MIN_SYNAPSES
    net = TFGlif3Network(big, 1.0, profile("nest-glif-psc"))
    assert net.use_event_driven()
    with pytest.raises(ValueError, match="training"):
        net.simulate(np.zeros((1, 5, big.n_sources)), train=True, event_driven=True)
