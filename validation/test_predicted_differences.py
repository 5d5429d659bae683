"""TF with its own profile (tf-billeh) vs NEST glif_psc: the differences GLIF3_SEMANTICS.md predicts.

Each test runs real NEST and the TF reference and checks one predicted difference at the
step where it must show; the bisect tests then show that the whole difference is named knobs.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.adapters import RunConfig, get_adapter
from snnval.allen_cells import allen_cells
from snnval.bisect import bisect_knobs
from snnval.scenarios import SCENARIOS, SINGLE_NEURON_VARIANTS
from snnval.semantics import profile, refractory_steps
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import CurrentSteps, FrozenStimulus
from validation.conftest import require, scenario_params

pytestmark = [pytest.mark.quick, pytest.mark.sim("nest"), pytest.mark.sim("tf")]


@pytest.fixture(autouse=True)
def _both():
    require("nest")
    require("tf")


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_nest_refractory_period_is_one_step_longer(dt):
    """Under a drive that fires whenever allowed: NEST ISI = ceil(t_ref/h) + 1, TF ISI = ceil(t_ref/dt)."""
    t_ref = 2.4
    cells = allen_cells(["318808427"], [dict(t_ref=t_ref, asc_amps=(0.0, 0.0))])
    spec = NetworkSpec("strong_drive", cells, np.zeros(1, np.int64), Synapses.empty()).validated()
    cur = CurrentSteps(np.zeros(1, np.int64), np.array([2]), np.zeros(1, np.int64), np.array([40000.0 / dt]))
    stim = FrozenStimulus(dt, int(40 / dt), 1, currents=cur)
    isi = {}
    for sim, prof in (("nest", "nest-glif-psc"), ("tf", "tf-billeh")):
        r = get_adapter(sim).run(spec, stim, RunConfig(semantics=profile(prof)))
        assert r.n_spikes >= 4, f"{sim} must fire repeatedly"
        isi[sim] = set(np.diff(r.spike_step).tolist())
    n_ref = int(refractory_steps(np.array([t_ref]), dt)[0])
    assert isi["nest"] == {n_ref + 1}
    assert isi["tf"] == {int(np.ceil(t_ref / dt - 1e-9))}


@pytest.mark.parametrize(("scenario", "dt"), [p for p in scenario_params() if p.values[0] == "synaptic_events"])
def test_psp_reaches_v_one_step_later_in_tf(scenario_run, scenario, dt):
    """Latency: an event emitted at s with delay d moves V at s+d+1 in NEST, s+d+2 in TF (Euler PSC lag)."""
    spec, stim = SCENARIOS[scenario].build(dt)
    nest = scenario_run(scenario, "nest", "nest-glif-psc", dt).state["V_m"][0, :, 0]
    tf = scenario_run(scenario, "tf", "tf-billeh", dt).state["V_m"][0, :, 0]
    rest = spec.cells.E_L_mV[0]
    arrival = int(stim.events.step[0]) + int(round(1.0 / dt))  # input delay 1 ms
    assert np.all(nest[: arrival + 1] == rest) and nest[arrival + 1] != rest
    assert np.all(tf[: arrival + 2] == rest) and tf[arrival + 2] != rest
    # same PSP amplitude within the Euler integration error (a few % at dt = 1 ms)
    peak_nest, peak_tf = np.max(nest[:200] - rest), np.max(tf[:200] - rest)
    assert abs(peak_tf - peak_nest) / peak_nest < 0.05


@pytest.mark.parametrize(("scenario", "dt"), [p for p in scenario_params() if p.values[0] == "single_neuron_step"])
def test_reset_and_initial_v(scenario_run, scenario, dt):
    """NEST: V = V_reset in the spike step, start at E_L. TF: V above threshold in the spike step, start at V_reset."""
    spec, _ = SCENARIOS[scenario].build(dt)
    nest = scenario_run(scenario, "nest", "nest-glif-psc", dt)
    tf = scenario_run(scenario, "tf", "tf-billeh", dt)
    c = spec.cells
    for r, hard in ((nest, True), (tf, False)):
        assert r.n_spikes >= 10
        v = r.state["V_m"][0]
        at_spike = v[r.spike_step, r.spike_neuron]
        if hard:
            np.testing.assert_allclose(at_spike, c.V_reset_mV[r.spike_neuron], atol=1e-9)
        else:
            assert np.all(at_spike > c.V_th_mV[r.spike_neuron])
    i = [name for name, _, _ in SINGLE_NEURON_VARIANTS].index("reset_below_rest")
    assert nest.state["V_m"][0, 0, i] == pytest.approx(c.E_L_mV[i], abs=1e-9)  # no input yet at step 0
    assert tf.state["V_m"][0, 0, i] < c.E_L_mV[i] - 5.0  # relaxing from V_reset, 10 mV below rest


@pytest.mark.parametrize("scenario", ["synaptic_events", "single_neuron_step"])
def test_bisect_names_the_knob(scenario):
    """The first divergence is explained by a named knob, and no unnamed residual remains."""
    report = bisect_knobs(scenario, "tf", "tf-billeh", "nest", "nest-glif-psc", 1.0)
    assert report.first_divergence is not None, "tf-billeh and NEST must differ"
    assert report.residual.passed, report.summary()
    assert report.explained, report.summary()
    if scenario == "synaptic_events":
        assert report.explaining_knobs == ["psc_to_v"], report.summary()
    assert report.ladder[-1][1] == 0, "with every knob flipped, TF must match NEST spike for spike"


@pytest.mark.nightly
def test_bisect_network_difference_is_all_named_knobs():
    report = bisect_knobs("glif3_network", "tf", "tf-billeh", "nest", "nest-glif-psc", 1.0)
    assert report.spikes_mismatched > 100, "tf-billeh and NEST must differ on the network"
    assert report.explained and report.residual.passed, report.summary()
    assert report.ladder[-1][1] == 0
