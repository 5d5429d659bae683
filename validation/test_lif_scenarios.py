"""LIF single neuron (scenario ``lif_single_neuron``) against closed forms, on every capable adapter.

A LIF at rest E_L driven by a current I from time t_on reaches V_th at
t_on + tau_m ln(I tau_m / (I tau_m - (V_th - E_L) C_m)) (snnval.scenarios.lif.first_spike_latency_ms).
On the step grid a spike is reported in the step in which V crosses: with exact integration the
reported time (end of that step, (k + 1) dt) lies in [t_cross, t_cross + dt). That one-step bound is
the grid's limit: nothing finer is visible on the grid, and any error in the integration or in the
onset convention (the current change at step s first acts from (s + 2) dt, snnval.stimulus) moves it
out. Below rheobase V follows E_L + I tau_m / C_m (1 - exp(-(t - t_on) / tau_m)) to rounding error.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.adapters import RunConfig, get_adapter
from snnval.errors import NotApplicable
from snnval.scenarios import SCENARIOS
from snnval.scenarios.lif import IAF_PSC_EXP, LIF_ON_MS, LIF_VARIANTS, first_spike_latency_ms
from snnval.semantics import profile
from validation.conftest import require

pytestmark = pytest.mark.quick

P = IAF_PSC_EXP
TAU, C, VTH, EL, VRESET = P["tau_m"], P["C_m"], P["V_th"], P["E_L"], P["V_reset"]
#: exact integration in float64: V agrees with the closed form to rounding (~1e-12 mV over 3000 steps)
V_ATOL_MV = 1e-9


def _run(sim: str, dt: float, reset: str):
    require(sim)
    adapter = get_adapter(sim)
    if not adapter.profiles:
        pytest.skip(f"{sim} declares no semantics profile of its own")
    sem = profile(adapter.profiles[0]).with_knobs(reset=reset)
    spec, stim = SCENARIOS["lif_single_neuron"].build(dt)
    try:
        adapter.check(spec, stim, RunConfig(semantics=sem))
    except NotApplicable as exc:
        pytest.skip(f"{sim} with reset={reset}: not applicable: {exc}")
    return adapter.run(spec, stim, RunConfig(semantics=sem)), stim


def _onset_ms(dt: float) -> float:
    return (round(LIF_ON_MS / dt) + 2) * dt


@pytest.mark.parametrize("dt", [1.0, 0.1])
@pytest.mark.parametrize("reset", ["hard_same_step", "subtract_same_step"])
def test_first_spike_latency_within_one_step_of_closed_form(sim, dt, reset):
    res, _ = _run(sim, dt, reset)
    checked = 0
    for i, (name, amp, _) in enumerate(LIF_VARIANTS):
        t_cross = _onset_ms(dt) + first_spike_latency_ms(amp, TAU, C, VTH, EL)
        steps = res.spike_step[res.spike_neuron == i]
        if not np.isfinite(t_cross):
            assert steps.size == 0, f"{name}: below rheobase yet spikes at steps {steps[:5]}"
            continue
        assert steps.size, f"{name}: no spike (closed form: {t_cross:.4f} ms)"
        t_grid = (steps[0] + 1) * dt
        assert 0.0 <= t_grid - t_cross < dt, f"{name}: reported {t_grid} ms, closed form {t_cross:.4f} ms"
        checked += 1
    assert checked == 4


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_subthreshold_voltage_follows_closed_form(sim, dt):
    res, _ = _run(sim, dt, "hard_same_step")
    i = [v[0] for v in LIF_VARIANTS].index("subthreshold")
    amp = LIF_VARIANTS[i][1]
    t_end = (np.arange(res.n_steps) + 1) * dt  # recorded step k = state at (k + 1) dt
    on, off = _onset_ms(dt), (round(220.0 / dt) + 2) * dt
    during = (t_end >= on) & (t_end <= off)
    expected = EL + amp * TAU / C * -np.expm1(-(t_end[during] - on) / TAU)
    v = res.state["V_m"][0, during, i]
    assert np.ptp(v) > 5.0  # the trace moves (guards against a trivially matching flat trace)
    np.testing.assert_allclose(v, expected, rtol=0, atol=V_ATOL_MV)


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_hard_reset_and_refractory_period_give_the_closed_form_interval(sim, dt):
    """Hard reset: V = V_reset in the spike step, held for ceil(t_ref / dt) steps, then the latency again."""
    res, _ = _run(sim, dt, "hard_same_step")
    n_ref = int(np.ceil(P["t_ref"] / dt - 1e-9))
    if profile(get_adapter(sim).profiles[0]).refractory == "clamp_from_spike_step":
        n_ref -= 1  # the countdown starts in the spike step: held one step less (semantics.LIF_KNOB_VALUES)
    checked = 0
    for i, (name, amp, amp2) in enumerate(LIF_VARIANTS):
        steps = res.spike_step[res.spike_neuron == i]
        if steps.size < 2 or amp != amp2:
            continue
        v = res.state["V_m"][0, :, i]
        np.testing.assert_allclose(v[steps[0] : steps[0] + n_ref + 1], VRESET, atol=V_ATOL_MV, err_msg=name)
        restart = (steps[0] + 1 + n_ref) * dt  # V integrates again from V_reset = E_L
        t_cross = restart + first_spike_latency_ms(amp, TAU, C, VTH, VRESET)
        t_grid = (steps[1] + 1) * dt
        assert 0.0 <= t_grid - t_cross < dt, f"{name}: 2nd spike {t_grid} ms, closed form {t_cross:.4f} ms"
        checked += 1
    assert checked == 3  # dc_400, dc_600, dc_1100


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_soft_reset_subtracts_threshold_distance(sim, dt):
    """Soft reset: in the spike step V drops by V_th - V_reset, keeping its overshoot above V_th."""
    res, _ = _run(sim, dt, "subtract_same_step")
    for i, (name, amp, _) in enumerate(LIF_VARIANTS):
        steps = res.spike_step[res.spike_neuron == i]
        if not steps.size:
            continue
        v = res.state["V_m"][0, :, i]
        rise = amp / C * dt  # the largest rise of V in one step under current amp (from below V_th)
        overshoot = v[steps] - VRESET
        assert np.all((overshoot >= 0) & (overshoot < rise)), f"{name}: V after soft reset {v[steps][:3]}"
