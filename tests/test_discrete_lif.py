"""The discrete-time LIF rule in the TF reference (model lif_discrete) against hand-computed closed forms.

Scenario ``lif_discrete_single``: beta = 0.9, theta = V_th - E_L = 1 mV, u_reset = 0, g = 10 nS.
A DC current I switched on at step 5 first acts in step 7 (the suite's current convention: emitted at s,
arrives at s + 1, drives from s + 2, for every model) and adds a = (1 - beta) I / g per step, so with
u = 0 before, n steps of drive give u = a (1 - beta^n) / (1 - beta) (geometric series). For
I = 15 pA: a = 0.15 mV, u = 1.5 (1 - 0.9^n) > 1 first at n = 11 (0.9^10 = 0.349 > 1/3 > 0.9^11 = 0.314):
the first spike is in step 6 + 11 = 17.
Input events (weight 0.4 mV, delay 1 step) emitted at 10, 11, 12 arrive at 11, 12, 13:
u = 0.4, 0.76, 1.084 -> a spike in step 13 when inputs act in their arrival step.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.adapters import RunConfig, get_adapter
from snnval.errors import NotApplicable
from snnval.scenarios import SCENARIOS
from snnval.scenarios.lif import DISCRETE_BETA, DISCRETE_CELL, DISCRETE_ON_STEP, DISCRETE_VARIANTS
from snnval.semantics import PROFILES

pytestmark = pytest.mark.quick

DL = PROFILES["snn-discrete"]
BETA, EL = DISCRETE_BETA, DISCRETE_CELL["E_L"]
DC15, EVENTS = [v[0] for v in DISCRETE_VARIANTS].index("dc_15"), [v[0] for v in DISCRETE_VARIANTS].index("events")
ATOL = 1e-12  # float64 sums of a few dozen terms


def _run(sem):
    adapter = get_adapter("tf")
    if not adapter.availability().available:
        pytest.skip(adapter.availability().reason)
    spec, stim = SCENARIOS["lif_discrete_single"].build(1.0)
    res = adapter.run(spec, stim, RunConfig(semantics=sem))
    return res, res.state["V_m"][0] - EL


def _spikes(res, neuron):
    return res.spike_step[res.spike_neuron == neuron].tolist()


def test_hard_reset_next_step_closed_form():
    res, u = _run(DL)
    a = (1 - BETA) * 15.0 / 10.0
    first = DISCRETE_ON_STEP + 2  # the current drives u from step s + 2
    np.testing.assert_allclose(u[:first, DC15], 0.0, atol=ATOL)
    n = np.arange(1, 12)
    np.testing.assert_allclose(u[first : first + 11, DC15], a * (1 - BETA**n) / (1 - BETA), atol=ATOL)
    # hard_next_step: u restarts from 0 in the step after the spike, so the period is exactly 11 steps
    assert _spikes(res, DC15) == [17, 28, 39, 50, 61, 72]
    assert u[17, DC15] > 1.0  # the spike step keeps its supra-threshold value
    np.testing.assert_allclose(u[18, DC15], a, atol=ATOL)
    # events: 0.4, 0.76, 1.084 -> spike at 13; later 0.4 (31) decays; 0.8 (41) + 0.4*0.9^10 < 1; + 0.6 (42)
    np.testing.assert_allclose(u[11:14, EVENTS], [0.4, 0.4 * BETA + 0.4, (0.4 * BETA + 0.4) * BETA + 0.4], atol=ATOL)
    u41 = 0.8 + 0.4 * BETA**10
    np.testing.assert_allclose(u[41:43, EVENTS], [u41, u41 * BETA + 0.6], atol=ATOL)
    assert _spikes(res, EVENTS) == [13, 42]
    assert _spikes(res, 0) == []  # dc_8: u -> 0.8 < theta


def test_input_at_end_of_arrival_step_delays_input_events_by_one_step():
    res, u = _run(DL.with_knobs(input_timing="end_of_arrival_step"))
    assert _spikes(res, DC15) == [17, 28, 39, 50, 61, 72]  # currents keep their timing
    assert _spikes(res, EVENTS) == [14, 43]
    np.testing.assert_allclose(u[12, EVENTS], 0.4, atol=ATOL)


def test_subtractive_reset_next_step_closed_form():
    res, u = _run(DL.with_knobs(reset="subtract_next_step"))
    a = (1 - BETA) * 15.0 / 10.0
    u17 = a * (1 - BETA**11) / (1 - BETA)
    assert _spikes(res, DC15)[0] == 17
    # u[t] = beta u[t-1] + a - s[t-1] theta
    u18 = BETA * u17 + a - 1.0
    np.testing.assert_allclose(u[18, DC15], u18, atol=ATOL)
    # from u18 on, u[18 + m] = beta^m u18 + 1.5 (1 - beta^m) > 1 first at the smallest m with
    # beta^m < (1.5 - 1) / (1.5 - u18)  (u18 = 0.0763: m = 10)
    m = int(np.ceil(np.log(0.5 / (1.5 - u18)) / np.log(BETA)))
    assert _spikes(res, DC15)[1] == 18 + m == 28


def test_same_step_resets():
    res, u = _run(DL.with_knobs(reset="hard_same_step"))
    assert _spikes(res, DC15)[:2] == [17, 28]  # u_reset = 0: the same spike train as hard_next_step
    np.testing.assert_allclose(u[_spikes(res, DC15), DC15], 0.0, atol=ATOL)  # recorded V is V_reset
    res, u = _run(DL.with_knobs(reset="subtract_same_step"))
    a = (1 - BETA) * 15.0 / 10.0
    np.testing.assert_allclose(u[17, DC15], a * (1 - BETA**11) / (1 - BETA) - 1.0, atol=ATOL)


def test_glif3_refuses_the_discrete_only_knob_values():
    """Fail closed: the TF GLIF3 step has no in-arrival-step input timing and no next-step hard reset."""
    spec, stim = SCENARIOS["single_neuron_step"].build(1.0)
    for sem in (DL, PROFILES["nest-glif-psc"].with_knobs(input_timing="in_arrival_step")):
        with pytest.raises(NotApplicable, match="for glif3"):
            get_adapter("tf").check(spec, stim, RunConfig(semantics=sem))


def test_nest_refuses_lif_discrete_and_same_step_inputs():
    spec, stim = SCENARIOS["lif_discrete_single"].build(1.0)
    with pytest.raises(NotApplicable):
        get_adapter("nest").check(spec, stim, RunConfig(semantics=DL))
    lif, lstim = SCENARIOS["lif_single_neuron"].build(1.0)
    sem = PROFILES["nest-glif-psc"].with_knobs(input_timing="in_arrival_step")
    with pytest.raises(NotApplicable, match="input_timing"):
        get_adapter("nest").check(lif, lstim, RunConfig(semantics=sem))
