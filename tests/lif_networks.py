"""Small deterministic LIF networks (NEST iaf_* node types) shared by the PyNN adapter tests.

All numbers are drawn here from fixed seeds (adapters never draw). Units: NEST's (pF, nS, mV, ms, pA);
weights are pA onto iaf_psc_* targets and nS onto iaf_cond_exp targets, negative = inhibitory.
"""

from __future__ import annotations

import numpy as np

from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus

#: Node types: one per PyNN standard cell, parameters all different from NEST's defaults.
IAF_TYPES: dict[str, tuple[str, dict]] = {
    "exp": (
        "iaf_psc_exp",
        {"C_m": 200.0, "tau_m": 12.0, "t_ref": 2.5, "E_L": -65.0, "V_reset": -68.0, "V_th": -52.0,
         "tau_syn_ex": 1.5, "tau_syn_in": 3.0, "I_e": 50.0},
    ),
    "alpha": (
        "iaf_psc_alpha",
        {"C_m": 300.0, "tau_m": 15.0, "t_ref": 1.5, "E_L": -70.0, "V_reset": -72.0, "V_th": -55.0,
         "tau_syn_ex": 1.0, "tau_syn_in": 2.5, "I_e": 0.0},
    ),
    "cond": (
        "iaf_cond_exp",
        {"C_m": 250.0, "g_L": 20.0, "t_ref": 2.0, "E_L": -68.0, "V_reset": -66.0, "V_th": -54.0,
         "E_ex": 0.0, "E_in": -80.0, "tau_syn_ex": 2.0, "tau_syn_in": 4.0, "I_e": 100.0},
    ),
}  # fmt: skip


def iaf_cells(names: tuple[str, ...]) -> GLIF3Cells:
    """A cell table of iaf_* node types; the GLIF3 columns are filled in for reference only."""
    models = tuple(IAF_TYPES[n][0] for n in names)
    native = tuple(dict(IAF_TYPES[n][1]) for n in names)
    n = len(names)

    def col(key: str, default: float) -> np.ndarray:
        return np.array([p.get(key, default) for p in native], dtype=float)

    return GLIF3Cells(
        V_th_mV=col("V_th", -55.0),
        E_L_mV=col("E_L", -70.0),
        V_reset_mV=col("V_reset", -70.0),
        g_nS=np.full(n, 20.0),
        C_m_pF=col("C_m", 250.0),
        t_ref_ms=col("t_ref", 2.0),
        asc_decay_per_ms=np.ones((n, 2)),
        asc_amps_pA=np.zeros((n, 2)),
        tau_syn_ms=np.full((n, 1), 2.0),
        names=names,
        models=models,
        native_params=native,
    )


def lif_network(
    names: tuple[str, ...] = ("exp", "alpha", "cond"), n_neurons: int = 30, n_sources: int = 12, seed: int = 11
) -> NetworkSpec:
    """A recurrent network: neurons cycle through ``names``, 20 % connectivity, 80 % excitatory sources."""
    rng = np.random.default_rng(seed)
    cells = iaf_cells(names)
    node_type = np.arange(n_neurons) % len(names)
    is_cond = np.array([IAF_TYPES[n][0] == "iaf_cond_exp" for n in names])[node_type]
    pre, post = np.nonzero(rng.random((n_neurons, n_neurons)) < 0.2)
    keep = pre != post
    pre, post = pre[keep], post[keep]
    sign = np.where(pre % 5 == 4, -1.0, 1.0)  # every fifth neuron inhibitory
    weight = sign * np.where(is_cond[post], rng.uniform(1.0, 4.0, pre.size), rng.uniform(40.0, 120.0, pre.size))
    syn = Synapses(pre, post, np.zeros(pre.size, np.int64), weight, rng.choice([1.0, 1.5, 2.0, 3.2], pre.size))
    ipre, ipost = np.nonzero(rng.random((n_sources, n_neurons)) < 0.3)
    iw = np.where(is_cond[ipost], rng.uniform(6.0, 16.0, ipre.size), rng.uniform(300.0, 700.0, ipre.size))
    iw = np.where(ipre % 4 == 3, -iw, iw)
    inputs = Synapses(ipre, ipost, np.zeros(ipre.size, np.int64), iw, rng.choice([1.0, 2.0], ipre.size))
    return NetworkSpec(
        "lif_network", cells, node_type, syn, n_sources=n_sources, inputs=inputs, receptor_names=("any",)
    )


def lif_stimulus(spec: NetworkSpec, dt_ms: float, duration_ms: float = 200.0, rate_hz: float = 60.0, seed: int = 5):
    """Poisson-like events (one per step at most, amplitude 1, none in step 0) and two current steps."""
    rng = np.random.default_rng(seed)
    n_steps = int(round(duration_ms / dt_ms))
    hits = rng.random((n_steps, spec.n_sources)) < rate_hz * dt_ms / 1000.0
    hits[0] = False  # pyNN.nest cannot deliver an event emitted in step 0 (see adapters/pynn.py)
    step, source = np.nonzero(hits)
    events = Events(np.zeros(step.size, np.int64), step.astype(np.int64), source.astype(np.int64), np.ones(step.size))
    s1, s2 = int(round(30 / dt_ms)), int(round(120 / dt_ms))
    currents = CurrentSteps(
        np.zeros(4, np.int64), np.array([s1, s2, s1, s2]), np.array([0, 0, 1, 1]), np.array([300.0, 0.0, 250.0, 0.0])
    )
    return FrozenStimulus(dt_ms, n_steps, 1, events, currents, seed=seed, description="lif_network test input")


def with_native_params(spec: NetworkSpec, **native: float) -> NetworkSpec:
    """The spec with ``native`` set in every node type's NEST parameters (e.g. ``t_ref=2.3``)."""
    params = tuple({**p, **native} for p in spec.cells.native_params)
    cells = type(spec.cells)(**{**spec.cells.__dict__, "native_params": params})
    return type(spec)(**{**spec.__dict__, "cells": cells})
