"""Neuron models for the Brian2 adapter: NEST's step of each model, written as Brian2 abstract code.

Every model is one :class:`BrianModel`: dimensionless Brian2 variables in NEST units (mV, pA, pF,
nS, ms), per-neuron constants precomputed here in numpy, and the code of one step split over
Brian2's schedule slots so that the order of operations is NEST's ``update()``:

* ``groups`` slot (``update``): refractory bookkeeping and the membrane update from the state at
  the start of the step (synaptic state, after-spike currents, the injected current read in the
  previous step);
* ``thresholds`` / ``resets`` slots (``threshold``, ``reset``): spike test and reset in the same
  step;
* ``synapses`` slot: arriving spikes add their weight to an input port variable ``in<p>``; a
  current change sets ``Ie`` (used from the next step on, as NEST reads its current buffer at the
  end of a step);
* ``end`` slot (``end``): synaptic state advances one step and takes the port sums (NEST: "spikes
  arriving at T+1 have an immediate effect on the state of the neuron").

Brian2 abstract code has no ``if``: branches are written with 0/1 flags (``integ``), which adds
exact zeros, so the arithmetic of the taken branch is unchanged.

Sources (read, not copied): NEST 3.10 ``models/glif_psc.cpp``, ``iaf_psc_exp.cpp``,
``iaf_psc_alpha.cpp``, ``iaf_cond_exp.cpp``; ``libnestutil/iaf_propagator.cpp`` for the exact
propagators (implemented once in :func:`snnval.adapters.tf_reference.alpha_propagators`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from snnval.adapters.tf_reference import alpha_propagators
from snnval.errors import SpecError
from snnval.semantics import Semantics, refractory_steps, refractory_steps_brian2, refractory_steps_nearest
from snnval.spec import GLIF3Cells

#: NEST 3.10 defaults of the LIF family (from the models' Parameters_ constructors in NEST's
#: source: iaf_psc_exp.cpp, iaf_psc_alpha.cpp, iaf_cond_exp.cpp); units mV, pF, ms, pA, nS.
NEST_DEFAULTS: dict[str, dict[str, float]] = {
    "iaf_psc_exp": {
        "E_L": -70.0, "C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "V_th": -55.0, "V_reset": -70.0,
        "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0,
    },
    "iaf_psc_alpha": {
        "E_L": -70.0, "C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "V_th": -55.0, "V_reset": -70.0,
        "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0, "V_min": -np.inf,
    },
    "iaf_cond_exp": {
        "E_L": -70.0, "C_m": 250.0, "g_L": 16.6667, "t_ref": 2.0, "V_th": -55.0, "V_reset": -60.0,
        "E_ex": 0.0, "E_in": -85.0, "tau_syn_ex": 0.2, "tau_syn_in": 2.0, "I_e": 0.0,
    },
}  # fmt: skip

#: RK4 sub-steps per simulation step for iaf_cond_exp (fixed, so the generated code and its compile
#: cache do not depend on dt). At dt = 1 ms the sub-step is 0.05 ms = tau_syn_ex / 4 for NEST's
#: default 0.2 ms: RK4's local error is then ~1e-6 of the step's change, below NEST's own GSL
#: tolerance (RKF45, absolute error 1e-3 per adaptive step).
COND_EXP_SUBSTEPS = 20


@dataclass
class BrianModel:
    """One neuron model as Brian2 code plus its per-neuron constants and initial state."""

    name: str
    #: Brian2 model equations (declarations only; every variable is dimensionless or integer)
    equations: str
    #: per-neuron constants and initial state: variable name -> array of the group's size
    values: dict[str, np.ndarray]
    update: str
    threshold: str
    reset: str
    end: str
    #: input port variables; a synapse adds its weight to one of them
    ports: tuple[str, ...]
    #: (receptor, weight) arrays -> port index per synapse
    route: Callable[[np.ndarray, np.ndarray], np.ndarray]
    #: added to the membrane variable ``U`` to give V_m in mV (E_L for NEST's relative models)
    v_offset: np.ndarray
    #: recordable -> Brian2 variable
    recordables: dict[str, str] = field(default_factory=dict)


def _declare(names: list[str], kind: str = "1") -> str:
    return "\n".join(f"{n} : {kind}" for n in names)


def _lif_refractory_steps(t_ref_ms: np.ndarray, h: float, sem: Semantics) -> np.ndarray:
    """Steps V is held after a spike step: NEST's ceil(t_ref/h) (knob ``refractory="clamp"``), Brian2's
    floor(t_ref/h + 1e-3) counted from the spike step itself (``"clamp_from_spike_step"``, pyNN.brian2), or
    round(t_ref/h) (``"clamp_nearest"``, pyNN.neuron)."""
    if sem.refractory == "clamp_from_spike_step":
        return np.maximum(refractory_steps_brian2(t_ref_ms, h) - 1, 0)
    if sem.refractory == "clamp_nearest":
        return refractory_steps_nearest(t_ref_ms, h)
    return refractory_steps(t_ref_ms, h)


def _lif_reset(sem: Semantics) -> tuple[str, str]:
    """(reset code, code run first in the next step's update). ``reset="hard_same_step"`` (NEST): V_reset in
    the spike step; ``"hard_next_step"`` (pyNN.neuron): the spike step keeps its V (as recorded), V_reset is
    set at the start of the next step, before the refractory clamp holds it."""
    if sem.reset == "hard_next_step":
        return "ref = nref\npend = 1\n", "U = pend*U_reset + (1 - pend)*U\npend = 0\n"
    return "ref = nref\nU = U_reset\n", ""


def _refractory_update() -> str:
    # NEST: "if refractory_steps == 0: integrate, else: --refractory_steps (state held)".
    return "integ = int(ref == 0)\nref = ref - (1 - integ)\n"


# --- GLIF3: NEST glif_psc -------------------------------------------------------------------------


def glif3_model(cells: GLIF3Cells, node_type: np.ndarray, dt_ms: float, sem: Semantics) -> BrianModel:
    """NEST ``glif_psc`` (GLIF3: after-spike currents on, threshold adaptations off); U = V - E_L.

    One step (glif_psc.cpp ``update()``): if not refractory, ASC_sum = sum stable_a * ASC_a,
    ASC_a *= exp(-k_a h), U = U P33 + (I + ASC_sum) P30 + sum_r (P31_r y1_r + P32_r y2_r), and on
    U > th: refractory = ceil(t_ref/h), ASC_a = amps_a + ASC_a r_a exp(-k_a t_ref), U = U_reset;
    else refractory -= 1 with U and ASCs held. Then y2 = h P11 y1 + P11 y2, y1 = P11 y1 + e/tau
    * arrivals. ``I_syn`` and ``ASCurrents_sum`` are updated only in integrating steps.
    """
    t = node_type
    R = cells.n_receptors
    h = float(dt_ms)
    tau_m = cells.tau_m_ms[t]
    C_m = cells.C_m_pF[t]
    k = cells.asc_decay_per_ms[t]
    tau_syn = cells.tau_syn_ms[t]
    p33 = np.exp(-h / tau_m)
    decay = np.exp(-k * h)
    p31, p32 = alpha_propagators(tau_syn, tau_m[:, None], C_m[:, None], h)
    p11 = np.exp(-h / tau_syn)
    u_reset = cells.V_reset_mV[t] - cells.E_L_mV[t]
    values: dict[str, np.ndarray] = {
        "U": np.where(
            np.isfinite(v_file := _file_v_m(cells, t)),
            v_file - cells.E_L_mV[t],
            np.zeros(t.size) if sem.initial_v == "e_l" else u_reset,
        ),
        "th": cells.V_th_mV[t] - cells.E_L_mV[t],
        "U_reset": u_reset,
        "P33": p33,
        "P30": 1.0 / C_m * (1.0 - p33) * tau_m,
        "nref": refractory_steps(cells.t_ref_ms[t], h),
    }
    for a in range(2):
        values[f"asc{a}"] = np.zeros(t.size)
        values[f"asc_decay{a}"] = decay[:, a]
        values[f"asc_stable{a}"] = ((1.0 / k[:, a]) / h) * (1.0 - decay[:, a])
        values[f"asc_amp{a}"] = cells.asc_amps_pA[t, a]
        values[f"asc_refr{a}"] = cells.asc_r_or_ones[t, a] * np.exp(-k[:, a] * cells.t_ref_ms[t])
    for r in range(R):
        values[f"P11_{r}"] = p11[:, r]
        values[f"P21_{r}"] = h * p11[:, r]
        values[f"P31_{r}"] = p31[:, r]
        values[f"P32_{r}"] = p32[:, r]
        values[f"psc_init{r}"] = np.e / tau_syn[:, r]
    floats = [
        "U", "th", "U_reset", "P33", "P30", "Ie", "asc_sum", "asc_drive", "isyn",
        *[f"{p}{a}" for a in range(2) for p in ("asc", "asc_decay", "asc_stable", "asc_amp", "asc_refr")],
        *[f"{p}{r}" for r in range(R) for p in ("y1_", "y2_", "P11_", "P21_", "P31_", "P32_", "psc_init", "in")],
    ]  # fmt: skip
    equations = _declare(floats) + "\n" + _declare(["ref", "nref", "integ"], "integer")
    syn_v = " + ".join(f"(P31_{r}*y1_{r} + P32_{r}*y2_{r})" for r in range(R))
    y2_sum = " + ".join(f"y2_{r}" for r in range(R))
    update = (
        _refractory_update()
        + "asc_sum = asc_stable0*asc0 + asc_stable1*asc1\n"
        + "asc0 = integ*(asc0*asc_decay0) + (1 - integ)*asc0\n"
        + "asc1 = integ*(asc1*asc_decay1) + (1 - integ)*asc1\n"
        # NEST's order of additions: (U P33 + (I + ASC) P30) + receptor 0 + receptor 1 + ...
        + f"U = integ*(U*P33 + (Ie + asc_sum)*P30 + {syn_v}) + (1 - integ)*U\n"
        + f"isyn = integ*({y2_sum}) + (1 - integ)*isyn\n"
        + "asc_drive = integ*asc_sum + (1 - integ)*asc_drive\n"
    )
    reset = "ref = nref\nasc0 = asc_amp0 + asc0*asc_refr0\nasc1 = asc_amp1 + asc1*asc_refr1\nU = U_reset\n"
    end = "".join(
        f"y2_{r} = P21_{r}*y1_{r} + P11_{r}*y2_{r}\ny1_{r} = y1_{r}*P11_{r} + psc_init{r}*in{r}\nin{r} = 0\n"
        for r in range(R)
    )
    return BrianModel(
        name="glif3",
        equations=equations,
        values=values,
        update=update,
        threshold="integ == 1 and U > th",  # strict >, tested only in integrating steps
        reset=reset,
        end=end,
        ports=tuple(f"in{r}" for r in range(R)),
        route=lambda receptor, weight: np.asarray(receptor, np.int64),
        v_offset=cells.E_L_mV[t].astype(float),
        recordables={"V_m": "U", "ASC": "asc_drive", "I_syn": "isyn"},
    )


# --- the LIF family: NEST-native parameters ----------------------------------------------------------


def native_params(cells: GLIF3Cells, type_index: int) -> dict[str, float]:
    """NEST parameters of one node type: the spec's ``native_params`` over NEST's defaults."""
    model = cells.models[type_index]
    given = dict(cells.native_params[type_index])
    unknown = sorted(set(given) - set(NEST_DEFAULTS[model]) - {"V_m"})
    if unknown:
        raise SpecError(
            "cells.native_params",
            f"node type {cells.names[type_index]!r} ({model})",
            f"parameters of NEST {model} ({sorted(NEST_DEFAULTS[model])}), got unknown {unknown}",
        )
    return {k: float(given.get(k, v)) for k, v in NEST_DEFAULTS[model].items()}


def _columns(cells: GLIF3Cells, node_type: np.ndarray) -> dict[str, np.ndarray]:
    """Per-neuron NEST parameters (one model per group), one array per parameter."""
    per_type = {int(t): native_params(cells, int(t)) for t in np.unique(node_type)}
    keys = next(iter(per_type.values())).keys()
    return {k: np.array([per_type[int(t)][k] for t in node_type], dtype=float) for k in keys}


def _file_v_m(cells: GLIF3Cells, node_type: np.ndarray) -> np.ndarray:
    """Per-neuron V_m (mV) a node type's ``native_params`` state (NaN where none): its initial state."""
    return np.array([float(cells.native_params[int(t)].get("V_m", np.nan)) for t in node_type], dtype=float)


def _initial_v(p: dict[str, np.ndarray], sem: Semantics, file_v_m: np.ndarray) -> np.ndarray:
    # A V_m the file states is the initial state; without one the initial_v knob decides (as the NEST
    # adapter does, adapters/nest_glif.py _node_params).
    knob = p["V_reset"] if sem.initial_v == "v_reset" else p["E_L"]
    return np.where(np.isfinite(file_v_m), file_v_m, knob)


def _sign_route(receptor: np.ndarray, weight: np.ndarray, zero_is_excitatory: bool) -> np.ndarray:
    """Port 0 (excitatory) or 1 (inhibitory) by the sign of the weight, as NEST's handle(SpikeEvent)."""
    exc = weight >= 0 if zero_is_excitatory else weight > 0
    return np.where(exc, 0, 1).astype(np.int64)


def iaf_psc_exp_model(cells: GLIF3Cells, node_type: np.ndarray, dt_ms: float, sem: Semantics) -> BrianModel:
    """NEST ``iaf_psc_exp``: U = V - E_L; exponential PSCs (pA) by weight sign; threshold ``>=``.

    Step: if not refractory U = U P22 + i_ex P21ex + i_in P21in + (I_e + I) P20, else ref -= 1;
    i *= P11; i += arrivals; on U >= th: ref = ceil(t_ref/h), U = U_reset (checked every step).
    """
    p = _columns(cells, node_type)
    h = float(dt_ms)
    p22 = np.exp(-h / p["tau_m"])
    values = {
        "U": _initial_v(p, sem, _file_v_m(cells, node_type)) - p["E_L"],
        "th": p["V_th"] - p["E_L"],
        "U_reset": p["V_reset"] - p["E_L"],
        "P22": p22,
        "P20": p["tau_m"] / p["C_m"] * (1.0 - p22),
        "I_e": p["I_e"],
        "nref": _lif_refractory_steps(p["t_ref"], h, sem),
    }
    for port, tau in (("ex", p["tau_syn_ex"]), ("in", p["tau_syn_in"])):
        values[f"P11{port}"] = np.exp(-h / tau)
        values[f"P21{port}"] = alpha_propagators(tau, p["tau_m"], p["C_m"], h)[1]  # IAFPropagatorExp == P32
    values["h_C"] = np.full(node_type.size, h) / p["C_m"]
    values["ie_den"] = 1.0 + h / p["tau_m"]
    floats = ["U", "th", "U_reset", "P22", "P20", "I_e", "Ie", "isyn", "h_C", "ie_den"]
    floats += [f"{v}{port}" for port in ("ex", "in") for v in ("i_", "P11", "P21", "in_")]
    if sem.psc_to_v == "implicit_euler":  # NEURON's fixed step (pyNN.neuron), current at the start of the step
        v_new = "(U + (i_ex + i_in + I_e + Ie)*h_C)/ie_den"
    else:  # NEST's exact propagators (also Brian2's 'exact' method: "brian2_exact_or_euler")
        v_new = "U*P22 + i_ex*P21ex + i_in*P21in + (I_e + Ie)*P20"
    reset, pending = _lif_reset(sem)
    update = pending + _refractory_update() + f"U = integ*({v_new}) + (1 - integ)*U\n" + "isyn = i_ex + i_in\n"
    end = "i_ex = i_ex*P11ex + in_ex\ni_in = i_in*P11in + in_in\nin_ex = 0\nin_in = 0\n"
    return BrianModel(
        name="iaf_psc_exp",
        equations=_declare(floats) + "\n" + _declare(["ref", "nref", "integ", "pend"], "integer"),
        values=values,
        update=update,
        threshold="U >= th",
        reset=reset,
        end=end,
        ports=("in_ex", "in_in"),
        route=lambda receptor, weight: _sign_route(receptor, weight, zero_is_excitatory=True),
        v_offset=p["E_L"],
        recordables={"V_m": "U"},
    )


def iaf_psc_alpha_model(cells: GLIF3Cells, node_type: np.ndarray, dt_ms: float, sem: Semantics) -> BrianModel:
    """NEST ``iaf_psc_alpha``: U = V - E_L; alpha PSCs (dI, I) by weight sign; threshold ``>=``; V_min.

    Step: if not refractory U = P30 (I + I_e) + P31ex dI_ex + P32ex I_ex + P31in dI_in + P32in I_in
    + expm1(-h/tau_m) U + U, bounded below by V_min; else ref -= 1. I = h P11 dI + P11 I;
    dI = P11 dI + e/tau arrivals; on U >= th: ref = ceil(t_ref/h), U = U_reset.
    Under ``psc_to_v="brian2_exact_or_euler"`` (pyNN.brian2's IF_curr_alpha, Brian2's exact updater: the
    same propagators) the inhibitory port decays with tau_syn_ex, as pyNN.brian2's equations write it.
    """
    p = _columns(cells, node_type)
    h = float(dt_ms)
    tau_in = p["tau_syn_in"]
    if sem.psc_to_v == "brian2_exact_or_euler":
        # pyNN.brian2 (PyNN 0.13, pyNN/brian2/standardmodels/receptors.py, current_based_alpha_synapses)
        # writes both alpha kernels with tau_syn_e: the inhibitory PSC decays with tau_syn_E, not tau_syn_I.
        tau_in = p["tau_syn_ex"]
    values = {
        "U": _initial_v(p, sem, _file_v_m(cells, node_type)) - p["E_L"],
        "th": p["V_th"] - p["E_L"],
        "U_reset": p["V_reset"] - p["E_L"],
        "U_min": p["V_min"] - p["E_L"],
        "expm1_tau": np.expm1(-h / p["tau_m"]),
        "P30": -p["tau_m"] / p["C_m"] * np.expm1(-h / p["tau_m"]),
        "I_e": p["I_e"],
        "nref": _lif_refractory_steps(p["t_ref"], h, sem),
    }
    for port, tau in (("ex", p["tau_syn_ex"]), ("in", tau_in)):
        p31, p32 = alpha_propagators(tau, p["tau_m"], p["C_m"], h)
        values[f"P11{port}"] = np.exp(-h / tau)
        values[f"P21{port}"] = h * values[f"P11{port}"]
        values[f"P31{port}"] = p31
        values[f"P32{port}"] = p32
        values[f"psc_init{port}"] = np.e / tau
    floats = ["U", "th", "U_reset", "U_min", "expm1_tau", "P30", "I_e", "Ie", "isyn"]
    floats += [
        f"{v}{port}" for port in ("ex", "in") for v in ("dI_", "I_", "P11", "P21", "P31", "P32", "psc_init", "in_")
    ]
    update = (
        _refractory_update()
        + "U = integ*clip(P30*(Ie + I_e) + P31ex*dI_ex + P32ex*I_ex + P31in*dI_in + P32in*I_in"
        + " + expm1_tau*U + U, U_min, inf) + (1 - integ)*U\n"
        + "isyn = I_ex + I_in\n"
    )
    end = "".join(
        f"I_{q} = P21{q}*dI_{q} + P11{q}*I_{q}\ndI_{q} = dI_{q}*P11{q} + psc_init{q}*in_{q}\nin_{q} = 0\n"
        for q in ("ex", "in")
    )
    return BrianModel(
        name="iaf_psc_alpha",
        equations=_declare(floats) + "\n" + _declare(["ref", "nref", "integ"], "integer"),
        values=values,
        update=update,
        threshold="U >= th",
        reset="ref = nref\nU = U_reset\n",
        end=end,
        ports=("in_ex", "in_in"),
        route=lambda receptor, weight: _sign_route(receptor, weight, zero_is_excitatory=False),
        v_offset=p["E_L"],
        recordables={"V_m": "U"},
    )


def iaf_cond_exp_model(cells: GLIF3Cells, node_type: np.ndarray, dt_ms: float, sem: Semantics) -> BrianModel:
    """NEST ``iaf_cond_exp``: conductances (nS) by weight sign (inhibitory adds -w); U = V (absolute mV).

    C dV/dt = -g_L (V - E_L) - g_ex (V - E_ex) - g_in (V - E_in) + I_e + I; dg/dt = -g/tau.
    NEST integrates the step with GSL's adaptive RKF45 (absolute tolerance 1e-3), then adds the
    arrivals to g, then: if refractory, ref -= 1 and V = V_reset; elif V >= V_th: spike and reset.
    Here: the conductances decay exactly and V takes COND_EXP_SUBSTEPS classic RK4 sub-steps with
    the exact conductance at each stage, so the two agree to NEST's solver tolerance, not bit for bit.
    """
    p = _columns(cells, node_type)
    h = float(dt_ms)
    hs = h / COND_EXP_SUBSTEPS
    values = {
        "U": _initial_v(p, sem, _file_v_m(cells, node_type)),
        "th": p["V_th"],
        "U_reset": p["V_reset"],
        "E_L": p["E_L"],
        "E_ex": p["E_ex"],
        "E_in": p["E_in"],
        "g_L": p["g_L"],
        "C_m": p["C_m"],
        "I_e": p["I_e"],
        "hs": np.full(node_type.size, hs),
        "nref": _lif_refractory_steps(p["t_ref"], h, sem),
    }
    for port, tau in (("ex", p["tau_syn_ex"]), ("in", p["tau_syn_in"])):
        values[f"half{port}"] = np.exp(-0.5 * hs / tau)  # conductance decay over half a sub-step
    floats = ["U", "th", "U_reset", "E_L", "E_ex", "E_in", "g_L", "C_m", "I_e", "Ie", "hs", "isyn"]
    floats += [f"{v}{port}" for port in ("ex", "in") for v in ("g_", "half", "in_")]
    floats += ["k1", "k2", "k3", "k4", "ge_m", "gi_m", "ge_e", "gi_e", "I_tot"]

    def f(v: str, ge: str, gi: str) -> str:
        return f"(-g_L*({v} - E_L) - {ge}*({v} - E_ex) - {gi}*({v} - E_in) + I_tot)/C_m"

    sub = (
        "ge_m = g_ex*halfex\ngi_m = g_in*halfin\nge_e = ge_m*halfex\ngi_e = gi_m*halfin\n"
        f"k1 = {f('U', 'g_ex', 'g_in')}\n"
        f"k2 = {f('(U + 0.5*hs*k1)', 'ge_m', 'gi_m')}\n"
        f"k3 = {f('(U + 0.5*hs*k2)', 'ge_m', 'gi_m')}\n"
        f"k4 = {f('(U + hs*k3)', 'ge_e', 'gi_e')}\n"
        "U = U + hs/6*(k1 + 2*k2 + 2*k3 + k4)\n"
        "g_ex = ge_e\ng_in = gi_e\n"
    )
    if sem.psc_to_v == "implicit_euler":  # NEURON's fixed step (pyNN.neuron): conductances at the start of the step
        values["h_C"] = np.full(node_type.size, h) / p["C_m"]
        for port, tau in (("ex", p["tau_syn_ex"]), ("in", p["tau_syn_in"])):
            values[f"dec{port}"] = np.exp(-h / tau)
        floats += ["h_C", "decex", "decin"]
        integrate = (
            "U = (U + h_C*(g_L*E_L + g_ex*E_ex + g_in*E_in + I_tot))/(1 + h_C*(g_L + g_ex + g_in))\n"
            "g_ex = g_ex*decex\ng_in = g_in*decin\n"
        )
    elif sem.psc_to_v == "brian2_exact_or_euler":  # pyNN.brian2: Brian2's 'euler' (V g is not linear)
        values["h_C"] = np.full(node_type.size, h) / p["C_m"]
        for port, tau in (("ex", p["tau_syn_ex"]), ("in", p["tau_syn_in"])):
            values[f"dec{port}"] = 1.0 - h / tau
        floats += ["h_C", "decex", "decin"]
        integrate = (
            "U = U + h_C*(g_L*(E_L - U) + g_ex*(E_ex - U) + g_in*(E_in - U) + I_tot)\n"
            "g_ex = g_ex*decex\ng_in = g_in*decin\n"
        )
    else:
        integrate = sub * COND_EXP_SUBSTEPS
    reset, pending = _lif_reset(sem)
    update = (
        pending
        + "I_tot = I_e + Ie\n"
        + integrate
        + "isyn = -g_ex*(U - E_ex) - g_in*(U - E_in)\n"
        # NEST adds the arrivals before the refractory test; they only change g, so adding them in
        # the synapses slot (after the test) is the same step.
        + _refractory_update()
        + "U = integ*U + (1 - integ)*U_reset\n"
    )
    return BrianModel(
        name="iaf_cond_exp",
        equations=_declare(floats) + "\n" + _declare(["ref", "nref", "integ", "pend"], "integer"),
        values=values,
        update=update,
        threshold="integ == 1 and U >= th",
        reset=reset,
        end="g_ex = g_ex + in_ex\ng_in = g_in - in_in\nin_ex = 0\nin_in = 0\n",
        ports=("in_ex", "in_in"),
        route=lambda receptor, weight: _sign_route(receptor, weight, zero_is_excitatory=False),
        v_offset=np.zeros(node_type.size),
        recordables={"V_m": "U"},
    )


MODELS: dict[str, Callable[[GLIF3Cells, np.ndarray, float, Semantics], BrianModel]] = {
    "glif3": glif3_model,
    "iaf_psc_exp": iaf_psc_exp_model,
    "iaf_psc_alpha": iaf_psc_alpha_model,
    "iaf_cond_exp": iaf_cond_exp_model,
}
