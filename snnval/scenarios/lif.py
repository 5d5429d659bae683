"""LIF single-neuron scenarios: a continuous LIF (NEST ``iaf_psc_exp``) under DC and current steps, and
the discrete-time LIF rule of deep-learning SNN libraries (``lif_discrete``) under DC and weighted events.

Node types of the LIF family carry their NEST parameters in ``GLIF3Cells.native_params`` (NEST units:
mV, pF, ms, pA / nS); the GLIF3 columns hold the same E_L, V_th, V_reset, C_m, g = C_m / tau_m and
t_ref (placeholders for ASCs), so closed forms can read them from the spec.
"""

from __future__ import annotations

import math

import numpy as np

from snnval.scenarios.base import Scenario, steps
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus

#: NEST 3.10 defaults of iaf_psc_exp, written out so the scenario does not move with NEST's defaults.
IAF_PSC_EXP = {
    "C_m": 250.0,
    "tau_m": 10.0,
    "E_L": -70.0,
    "V_th": -55.0,
    "V_reset": -70.0,
    "t_ref": 2.0,
    "tau_syn_ex": 2.0,
    "tau_syn_in": 2.0,
    "I_e": 0.0,
}


def lif_cells(model: str, records: list[dict], names: list[str]) -> GLIF3Cells:
    """GLIF3Cells rows for LIF-family node types from NEST parameter dicts (one per node type).

    The GLIF3 columns get E_L, V_th, V_reset, C_m, g = C_m / tau_m, t_ref and tau_syn = (ex, in) of
    the record; ASC columns are placeholders (zero amplitude). ``native_params`` is the record itself.
    """
    n = len(records)

    def col(key):
        return np.array([float(r[key]) for r in records])

    return GLIF3Cells(
        V_th_mV=col("V_th"),
        E_L_mV=col("E_L"),
        V_reset_mV=col("V_reset"),
        g_nS=col("C_m") / col("tau_m"),
        C_m_pF=col("C_m"),
        t_ref_ms=col("t_ref"),
        asc_decay_per_ms=np.ones((n, 2)),
        asc_amps_pA=np.zeros((n, 2)),
        # delta-synapse models have no tau_syn: 1 ms placeholders
        tau_syn_ms=np.array([[float(r.get("tau_syn_ex", 1.0)), float(r.get("tau_syn_in", 1.0))] for r in records]),
        names=tuple(names),
        models=(model,) * n,
        native_params=tuple(dict(r) for r in records),
    )


def first_spike_latency_ms(I_pA: float, tau_m_ms: float, C_m_pF: float, V_th_mV: float, E_L_mV: float) -> float:
    """Time from current onset to the first threshold crossing of a LIF starting at E_L (closed form).

    V(t) = E_L + I tau_m / C_m (1 - exp(-t / tau_m)) reaches V_th at
    t = tau_m ln(I tau_m / (I tau_m - (V_th - E_L) C_m)); infinite below rheobase.
    """
    drive = I_pA * tau_m_ms
    gap = (V_th_mV - E_L_mV) * C_m_pF
    return math.inf if drive <= gap else tau_m_ms * math.log(drive / (drive - gap))


# --- (a) continuous LIF (iaf_psc_exp) under DC and steps ------------------------------------------------

#: (name, current pA from 20 ms, current pA from 120 ms); all currents end at 220 ms. Rheobase 375 pA.
#: Latencies (27.73, 9.81, 4.17 ms) sit away from the 0.1 ms grid, so the grid bound below is not
#: decided by rounding.
LIF_VARIANTS = (
    ("subthreshold", 300.0, 300.0),
    ("dc_400", 400.0, 400.0),
    ("dc_600", 600.0, 600.0),
    ("dc_1100", 1100.0, 1100.0),
    ("step_400_to_800", 400.0, 800.0),
)
LIF_ON_MS, LIF_STEP_MS, LIF_OFF_MS, LIF_DURATION_MS = 20.0, 120.0, 220.0, 300.0


def _lif_spec() -> NetworkSpec:
    cells = lif_cells("iaf_psc_exp", [IAF_PSC_EXP], ["iaf_psc_exp"])
    n = len(LIF_VARIANTS)
    return NetworkSpec(
        "lif_single_neuron",
        cells,
        np.zeros(n, np.int64),
        Synapses.empty(),
        populations={v[0]: np.array([i]) for i, v in enumerate(LIF_VARIANTS)},
        receptor_names=("exc", "inh"),
    )


def _lif_stimulus(spec: NetworkSpec, dt_ms: float) -> FrozenStimulus:
    n = len(LIF_VARIANTS)
    at = [steps(t, dt_ms) for t in (LIF_ON_MS, LIF_STEP_MS, LIF_OFF_MS)]
    amps = np.concatenate([[v[1] for v in LIF_VARIANTS], [v[2] for v in LIF_VARIANTS], np.zeros(n)])
    currents = CurrentSteps(
        trial=np.zeros(3 * n, np.int64),
        step=np.repeat(at, n).astype(np.int64),
        neuron=np.tile(np.arange(n), 3).astype(np.int64),
        amplitude_pA=amps,
    )
    return FrozenStimulus(
        dt_ms, steps(LIF_DURATION_MS, dt_ms), 1, currents=currents, description="DC 20-220 ms, one step at 120 ms"
    )


# --- (b) the discrete-time LIF rule ------------------------------------------------------------------------

#: Per-step decay of lif_discrete; theta = V_th - E_L = 1 mV and u_reset = V_reset - E_L = 0, the
#: dimensionless setting of deep-learning libraries (threshold 1, reset to 0).
DISCRETE_BETA = 0.9
DISCRETE_CELL = {
    "C_m": 100.0,
    "tau_m": 10.0,  # g = 10 nS: a DC current I moves u towards I / g mV
    "E_L": -70.0,
    "V_th": -69.0,
    "V_reset": -70.0,
    "t_ref": 1.0,  # placeholder: lif_discrete has no refractory period
    "tau_syn_ex": 1.0,  # placeholder: delta synapses
    "tau_syn_in": 1.0,
    "beta": DISCRETE_BETA,
}
#: (name, DC pA from step 5 to step 80); the "events" neuron gets weighted input events instead.
DISCRETE_VARIANTS = (("dc_8", 8.0), ("dc_15", 15.0), ("dc_40", 40.0), ("events", 0.0))
DISCRETE_ON_STEP, DISCRETE_OFF_STEP, DISCRETE_STEPS = 5, 80, 100
#: Input events to the "events" neuron: (emission step, amplitude); weight 0.4 mV, delay 1 step.
#: Three in a row cross theta (0.4, 0.76, 1.084 mV); single ones do not.
DISCRETE_EVENTS = ((10, 1.0), (11, 1.0), (12, 1.0), (30, 1.0), (40, 2.0), (41, 1.5))
DISCRETE_WEIGHT_MV = 0.4


def _discrete_spec() -> NetworkSpec:
    cells = lif_cells("lif_discrete", [DISCRETE_CELL], ["lif_discrete"])
    n = len(DISCRETE_VARIANTS)
    events_neuron = n - 1
    inputs = Synapses(
        pre=np.zeros(1, np.int64),
        post=np.array([events_neuron]),
        receptor=np.zeros(1, np.int64),
        weight_pA=np.array([DISCRETE_WEIGHT_MV]),  # lif_discrete reads weights as jumps of u in mV
        delay_ms=np.array([1.0]),
    )
    return NetworkSpec(
        "lif_discrete_single",
        cells,
        np.zeros(n, np.int64),
        Synapses.empty(),
        n_sources=1,
        inputs=inputs,
        source_names=("events",),
        populations={v[0]: np.array([i]) for i, v in enumerate(DISCRETE_VARIANTS)},
        receptor_names=("exc", "inh"),
    )


def _discrete_stimulus(spec: NetworkSpec, dt_ms: float) -> FrozenStimulus:
    n = len(DISCRETE_VARIANTS)
    dc = np.array([v[1] for v in DISCRETE_VARIANTS])
    currents = CurrentSteps(
        trial=np.zeros(2 * n, np.int64),
        step=np.repeat([DISCRETE_ON_STEP, DISCRETE_OFF_STEP], n).astype(np.int64),
        neuron=np.tile(np.arange(n), 2).astype(np.int64),
        amplitude_pA=np.concatenate([dc, np.zeros(n)]),
    )
    ev = np.array(DISCRETE_EVENTS, dtype=float)
    events = Events(np.zeros(len(ev), np.int64), ev[:, 0].astype(np.int64), np.zeros(len(ev), np.int64), ev[:, 1])
    return FrozenStimulus(
        dt_ms, DISCRETE_STEPS, 1, events=events, currents=currents, description="DC steps 5-80 and weighted events"
    )


LIF_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "lif_single_neuron",
        "LIF (iaf_psc_exp) under DC 300-1100 pA and a current step: latency vs closed form, reset, V_m",
        _lif_spec,
        _lif_stimulus,
        record=("V_m",),
        min_spikes=20,
        duration_ms=LIF_DURATION_MS,
        grid_times_ms=(LIF_ON_MS, LIF_STEP_MS, LIF_OFF_MS),
    ),
    Scenario(
        "lif_discrete_single",
        "discrete-time LIF rule u[t] = beta u[t-1] (1 - s[t-1]) + sum w s[t] (lif_discrete) under DC and events",
        _discrete_spec,
        _discrete_stimulus,
        dts_ms=(1.0,),  # the rule is defined per step; dt only labels time
        record=("V_m",),
        min_spikes=10,
        duration_ms=float(DISCRETE_STEPS),  # at dt 1 ms
        grid_times_ms=tuple(float(t) for t in (DISCRETE_ON_STEP, DISCRETE_OFF_STEP, *(e[0] for e in DISCRETE_EVENTS))),
    ),
)
