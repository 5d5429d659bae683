"""Unit tests of the NEST adapter (adapters/nest_glif.py) against the real NEST kernel (no mocks).

Times are integer steps; V in mV, currents and weights in pA, delays in ms (converted to steps).
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.adapters import get_adapter
from snnval.adapters.nest_glif import NestGlifAdapter, _import_nest
from snnval.allen_cells import allen_record
from snnval.contract import RunConfig
from snnval.errors import NotApplicable, SpecError
from snnval.semantics import delay_steps, profile, refractory_steps
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus

ADAPTER = NestGlifAdapter()
_AVAIL = ADAPTER.availability()
pytestmark = [pytest.mark.sim("nest"), pytest.mark.skipif(not _AVAIL.available, reason=_AVAIL.reason)]

#: Allen Cell Types Database cell 318808427 (Nr5a1, excitatory), GLIF3 in NEST glif_psc units, from the
#: project's one copy of the cell data (snnval.allen_cells, provenance there).
ALLEN_318808427 = allen_record("318808427")

#: A second, made-up node type whose numbers all differ from the Allen cell's (to catch a mixed-up index map).
OTHER_CELL = {
    "V_th": -45.0,
    "E_L": -70.0,
    "V_reset": -72.0,
    "g": 5.0,
    "C_m": 80.0,
    "t_ref": 3.0,
    "asc_decay": [0.01, 0.2],
    "asc_amps": [-5.0, -50.0],
    "tau_syn": [1.0, 2.0, 3.0, 4.0],
    "asc_r": [0.5, 1.0],
}

NEST_PROFILE = profile("nest-glif-psc")


@pytest.fixture
def nest():
    return _import_nest()


def _spec(records, node_type, synapses=None, n_sources=0, inputs=None, name="t", models=(), native=()):
    cells = GLIF3Cells.from_records(records)
    if models:
        cells = GLIF3Cells(**{**cells.__dict__, "models": tuple(models), "native_params": tuple(native)})
    return NetworkSpec(
        name,
        cells,
        np.asarray(node_type),
        synapses if synapses is not None else Synapses.empty(),
        n_sources=n_sources,
        inputs=inputs if inputs is not None else Synapses.empty(),
    )


def _syn(pre, post, receptor, weight, delay):
    return Synapses(
        np.asarray(pre, np.int64),
        np.asarray(post, np.int64),
        np.asarray(receptor, np.int64),
        np.asarray(weight, float),
        np.asarray(delay, float),
    )


def _currents(step, neuron, amp, trial=None):
    step = np.asarray(step, np.int64)
    trial = np.zeros_like(step) if trial is None else np.asarray(trial, np.int64)
    return CurrentSteps(trial, step, np.asarray(neuron, np.int64), np.asarray(amp, float))


def _events(step, source, amp, trial=None):
    step = np.asarray(step, np.int64)
    trial = np.zeros_like(step) if trial is None else np.asarray(trial, np.int64)
    return Events(trial, step, np.asarray(source, np.int64), np.asarray(amp, float))


def _status(nest, gid: int, keys):
    return nest.NodeCollection([int(gid)]).get(keys)


# --- registry and capabilities -------------------------------------------------------------------------


def test_registry_and_capabilities():
    assert isinstance(get_adapter("nest"), NestGlifAdapter)
    caps = ADAPTER.capabilities()
    assert set(caps.models) == {
        "glif3", "iaf_psc_alpha", "iaf_psc_exp", "iaf_cond_exp", "iaf_psc_delta", "iaf_psc_exp_ps", "iaf_psc_alpha_ps"
    }  # fmt: skip
    assert caps.spike_times == "precise"  # offsets of the *_ps models
    assert set(caps.recordables) == {"V_m", "ASC", "I_syn"}
    assert caps.knobs["reset"] == ("hard_same_step",) and caps.knobs["psc_to_v"] == ("exact_alpha",)
    assert set(caps.knobs["delay_rounding"]) == {"nest_half_up", "tf_clip_half_even"}
    # The TF profile's neuron-step knobs cannot run on NEST: the check must say so.
    with pytest.raises(NotApplicable, match="reset"):
        caps.check(_spec([ALLEN_318808427], [0]), RunConfig(semantics=profile("tf-billeh")))


# --- parameter translation ----------------------------------------------------------------------------


def test_allen_cell_parameters_reach_nest(nest):
    # Interleaved node types: neuron i must get the parameters of node_type[i], not of its NEST creation order.
    node_type = np.array([1, 0, 1, 0, 0])
    spec = _spec([ALLEN_318808427, OTHER_CELL], node_type).validated()
    stim = FrozenStimulus(0.1, 10)
    built = ADAPTER.build(spec, stim, RunConfig(semantics=NEST_PROFILE.with_knobs(initial_v="v_reset")))
    assert len(set(built.gid_of.tolist())) == 5
    keys = [
        "V_th",
        "E_L",
        "V_reset",
        "g",
        "C_m",
        "t_ref",
        "asc_decay",
        "asc_amps",
        "asc_r",
        "tau_syn",
        "V_m",
        "after_spike_currents",
        "spike_dependent_threshold",
        "adapting_threshold",
    ]
    for i, t in enumerate(node_type):
        rec = [ALLEN_318808427, OTHER_CELL][t]
        got = _status(nest, built.gid_of[i], keys)
        for k in ("V_th", "E_L", "V_reset", "g", "C_m", "t_ref"):
            # NEST stores V_th and V_reset relative to E_L: allow one rounding of the subtraction.
            np.testing.assert_allclose(got[k], rec[k], rtol=1e-13, atol=0, err_msg=f"neuron {i} {k}")
        for k in ("asc_decay", "asc_amps", "tau_syn"):
            np.testing.assert_allclose(got[k], rec[k], rtol=1e-13, atol=0, err_msg=f"neuron {i} {k}")
        np.testing.assert_array_equal(got["asc_r"], rec.get("asc_r", [1.0, 1.0]))
        np.testing.assert_allclose(got["V_m"], rec["V_reset"], rtol=1e-13)
        assert got["after_spike_currents"] is True
        assert got["spike_dependent_threshold"] is False and got["adapting_threshold"] is False
    assert nest.resolution == 0.1


def test_spike_and_state_ids_are_spec_ids(nest):
    # Node types interleaved, so NEST node ids are not in spec order; only neuron 3 gets a current.
    spec = _spec([ALLEN_318808427, OTHER_CELL], [1, 0, 1, 0, 0])
    stim = FrozenStimulus(1.0, 100, currents=_currents([0], [3], [400.0]))
    res = ADAPTER.run(spec, stim, RunConfig(record_neurons=np.array([4, 3, 0])))
    assert res.n_spikes >= 2 and set(res.spike_neuron.tolist()) == {3}
    v = res.state["V_m"][0]
    assert np.ptp(v[:, 1]) > 10.0  # column 1 is neuron 3
    np.testing.assert_array_equal(v[:, 0], ALLEN_318808427["E_L"])
    np.testing.assert_array_equal(v[:, 2], OTHER_CELL["E_L"])


@pytest.mark.parametrize("initial_v, key", [("v_reset", "V_reset"), ("e_l", "E_L")])
def test_initial_v_knob(nest, initial_v, key):
    spec = _spec([OTHER_CELL], [0, 0]).validated()  # V_reset -72 != E_L -70
    config = RunConfig(semantics=NEST_PROFILE.with_knobs(initial_v=initial_v))
    built = ADAPTER.build(spec, FrozenStimulus(1.0, 5), config)
    np.testing.assert_allclose(_status(nest, built.gid_of[1], "V_m"), OTHER_CELL[key], rtol=1e-13)
    res = ADAPTER.run(spec, FrozenStimulus(1.0, 5), config)
    if initial_v == "e_l":  # at rest nothing moves
        np.testing.assert_array_equal(res.state["V_m"][0], OTHER_CELL["E_L"])
    else:  # relaxes from V_reset towards E_L, starting in step 0
        assert OTHER_CELL["V_reset"] < res.state["V_m"][0, 0, 0] < OTHER_CELL["E_L"]


# --- delays -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dt, delays, half_up",
    [
        (1.0, [1.0, 1.5, 2.5, 3.5, 1.49, 2.51, 4.5, 7.0], {1.5: 2, 2.5: 3, 3.5: 4, 4.5: 5}),
        (0.1, [0.1, 0.15, 0.25, 0.35, 1.05, 2.45, 0.149, 0.151], {0.15: 2, 0.25: 3, 0.35: 4, 1.05: 11, 2.45: 25}),
    ],
)
def test_delay_rounding_agrees_with_nest(nest, dt, delays, half_up):
    k = len(delays)
    syn = _syn(np.zeros(k), np.arange(1, k + 1), np.zeros(k), np.ones(k), delays)
    spec = _spec([ALLEN_318808427], np.zeros(k + 1), syn).validated()
    built = ADAPTER.build(spec, FrozenStimulus(dt, 10), RunConfig(semantics=NEST_PROFILE))
    conns = nest.GetConnections(source=nest.NodeCollection([int(built.gid_of[0])])).get(["target", "delay"])
    by_target = dict(zip(conns["target"], conns["delay"], strict=True))
    adapter_steps = np.array([np.rint(by_target[g] / dt) for g in built.gid_of[1:]], dtype=np.int64)

    # Test-only: hand NEST the raw delays (ms) and let NEST round them itself.
    raw_pre = nest.Create("glif_psc")
    raw_post = nest.Create("glif_psc", k)
    for j, d in enumerate(delays):
        nest.Connect(raw_pre, raw_post[j], syn_spec={"weight": 1.0, "delay": d, "receptor_type": 1})
    raw = nest.GetConnections(source=raw_pre).get(["target", "delay"])
    raw_by_target = dict(zip(raw["target"], raw["delay"], strict=True))
    nest_steps = np.array([np.rint(raw_by_target[g] / dt) for g in raw_post.tolist()], dtype=np.int64)

    np.testing.assert_array_equal(adapter_steps, nest_steps)
    np.testing.assert_array_equal(adapter_steps, delay_steps(np.array(delays), dt, NEST_PROFILE))
    for d, expected in half_up.items():  # the half-step cases really are half up, not half even
        assert adapter_steps[delays.index(d)] == expected, d


def test_delay_knobs_reach_nest(nest):
    # dt 1: 2.5 ms -> 3 steps half up, 2 steps half even; 9 ms -> clipped to 5 ms by the TF rule; offset adds.
    delays = [2.5, 9.0, 1.0]
    syn = _syn([0, 0, 0], [1, 2, 3], [0, 1, 2], [1.0, 1.0, 1.0], delays)
    spec = _spec([ALLEN_318808427], np.zeros(4), syn).validated()
    for sem, expected in [
        (NEST_PROFILE, [3, 9, 1]),
        (NEST_PROFILE.with_knobs(delay_rounding="tf_clip_half_even"), [2, 5, 1]),
        (NEST_PROFILE.with_knobs(delay_offset_steps=2), [5, 11, 3]),
    ]:
        built = ADAPTER.build(spec, FrozenStimulus(1.0, 5), RunConfig(semantics=sem))
        conns = nest.GetConnections(source=nest.NodeCollection([int(built.gid_of[0])])).get(
            ["target", "delay", "receptor"]
        )
        by_target = {t: (d, r) for t, d, r in zip(conns["target"], conns["delay"], conns["receptor"], strict=True)}
        got = [by_target[g] for g in built.gid_of[1:]]
        assert [int(np.rint(d / 1.0)) for d, _ in got] == expected, sem.name
        assert [r for _, r in got] == [1, 2, 3]  # receptor r on NEST port r + 1


# --- dynamics and step conventions --------------------------------------------------------------------


def test_step_current_single_neuron(nest):
    dt, s_on, amp = 0.1, 5, 300.0  # 300 pA > rheobase g (V_th - E_L) = 139 pA
    cell = ALLEN_318808427
    spec = _spec([cell], [0])
    stim = FrozenStimulus(dt, 3000, events=Events.empty(), currents=_currents([s_on, 2500], [0, 0], [amp, 0.0]))
    res = ADAPTER.run(spec, stim, RunConfig(record=("V_m", "ASC", "I_syn")))
    v, asc = res.state["V_m"][0, :, 0], res.state["ASC"][0, :, 0]
    assert not np.isnan(v).any() and v.shape == (3000,)
    assert res.n_spikes >= 3 and np.ptp(v) > 20.0
    assert res.spike_step.max() < 2500 + 100  # no current after step 2500: firing stops

    # The change emitted in step s_on arrives in s_on + 1 and V first feels it in s_on + 2.
    np.testing.assert_array_equal(v[: s_on + 2], cell["E_L"])
    assert v[s_on + 2] > cell["E_L"]
    # Before the first spike V follows the exact solution of a constant current: E_L + I/g (1 - exp(-m h / tau)).
    s0 = int(res.spike_step[0])
    m = np.arange(1, s0 - s_on - 1)
    exact = cell["E_L"] + amp / cell["g"] * -np.expm1(-m * dt * cell["g"] / cell["C_m"])
    np.testing.assert_allclose(v[s_on + 1 + m], exact, rtol=0, atol=1e-9)
    full = cell["E_L"] + amp / cell["g"] * -np.expm1(-np.arange(1, 200) * dt * cell["g"] / cell["C_m"])
    assert s0 == s_on + 1 + 1 + int(np.flatnonzero(full > cell["V_th"])[0])  # first step with V > V_th

    # Hard reset in the spike step; V held for ceil(t_ref / dt) steps; ASC frozen, then its exact step mean.
    n_ref = int(refractory_steps(np.array([cell["t_ref"]]), dt)[0])
    assert n_ref == 24
    np.testing.assert_array_equal(v[s0 : s0 + n_ref + 1], cell["V_reset"])
    assert v[s0 + n_ref + 1] != cell["V_reset"]
    np.testing.assert_array_equal(asc[: s0 + n_ref + 1], 0.0)
    k = np.array(cell["asc_decay"])
    step_mean = np.sum(-np.expm1(-k * dt) / (k * dt) * np.array(cell["asc_amps"]))
    np.testing.assert_allclose(asc[s0 + n_ref + 1], step_mean, rtol=1e-12)
    assert int(res.spike_step[1]) >= s0 + n_ref + 1
    np.testing.assert_array_equal(res.state["I_syn"], 0.0)

    # The run ends exactly at n_steps: a spike in the adapter's flush step is not reported.
    on = _currents([s_on], [0], [amp])
    assert ADAPTER.run(spec, FrozenStimulus(dt, s0, currents=on), RunConfig()).n_spikes == 0
    last = ADAPTER.run(spec, FrozenStimulus(dt, s0 + 1, currents=on), RunConfig())
    assert last.spike_step.tolist() == [s0]
    np.testing.assert_array_equal(last.state["V_m"][0, s0, 0], cell["V_reset"])


def test_each_receptor_port_gives_psp_at_s_plus_d_plus_1(nest):
    dt, s, delay_ms, w, amp = 0.1, 10, 1.0, 50.0, 1.3
    d = 10
    cell = ALLEN_318808427
    # Source r -> neuron r on receptor r.
    inputs = _syn(np.arange(4), np.arange(4), np.arange(4), np.full(4, w), np.full(4, delay_ms))
    spec = _spec([cell], np.zeros(4), n_sources=4, inputs=inputs)
    stim = FrozenStimulus(dt, 1200, events=_events(np.full(4, s), np.arange(4), np.full(4, amp)))
    res = ADAPTER.run(spec, stim, RunConfig(record=("V_m", "I_syn")))
    assert res.n_spikes == 0
    for r in range(4):
        v, i_syn = res.state["V_m"][0, :, r], res.state["I_syn"][0, :, r]
        np.testing.assert_array_equal(v[: s + d + 1], cell["E_L"])
        assert v[s + d + 1] > cell["E_L"], r
        assert v.max() - cell["E_L"] > 0.1, r  # PSP peak > 0 for a positive weight
        # NEST's recorded I_syn is the PSC at the start of the step (the value V integrates from), so it
        # still reads 0 in step s+d+1 while V already moves (exact alpha propagators).
        assert i_syn[s + d + 1] == 0.0 and i_syn[s + d + 2] > 0.0, r
        # The alpha PSC peaks at weight * amplitude (pA) exactly tau_syn[r] after arrival (end of step s+d),
        # seen one step later: the peak time identifies the port.
        peak = int(np.argmax(i_syn))
        assert peak == s + d + int(round(cell["tau_syn"][r] / dt)) + 1, r
        np.testing.assert_allclose(i_syn[peak], w * amp, rtol=1e-9)


def test_recurrent_spike_latency(nest):
    dt, d_ms = 1.0, 3.0
    syn = _syn([0], [1], [2], [40.0], [d_ms])
    spec = _spec([ALLEN_318808427], [0, 0], syn)
    stim = FrozenStimulus(dt, 60, currents=_currents([0], [0], [400.0]))
    res = ADAPTER.run(spec, stim, RunConfig())
    s0 = int(res.spike_step[res.spike_neuron == 0][0])
    v1 = res.state["V_m"][0, :, 1]
    np.testing.assert_array_equal(v1[: s0 + 3 + 1], ALLEN_318808427["E_L"])
    assert v1[s0 + 3 + 1] > ALLEN_318808427["E_L"]


def test_iaf_models_use_port_0_and_weight_sign(nest):
    iaf = {
        "E_L": -65.0,
        "V_reset": -70.0,
        "V_th": -50.0,
        "C_m": 250.0,
        "tau_m": 10.0,
        "tau_syn_ex": 2.0,
        "tau_syn_in": 2.0,
        "t_ref": 2.0,
        "I_e": 0.0,
    }
    placeholder = {**ALLEN_318808427, "E_L": -65.0, "V_reset": -70.0, "V_th": -50.0}
    # neuron 0: glif3, neurons 1, 2: iaf_psc_alpha. Receptor indices on iaf targets are ignored (1 and 3 here).
    inputs = _syn([0, 1], [1, 2], [1, 3], [100.0, -100.0], [1.0, 1.0])
    spec = _spec(
        [ALLEN_318808427, placeholder],
        [0, 1, 1],
        n_sources=2,
        inputs=inputs,
        models=("glif3", "iaf_psc_alpha"),
        native=({}, iaf),
    )
    stim = FrozenStimulus(1.0, 40, events=_events([5, 5], [0, 1], [1.0, 1.0]))
    built = ADAPTER.build(spec.validated(), stim, RunConfig())
    assert _status(nest, built.gid_of[1], "model").startswith("iaf_psc_alpha")  # a per-node-type model copy
    assert _status(nest, built.gid_of[1], "tau_syn_ex") == 2.0
    res = ADAPTER.run(spec, stim, RunConfig())
    v = res.state["V_m"][0]
    np.testing.assert_array_equal(v[:, 0], ALLEN_318808427["E_L"])  # glif neuron gets nothing
    np.testing.assert_array_equal(v[: 5 + 1 + 1, 1:], -65.0)  # initial V = E_L of the native parameters
    assert v[7, 1] > -65.0 and v[7, 2] < -65.0  # + excitatory, - inhibitory, both from s + d + 1
    with pytest.raises(NotApplicable, match="ASC"):
        ADAPTER.run(spec, stim, RunConfig(record=("V_m", "ASC")))
    # Recording ASC from the glif3 neuron alone is fine.
    ok = ADAPTER.run(spec, stim, RunConfig(record=("V_m", "ASC"), record_neurons=np.array([0])))
    assert ok.state["ASC"].shape == (1, 40, 1)


def test_unsupported_model_is_not_applicable(nest):
    spec = _spec([ALLEN_318808427], [0], models=("izhikevich",), native=({},))
    with pytest.raises(NotApplicable, match="izhikevich"):
        ADAPTER.run(spec, FrozenStimulus(1.0, 5), RunConfig())


@pytest.mark.parametrize("where", ["synapses", "inputs"])
def test_receptor_out_of_range_is_spec_error_before_nest(nest, where):
    nest.ResetKernel()
    sentinel = nest.Create("iaf_psc_alpha", 3)  # survives only if the adapter never resets the kernel
    bad = _syn([0], [1], [4], [1.0], [1.0])  # receptor 4 with 4 receptors: valid indices are 0..3
    if where == "synapses":
        spec = _spec([ALLEN_318808427], [0, 0], synapses=bad)
    else:
        spec = _spec([ALLEN_318808427], [0, 0], n_sources=1, inputs=_syn([0], [1], [4], [1.0], [1.0]))
    with pytest.raises(SpecError, match="receptor"):
        ADAPTER.run(spec, FrozenStimulus(1.0, 5, events=_events([1], [0], [1.0])), RunConfig())
    assert nest.network_size == 3 and sentinel.get("model") == ("iaf_psc_alpha",) * 3


def test_delay_shorter_than_dt_is_spec_error_before_nest(nest):
    nest.ResetKernel()
    nest.Create("iaf_psc_alpha", 2)
    spec = _spec([ALLEN_318808427], [0, 0], synapses=_syn([0], [1], [0], [1.0], [0.4]))
    with pytest.raises(SpecError, match="delay"):
        ADAPTER.run(spec, FrozenStimulus(1.0, 5), RunConfig())
    assert nest.network_size == 2


# --- network runs: threads and repeatability ----------------------------------------------------------


def _network(n=50, n_syn=600, n_src=20, seed=7):
    rng = np.random.default_rng(seed)
    syn = _syn(
        rng.integers(0, n, n_syn),
        rng.integers(0, n, n_syn),
        rng.integers(0, 4, n_syn),
        rng.normal(30.0, 40.0, n_syn),
        rng.uniform(1.0, 4.0, n_syn),
    )
    inputs = _syn(np.arange(n) % n_src, np.arange(n), np.zeros(n), np.full(n, 250.0), np.full(n, 1.0))
    spec = _spec([ALLEN_318808427, OTHER_CELL], np.arange(n) % 2, syn, n_sources=n_src, inputs=inputs)
    return spec, rng


def test_two_threads_give_identical_spikes(nest):
    spec, rng = _network()
    x = (rng.random((1, 400, 20)) < 0.15) * rng.uniform(0.5, 1.5, (1, 400, 20))
    stim = FrozenStimulus(0.1, 400, events=Events.from_dense(x))
    r1 = ADAPTER.run(spec, stim, RunConfig(threads=1))
    r2 = ADAPTER.run(spec, stim, RunConfig(threads=2))
    assert nest.local_num_threads == 2 and r2.provenance["threads"] == 2
    assert r1.n_spikes > 100 and np.unique(r1.spike_neuron).size > 25
    for k in ("spike_trial", "spike_step", "spike_neuron"):
        np.testing.assert_array_equal(getattr(r1, k), getattr(r2, k))
    np.testing.assert_array_equal(r1.state["V_m"], r2.state["V_m"])


def test_same_run_twice_is_identical_and_trials_are_independent(nest):
    spec, rng = _network(seed=11)
    x0 = (rng.random((300, 20)) < 0.15).astype(float)
    x1 = (rng.random((300, 20)) < 0.15).astype(float)
    x = np.stack([x0, x1, x0])  # trials 0 and 2 identical: the kernel must be reset between trials
    cur = _currents([20, 20], [3, 4], [200.0, 250.0], trial=[1, 2])
    stim = FrozenStimulus(1.0, 300, 3, events=Events.from_dense(x), currents=cur)
    config = RunConfig(record=("V_m", "ASC", "I_syn"), record_neurons=np.array([5, 0, 5, 17]))
    a = ADAPTER.run(spec, stim, config)
    b = ADAPTER.run(spec, stim, config)
    assert a.n_spikes > 50
    for k in ("spike_trial", "spike_step", "spike_neuron", "recorded_neurons"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    for var in config.record:
        assert a.state[var].shape == (3, 300, 4) and not np.isnan(a.state[var]).any()
        np.testing.assert_array_equal(a.state[var], b.state[var])
    np.testing.assert_array_equal(a.state["V_m"][..., 0], a.state["V_m"][..., 2])  # repeated id, same column
    counts = a.spike_counts(spec.n_neurons)
    assert not np.array_equal(counts[0], counts[1])
    # Trials 0 and 2 differ only by the currents into neurons 3 and 4 (trial 2): before step 22 they are equal.
    early = a.state["V_m"][:, :22]
    np.testing.assert_array_equal(early[0], early[2])
    p = a.provenance
    assert p["nest_version"] == nest.__version__ and p["threads"] == 1
    assert p["run_wall_s"] > 0 and p["build_wall_s"] > 0
    assert p["realtime_factor"] == pytest.approx(p["run_wall_s"] / (3 * 300 * 1.0 / 1000.0))
    assert p["n_current_generators"] == [0, 1, 1] and p["n_spike_generators"][0] == 20


def test_unit_events_use_injectors_with_the_same_spikes_as_generators(nest, monkeypatch):
    """Unit-amplitude inputs run on spike_train_injector nodes (issue 11) and give the generators' spikes."""
    import snnval.adapters.nest_glif as nest_glif

    spec, rng = _network(seed=5)
    x = (rng.random((1, 300, 20)) < 0.15).astype(float)
    stim = FrozenStimulus(1.0, 300, events=Events.from_dense(x))
    assert nest_glif._unit_events(stim.events)
    config = RunConfig(record=("V_m",), record_neurons=np.array([0, 7]))
    inj = ADAPTER.run(spec, stim, config)
    assert inj.provenance["input_models"] == ["spike_train_injector"]
    monkeypatch.setattr(nest_glif, "_unit_events", lambda ev: False)
    gen = ADAPTER.run(spec, stim, config)
    assert gen.provenance["input_models"] == ["spike_generator"]
    assert inj.n_spikes > 50
    for k in ("spike_trial", "spike_step", "spike_neuron"):
        np.testing.assert_array_equal(getattr(inj, k), getattr(gen, k))
    np.testing.assert_array_equal(inj.state["V_m"], gen.state["V_m"])


def test_unit_events_rule():
    """Injectors only where every event is one unit spike: real amplitudes or coincident events need generators."""
    from snnval.adapters.nest_glif import _unit_events

    assert _unit_events(_events([1, 2, 2], [0, 0, 1], [1.0, 1.0, 1.0]))
    assert not _unit_events(_events([1, 2], [0, 1], [1.0, 1.3]))
    assert not _unit_events(_events([2, 2], [1, 1], [1.0, 1.0]))  # two events of one source in one step
    assert _unit_events(_events([2, 2], [1, 1], [1.0, 1.0], trial=[0, 1]))  # same step, different trials


def test_recurrent_connections_use_one_synapse_model_per_port(nest):
    """Recurrent connections carry their port in the synapse model (no receptor_type dict per connection)."""
    spec, rng = _network(seed=3)
    spec = spec.validated()
    x = (rng.random((1, 50, 20)) < 0.15).astype(float)
    stim = FrozenStimulus(1.0, 50, events=Events.from_dense(x))
    built = ADAPTER.build(spec, stim, RunConfig(record=()))
    conns = nest.GetConnections(synapse_model="static_synapse__snnval_port1")
    assert len(conns) == int(np.count_nonzero(spec.synapses.receptor == 0)) + int(
        np.count_nonzero(spec.inputs.receptor == 0)
    )
    ports = {p: nest.GetConnections(synapse_model=f"static_synapse__snnval_port{p}") for p in range(1, 5)}
    for p, c in ports.items():
        if len(c):
            assert set(np.atleast_1d(c.get("receptor"))) == {p}
    assert built.n_connections == len(spec.synapses) + len(spec.inputs)


@pytest.mark.parametrize("amplitude", [1.0, 1.5])  # 1.0: spike_train_injector nodes, 1.5: spike_generators
def test_input_nodes_take_on_grid_times_without_per_node_status(nest, amplitude):
    """The input nodes are created without a params dict (which sets each node's status one by one, 0.3 s
    for V1's 18,400 sources): NEST's default must then be on-grid times, as the adapter's stamps assume."""
    spec, rng = _network(seed=4)
    x = (rng.random((1, 50, 20)) < 0.15) * amplitude
    stim = FrozenStimulus(1.0, 50, events=Events.from_dense(x))
    built = ADAPTER.build(spec.validated(), stim, RunConfig(record=()))
    model = "spike_train_injector" if amplitude == 1.0 else "spike_generator"
    assert built.input_model == model and built.n_spike_generators > 5
    nodes = nest.GetNodes({"model": model})
    assert len(nodes) == built.n_spike_generators
    assert set(np.atleast_1d(nodes.get("allow_offgrid_times"))) == {False}
