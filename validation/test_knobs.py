"""Each semantics knob's isolated effect on one GLIF3 neuron, checked against the rule it states.

Every test flips exactly one knob of a base profile and asserts the rule of
GLIF3_SEMANTICS.md section 2 (TF) or 3 (NEST) step by step on the TF reference,
in float64. Exact-equality checks use atol 1e-9 mV: float64 rounding of a few
hundred multiply-adds on values of ~100 mV stays below 1e-12 mV.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.adapters import RunConfig, get_adapter
from snnval.allen_cells import allen_cells
from snnval.semantics import PROFILES, Semantics, refractory_steps
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus

pytestmark = [pytest.mark.quick, pytest.mark.sim("tf")]

ATOL_MV = 1e-9
CELL = "318808427"
V_RESET = -86.0  # below E_L (-76.17 mV) so that the reset value is distinguishable from rest
T_REF = 2.4


def _neuron(**overrides) -> NetworkSpec:
    cells = allen_cells([CELL], [dict(V_reset=V_RESET, t_ref=T_REF, **overrides)])
    inputs = Synapses(
        np.arange(4),
        np.zeros(4, np.int64),
        np.arange(4),
        np.array([80.0, -80.0, 80.0, -80.0]),
        np.array([1.0, 1.0, 1.0, 2.5]),
    )
    return NetworkSpec(
        "knob_neuron", cells, np.zeros(1, np.int64), Synapses.empty(), n_sources=4, inputs=inputs
    ).validated()


def _current(amp_pA: float, n_steps: int = 200, dt: float = 1.0, start: int = 5) -> FrozenStimulus:
    cur = CurrentSteps(np.zeros(1, np.int64), np.array([start]), np.zeros(1, np.int64), np.array([amp_pA]))
    return FrozenStimulus(dt, n_steps, 1, currents=cur)


def _event(source: int, step: int = 10, n_steps: int = 60, dt: float = 1.0) -> FrozenStimulus:
    return FrozenStimulus(
        dt, n_steps, 1, events=Events(np.zeros(1, np.int64), np.array([step]), np.array([source]), np.ones(1))
    )


def _run(spec, stim, sem: Semantics, record=("V_m", "ASC")):
    r = get_adapter("tf").run(spec, stim, RunConfig(semantics=sem, record=record))
    v = r.state["V_m"][0, :, 0]
    spikes = r.spike_step[r.spike_trial == 0]
    return r, v, spikes


def _free_step(spec: NetworkSpec, v_prev: np.ndarray, current_pA: np.ndarray, dt: float = 1.0) -> np.ndarray:
    """V after one step of pure leak + injected current, no ASC, no synapses (both profiles agree)."""
    c = spec.cells
    tau = c.tau_m_ms[0]
    p33 = np.exp(-dt / tau)
    p30 = (1 - p33) * tau / c.C_m_pF[0]
    return c.E_L_mV[0] + (v_prev - c.E_L_mV[0]) * p33 + p30 * current_pA


@pytest.fixture(scope="module")
def no_asc():
    return _neuron(asc_amps=(0.0, 0.0))


def test_hard_reset_sets_v_reset_in_the_spike_step(no_asc):
    sem = PROFILES["tf-billeh"].with_knobs(reset="hard_same_step")
    _, v, spikes = _run(no_asc, _current(400.0), sem)
    assert spikes.size >= 5, "the neuron must fire for this test to mean anything"
    np.testing.assert_allclose(v[spikes], V_RESET, atol=ATOL_MV)


def test_subtractive_reset_drops_v_by_vth_minus_vreset_one_step_late(no_asc):
    sem = PROFILES["nest-glif-psc"].with_knobs(reset="subtract_next_step", refractory="mask_spikes")
    _, v, spikes = _run(no_asc, _current(400.0), sem)
    assert spikes.size >= 5
    i_e = np.where(np.arange(v.size) >= 7, 400.0, 0.0)  # change emitted at 5 is felt from step 7 on
    residual = v[1:] - _free_step(no_asc, v[:-1], i_e[1:])
    jump = -(no_asc.cells.V_th_mV[0] - V_RESET)
    after_spike = np.zeros(v.size - 1, bool)
    after_spike[spikes] = True  # residual index t-1 <-> step t; step s+1 follows spike s
    np.testing.assert_allclose(residual[after_spike], jump, atol=1e-7)
    np.testing.assert_allclose(residual[~after_spike], 0.0, atol=1e-7)
    assert np.all(v[spikes] > no_asc.cells.V_th_mV[0]), "with a late reset V stays above threshold in the spike step"


@pytest.mark.parametrize("dt", [1.0, 0.1])
def test_clamp_holds_v_and_is_one_step_longer_than_masking(no_asc, dt):
    n_ref = int(refractory_steps(np.array([T_REF]), dt)[0])
    huge = _current(20000.0 / dt, n_steps=int(60 / dt), dt=dt)  # fires in the first step it may
    base = PROFILES["nest-glif-psc"]
    _, v_clamp, s_clamp = _run(no_asc, huge, base)
    _, _, s_mask = _run(no_asc, huge, base.with_knobs(refractory="mask_spikes"))
    assert s_clamp.size >= 3 and s_mask.size >= 3
    assert set(np.diff(s_clamp)) == {n_ref + 1}
    assert set(np.diff(s_mask)) == {int(np.ceil(T_REF / dt - 1e-9))}
    for s in s_clamp[:-1]:
        np.testing.assert_allclose(v_clamp[s : s + n_ref + 1], V_RESET, atol=ATOL_MV)


def test_asc_late_jump_vs_nest_exact_jump():
    """Recorded "ASC" is the after-spike current that drove V in the step (NEST's ASCurrents_sum)."""
    spec = _neuron()
    amps = spec.cells.asc_amps_pA[0]
    k = spec.cells.asc_decay_per_ms[0]
    stim = _current(400.0)
    base = PROFILES["tf-billeh"]
    r_tf, _, s_tf = _run(spec, stim, base)
    asc_tf = r_tf.state["ASC"][0, :, 0]
    s = s_tf[0]
    assert np.all(asc_tf[: s + 2] == 0.0)  # TF: the jump reaches V two steps after the spike
    np.testing.assert_allclose(asc_tf[s + 2], amps.sum(), rtol=1e-12)
    np.testing.assert_allclose(asc_tf[s + 3], (amps * np.exp(-k)).sum(), rtol=1e-12)  # decays, unclamped
    sem = base.with_knobs(asc="nest_exact", refractory="clamp")
    r_n, _, s_n = _run(spec, stim, sem)
    asc_n = r_n.state["ASC"][0, :, 0]
    s, n_ref = s_n[0], int(refractory_steps(np.array([T_REF]), 1.0)[0])
    stable = (1 - np.exp(-k)) / k  # NEST's exact step mean of an exponential, h = 1 ms
    assert np.all(asc_n[: s + n_ref + 1] == 0.0)  # frozen during the clamp, felt in the first free step
    np.testing.assert_allclose(asc_n[s + n_ref + 1], (stable * amps).sum(), rtol=1e-12)
    # the second jump adds r * ASC * exp(-k t_ref) to the amplitudes (r = 1); ASC decayed only in free steps
    s2 = s_n[1]
    free_steps = s2 - s - n_ref
    before = amps * np.exp(-k * free_steps)
    after = amps + before * np.exp(-k * T_REF)
    np.testing.assert_allclose(asc_n[s2 + n_ref + 1], (stable * after).sum(), rtol=1e-12)


def _alpha_psp_mV(spec: NetworkSpec, receptor: int, weight_pA: float, t_ms: np.ndarray) -> np.ndarray:
    """Closed-form membrane response to an alpha PSC w*e/tau_s * t * exp(-t/tau_s), t >= 0."""
    c = spec.cells
    tau_m, tau_s, C = c.tau_m_ms[0], c.tau_syn_ms[0, receptor], c.C_m_pF[0]
    a = 1 / tau_s - 1 / tau_m
    # V(t) = w e /(tau_s C) * [ e^{-t/tau_m} (e^{-a t}(-(t/a) - 1/a^2) + 1/a^2) ]
    pre = weight_pA * np.e / (tau_s * C)
    return pre * np.exp(-t_ms / tau_m) * (np.exp(-a * t_ms) * (-t_ms / a - 1 / a**2) + 1 / a**2)


@pytest.mark.parametrize("receptor", [0, 1, 2])
def test_psc_to_v_exact_alpha_matches_closed_form_and_euler_lags(receptor):
    spec = _neuron()
    stim = _event(receptor, step=10)
    arrival = 10 + 1  # input delay 1 ms
    base = PROFILES["nest-glif-psc"]
    _, v_exact, _ = _run(spec, stim, base)
    _, v_euler, _ = _run(spec, stim, base.with_knobs(psc_to_v="euler_lag"))
    rest = spec.cells.E_L_mV[0]
    # exact: the PSC starts at the end of the arrival step; V at step k is V(t = k - arrival)
    t = np.arange(v_exact.size) - arrival
    expected = np.where(t > 0, _alpha_psp_mV(spec, receptor, spec.inputs.weight_pA[receptor], t.astype(float)), 0.0)
    np.testing.assert_allclose(v_exact - rest, expected, atol=1e-9)
    assert v_exact[arrival] == rest and v_exact[arrival + 1] != rest  # s+d+1
    assert v_euler[arrival + 1] == rest and v_euler[arrival + 2] != rest  # s+d+2: one step later
    # Euler's PSP peak is within a few % of the exact one (GLIF3_SEMANTICS.md: ~1 % at dt = 1 ms)
    peak_exact, peak_euler = np.max(np.abs(v_exact - rest)), np.max(np.abs(v_euler - rest))
    assert abs(peak_euler - peak_exact) / peak_exact < 0.05
    assert peak_euler != peak_exact


def test_delay_rounding_half_up_vs_half_even():
    spec = _neuron()  # receptor 3 input has delay 2.5 ms
    stim = _event(3, step=10)
    base = PROFILES["nest-glif-psc"]
    _, v_up, _ = _run(spec, stim, base)
    _, v_even, _ = _run(spec, stim, base.with_knobs(delay_rounding="tf_clip_half_even"))
    rest = spec.cells.E_L_mV[0]
    first = lambda v: int(np.flatnonzero(v != rest)[0])  # noqa: E731
    assert first(v_up) == 10 + 3 + 1  # 2.5 -> 3 steps
    assert first(v_even) == 10 + 2 + 1  # 2.5 -> 2 steps (numpy rounds half to even)


def test_delay_offset_shifts_first_effect():
    spec = _neuron()
    stim = _event(0, step=10)
    base = PROFILES["nest-glif-psc"]
    _, v0, _ = _run(spec, stim, base)
    _, v1, _ = _run(spec, stim, base.with_knobs(delay_offset_steps=1))
    np.testing.assert_array_equal(v1[1:], v0[:-1])


def test_initial_v():
    spec = _neuron()
    quiet = FrozenStimulus(1.0, 20, 1)
    base = PROFILES["tf-billeh"]
    _, v_reset, _ = _run(spec, quiet, base)
    _, v_el, _ = _run(spec, quiet, base.with_knobs(initial_v="e_l"))
    np.testing.assert_allclose(v_el, spec.cells.E_L_mV[0], atol=ATOL_MV)
    np.testing.assert_allclose(v_reset[0], _free_step(spec, np.array(V_RESET), 0.0), atol=ATOL_MV)
    assert v_reset[0] < v_el[0] - 5.0


def test_float32_stays_close_to_float64():
    spec = _neuron()
    stim = _current(400.0)
    sem = PROFILES["tf-billeh"]
    r64 = get_adapter("tf").run(spec, stim, RunConfig(semantics=sem))
    r32 = get_adapter("tf").run(spec, stim, RunConfig(semantics=sem, dtype="float32"))
    assert r64.n_spikes >= 5
    np.testing.assert_array_equal(r32.spike_step, r64.spike_step)
    # float32 carries ~7 significant digits: ~1e-5 mV on -80 mV after hundreds of steps
    np.testing.assert_allclose(r32.state["V_m"], r64.state["V_m"], atol=1e-3)


def test_trial_batching_changes_nothing(monkeypatch):
    """Trials are independent: running them in batches of 1 gives the numbers of one big batch."""
    import snnval.adapters.tf_reference as tfr
    from snnval.scenarios import SCENARIOS

    spec, stim1 = SCENARIOS["glif3_network"].build(1.0)
    # three trials: the frozen events of the scenario shifted by 0, 7 and 19 steps
    ev = stim1.events
    shifts = [0, 7, 19]
    events = Events(
        np.concatenate([np.full(len(ev), i) for i in range(3)]),
        np.concatenate([np.minimum(ev.step + s, stim1.n_steps - 1) for s in shifts]),
        np.tile(ev.source, 3),
        np.tile(ev.amplitude, 3),
    )
    stim = FrozenStimulus(
        1.0,
        300,
        3,
        events=Events(*(a[events.step < 300] for a in (events.trial, events.step, events.source, events.amplitude))),
    )
    config = RunConfig(semantics=PROFILES["tf-billeh"], record_neurons=np.arange(0, 220, 20))
    whole = get_adapter("tf").run(spec, stim, config)
    monkeypatch.setattr(tfr, "MAX_BATCH_ELEMENTS", 1)
    batched = get_adapter("tf").run(spec, stim, config)
    assert batched.provenance["trials_per_batch"] == 1 and whole.provenance["trials_per_batch"] == 3
    assert whole.n_spikes > 100 and len(set(whole.spike_trial.tolist())) == 3
    np.testing.assert_array_equal(batched.spike_trial, whole.spike_trial)
    np.testing.assert_array_equal(batched.spike_step, whole.spike_step)
    np.testing.assert_array_equal(batched.spike_neuron, whole.spike_neuron)
    np.testing.assert_array_equal(batched.state["V_m"], whole.state["V_m"])
