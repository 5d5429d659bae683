"""``lif_delta_one_step_ref``: NEST's delta-synapse LIF (iaf_psc_delta) with t_ref = dt under DC and events.

iaf_psc_delta at dt = 1 ms is the discrete-time LIF rule of deep-learning libraries (u[t] = beta u[t-1]
+ (1 - beta) I / g + sum_j w_j s_j[t], beta = exp(-dt / tau_m)) except for two named choices: NEST
resets V in the spike step (``reset=hard_same_step``) and holds it for one step (``refractory=clamp``),
snnTorch's ``Leaky`` (reset_mechanism="zero") resets one step later (``hard_next_step``) and has no
refractory period (``mask_spikes`` with t_ref = dt masks nothing). So NEST, the TF reference and snnTorch
all run this scenario, and ``snnval bisect`` can name what separates profile snn-discrete from
nest-psc-delta. Stimulus and weights are those of ``lif_discrete_single`` (:mod:`.lif`), voltages scaled by 10.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnval.scenarios.base import Scenario
from snnval.scenarios.lif import (
    DISCRETE_CELL,
    DISCRETE_EVENTS,
    DISCRETE_OFF_STEP,
    DISCRETE_ON_STEP,
    DISCRETE_STEPS,
    DISCRETE_VARIANTS,
    _discrete_spec,
    _discrete_stimulus,
    lif_cells,
)
from snnval.spec import NetworkSpec

#: Scale of lif_discrete_single's voltages: theta = 10 mV instead of 1 mV (so a hard-reset trace moves by
#: more than the 1 mV the validation suite's non-triviality guard asks), with the DC steady states and the
#: input jumps scaled alike (g 1 nS instead of 10 nS, weight x 10): the same spikes relative to theta.
VOLTAGE_SCALE = 10.0
#: NEST iaf_psc_delta parameters: theta = V_th - E_L = 10 mV, V_reset = E_L (the libraries' reset to 0),
#: tau_m 10 ms and C_m 10 pF (g = 1 nS), t_ref = dt = 1 ms (NEST holds V one step; TF's mask_spikes
#: countdown masks nothing, as the libraries, which have no refractory period)
DELTA_NO_REF_CELL = {
    "C_m": DISCRETE_CELL["C_m"] / VOLTAGE_SCALE,
    "tau_m": DISCRETE_CELL["tau_m"],
    "E_L": DISCRETE_CELL["E_L"],
    "V_th": DISCRETE_CELL["E_L"] + VOLTAGE_SCALE * (DISCRETE_CELL["V_th"] - DISCRETE_CELL["E_L"]),
    "V_reset": DISCRETE_CELL["V_reset"],
    "t_ref": 1.0,
}


def _spec() -> NetworkSpec:
    base = _discrete_spec()  # same neurons, input synapse (0.4 mV, delay 1 ms) and populations
    cells = lif_cells("iaf_psc_delta", [DELTA_NO_REF_CELL], ["iaf_psc_delta_no_ref"])
    return NetworkSpec(
        "lif_delta_one_step_ref",
        cells,
        np.zeros(len(DISCRETE_VARIANTS), np.int64),
        base.synapses,
        n_sources=base.n_sources,
        inputs=dataclasses.replace(base.inputs, weight_pA=base.inputs.weight_pA * VOLTAGE_SCALE),  # mV jumps
        source_names=base.source_names,
        populations=base.populations,
        receptor_names=base.receptor_names,
    )


LIF_DELTA_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "lif_delta_one_step_ref",
        "iaf_psc_delta with t_ref = dt = 1 ms (the discrete LIF rule, beta = exp(-dt/tau_m)) under DC and events",
        _spec,
        _discrete_stimulus,
        dts_ms=(1.0,),  # the input delay (1 ms) is one step: the libraries have no delay buffers
        record=("V_m",),
        min_spikes=10,
        duration_ms=float(DISCRETE_STEPS),
        grid_times_ms=tuple(float(t) for t in (DISCRETE_ON_STEP, DISCRETE_OFF_STEP, *(e[0] for e in DISCRETE_EVENTS))),
    ),
)
