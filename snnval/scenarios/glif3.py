"""GLIF3 scenarios: single neurons under steps, one event per receptor, a recurrent V1-like network."""

from __future__ import annotations

import numpy as np

from snnval.allen_cells import EXCITATORY, INHIBITORY, allen_cells
from snnval.scenarios.base import Scenario
from snnval.scenarios.base import steps as _steps
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import (
    CurrentSteps,
    Events,
    FrozenStimulus,
    common_background_counts,
    rate_to_probability,
    sample_bernoulli,
)

# --- (a) single neurons under step currents ------------------------------------------------------

_SINGLE_CELL = "318808427"  # Nr5a1 excitatory: rheobase (V_th - E_L) * g ~ 139 pA
SINGLE_NEURON_VARIANTS = (
    # (name, cell overrides, current pA)
    ("subthreshold", {}, 100.0),
    ("suprathreshold_asc", {}, 300.0),
    ("suprathreshold_no_asc", {"asc_amps": (0.0, 0.0)}, 300.0),
    ("suprathreshold_long_tref", {"t_ref": 10.0}, 300.0),
    ("reset_below_rest", {"V_reset": -86.1691640218099}, 300.0),  # V_reset != E_L: shows knob 9
)


def _single_spec() -> NetworkSpec:
    n = len(SINGLE_NEURON_VARIANTS)
    cells = allen_cells(
        [_SINGLE_CELL] * n, [v[1] for v in SINGLE_NEURON_VARIANTS], names=[v[0] for v in SINGLE_NEURON_VARIANTS]
    )
    return NetworkSpec(
        "single_neuron_step",
        cells,
        np.arange(n),
        Synapses.empty(),
        populations={v[0]: np.array([i]) for i, v in enumerate(SINGLE_NEURON_VARIANTS)},
    )


def _single_stimulus(spec: NetworkSpec, dt_ms: float) -> FrozenStimulus:
    n = spec.n_neurons
    on, off = _steps(20.0, dt_ms), _steps(220.0, dt_ms)
    amps = np.array([v[2] for v in SINGLE_NEURON_VARIANTS])
    currents = CurrentSteps(
        trial=np.zeros(2 * n, np.int64),
        step=np.repeat([on, off], n).astype(np.int64),
        neuron=np.tile(np.arange(n), 2).astype(np.int64),
        amplitude_pA=np.concatenate([amps, np.zeros(n)]),
    )
    return FrozenStimulus(dt_ms, _steps(300.0, dt_ms), 1, currents=currents, description="step currents 20-220 ms")


# --- (b) one synaptic event per receptor -----------------------------------------------------------

PSC_WEIGHTS_PA = (60.0, -60.0, 60.0, -60.0)  # E->E, I->E, E->I, I->I: inhibitory receptors carry negative PSCs


def _synaptic_spec() -> NetworkSpec:
    cells = allen_cells([_SINGLE_CELL])
    inputs = Synapses(
        pre=np.arange(4),
        post=np.zeros(4, np.int64),
        receptor=np.arange(4),
        weight_pA=np.array(PSC_WEIGHTS_PA),
        delay_ms=np.full(4, 1.0),
    )
    return NetworkSpec(
        "synaptic_events",
        cells,
        np.zeros(1, np.int64),
        Synapses.empty(),
        n_sources=4,
        inputs=inputs,
        source_names=("rec0", "rec1", "rec2", "rec3"),
    )


def _synaptic_stimulus(spec: NetworkSpec, dt_ms: float) -> FrozenStimulus:
    steps = np.array([_steps(t, dt_ms) for t in (10.0, 90.0, 170.0, 250.0)])
    events = Events(np.zeros(4, np.int64), steps, np.arange(4), np.ones(4))
    return FrozenStimulus(dt_ms, _steps(330.0, dt_ms), 1, events=events, description="one event per receptor")


# --- (c) recurrent V1-like GLIF3 network -----------------------------------------------------------

NETWORK_SEED = 20261123
N_EXC, N_INH, N_LGN = 160, 60, 100


def _network_spec() -> NetworkSpec:
    rng = np.random.default_rng(NETWORK_SEED)
    cell_ids = list(EXCITATORY) + list(INHIBITORY)
    cells = allen_cells(cell_ids)
    n = N_EXC + N_INH
    node_type = np.concatenate(
        [rng.integers(0, len(EXCITATORY), N_EXC), rng.integers(len(EXCITATORY), len(cell_ids), N_INH)]
    )
    is_inh = np.arange(n) >= N_EXC
    # Bernoulli connectivity, p = 0.1; autapses excluded
    pre, post = np.nonzero(rng.random((n, n)) < 0.1)
    keep = pre != post
    pre, post = pre[keep], post[keep]
    # receptor = V1 convention: 0 E->E, 1 I->E, 2 E->I, 3 I->I
    receptor = is_inh[pre].astype(np.int64) + 2 * is_inh[post].astype(np.int64)
    scale = np.array([15.0, -50.0, 40.0, -40.0])[receptor]  # pA: inhibition dominant, as in cortex
    weight = scale * rng.lognormal(0.0, 0.5, pre.size)
    delay = rng.integers(2, 11, pre.size) * 0.5  # 1.0..5.0 ms in 0.5 ms: half steps at dt=1 exercise rounding
    # LGN: each source to 10 % of neurons (E->E / E->I receptors); background: one source to all, receptor 0/2
    lgn_pre, lgn_post = np.nonzero(rng.random((N_LGN, n)) < 0.1)
    lgn_receptor = 2 * is_inh[lgn_post].astype(np.int64)
    lgn_w = 30.0 * rng.lognormal(0.0, 0.3, lgn_pre.size)
    bkg_post = np.arange(n)
    inputs = Synapses(
        pre=np.concatenate([lgn_pre, np.full(n, N_LGN)]),
        post=np.concatenate([lgn_post, bkg_post]),
        receptor=np.concatenate([lgn_receptor, 2 * is_inh.astype(np.int64)]),
        weight_pA=np.concatenate([lgn_w, np.full(n, 4.0)]),
        delay_ms=np.concatenate([np.full(lgn_pre.size, 1.0), np.full(n, 1.0)]),
    )
    return NetworkSpec(
        "glif3_network",
        cells,
        node_type,
        Synapses(pre, post, receptor, weight, delay),
        n_sources=N_LGN + 1,
        inputs=inputs,
        source_names=tuple([f"lgn{i}" for i in range(N_LGN)] + ["bkg"]),
        populations={"exc": np.flatnonzero(~is_inh), "inh": np.flatnonzero(is_inh)},
    )


def _network_stimulus(
    spec: NetworkSpec, dt_ms: float, seed: int = NETWORK_SEED + 1, duration_ms: float = 1000.0
) -> FrozenStimulus:
    rng = np.random.default_rng([seed, int(round(dt_ms * 1000))])
    n_steps = _steps(duration_ms, dt_ms)
    t_ms = np.arange(n_steps) * dt_ms
    rates = rng.uniform(5.0, 30.0, N_LGN)
    # drive modulated in time: 200 ms on, 100 ms weaker, so the network passes through regimes
    modulation = np.where((t_ms % 300.0) < 200.0, 1.0, 0.3)
    p = rate_to_probability(rates[None, :] * modulation[:, None], dt_ms)
    lgn = sample_bernoulli(p[None], rng)
    # common background source: TF "rest of brain" mode, Binomial(10, 0.1) per ms; at finer dt the
    # same 1 kHz source is thinned so the mean drive per ms is unchanged
    bkg = (
        common_background_counts(1, n_steps, rng, n=10, p=0.1 * dt_ms)
        if dt_ms < 1
        else common_background_counts(1, n_steps, rng)
    )
    events = Events.from_dense(np.concatenate([lgn, bkg], axis=2))
    return FrozenStimulus(
        dt_ms,
        n_steps,
        1,
        events=events,
        seed=seed,
        description="Bernoulli LGN (5-30 Hz, modulated) + common Binomial background",
    )


GLIF3_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "single_neuron_step",
        "GLIF3 neurons (ASC on/off, long t_ref, V_reset<E_L) under step currents",
        _single_spec,
        _single_stimulus,
        record=("V_m", "ASC"),
        min_spikes=10,
        duration_ms=300.0,
        grid_times_ms=(20.0, 220.0),
    ),
    Scenario(
        "synaptic_events",
        "one synaptic event on each of the 4 receptors: PSC and PSP shapes",
        _synaptic_spec,
        _synaptic_stimulus,
        record=("V_m", "I_syn"),
        min_spikes=0,
        empty_golden_reason="subthreshold by design: the PSC and PSP shapes are what is checked",
        duration_ms=330.0,
        grid_times_ms=(10.0, 90.0, 170.0, 250.0),
    ),
    Scenario(
        "glif3_network",
        f"recurrent GLIF3 network, {N_EXC} E + {N_INH} I neurons of 5 Allen types, "
        "4 receptors, delays 1-5 ms, frozen LGN and background input, 1 s",
        _network_spec,
        _network_stimulus,
        record=("V_m",),
        min_spikes=500,
        golden_neurons=tuple(range(0, 12)) + tuple(range(N_EXC, N_EXC + 8)),
        duration_ms=1000.0,
        grid_times_ms=(200.0, 300.0),  # drive modulation: 200 ms on, 100 ms weaker
    ),
)
