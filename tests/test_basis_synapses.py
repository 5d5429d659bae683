"""Receptor basis mixtures (Synapses.from_basis): one connection, weights onto every tau_syn basis."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnval.contract import RunConfig
from snnval.errors import SpecError
from snnval.runner import run_adapter
from snnval.scenarios import SCENARIOS
from snnval.spec import Synapses
from snnval.stimulus import Events, FrozenStimulus


def test_expansion_and_validation():
    syn = Synapses.from_basis([0, 1], [2, 2], [[10.0, 0.0, -5.0, 0.0], [0.0, 0.0, 0.0, 7.0]], [1.0, 2.0])
    assert syn.pre.tolist() == [0, 0, 1] and syn.receptor.tolist() == [0, 2, 3]
    assert syn.weight_pA.tolist() == [10.0, -5.0, 7.0] and syn.delay_ms.tolist() == [1.0, 1.0, 2.0]
    with pytest.raises(SpecError, match="n_synapses"):
        Synapses.from_basis([0], [1], [1.0, 2.0], [1.0])
    with pytest.raises(SpecError, match="finite"):
        Synapses.from_basis([0], [1], [[np.nan, 1.0]], [1.0])


@pytest.mark.parametrize("adapter_name", ["nest", "tf"])
def test_a_basis_mixture_drives_the_neuron_as_the_sum_of_its_receptors(adapter_name):
    """One input with weights on all four bases: the PSP is the sum of the four single-receptor PSPs."""
    spec, _ = SCENARIOS["synaptic_events"].build(0.1)
    mix = np.array([40.0, -25.0, 30.0, -10.0])
    # neuron 0 takes the mixture, neurons 1-4 one basis each (one run, five copies of the same cell)
    inputs = Synapses.from_basis([0, 0, 0, 0, 0], [0, 1, 2, 3, 4], np.vstack([mix, np.diag(mix)]), np.ones(5))
    five = replace(
        spec, node_type=np.zeros(5, np.int64), populations={}, n_sources=1, source_names=("src",), inputs=inputs
    )
    stim = FrozenStimulus(0.1, 600, events=Events(np.zeros(1, int), np.array([50]), np.zeros(1, int), np.ones(1)))
    v = run_adapter(adapter_name, five, stim, RunConfig(record=("V_m",))).state["V_m"][0]
    psp = v - spec.cells.E_L_mV[0]
    assert len(inputs) == 8 and np.ptp(psp[:, 0]) > 0.1  # 4 + 4 synapses; the mixture moves V
    # linear subthreshold dynamics: the mixture's PSP is the sum of the receptors' (float rounding only)
    np.testing.assert_allclose(psp[:, 0], psp[:, 1:].sum(axis=1), rtol=0, atol=1e-9)
