"""An initial V_m stated by a file (``GLIF3Cells.native_params["V_m"]``) is where every adapter starts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sonata_networks import GLIF_E

from snnval.acceptance import SAME_SEMANTICS_TOLERANCES
from snnval.contract import RunConfig
from snnval.runner import run_adapter
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.stimulus import FrozenStimulus


def _spec(v_m: float | None) -> NetworkSpec:
    cells = GLIF3Cells.from_records([GLIF_E, dict(GLIF_E, E_L=-70.0, V_reset=-71.0)], names=["a", "b"])
    native = ({"V_m": v_m} if v_m is not None else {}, {})
    cells = replace(cells, native_params=native)
    return NetworkSpec("init", cells, np.array([0, 1]), Synapses.empty(), receptor_names=("r1", "r2", "r3", "r4"))


@pytest.mark.parametrize("adapter_name", ["nest", "tf"])
def test_file_v_m_is_the_initial_state(adapter_name):
    stim = FrozenStimulus(dt_ms=0.1, n_steps=50)
    config = RunConfig(record=("V_m",))
    with_v = run_adapter(adapter_name, _spec(-60.0), stim, config).state["V_m"][0]
    without = run_adapter(adapter_name, _spec(None), stim, config).state["V_m"][0]
    # type a starts at the file's -60 mV and relaxes towards E_L = -76.2 mV; without it, it rests at E_L
    tau = GLIF_E["C_m"] / GLIF_E["g"]
    expected = GLIF_E["E_L"] + (-60.0 - GLIF_E["E_L"]) * np.exp(-0.1 * np.arange(1, 51) / tau)
    tol = SAME_SEMANTICS_TOLERANCES["V_m"].atol
    np.testing.assert_allclose(with_v[:, 0], expected, rtol=0, atol=tol)
    np.testing.assert_allclose(without[:, 0], GLIF_E["E_L"], rtol=0, atol=tol)
    np.testing.assert_array_equal(with_v[:, 1], without[:, 1])  # type b states no V_m: the knob decides
