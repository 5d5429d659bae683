"""Inputs with delay 0 act in the step they arrive (bmtk dpointnet): the TF reference runs them, NEST cannot."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.runner import run_adapter
from snnval.scenarios import SCENARIOS
from snnval.semantics import input_delay_steps, profile


def test_input_delay_steps():
    sem = profile("nest-glif-psc")
    np.testing.assert_array_equal(input_delay_steps(np.array([0.0, 0.1, 1.0]), 0.1, sem), [0, 1, 10])
    np.testing.assert_array_equal(input_delay_steps(np.array([0.0]), 0.1, sem.with_knobs(delay_offset_steps=1)), [1])


def _specs():
    spec, stim = SCENARIOS["synaptic_events"].build(1.0)
    zero = replace(spec, inputs=replace(spec.inputs, delay_ms=np.zeros(len(spec.inputs))))
    return spec, zero, stim


def test_delay_zero_is_one_step_earlier_than_delay_one_step_on_tf():
    spec, zero, stim = _specs()  # delays 1.0 ms at dt 1.0 ms: one step
    config = RunConfig(record=("V_m",))
    v1 = run_adapter("tf", spec, stim, config).state["V_m"][0, :, 0]
    v0 = run_adapter("tf", zero, stim, config).state["V_m"][0, :, 0]
    assert np.ptp(v0) > 0.1
    # same trace, one step earlier: the input enters the PSC in its own step
    np.testing.assert_allclose(v0[:-1], v1[1:], rtol=0, atol=1e-9)
    assert not np.allclose(v0, v1)


@pytest.mark.parametrize("adapter_name", ["nest", "bmtk"])
def test_delay_zero_is_not_applicable_on_nest(adapter_name):
    _, zero, stim = _specs()
    with pytest.raises(NotApplicable, match="delay 0"):
        run_adapter(adapter_name, zero, stim, RunConfig(record=("V_m",)))
