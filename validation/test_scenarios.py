"""Every adapter against the golden traces, and the headline cross-simulator check.

Headline (issue 2): the TF reference with profile nest-glif-psc in float64 reproduces NEST
glif_psc spike for spike with max |dV| <= 1e-6 mV on every scenario and dt. With its own
profile (tf-billeh) TF differs from NEST, in exactly the ways GLIF3_SEMANTICS.md predicts;
validation/test_predicted_differences.py checks those one by one.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.acceptance import compare_same_semantics, golden_key, golden_path
from snnval.golden import read_golden
from snnval.golden_workflow import check_golden_run, update_golden
from snnval.scenarios import SCENARIOS
from validation.conftest import require, scenario_params

pytestmark = pytest.mark.quick


def _assert_nontrivial(result, scenario) -> None:
    """Guard against trivial passes: the reference run must spike and its voltage must move."""
    assert result.n_spikes >= scenario.min_spikes, f"{scenario.name}: only {result.n_spikes} spikes"
    v = result.state["V_m"]
    assert np.ptp(v) > 1.0, f"{scenario.name}: V_m never moves by more than 1 mV"


@pytest.mark.parametrize(("scenario", "dt"), scenario_params())
def test_tf_nest_profile_reproduces_nest(scenario_run, scenario, dt):
    require("nest")
    require("tf")
    sc = SCENARIOS[scenario]
    nest = scenario_run(scenario, "nest", "nest-glif-psc", dt)
    tf = scenario_run(scenario, "tf", "nest-glif-psc", dt)
    _assert_nontrivial(nest, sc)
    cmp = compare_same_semantics(nest, tf)
    assert cmp.passed, cmp.summary()
    assert cmp.spikes.n_matched == nest.n_spikes and cmp.spikes.n_missing == 0 and cmp.spikes.n_extra == 0
    assert cmp.traces.variables["V_m"].max_abs <= 1e-6


@pytest.mark.parametrize(("scenario", "dt"), scenario_params())
def test_against_golden(scenario_run, golden_mode, golden_run, scenario, dt):
    if golden_mode == "update":
        pytest.skip("--golden=update: goldens are rewritten by test_update_golden")
    sim, profile = golden_run
    require(sim)
    cmp = check_golden_run(SCENARIOS[scenario], sim, profile, dt, run_fn=scenario_run)
    assert cmp.passed, f"{golden_key(sim, profile, dt)} moved against its golden:\n{cmp.summary()}"


@pytest.mark.parametrize("scenario", scenario_params(with_dt=False))
def test_update_golden(scenario_run, golden_mode, scenario, request):
    if golden_mode != "update":
        pytest.skip("runs only with --golden=update")
    sc = SCENARIOS[scenario]
    print("\n" + update_golden(sc, request.config.getoption("--sim"), run_fn=scenario_run))
    assert read_golden(golden_path(sc)).results, "the regenerated golden holds no run"
