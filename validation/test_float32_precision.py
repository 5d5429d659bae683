"""Float32 precision tier (issue 7 section 3): positive and negative controls on real runs.

Positive control: float32 vs float64 of the same adapter and profile: only precision flips, so the
tier must pass. Negative controls: a real semantic change injected in the float32 run (one knob
flipped, or every recurrent weight +1 %): the tier must fail, naming a real difference.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnval.contract import RunConfig
from snnval.precision import precision_compare
from snnval.runner import run_adapter
from snnval.scenarios import get_scenario
from snnval.semantics import profile
from snnval.spec import Synapses
from validation.conftest import require

pytestmark = pytest.mark.quick

SCENARIO = "glif3_network"
# (adapter, profile, dt): the TF reference at dt 0.1 ms (where float32 flips spikes: measured 2 flips
# in tf-billeh) and bmtk's GLIF3Cell at dt 1 ms (its only applicable dt on this network)
CONTROLS = [("tf", "tf-billeh", 0.1), ("bmtk-dpointnet", "bmtk-dpointnet", 1.0)]


def _compare(ref, cand, sem):
    spec = get_scenario(SCENARIO).build_spec().validated()
    return precision_compare(
        ref, cand, spec, "float32", populations=spec.populations, hard_reset=sem.reset == "hard_same_step"
    )


@pytest.mark.parametrize(("adapter", "prof", "dt"), CONTROLS)
def test_positive_control_float32_is_precision_flips_only(scenario_run, adapter, prof, dt):
    require(adapter)
    ref = scenario_run(SCENARIO, adapter, prof, dt, "float64")
    cand = scenario_run(SCENARIO, adapter, prof, dt, "float32")
    assert ref.n_spikes >= get_scenario(SCENARIO).min_spikes
    dv = np.abs(cand.state["V_m"] - ref.state["V_m"])
    assert dv.max() > 0.0, "the float32 run equals the float64 run: it did not run in float32"
    pc = _compare(ref, cand, profile(prof))
    assert pc.passed, pc.summary()
    assert pc.n_real == 0
    for e in pc.episodes:
        assert e.kind == "precision_flip" and e.margin_mV <= e.bound_mV
    if adapter == "tf":  # the control must exercise a flip (else it passes trivially)
        assert pc.n_flips >= 1, pc.summary()
        assert pc.exact.n_missing + pc.exact.n_extra > 0


@pytest.mark.parametrize(("adapter", "prof", "knob"), [("tf", "tf-billeh", {"reset": "hard_same_step"}),
                                                   ("bmtk-dpointnet", "bmtk-dpointnet",
                                                    {"refractory": "hold_reset_steps"})])  # fmt: skip
def test_negative_control_knob_flipped_in_float32_fails(scenario_run, adapter, prof, knob):
    require(adapter)
    sem = profile(prof)
    ref = scenario_run(SCENARIO, adapter, prof, 1.0, "float64")
    cand = scenario_run(SCENARIO, adapter, sem.with_knobs(**knob), 1.0, "float32")
    pc = _compare(ref, cand, sem)
    assert not pc.passed, pc.summary()
    assert pc.episodes[0].kind == "real", pc.summary()


@pytest.mark.parametrize(("adapter", "prof"), [("tf", "tf-billeh"), ("bmtk-dpointnet", "bmtk-dpointnet")])
def test_negative_control_weights_plus_one_percent_in_float32_fails(scenario_run, adapter, prof):
    require(adapter)
    sc = get_scenario(SCENARIO)
    spec, stim = sc.build(1.0)
    syn = spec.synapses
    heavier = replace(spec, synapses=Synapses(syn.pre, syn.post, syn.receptor, syn.weight_pA * 1.01, syn.delay_ms))
    ref = scenario_run(SCENARIO, adapter, prof, 1.0, "float64")
    cand = run_adapter(adapter, heavier, stim, RunConfig(semantics=profile(prof), dtype="float32"), isolate=False)
    pc = _compare(ref, cand, profile(prof))
    assert not pc.passed, pc.summary()
    assert pc.episodes[0].kind == "real", pc.summary()


def test_float64_bound_is_eps_ratio_smaller(scenario_run):
    """The rounding bound scales with the dtype's eps (the rule per dtype, not one number)."""
    from snnval.acceptance import precision_rule
    from snnval.precision import rounding_bound_mV

    require("tf")
    ref = scenario_run(SCENARIO, "tf", "bmtk-dpointnet", 1.0, "float64")
    spec = get_scenario(SCENARIO).build_spec().validated()
    b32 = rounding_bound_mV(ref, spec, precision_rule("float32", 1.0))
    b64 = rounding_bound_mV(ref, spec, precision_rule("float64", 1.0))
    assert np.all(b32 > 0)
    np.testing.assert_allclose(b64 / b32, np.finfo(np.float64).eps / np.finfo(np.float32).eps, rtol=1e-12)
