"""E/I network scenarios at dt 0.1 ms, 200 ms trials, driven by frozen independent Poisson input.

* ``ei_cuba``: current-based Vogels-Abbott network (Brette et al. 2007, benchmark 2) on NEST iaf_psc_exp.
* ``ei_coba``: conductance-based Vogels-Abbott network (Vogels & Abbott 2005, J. Neurosci. 25:10786;
  Brette et al. 2007, J. Comput. Neurosci. 23:349, benchmark 1) on iaf_cond_exp.
* ``delta_network``: an inhibition-dominated E/I network of delta-synapse LIFs (Brunel 2000,
  J. Comput. Neurosci. 8:183) on NEST iaf_psc_delta, the continuous-time relative of the discrete
  rule: TF and NEST share its semantics (profile ``nest-psc-delta``) and must agree spike for spike.
* ``ping``: pyramidal-interneuron gamma network (Börgers & Kopell 2003; Whittington et al. 2000):
  driven E cells excite fast-inhibiting I cells, whose volleys pace E at gamma frequency.

Scaling: the benchmark has 4000 neurons (80 % E) with connection probability 0.02, i.e. an in-degree
of 80 from the recurrent network. Here N = 800 with p = 0.02 * 4000 / 800 = 0.1, which keeps the
in-degree (80 inputs per neuron, 64 E + 16 I) and so the weights (mean and variance of the recurrent
input per neuron stay those of the benchmark); what changes is the shared-input fraction (p = 0.1
instead of 0.02), which raises pairwise correlations. The benchmark is self-sustained after a kick;
here an independent Poisson source per neuron (drawn by the suite from the stimulus seed) drives it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from snnval.scenarios.base import Scenario, steps
from snnval.scenarios.lif import lif_cells
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import Events, FrozenStimulus

NETWORK_DT_MS = 0.1
TRIAL_MS = 200.0
#: statistics skip the onset transient (all neurons start at E_L together)
TRANSIENT_MS = 50.0

#: Vogels-Abbott cell (PyNN VAbenchmarks): 20000 um^2 at 1 uF/cm^2 and 5e-5 S/cm^2 -> C 200 pF, g 10 nS.
_VA_CELL = {"C_m": 200.0, "tau_m": 20.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 5.0}
VA_COBA = {
    **_VA_CELL,
    "E_L": -60.0,
    "tau_syn_ex": 5.0,
    "tau_syn_in": 10.0,
    "E_ex": 0.0,
    "E_in": -80.0,
}
#: CUBA: the benchmark's rest (-49 mV) lies above threshold, which the spec refuses (V_th > E_L), so
#: E_L = -60 mV and the Poisson drive supplies the depolarisation; weights Gexc (E_rev - v_mean) in pA
VA_CUBA = {**_VA_CELL, "E_L": -60.0, "tau_syn_ex": 5.0, "tau_syn_in": 10.0}


def _nest_iaf_cond_exp(p: dict) -> dict:
    """NEST iaf_cond_exp names: g_L instead of tau_m, E_ex/E_in as given."""
    out = {k: v for k, v in p.items() if k != "tau_m"}
    out["g_L"] = p["C_m"] / p["tau_m"]
    return out


def _nest_iaf_psc_exp(p: dict) -> dict:
    return dict(p)


def ei_spec(
    name: str,
    model: str,
    params: tuple[dict, dict],
    n_exc: int,
    n_inh: int,
    p_conn: np.ndarray,
    weight: np.ndarray,
    delay_ms: float,
    w_ext: tuple[float, float],
    seed: int,
    to_nest=_nest_iaf_psc_exp,
) -> NetworkSpec:
    """A two-population network with Bernoulli connections, autapses excluded.

    ``p_conn[a, b]`` and ``weight[a, b]`` are from population a to population b (0 = E, 1 = I), in the
    model's NEST weight unit (pA for iaf_psc_exp, mV for iaf_psc_delta, nS for iaf_cond_exp; inhibitory
    weights negative).
    Every neuron gets one external Poisson source (source i -> neuron i) of weight ``w_ext[pop]``.
    """
    rng = np.random.default_rng(seed)
    n = n_exc + n_inh
    pop = (np.arange(n) >= n_exc).astype(np.int64)
    p = np.asarray(p_conn)[pop[:, None], pop[None, :]]
    pre, post = np.nonzero(rng.random((n, n)) < p)
    keep = pre != post
    pre, post = pre[keep], post[keep]
    cells = lif_cells(model, [params[0], params[1]], ["exc", "inh"])
    cells = replace(cells, native_params=tuple(to_nest(q) for q in params))
    inputs = Synapses(
        pre=np.arange(n),
        post=np.arange(n),
        receptor=np.zeros(n, np.int64),
        weight_pA=np.asarray(w_ext, dtype=float)[pop],
        delay_ms=np.full(n, delay_ms),
    )
    return NetworkSpec(
        name,
        cells,
        pop,
        Synapses(
            pre, post, pop[pre], np.asarray(weight, dtype=float)[pop[pre], pop[post]], np.full(pre.size, delay_ms)
        ),
        n_sources=n,
        inputs=inputs,
        source_names=tuple(f"ext{i}" for i in range(n)),
        populations={"exc": np.arange(n_exc), "inh": np.arange(n_exc, n)},
        receptor_names=("exc", "inh"),
    )


def poisson_drive(
    spec: NetworkSpec, dt_ms: float, seed: int, rate_Hz: tuple[float, float], duration_ms: float = TRIAL_MS
) -> FrozenStimulus:
    """Independent Poisson counts per neuron's source and step (rate per population), from ``seed``."""
    rng = np.random.default_rng([seed, int(round(dt_ms * 1000))])
    n_steps = steps(duration_ms, dt_ms)
    exc = spec.populations["exc"]
    rates = np.where(np.isin(np.arange(spec.n_sources), exc), rate_Hz[0], rate_Hz[1])
    # one vectorised draw for every (step, source); the rate differs per source, so not
    # stimulus.independent_poisson_counts (one rate for all)
    counts = rng.poisson(rates[None, None, :] * dt_ms / 1000.0, size=(1, n_steps, spec.n_sources)).astype(float)
    return FrozenStimulus(
        dt_ms,
        n_steps,
        1,
        events=Events.from_dense(counts),
        seed=seed,
        description=f"independent Poisson drive, {rate_Hz[0]:g} / {rate_Hz[1]:g} Hz per E / I neuron",
    )


# --- the three networks --------------------------------------------------------------------------------------

N_EXC, N_INH = 640, 160
P_VA = 0.02 * 4000 / (N_EXC + N_INH)  # keeps the benchmark's in-degree of 80
SEEDS = {"ei_cuba": 61001, "ei_coba": 61002, "ping": 61003, "delta_network": 61004}

#: drive rate (Hz) of each neuron's Poisson source, to E and to I: measured on NEST 3.10 to give
#: E/I rates of ~14/15 Hz (CUBA), ~16/24 Hz (COBA) and a ~40 Hz gamma rhythm (PING)
DRIVE_HZ = {
    "ei_cuba": (2500.0, 2500.0),
    "ei_coba": (1000.0, 1000.0),
    "ping": (4000.0, 0.0),
    "delta_network": (2400.0, 2400.0),
}


def _cuba_spec() -> NetworkSpec:
    w_exc, w_inh = 0.27 * (0.0 - -60.0), 4.5 * (-80.0 - -60.0)  # nS x (E_rev - v_mean) = 16.2, -90 pA
    return ei_spec(
        "ei_cuba",
        "iaf_psc_exp",
        (VA_CUBA, VA_CUBA),
        N_EXC,
        N_INH,
        np.full((2, 2), P_VA),
        np.array([[w_exc, w_exc], [w_inh, w_inh]]),
        0.2,
        (w_exc, w_exc),
        SEEDS["ei_cuba"],
    )


def _coba_spec() -> NetworkSpec:
    return ei_spec(
        "ei_coba",
        "iaf_cond_exp",
        (VA_COBA, VA_COBA),
        N_EXC,
        N_INH,
        np.full((2, 2), P_VA),
        np.array([[4.0, 4.0], [-51.0, -51.0]]),  # nS: Gexc, Ginh of the benchmark
        0.2,
        (4.0, 4.0),
        SEEDS["ei_coba"],
        to_nest=_nest_iaf_cond_exp,
    )


#: PING cells (NEST iaf_psc_exp): E with 2 ms AMPA-like and 6 ms GABA_A-like currents; I alike.
PING_CELL = {
    "C_m": 250.0,
    "tau_m": 10.0,
    "E_L": -70.0,
    "V_th": -55.0,
    "V_reset": -70.0,
    "t_ref": 2.0,
    "tau_syn_ex": 2.0,
    "tau_syn_in": 6.0,
    "I_e": 0.0,
}
N_PING_E, N_PING_I = 320, 80
#: E -> I and I -> E dense and strong, E -> E sparse and weak, I -> I moderate (pA)
PING_P = np.array([[0.05, 0.5], [0.5, 0.2]])
PING_W = np.array([[20.0, 100.0], [-100.0, -100.0]])


def _ping_spec() -> NetworkSpec:
    return ei_spec(
        "ping",
        "iaf_psc_exp",
        (PING_CELL, PING_CELL),
        N_PING_E,
        N_PING_I,
        PING_P,
        PING_W,
        1.0,
        (100.0, 0.0),
        SEEDS["ping"],
    )


#: Brunel-style delta LIF (NEST iaf_psc_delta names): theta = 20 mV above rest, tau_m 20 ms, t_ref 2 ms
DELTA_CELL = {"C_m": 250.0, "tau_m": 20.0, "E_L": -70.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 2.0, "I_e": 0.0}
N_DELTA_E, N_DELTA_I = 400, 100
#: J = 0.5 mV, g = 5 (inhibition dominated), p = 0.1; the drive J_ext = 0.5 mV at 2400 Hz is 1.2x the
#: rate that holds the mean membrane potential at threshold (theta / (J tau_m) = 2000 Hz)
DELTA_J_MV, DELTA_G = 0.5, 5.0


def _delta_spec() -> NetworkSpec:
    j = DELTA_J_MV
    return ei_spec(
        "delta_network",
        "iaf_psc_delta",
        (DELTA_CELL, DELTA_CELL),
        N_DELTA_E,
        N_DELTA_I,
        np.full((2, 2), 0.1),
        np.array([[j, j], [-DELTA_G * j, -DELTA_G * j]]),
        1.5,  # 1.5 steps at dt 1: rounded half up to 2 by the nest_half_up rule of both sides
        (j, j),
        SEEDS["delta_network"],
    )


def _stimulus(name: str):
    def build(spec: NetworkSpec, dt_ms: float, seed: int = SEEDS[name] + 1, duration_ms: float = TRIAL_MS):
        return poisson_drive(spec, dt_ms, seed, DRIVE_HZ[name], duration_ms)

    return build


NETWORK_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "delta_network",
        f"E/I network of delta-synapse LIFs (iaf_psc_delta, Brunel-style, J {DELTA_J_MV:g} mV, g {DELTA_G:g}), "
        f"{N_DELTA_E} E + {N_DELTA_I} I, Poisson drive, 200 ms",
        _delta_spec,
        _stimulus("delta_network"),
        dts_ms=(1.0, 0.1),
        duration_ms=TRIAL_MS,
        min_spikes=500,
        golden_neurons=tuple(range(0, 8)) + tuple(range(N_DELTA_E, N_DELTA_E + 4)),
    ),
    Scenario(
        "ei_cuba",
        f"current-based Vogels-Abbott E/I network (iaf_psc_exp), {N_EXC} E + {N_INH} I, p {P_VA:g}, "
        "Poisson drive, 200 ms",
        _cuba_spec,
        _stimulus("ei_cuba"),
        dts_ms=(NETWORK_DT_MS,),
        duration_ms=TRIAL_MS,
        min_spikes=500,
        golden_neurons=tuple(range(0, 8)) + tuple(range(N_EXC, N_EXC + 4)),
    ),
    Scenario(
        "ei_coba",
        f"conductance-based Vogels-Abbott benchmark (iaf_cond_exp), {N_EXC} E + {N_INH} I, p {P_VA:g}, "
        "Poisson drive, 200 ms",
        _coba_spec,
        _stimulus("ei_coba"),
        dts_ms=(NETWORK_DT_MS,),
        duration_ms=TRIAL_MS,
        min_spikes=500,
        golden_neurons=tuple(range(0, 8)) + tuple(range(N_EXC, N_EXC + 4)),
    ),
    Scenario(
        "ping",
        f"PING gamma network (iaf_psc_exp, fast inhibition), {N_PING_E} E + {N_PING_I} I, Poisson drive to E, 200 ms",
        _ping_spec,
        _stimulus("ping"),
        dts_ms=(NETWORK_DT_MS,),
        duration_ms=TRIAL_MS,
        min_spikes=500,
        golden_neurons=tuple(range(0, 8)) + tuple(range(N_PING_E, N_PING_E + 4)),
    ),
)
