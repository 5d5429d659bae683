"""Nightly float32 cells (issue 7): the plan derives them from the registry, a cell carries the device and the
precision tier's flips, reach and real differences, accuracy movement is paired per runner, and the results
schema keeps all of it typed and validated. Every run here is a real simulator run (no Dask: the tasks are
called directly, as a worker would).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from snnval.adapters import get_adapter
from snnval.nightly import assemble
from snnval.nightly_plan import (
    AccuracyRun,
    NightPlan,
    ScenarioRun,
    label,
    plan_precision,
    plan_scenarios,
    precision_label,
    simulators_table,
)
from snnval.nightly_tasks import TaskFailure, accuracy_task, cell_task, model_input, precision_cell_task
from snnval.report_schema import NightResults, ResultsSchemaError, validate_results
from snnval.runner import run_scenario
from snnval.semantics import profile
from validation.synthetic_results import synthetic_results

pytestmark = pytest.mark.quick

SC = "lif_discrete_single"


def _require(sim: str) -> None:
    avail = get_adapter(sim).availability()
    if not avail.available:
        pytest.skip(f"{sim} not available: {avail.reason}")


def _run(run: ScenarioRun, sem=None):
    return run_scenario(run.scenario, run.sim, sem or run.profile, run.dt_ms, dtype=run.dtype, isolate=False)


@pytest.fixture(scope="module")
def planned():
    _require("snntorch")
    runs, cells, _ = plan_precision([], ["snntorch", "tf"], None, [SC])
    return runs, cells


def test_plan_precision_cells_from_the_registry(planned):
    runs, cells = planned
    golden_runs, golden_cells = plan_scenarios(["snntorch", "tf"], None, [SC])
    golden = [c for c in golden_cells if c.reference is None]  # not the same-semantics pairs
    # one float32 cell per golden cell (both adapters declare float32), labelled by dtype
    assert [c.simulator_label + " float32" for c in golden] == [c.simulator_label for c in cells]
    assert [c.simulator_label + " float64" for c in golden] == [c.reference_label for c in cells]
    assert all(c.dtype == "float32" for c in cells)
    applicable = [c for c in cells if not c.not_applicable]
    # every golden run that can run here gets its float32 cell (V_m is recorded by this scenario)
    expected = {(c.candidate.sim, c.candidate.profile) for c in golden if not c.not_applicable}
    assert {("snntorch", "snn-discrete"), ("tf", "snn-discrete")} <= expected
    assert {(c.candidate.sim, c.candidate.profile) for c in applicable} == expected
    for c in applicable:
        assert c.candidate.key.endswith("|float32") and c.reference.dtype == "float64"
        # the float64 reference is the golden cell's own run (one run, shared)
        assert c.reference.key in {r.key for r in golden_runs}
    for c in cells:  # a cell that cannot run has no run and says why
        assert (c.candidate is None) == bool(c.not_applicable)


def test_precision_cell_passes_with_device_and_zero_flips(planned):
    _, cells = planned
    cell = next(c for c in cells if not c.not_applicable and c.candidate.sim == "snntorch")
    out = cell_task(cell, _run(cell.candidate), _run(cell.reference))  # cell_task dispatches on the dtype
    assert out["status"] == "pass", out
    assert out["device"] == "cpu" and out["dtype"] == "float32"
    p = out["precision"]
    assert p["n_precision_flips"] == 0 and p["n_real_differences"] == 0 and p["max_reach_steps"] == 0
    assert out["figures"]["spikes_matched"] >= 10 and out["figures"]["max_abs_dV_mV"] > 0.0  # really float32


def test_precision_cell_fails_on_a_real_difference(planned):
    """Negative control: a float32 run of another reset rule is a real difference, named in the reason."""
    _, cells = planned
    cell = next(c for c in cells if not c.not_applicable and c.candidate.sim == "snntorch")
    changed = _run(cell.candidate, profile("snn-discrete").with_knobs(reset="subtract_next_step"))
    out = precision_cell_task(cell, changed, _run(cell.reference))
    assert out["status"] == "fail" and out["reason"].startswith("real difference"), out
    assert out["precision"]["n_real_differences"] >= 1


def test_precision_cell_reports_flips_and_reach():
    """TF tf-billeh on glif3_network at dt 0.1 ms: float32 flips spikes (validation/test_float32_precision.py);
    the cell passes and carries the flips and their reach."""
    _require("tf")
    _, cells, _ = plan_precision([], ["tf"], None, ["glif3_network"])
    cell = next(c for c in cells if c.dt_ms == 0.1 and c.candidate is not None and c.candidate.profile == "tf-billeh")
    out = precision_cell_task(cell, _run(cell.candidate), _run(cell.reference))
    p = out["precision"]
    assert out["status"] == "pass", out
    assert p["n_precision_flips"] >= 1 and p["n_real_differences"] == 0
    assert p["max_reach_steps"] >= 1 and p["max_reach_ms"] == pytest.approx(p["max_reach_steps"] * 0.1)
    assert p["spikes_mismatched_exact"] > 0


def test_failed_run_makes_an_error_cell(planned):
    _, cells = planned
    cell = next(c for c in cells if not c.not_applicable)
    out = precision_cell_task(cell, TaskFailure("error", "boom"), None)
    assert out["status"] == "error" and "boom" in out["reason"] and "device" not in out


@pytest.fixture(scope="module")
def night(planned, tmp_path_factory):
    """A small night assembled from real runs: the snnTorch / TF float32 cells and TF's accuracy in both dtypes."""
    _require("tf")
    from snnval.v1_model import SHIPPED_MODEL

    runs, cells = planned
    model = model_input(str(SHIPPED_MODEL), 10)
    acc64 = AccuracyRun(label("tf", "tf-billeh"), "tf", "tf-billeh", 600.0)
    acc32 = AccuracyRun(precision_label("tf", "tf-billeh", "float32"), "tf", "tf-billeh", 600.0, dtype="float32")
    plan = NightPlan(
        runs=runs, cells=cells, accuracy=[acc64], precision_accuracy=[acc32], model=model,
        simulators=simulators_table(["snntorch", "tf"]),
    )  # fmt: skip
    done = {r.key: _run(r) for r in runs}
    for i, c in enumerate(cells):
        if not c.not_applicable:
            done[f"cell|{i}"] = cell_task(c, done[c.candidate.key], done[c.reference.key])
    for r in (acc64, acc32):
        done[r.key] = accuracy_task(model.path, model.n, r)
    regressions: list[str] = []
    part = assemble(plan, done, True, regressions)
    results = synthetic_results(date="2026-12-01")
    results["scenarios"] = results["scenarios"] + part["scenarios"]
    results["precision_accuracy"] = part["precision_accuracy"]
    return results, part, regressions


def test_assembled_precision_accuracy_and_cells(night):
    results, part, regressions = night
    (entry,) = part["precision_accuracy"]
    assert entry["runner"] == "tf (tf-billeh) float32" and entry["dtype"] == "float32"
    m = entry["movement"]
    assert m["reference"]["n"] == m["candidate"]["n"] == 10
    assert entry["status"] == ("fail" if m["moved"] else "pass")
    float32 = [c for c in part["scenarios"] if c["dtype"] == "float32"]
    assert float32 and all(("device" in c) == (c["status"] != "not_applicable") for c in float32)
    tf_cell = next(c for c in float32 if c["simulator"] == "tf (tf-billeh) float32")
    assert tf_cell["precision"]["accuracy_moved"] == m["moved"]  # the runner's accuracy move, on its cells
    for name in ("snntorch (snn-discrete) float32", "tf (snn-discrete) float32"):  # no accuracy run: not measured
        assert next(c for c in float32 if c["simulator"] == name)["precision"]["accuracy_moved"] is None
    assert not [r for r in regressions if "float32" in r]  # no precision regression on these cells


def test_results_with_precision_validate_round_trip_and_render(night, tmp_path: Path):
    from snnval.report import build_report

    results, _, _ = night
    validate_results(results)
    night_obj = NightResults.from_json(results)
    assert night_obj.precision_accuracy[0].movement.candidate.n == 10
    cell = next(c for c in night_obj.scenarios if c.precision is not None)
    assert cell.device == "cpu" and cell.precision.dtype == "float32"
    assert NightResults.from_json(night_obj.to_json()) == night_obj
    page = build_report(results, tmp_path / "report", tmp_path / "history.jsonl").read_text()
    assert "precision flip(s)" in page and "device cpu" in page
    assert "Float32 vs float64 accuracy" in page and "tf (tf-billeh) float32" in page


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c, r: c["precision"].update(max_reach_ms=c["precision"]["max_reach_ms"] + 1.0), "max_reach_ms"),
        (lambda c, r: c["precision"].update(n_real_differences=1), "n_real_differences"),
        (lambda c, r: c["precision"].pop("reaches_end"), "reaches_end"),
        (lambda c, r: c.update(dtype="float64"), "precision.dtype"),
        (lambda c, r: c.update(device=3), "device"),
        (lambda c, r: r["precision_accuracy"][0].update(status="error"), "precision_accuracy[0].movement"),
    ],
    ids=["reach", "real-in-pass", "missing", "dtype", "device", "status"],
)
def test_schema_rejects_inconsistent_precision(night, mutate, field):
    results = copy.deepcopy(night[0])
    i, cell = next((i, c) for i, c in enumerate(results["scenarios"]) if c.get("precision") and c["status"] == "pass")
    mutate(cell, results)
    with pytest.raises(ResultsSchemaError) as err:
        validate_results(results)
    assert field in err.value.field or field in str(err.value), str(err.value)
