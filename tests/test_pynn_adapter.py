"""The PyNN adapters (adapters/pynn.py) on real pyNN.nest, pyNN.neuron and pyNN.brian2 (no mocks).

Every adapter run below starts its own Python process per trial (PyNN backends are process-global).
Times are integer steps; V in mV; weights pA (psc targets) or nS (conductance targets); delays ms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from lif_networks import IAF_TYPES, iaf_cells, lif_network, lif_stimulus, with_native_params

from snnval.adapters import get_adapter
from snnval.adapters import pynn as pynn_adapter
from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.semantics import profile, refractory_steps
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus
from snnval.units import NEST_IAF_DEFAULTS, iaf_to_pynn

pytestmark = [pytest.mark.sim("pynn")]

SIMS = ("pynn-nest", "pynn-neuron", "pynn-brian2")


def _config(sim: str, **kw) -> RunConfig:
    """RunConfig in the profile the adapter's LIF cells run as: pyNN.brian2's refractory countdown (profile
    pynn-brian2), pyNN.neuron's implicit Euler step (profile pynn-neuron), NEST's rules on pyNN.nest."""
    return RunConfig(semantics=profile(sim if sim in ("pynn-brian2", "pynn-neuron") else "nest-glif-psc"), **kw)


def _require(sim: str) -> None:
    avail = get_adapter(sim).availability()
    if not avail.available:
        pytest.skip(f"adapter '{sim}' is not available here: {avail.reason}")


# --- no simulator needed ---------------------------------------------------------------------------------


def test_registry_and_declared_capabilities():
    nest_caps = get_adapter("pynn-nest").capabilities()
    assert get_adapter("pynn-nest").profiles == ("nest-glif-psc",)
    assert nest_caps.models == ("glif3", "iaf_psc_exp", "iaf_psc_alpha", "iaf_cond_exp")
    assert nest_caps.options == {"spike_precision": ("on_grid", "off_grid")}
    assert nest_caps.event_amplitudes == "integer" and nest_caps.spike_times == "precise"
    for sim in ("pynn-neuron", "pynn-brian2"):
        adapter = get_adapter(sim)
        assert adapter.profiles == (sim,)  # each backend's rules are a profile of the same name
        assert adapter.capabilities().models == ("iaf_psc_exp", "iaf_psc_alpha", "iaf_cond_exp")
    assert get_adapter("pynn-neuron").capabilities().event_amplitudes == "integer"
    assert get_adapter("pynn-brian2").capabilities().event_amplitudes == "unit"


@pytest.mark.parametrize("name", SIMS)
def test_knobs_fail_closed(name):
    spec, stim = lif_network(("exp",)), lif_stimulus(lif_network(("exp",)), 1.0)
    with pytest.raises(NotApplicable, match="knob reset='subtract_next_step'"):
        get_adapter(name).check(spec, stim, RunConfig(semantics=profile("tf-billeh")))
    with pytest.raises(NotApplicable, match="run option 'codegen'"):
        get_adapter(name).check(spec, stim, _config(name, options={"codegen": "cython"}))


def test_each_backend_runs_only_its_own_lif_rules():
    """pyNN.brian2's refractory countdown and pyNN.neuron's implicit Euler step with late reset are not
    NEST's: each backend runs its own profile only (fail closed), and refuses the others' rules."""
    spec = lif_network(("exp",))
    stim = lif_stimulus(spec, 0.1)  # at dt 1 its t_ref of 2.5 steps is refused by pynn-neuron (a rounding tie)
    refusals = {
        ("pynn-brian2", "nest-glif-psc"): "knob refractory='clamp'",
        ("pynn-brian2", "pynn-neuron"): "knob reset='hard_next_step'",
        ("pynn-nest", "pynn-brian2"): "knob refractory='clamp_from_spike_step'",
        ("pynn-nest", "pynn-neuron"): "knob reset='hard_next_step'",
        ("pynn-neuron", "nest-glif-psc"): "knob reset='hard_same_step'",
        ("pynn-neuron", "pynn-brian2"): "knob reset='hard_same_step'",
    }
    for (sim, prof), message in refusals.items():
        with pytest.raises(NotApplicable, match=message):
            get_adapter(sim).check(spec, stim, RunConfig(semantics=profile(prof)))
    for sim in SIMS:
        get_adapter(sim).check(spec, stim, _config(sim))


def test_nest_iaf_defaults_are_the_installed_nests():
    nest = pytest.importorskip("nest")
    for model, table in NEST_IAF_DEFAULTS.items():
        defaults = nest.GetDefaults(model)
        assert {k: defaults[k] for k in table} == table, model


def test_iaf_translation_units_and_refusals():
    p = iaf_to_pynn("iaf_cond_exp", {"C_m": 250.0, "g_L": 20.0, "I_e": 100.0, "V_m": -90.0})
    assert p["cm"] == 0.25 and p["tau_m"] == 12.5 and p["i_offset"] == 0.1  # nF, ms, nA
    assert p["e_rev_I"] == NEST_IAF_DEFAULTS["iaf_cond_exp"]["E_in"]  # unspecified: NEST's default, not PyNN's
    assert iaf_to_pynn("iaf_psc_exp", {})["cm"] == 0.25  # PyNN's own default would be 1.0 nF
    with pytest.raises(NotApplicable, match="V_min=-80.0"):
        iaf_to_pynn("iaf_psc_alpha", {"V_min": -80.0})
    with pytest.raises(NotApplicable, match="'tau_syn'"):
        iaf_to_pynn("iaf_psc_exp", {"tau_syn": 3.0})


def test_neuron_availability_names_uncompiled_mechanisms(monkeypatch, tmp_path):
    (tmp_path / "x.mod").write_text("")
    monkeypatch.setattr(pynn_adapter, "neuron_mechanisms_dir", lambda: tmp_path)
    reason = pynn_adapter._import_error.__wrapped__("neuron")
    assert "NMODL mechanisms are not compiled" in reason and "bootstrap" in reason


def test_step0_event_is_not_applicable_on_pynn_nest():
    spec = with_native_params(lif_network(("exp",)), t_ref=2.0)  # 2.5 steps: a rounding tie pynn-neuron refuses
    stim = lif_stimulus(spec, 1.0)
    ev = Events(np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1))
    bad = FrozenStimulus(1.0, stim.n_steps, 1, ev.concat(stim.events), stim.currents)
    with pytest.raises(NotApplicable, match="step 0"):
        get_adapter("pynn-nest").check(spec, bad, RunConfig())
    get_adapter("pynn-neuron").check(spec, bad, _config("pynn-neuron"))  # NEURON has no parrot relay


def test_brian2_refuses_integer_amplitudes():
    spec = lif_network(("exp",))
    stim = lif_stimulus(spec, 1.0)
    ev = stim.events
    doubled = Events(ev.trial, ev.step, ev.source, np.where(np.arange(len(ev)) == 3, 2.0, 1.0))
    two = FrozenStimulus(1.0, stim.n_steps, 1, doubled, stim.currents)
    with pytest.raises(NotApplicable, match="amplitudes other than 1"):
        get_adapter("pynn-brian2").check(spec, two, _config("pynn-brian2"))
    get_adapter("pynn-nest").check(spec, two, RunConfig())


# --- input timing on every backend -----------------------------------------------------------------------

#: Event steps chosen where (s+1)*dt - dt lands a rounding error above the grid at dt 0.1 (5, 100) and not.
EVENT_STEPS = (4, 5, 37, 99, 100)
CURRENT_STEPS = (3, 5, 100)
DELAY_MS = 1.0  # 10 steps at dt 0.1, 1 at dt 1


def _timing_case(integer_amplitudes: bool, dt: float) -> tuple[NetworkSpec, FrozenStimulus]:
    """Neuron i < 5 gets one event from source i at EVENT_STEPS[i]; the next three a current step each;
    with ``integer_amplitudes`` two more: one event of amplitude 3 vs one of amplitude 1 and 3x the weight."""
    n_ev, n_cur = len(EVENT_STEPS), len(CURRENT_STEPS)
    n = n_ev + n_cur + (2 if integer_amplitudes else 0)
    src = list(range(n_ev))
    steps = list(EVENT_STEPS)
    amps = [1.0] * n_ev
    post = list(range(n_ev))
    weight = [400.0] * n_ev
    if integer_amplitudes:
        src += [n_ev, n_ev + 1]
        steps += [50, 50]
        amps += [3.0, 1.0]
        post += [n - 2, n - 1]
        weight += [100.0, 300.0]
    m = len(src)
    inputs = Synapses(np.array(src), np.array(post), np.zeros(m, np.int64), np.array(weight), np.full(m, DELAY_MS))
    spec = NetworkSpec(
        "timing", iaf_cells(("exp",)), np.zeros(n, np.int64), Synapses.empty(), n_sources=m, inputs=inputs,
        receptor_names=("any",),
    )  # fmt: skip
    order = np.lexsort((src, steps))
    events = Events(np.zeros(m, np.int64), np.array(steps)[order], np.array(src)[order], np.array(amps)[order])
    cur_neurons = np.arange(n_ev, n_ev + n_cur)
    currents = CurrentSteps(np.zeros(n_cur, np.int64), np.array(CURRENT_STEPS), cur_neurons, np.full(n_cur, 200.0))
    return spec, FrozenStimulus(dt, 160, 1, events, currents, seed=0)


def _first_move(v: np.ndarray) -> np.ndarray:
    """First step whose end-of-step V differs from the previous step's (per column); I_e keeps rest stable."""
    moved = np.abs(np.diff(v, axis=0)) > 1e-12
    return np.argmax(moved, axis=0) + 1


@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("name", SIMS)
def test_input_timing_is_exact(name, dt):
    """Events reach V in step s+d+1 on every backend (as a recurrent spike of step s does); current steps in
    s+2 everywhere. (pyNN.brian2 emits a SpikeSourceArray spike at T in step T/dt, nest and neuron in step
    T/dt - 1: the adapter hands each backend its own stamp of step s.)"""
    _require(name)
    integer = name != "pynn-brian2"
    spec, stim = _timing_case(integer, dt)
    # at rest with no drive (I_e 0); t_ref off pynn-neuron's rounding tie at dt 1 (2.5 steps)
    spec = with_native_params(spec, I_e=0.0, t_ref=2.0)
    result = get_adapter(name).run(spec, stim, _config(name, record=("V_m",)))
    v = result.state["V_m"][0]
    assert np.all(v[0] == IAF_TYPES["exp"][1]["E_L"])
    moved = _first_move(v)
    d = round(DELAY_MS / dt)
    lag = 1
    n_ev, n_cur = len(EVENT_STEPS), len(CURRENT_STEPS)
    np.testing.assert_array_equal(moved[:n_ev], np.array(EVENT_STEPS) + d + lag)
    np.testing.assert_array_equal(moved[n_ev : n_ev + n_cur], np.array(CURRENT_STEPS) + 2)
    assert result.provenance["min_delay_ms"] == dt
    if integer:  # amplitude 3 as three coincident spikes == one spike of three times the weight
        assert moved[-1] == moved[-2] == 50 + d + lag
        np.testing.assert_allclose(v[:, -2], v[:, -1], rtol=0, atol=1e-9)
        assert v[:, -1].max() > IAF_TYPES["exp"][1]["E_L"] + 1.0


# --- against the NEST adapter on the same iaf_* models ---------------------------------------------------


@pytest.fixture(scope="module")
def lif_case():
    spec = lif_network()
    stim = lif_stimulus(spec, 0.1)
    nest = get_adapter("nest")
    if not nest.availability().available:
        pytest.skip("the NEST adapter is not available")
    ref = nest.run(spec, stim, RunConfig(record=("V_m",)))
    assert ref.n_spikes >= 80  # a network that spikes (113 measured; guards against trivial agreement)
    for t in range(3):
        assert np.isin(np.flatnonzero(spec.node_type == t), ref.spike_neuron).sum() >= 5
    return spec, stim, ref


def _spike_set(r) -> set[tuple[int, int]]:
    return set(zip(r.spike_step.tolist(), r.spike_neuron.tolist(), strict=True))


def test_pynn_nest_on_grid_equals_nest_exactly(lif_case):
    """Same NEST models, same step: identical spikes; V equal up to summation order (measured 7e-15 mV)."""
    _require("pynn-nest")
    spec, stim, ref = lif_case
    got = get_adapter("pynn-nest").run(spec, stim, RunConfig(record=("V_m",)))
    assert _spike_set(got) == _spike_set(ref)
    np.testing.assert_allclose(got.state["V_m"], ref.state["V_m"], rtol=0, atol=1e-9)
    assert got.spike_offset_ms is None


def _first_divergence(got, ref, cols: np.ndarray, tol: float) -> int:
    d = np.abs(got.state["V_m"][0][:, cols] - ref.state["V_m"][0][:, cols]).max(axis=1)
    bad = np.flatnonzero(d > tol)
    return int(bad[0]) if bad.size else -1


def _first_arrival(spec: NetworkSpec, stim: FrozenStimulus, cols: np.ndarray) -> int:
    """First step in which an input event changes V of a neuron in ``cols`` on NEST (s + d + 1)."""
    d = np.rint(spec.inputs.delay_ms / stim.dt_ms).astype(np.int64)
    first = np.full(spec.n_sources, 10**9)
    np.minimum.at(first, stim.events.source, stim.events.step)
    arrive = first[spec.inputs.pre] + d + 1
    return int(arrive[np.isin(spec.inputs.post, cols)].min())


def test_pynn_brian2_inputs_arrive_as_on_nest(lif_case):
    """Current-based cells: V equal to NEST's (Brian2's exact integration = NEST's propagators, 1e-9 mV)
    through the first input arrival and up to the first step after a spike's clamp, where pyNN.brian2
    integrates again one step earlier (its refractory rule); IF_cond_exp differs from step 0 by < 1e-3 mV
    (Brian2's integrator vs NEST's GSL RK45)."""
    _require("pynn-brian2")
    spec, stim, ref = lif_case
    got = get_adapter("pynn-brian2").run(spec, stim, _config("pynn-brian2", record=("V_m",)))
    # IF_curr_exp only: pyNN.brian2's IF_curr_alpha first differs from NEST's iaf_psc_alpha in step 106
    # (neuron 22) of this case, its inhibitory PSC decaying with tau_syn_E (psc_to_v=brian2_exact_or_euler,
    # tests/test_lif_pairs.py), and it feeds the exp cells later on
    psc = np.flatnonzero(spec.node_type == 0)
    arrival = _first_arrival(spec, stim, psc)
    assert arrival > 5
    first = _first_divergence(got, ref, psc, 1e-9)
    assert first > arrival
    # the first divergence is the end of a clamp: a recorded psc neuron spiked ceil(t_ref/dt) steps before
    n_ref = refractory_steps(np.array([IAF_TYPES[n][1]["t_ref"] for n in spec.cells.names]), stim.dt_ms)
    mine = np.isin(ref.spike_neuron, psc)
    ends = ref.spike_step[mine] + n_ref[spec.node_type[ref.spike_neuron[mine]]]
    assert first in set(ends.tolist())
    cond = np.flatnonzero(spec.node_type == 2)
    assert _first_divergence(got, ref, cond, 1e-9) == 0
    assert np.abs(got.state["V_m"][0, :5, cond] - ref.state["V_m"][0, :5, cond]).max() < 1e-3
    # the same network in rate: within 20 % of NEST's spike count (measured, see README)
    assert abs(got.n_spikes - ref.n_spikes) < 0.2 * ref.n_spikes


def test_pynn_neuron_differs_first_by_its_integration(lif_case):
    """NEURON's fixed-step implicit integration moves V by ~1e-4 mV from step 0 on cells with a
    constant current (never more than 1e-3 mV in the first 5 steps); V of a spike step is still
    above threshold (PyNN's NEURON reset acts one step later in V)."""
    _require("pynn-neuron")
    spec, stim, ref = lif_case
    got = get_adapter("pynn-neuron").run(spec, stim, _config("pynn-neuron", record=("V_m",)))
    v, vr = got.state["V_m"][0], ref.state["V_m"][0]
    driven = np.flatnonzero(spec.node_type != 1)  # exp and cond types carry I_e
    assert _first_divergence(got, ref, driven, 1e-9) == 0
    assert np.abs(v[:5] - vr[:5]).max() < 1e-3
    v_th = np.array([IAF_TYPES[n][1]["V_th"] for n in spec.cells.names])[spec.node_type]
    at_spike = v[got.spike_step, got.spike_neuron]
    assert got.n_spikes > 100 and np.all(at_spike >= v_th[got.spike_neuron])
    assert abs(got.n_spikes - ref.n_spikes) < 0.2 * ref.n_spikes


# --- precise (off-grid) spike times on pyNN.nest -----------------------------------------------------------


def test_off_grid_spike_time_matches_closed_form():
    """IF_curr_exp under a current step: first spike at t_on + tau ln(I tau / (I tau - (V_th - E_L) C)).

    Off grid (NEST iaf_psc_exp_ps) the reported time ``step*dt + offset`` matches it to 1e-6 ms (the
    model finds the crossing to machine precision; 1e-6 leaves room for the ms -> tic offsets); on grid
    the spike is in the step containing the crossing.
    """
    _require("pynn-nest")
    params = {**IAF_TYPES["exp"][1], "I_e": 0.0}
    cells = iaf_cells(("exp",))
    cells = type(cells)(**{**cells.__dict__, "native_params": (params,)})
    spec = NetworkSpec("dc", cells, np.zeros(1, np.int64), Synapses.empty(), receptor_names=("any",))
    s, amp_pA, dt = 20, 400.0, 0.1
    cur = CurrentSteps(np.zeros(1, np.int64), np.array([s]), np.zeros(1, np.int64), np.array([amp_pA]))
    stim = FrozenStimulus(dt, 300, 1, currents=cur)
    tau, c, dv = params["tau_m"], params["C_m"], params["V_th"] - params["E_L"]
    t_on = (s + 2) * dt  # V first moves in step s+2
    t_closed = t_on + tau * math.log(amp_pA * tau / (amp_pA * tau - dv * c))
    adapter = get_adapter("pynn-nest")
    precise = adapter.run(spec, stim, RunConfig(options={"spike_precision": "off_grid"}))
    grid = adapter.run(spec, stim, RunConfig(options={"spike_precision": "on_grid"}))
    assert precise.n_spikes >= 2 and precise.spike_offset_ms is not None
    assert np.all((precise.spike_offset_ms > 0) & (precise.spike_offset_ms <= dt + 1e-12))
    t_first = precise.spike_step[0] * dt + precise.spike_offset_ms[0]
    assert abs(t_first - t_closed) < 1e-6
    assert grid.spike_step[0] == math.ceil(t_closed / dt) - 1
    assert precise.provenance["spike_precision"] == "off_grid"


def test_pynn_brian2_refractory_period_ends_one_step_early():
    """One IF_curr_exp neuron under a current step: Brian2 equals NEST (1e-9 mV) through the first spike
    and the clamp, and first differs in the last clamped step: pyNN.brian2 times the refractory period
    from the *start* of the spike step (its spike stamp), NEST holds V for ceil(t_ref/dt) whole steps
    after it."""
    _require("pynn-brian2")
    params = {**IAF_TYPES["exp"][1], "I_e": 0.0}
    cells = iaf_cells(("exp",))
    cells = type(cells)(**{**cells.__dict__, "native_params": (params,)})
    spec = NetworkSpec("dc", cells, np.zeros(1, np.int64), Synapses.empty(), receptor_names=("any",))
    cur = CurrentSteps(np.zeros(1, np.int64), np.array([20]), np.zeros(1, np.int64), np.array([400.0]))
    stim = FrozenStimulus(0.1, 300, 1, currents=cur)
    ref = get_adapter("nest").run(spec, stim, RunConfig())
    got = get_adapter("pynn-brian2").run(spec, stim, _config("pynn-brian2"))
    spike = int(ref.spike_step[0])
    assert got.spike_step[0] == spike
    n_ref = int(refractory_steps(np.array([params["t_ref"]]), 0.1)[0])  # 25 steps
    d = np.abs(got.state["V_m"][0, :, 0] - ref.state["V_m"][0, :, 0])
    assert d[: spike + n_ref].max() < 1e-9
    assert d[spike + n_ref] > 1e-3  # Brian2 integrates again in NEST's last clamped step


def test_bootstrap_compile_is_idempotent(monkeypatch):
    """Once pyNN.neuron's mechanisms are compiled, set-up finds them and runs nothing (no nrnivmodl)."""
    import sys
    from pathlib import Path

    bootstrap = pytest.importorskip("bootstrap")
    if not pynn_adapter.neuron_mechanisms_compiled():
        pytest.skip("pyNN.neuron's mechanisms are not compiled here (bootstrap.py set-up compiles them)")

    def refuse(*args, **kwargs):
        raise AssertionError(f"compile_pynn_neuron ran {args} although the mechanisms are compiled")

    monkeypatch.setattr(bootstrap, "_run", refuse)
    assert bootstrap.compile_pynn_neuron(Path(sys.executable)) == pynn_adapter.neuron_mechanisms_dir()
