"""Explicit, vectorised unit conversions between the suite's canonical units and each simulator's.

Canonical units (the :class:`~snnval.spec.NetworkSpec`, and NEST ``glif_psc``):
mV, pF, nS, pA, ms, 1/ms. Other unit systems the suite talks to:

* **PyNN standard units** (PyNN documentation, "Units"; and PyNN 0.13 ``pyNN/nest/standardmodels/synapses.py``,
  which multiplies every ``StaticSynapse`` weight by 1000 on its way to NEST): mV, **nF**, **uS**, **nA**, ms.
  Beware: ``pyNN.nest.native_cell_type('glif_psc')`` passes *cell* parameters to NEST untranslated (NEST
  units, see :meth:`snnval.spec.GLIF3Cells.nest_params`), while a ``StaticSynapse`` weight onto that cell is
  still given in nA and translated x1000. Mixing the two is the classic nA/pA trap (PyNN issue #318).
* **SpiNNaker GLIF3** (``SpiNNakerManchester/sPyNNakerNewModelTemplate``, ``python_models8`` ``GLIF3Curr``):
  the PyNN units nA, nF, uS; see :func:`cells_to_spinnaker_glif3`.
* **The TF reference's normalised units** (Billeh et al. training code, ``models.py`` class ``BillehColumn``):
  every voltage is ``v = (V - E_L) / vsc`` with ``vsc = V_th - E_L`` of the neuron (mV); every current that
  reaches a neuron -- synaptic weight, after-spike current amplitude, background weight -- is divided by the
  ``vsc`` of the neuron it reaches, i.e. of the **postsynaptic** neuron for a synapse. Background weights are
  additionally stored x10 (TF variable ``rest_of_brain_weights``).

Every function takes and returns float64 arrays (scalars come back as numpy scalars), broadcasts like
numpy and preserves shapes. Conversions are written as one correctly rounded multiply or divide by an
exactly representable constant (``x / 1000.0``, never ``x * 1e-3``, because 1e-3 is not representable in
binary), so a round trip costs at most two roundings (relative error <= 2**-52).

The seed project's NEST port lost weeks to this table: TF weights must be multiplied by ``vsc_post``
(TF -> pA), and only then divided by 1000 for nA; dividing the TF weight by 1000 instead is off by a factor
``vsc_post * 1000`` (GLIF3_SEMANTICS.md, section 1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from snnval.errors import NotApplicable, SpecError
from snnval.spec import GLIF3Cells, NetworkSpec

#: pico per nano: pA per nA, pF per nF, nS per uS. Exactly representable, so x1000 and /1000 are one rounding.
PICO_PER_NANO = 1000.0

#: TF ``BillehColumn`` stores background weights as ``bkg_pA / vsc * 10`` (variable ``rest_of_brain_weights``);
#: in the common-source mode it multiplies them back by 1/10 (GLIF3_SEMANTICS.md, section 2).
TF_BKG_WEIGHT_SCALE = 10.0

#: Units of the arrays returned by :func:`cells_to_pynn` (PyNN standard-model naming and units).
PYNN_GLIF3_UNITS: dict[str, str] = {
    "v_rest": "mV",
    "v_thresh": "mV",
    "v_reset": "mV",
    "cm": "nF",
    "g": "uS",
    "tau_m": "ms",
    "tau_refrac": "ms",
    "tau_syn": "ms",
    "asc_amps": "nA",
    "asc_decay": "1/ms",
    "asc_r": "1",
    "i_offset": "nA",
}

#: Units of the arrays returned by :func:`cells_to_spinnaker_glif3` (names of ``GLIF3Curr``'s arguments;
#: units as declared in that model's Python struct definition).
SPINNAKER_GLIF3_UNITS: dict[str, str] = {
    "c_m": "nF",
    "e_l": "mV",
    "v_reset": "mV",
    "v_thresh": "mV",
    "asc_amp_0": "nA",
    "asc_amp_1": "nA",
    "g": "uS",
    "k0": "1/ms",
    "k1": "1/ms",
    "t_ref": "ms",
    "i_offset": "nA",
    "tau_syn_0": "ms",
    "tau_syn_1": "ms",
    "tau_syn_2": "ms",
    "tau_syn_3": "ms",
}

FloatArray = NDArray[np.float64]


def _f(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _checked_vsc(vsc_mV: ArrayLike, name: str = "vsc_mV") -> FloatArray:
    """``vsc`` as float64, refusing values that are not finite and > 0.

    Why refuse rather than compute: a zero vsc divides by zero and a negative one (V_th below E_L)
    silently flips the sign of every normalised weight and voltage.
    """
    vsc = _f(vsc_mV)
    bad = ~(np.isfinite(vsc) & (vsc > 0))
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise SpecError(
            "units",
            name,
            f"finite values > 0 mV (vsc = V_th - E_L of the neuron; element {i} is {vsc.ravel()[i]} mV)",
        )
    return vsc


# --- pico <-> nano (NEST / canonical <-> PyNN / SpiNNaker) -------------------------------------------------


def pA_to_nA(current_pA: ArrayLike) -> FloatArray:
    """Current or current-based weight: pA (NEST, canonical) -> nA (PyNN standard, SpiNNaker)."""
    return _f(current_pA) / PICO_PER_NANO


def nA_to_pA(current_nA: ArrayLike) -> FloatArray:
    """Current or current-based weight: nA (PyNN standard, SpiNNaker) -> pA (NEST, canonical)."""
    return _f(current_nA) * PICO_PER_NANO


def pF_to_nF(capacitance_pF: ArrayLike) -> FloatArray:
    """Membrane capacitance: pF (NEST ``C_m``) -> nF (PyNN ``cm``, SpiNNaker ``c_m``)."""
    return _f(capacitance_pF) / PICO_PER_NANO


def nF_to_pF(capacitance_nF: ArrayLike) -> FloatArray:
    """Membrane capacitance: nF (PyNN, SpiNNaker) -> pF (NEST, canonical)."""
    return _f(capacitance_nF) * PICO_PER_NANO


def nS_to_uS(conductance_nS: ArrayLike) -> FloatArray:
    """Conductance: nS (NEST ``g``, canonical) -> uS (PyNN, SpiNNaker ``g``)."""
    return _f(conductance_nS) / PICO_PER_NANO


def uS_to_nS(conductance_uS: ArrayLike) -> FloatArray:
    """Conductance: uS (PyNN, SpiNNaker) -> nS (NEST, canonical)."""
    return _f(conductance_uS) * PICO_PER_NANO


# --- TF reference normalisation -----------------------------------------------------------------------------


def weight_pA_to_tf(weight_pA: ArrayLike, vsc_post_mV: ArrayLike) -> FloatArray:
    """Synaptic weight: pA (peak PSC, canonical) -> TF normalised units, ``w_pA / vsc_post``.

    ``vsc_post_mV`` is ``V_th - E_L`` (mV) of the POSTsynaptic neuron of each synapse (TF ``BillehColumn``
    divides the recurrent and input weights by ``voltage_scale[node_type_ids]`` of the target row).
    """
    return _f(weight_pA) / _checked_vsc(vsc_post_mV, "vsc_post_mV")


def weight_tf_to_pA(weight_tf: ArrayLike, vsc_post_mV: ArrayLike) -> FloatArray:
    """Synaptic weight: TF normalised units -> pA, ``w_TF * vsc_post`` (vsc of the POSTsynaptic neuron, mV)."""
    return _f(weight_tf) * _checked_vsc(vsc_post_mV, "vsc_post_mV")


def weight_tf_to_nA(weight_tf: ArrayLike, vsc_post_mV: ArrayLike) -> FloatArray:
    """Synaptic weight: TF normalised units -> nA (PyNN, SpiNNaker), ``w_TF * vsc_post / 1000``.

    Not ``w_TF / 1000``: that (the seed port's mistake) is too small by a factor ``vsc_post * 1000``.
    """
    return pA_to_nA(weight_tf_to_pA(weight_tf, vsc_post_mV))


def asc_pA_to_tf(asc_pA: ArrayLike, vsc_mV: ArrayLike) -> FloatArray:
    """After-spike current amplitude: pA (NEST ``asc_amps``) -> TF normalised, ``asc_pA / vsc`` (own neuron)."""
    return _f(asc_pA) / _checked_vsc(vsc_mV)


def asc_tf_to_pA(asc_tf: ArrayLike, vsc_mV: ArrayLike) -> FloatArray:
    """After-spike current amplitude: TF normalised -> pA, ``asc_TF * vsc`` (vsc of the neuron itself, mV)."""
    return _f(asc_tf) * _checked_vsc(vsc_mV)


def voltage_mV_to_normalised(V_mV: ArrayLike, E_L_mV: ArrayLike, vsc_mV: ArrayLike) -> FloatArray:
    """Membrane voltage: mV -> TF normalised ``v = (V - E_L) / vsc`` (0 at rest, 1 at threshold)."""
    return (_f(V_mV) - _f(E_L_mV)) / _checked_vsc(vsc_mV)


def normalised_to_mV(v_norm: ArrayLike, E_L_mV: ArrayLike, vsc_mV: ArrayLike) -> FloatArray:
    """Membrane voltage: TF normalised -> mV, ``V = v * vsc + E_L`` (how TF outputs are read in mV)."""
    return _f(v_norm) * _checked_vsc(vsc_mV) + _f(E_L_mV)


def bkg_pA_to_tf(bkg_pA: ArrayLike, vsc_mV: ArrayLike) -> FloatArray:
    """Background weight: pA per background count -> TF stored value ``bkg_pA / vsc * 10``.

    The x10 is TF's own storage convention (``rest_of_brain_weights = bkg_weights / voltage_scale * 10``);
    the common-source mode multiplies it by 1/10 again, so one count moves the PSC by ``bkg_pA / vsc``.
    ``vsc_mV`` is that of the receiving neuron.
    """
    return _f(bkg_pA) / _checked_vsc(vsc_mV) * TF_BKG_WEIGHT_SCALE


def bkg_tf_to_pA(bkg_tf: ArrayLike, vsc_mV: ArrayLike) -> FloatArray:
    """Background weight: TF stored value (``rest_of_brain_weights``, desplit ``bkg_weights``) -> pA per count."""
    return _f(bkg_tf) / TF_BKG_WEIGHT_SCALE * _checked_vsc(vsc_mV)


def vsc_of_neurons_mV(spec: NetworkSpec, neuron_ids: ArrayLike | None = None) -> FloatArray:
    """``V_th - E_L`` (mV) of the given neurons (all neurons if None), checked finite and > 0.

    For synapses pass ``spec.synapses.post``: the TF normalisation uses the POSTsynaptic neuron's vsc.
    """
    vsc = spec.cells.vsc_mV[np.asarray(spec.node_type)]
    if neuron_ids is not None:
        vsc = vsc[np.asarray(neuron_ids, dtype=np.int64)]
    return _checked_vsc(vsc)


# --- parameter tables -----------------------------------------------------------------------------------------


def cells_to_pynn(cells: GLIF3Cells) -> dict[str, FloatArray]:
    """GLIF3 parameter table in PyNN standard units, one row per node type (units: :data:`PYNN_GLIF3_UNITS`).

    Names follow PyNN's standard cell models (``cm`` nF, ``v_rest`` mV, ``tau_m`` ms, ``tau_refrac`` ms,
    ``i_offset`` nA) plus the GLIF3 extras ``g`` (uS), ``asc_amps`` (nA, shape (n_types, 2)), ``asc_decay``
    (1/ms), ``asc_r`` and ``tau_syn`` (ms, shape (n_types, n_receptors)). There is no PyNN *standard* GLIF3
    type: these values are for PyNN-style models that follow PyNN's unit convention. They must NOT be fed to
    ``native_cell_type('glif_psc')``, which takes NEST units (use ``GLIF3Cells.nest_params``).
    Rows of non-GLIF3 node types are converted too (their GLIF3 columns are placeholders).
    """
    c = cells.validated()
    return {
        "v_rest": c.E_L_mV.copy(),
        "v_thresh": c.V_th_mV.copy(),
        "v_reset": c.V_reset_mV.copy(),
        "cm": pF_to_nF(c.C_m_pF),
        "g": nS_to_uS(c.g_nS),
        # tau_m = C/g is unit-free of the pico/nano choice: pF/nS = nF/uS = ms; computed from canonical
        # values so it equals GLIF3Cells.tau_m_ms exactly.
        "tau_m": c.C_m_pF / c.g_nS,
        "tau_refrac": c.t_ref_ms.copy(),
        "tau_syn": c.tau_syn_ms.copy(),
        "asc_amps": pA_to_nA(c.asc_amps_pA),
        "asc_decay": c.asc_decay_per_ms.copy(),
        "asc_r": c.asc_r_or_ones.copy(),
        "i_offset": np.zeros(c.n_types),
    }


def cells_to_spinnaker_glif3(cells: GLIF3Cells, i_offset_pA: ArrayLike = 0.0) -> dict[str, FloatArray]:
    """GLIF3 parameter table as arguments of the SpiNNaker ``GLIF3Curr`` model (nA, nF, uS; one row per type).

    Source: ``SpiNNakerManchester/sPyNNakerNewModelTemplate``, ``python_models8/neuron/builds/glif3_curr.py``
    and ``neuron_models/glif3_neuron_model.py`` (argument names and the units declared there; units table in
    GLIF3_SEMANTICS.md sections 1 and 5). That model has exactly four receptors (``tau_syn_0..3``) and resets
    the ASCs to ``I_asc * exp(-k t_ref) + asc_amp``, i.e. NEST's ``asc_r = 1`` with no other value possible.

    Raises :class:`~snnval.errors.NotApplicable` when the table cannot be expressed in that model:
    a number of receptors other than 4, or a GLIF3 node type with ``asc_r != 1``.
    ``i_offset_pA`` (canonical pA) is broadcast to the node types and converted to nA.
    Only units are translated here; the model's numerics (forward Euler, hard reset, single-exponential
    synapses) differ from both TF and NEST (GLIF3_SEMANTICS.md section 5).
    """
    c = cells.validated()
    if c.n_receptors != 4:
        raise NotApplicable(f"SpiNNaker GLIF3Curr has exactly 4 receptors (tau_syn_0..3); the spec has {c.n_receptors}")
    glif3_rows = np.array([m == "glif3" for m in c.models], dtype=bool)
    asc_r_not_one = glif3_rows[:, None] & (c.asc_r_or_ones != 1.0)
    if np.any(asc_r_not_one):
        i = int(np.flatnonzero(asc_r_not_one.any(axis=1))[0])
        raise NotApplicable(
            f"SpiNNaker GLIF3Curr fixes asc_r = 1; node type {i} ({c.names[i]!r}) has asc_r = {c.asc_r_or_ones[i]}"
        )
    out = {
        "c_m": pF_to_nF(c.C_m_pF),
        "e_l": c.E_L_mV.copy(),
        "v_reset": c.V_reset_mV.copy(),
        "v_thresh": c.V_th_mV.copy(),
        "asc_amp_0": pA_to_nA(c.asc_amps_pA[:, 0]),
        "asc_amp_1": pA_to_nA(c.asc_amps_pA[:, 1]),
        "g": nS_to_uS(c.g_nS),
        "k0": c.asc_decay_per_ms[:, 0].copy(),
        "k1": c.asc_decay_per_ms[:, 1].copy(),
        "t_ref": c.t_ref_ms.copy(),
        "i_offset": np.broadcast_to(pA_to_nA(i_offset_pA), (c.n_types,)).copy(),
    }
    for r in range(4):
        out[f"tau_syn_{r}"] = c.tau_syn_ms[:, r].copy()
    return out


# --- NEST iaf_* point neurons -> PyNN standard cells ---------------------------------------------------------

#: Spec model (NEST name, ``GLIF3Cells.models``) -> PyNN standard cell type with the same equations.
PYNN_IAF_CELL: dict[str, str] = {
    "iaf_psc_exp": "IF_curr_exp",
    "iaf_psc_alpha": "IF_curr_alpha",
    "iaf_cond_exp": "IF_cond_exp",
}

#: NEST 3.10 defaults of the parameters the PyNN standard cells carry (``nest.GetDefaults``; checked
#: against the installed NEST in tests/test_units.py). A spec's ``native_params`` only lists what it
#: changes, so the rest must come from NEST's defaults, not PyNN's (PyNN's IF_curr_exp has cm = 1 nF,
#: NEST's C_m is 250 pF). Units: NEST's (pF, nS, mV, ms, pA).
NEST_IAF_DEFAULTS: dict[str, dict[str, float]] = {
    "iaf_psc_exp": {
        "C_m": 250.0,
        "tau_m": 10.0,
        "t_ref": 2.0,
        "E_L": -70.0,
        "V_reset": -70.0,
        "V_th": -55.0,
        "tau_syn_ex": 2.0,
        "tau_syn_in": 2.0,
        "I_e": 0.0,
    },
    "iaf_psc_alpha": {
        "C_m": 250.0,
        "tau_m": 10.0,
        "t_ref": 2.0,
        "E_L": -70.0,
        "V_reset": -70.0,
        "V_th": -55.0,
        "tau_syn_ex": 2.0,
        "tau_syn_in": 2.0,
        "I_e": 0.0,
    },
    "iaf_cond_exp": {
        "C_m": 250.0,
        "g_L": 16.6667,
        "t_ref": 2.0,
        "E_L": -70.0,
        "V_reset": -60.0,
        "V_th": -55.0,
        "E_ex": 0.0,
        "E_in": -85.0,
        "tau_syn_ex": 0.2,
        "tau_syn_in": 2.0,
        "I_e": 0.0,
    },
}

#: NEST parameters a PyNN standard cell has no counterpart for, accepted only at the NEST default
#: (any other value is a model PyNN cannot express). ``V_m`` is not here: the ``initial_v`` knob sets it.
NEST_IAF_FIXED: dict[str, dict[str, float]] = {
    "iaf_psc_exp": {"delta": 0.0},  # escape noise off (then rho is inert)
    "iaf_psc_alpha": {"V_min": -np.inf},
    "iaf_cond_exp": {},
}
#: NEST parameters that have no effect on the translated model and are ignored.
NEST_IAF_INERT = frozenset({"V_m", "rho"})

#: Units of the parameters returned by :func:`iaf_to_pynn` (PyNN standard units).
PYNN_IAF_UNITS: dict[str, str] = {
    "cm": "nF",
    "tau_m": "ms",
    "tau_refrac": "ms",
    "v_rest": "mV",
    "v_reset": "mV",
    "v_thresh": "mV",
    "tau_syn_E": "ms",
    "tau_syn_I": "ms",
    "i_offset": "nA",
    "e_rev_E": "mV",
    "e_rev_I": "mV",
}


def iaf_nest_params(model: str, native_params: dict) -> dict[str, float]:
    """NEST defaults of ``model`` updated with the spec's ``native_params`` (NEST units).

    Raises NotApplicable for a model without a PyNN standard cell, or a NEST parameter that the
    PyNN cell cannot express (e.g. ``V_min`` of iaf_psc_alpha, escape noise ``delta`` of iaf_psc_exp).
    """
    if model not in PYNN_IAF_CELL:
        raise NotApplicable(f"model {model!r} has no PyNN standard cell (supported: {tuple(PYNN_IAF_CELL)})")
    params = dict(NEST_IAF_DEFAULTS[model])
    fixed = NEST_IAF_FIXED[model]
    for key, value in native_params.items():
        if key in params:
            params[key] = float(value)
        elif key in fixed:
            if float(value) != fixed[key]:
                raise NotApplicable(
                    f"{model} parameter {key}={value} has no PyNN {PYNN_IAF_CELL[model]} counterpart "
                    f"(only the NEST default {fixed[key]} can be expressed)"
                )
        elif key not in NEST_IAF_INERT:
            raise NotApplicable(f"{model} parameter {key!r} is not translated to PyNN {PYNN_IAF_CELL[model]}")
    return params


def iaf_to_pynn(model: str, native_params: dict) -> dict[str, float]:
    """PyNN standard-cell parameters (units :data:`PYNN_IAF_UNITS`) of a NEST iaf_* node type.

    Names and scale factors follow PyNN 0.13's own NEST translations
    (``pyNN/nest/standardmodels/cells.py``: ``cm = C_m / 1000``, ``i_offset = I_e / 1000``,
    and for IF_cond_exp ``tau_m = C_m / g_L``), so pyNN.nest hands NEST back the spec's values.
    """
    p = iaf_nest_params(model, native_params)
    out = {
        "cm": float(pF_to_nF(p["C_m"])),
        "tau_refrac": p["t_ref"],
        "v_rest": p["E_L"],
        "v_reset": p["V_reset"],
        "v_thresh": p["V_th"],
        "tau_syn_E": p["tau_syn_ex"],
        "tau_syn_I": p["tau_syn_in"],
        "i_offset": float(pA_to_nA(p["I_e"])),
    }
    if model == "iaf_cond_exp":
        # pF / nS = ms; PyNN gives NEST g_L = cm / tau_m * 1000 back (one rounding each way)
        out["tau_m"] = p["C_m"] / p["g_L"]
        out["e_rev_E"] = p["E_ex"]
        out["e_rev_I"] = p["E_in"]
    else:
        out["tau_m"] = p["tau_m"]
    return out


def iaf_weight_to_pynn(model: str, weight: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Spec weights onto an iaf_* target -> (PyNN weight, is_inhibitory).

    The spec carries NEST's convention: one signed weight, pA for ``iaf_psc_*`` and nS for
    ``iaf_cond_exp``, negative = inhibitory synapse. PyNN wants nA / uS on the receptor
    "excitatory" or "inhibitory"; current-based inhibitory weights stay negative, conductances
    are positive on both receptors (PyNN documentation, "Synapses").
    """
    w = _f(weight)
    inhibitory = w < 0
    if model == "iaf_cond_exp":
        return nS_to_uS(np.abs(w)), inhibitory
    if model in PYNN_IAF_CELL:
        return pA_to_nA(w), inhibitory
    raise NotApplicable(f"model {model!r} has no PyNN standard cell (supported: {tuple(PYNN_IAF_CELL)})")
