"""Every adapter against the golden traces, and the headline cross-simulator check.

Headline (issue 2): the TF reference with profile nest-glif-psc in float64 reproduces NEST
glif_psc spike for spike with max |dV| <= 1e-6 mV on every scenario and dt. With its own
profile (tf-billeh) TF differs from NEST, in exactly the ways GLIF3_SEMANTICS.md predicts;
validation/test_predicted_differences.py checks those one by one.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.acceptance import (
    GOLDEN_RUNS,
    compare_regression,
    compare_same_semantics,
    golden_key,
    golden_path,
    subset_recorded,
)
from snnval.golden import check_fresh, diff_summary, read_golden, write_golden
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
    sc = SCENARIOS[scenario]
    golden = read_golden(golden_path(sc))
    check_fresh(golden, sc.build_spec().validated().content_hash())
    key = golden_key(sim, profile, dt)
    assert key in golden.results, f"{golden.path} has no run {key}: regenerate with pytest --golden=update"
    stored = golden.results[key]
    assert stored.n_spikes >= sc.min_spikes, f"golden {key} has only {stored.n_spikes} spikes"
    fresh = subset_recorded(scenario_run(scenario, sim, profile, dt), stored.recorded_neurons)
    cmp = compare_regression(stored, fresh)
    assert cmp.passed, f"{key} moved against {golden.path}:\n{cmp.summary()}"


@pytest.mark.parametrize("scenario", scenario_params(with_dt=False))
def test_update_golden(scenario_run, golden_mode, scenario):
    if golden_mode != "update":
        pytest.skip("runs only with --golden=update")
    sc = SCENARIOS[scenario]
    spec_hash = sc.build_spec().validated().content_hash()
    neurons = None if sc.golden_neurons is None else np.asarray(sc.golden_neurons)
    runs = {}
    for sim, profile in GOLDEN_RUNS:
        require(sim)
        for dt in sc.dts_ms:
            runs[golden_key(sim, profile, dt)] = subset_recorded(scenario_run(scenario, sim, profile, dt), neurons)
    path = golden_path(sc)
    old = read_golden(path) if path.exists() else None
    print(f"\n{path}:\n{diff_summary(old, runs)}")
    write_golden(
        path,
        runs,
        spec_hash,
        provenance={"scenario": sc.name, "description": sc.description},
        allow_empty_reason="synaptic_events is subthreshold by design" if sc.min_spikes == 0 else None,
    )
    assert read_golden(path).results.keys() == runs.keys()
