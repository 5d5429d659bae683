"""The nightly's V1-sized accuracy section (snnval.nightly_v1): plan checks, assembly rule, schema, page.

The simulator outcome dicts below are SYNTHETIC renderer input (the shape
:func:`snnval.v1_accuracy.v1_accuracy_check` returns, made up here); the real check at V1 size runs in
``validation/test_nightly_v1_end_to_end.py`` (nightly tier).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from snnval.errors import SpecError
from snnval.nightly_tasks import TaskFailure
from snnval.nightly_v1 import V1_RUN_TIMEOUT_S, V1AccuracyRun, plan_v1_accuracy, v1_accuracy_entry
from snnval.report import ResultsSchemaError, build_report, validate_results
from validation.synthetic_results import synthetic_results

RUN = V1AccuracyRun(n_samples=3, scale=1.0, sims=("tf", "nest"))


def _outcome(tf_pred: list[int], nest_pred: list[int], identical: bool) -> dict:
    """Synthetic outcome in the shape of v1_accuracy_check's dict (not simulator output)."""
    k = sum(a == b for a, b in zip(tf_pred, nest_pred, strict=True))

    def runner(pred: list[int]) -> dict:
        return {"predictions": pred, "realtime_factor": 12.5, "build_wall_s": 3.0, "wall_s": 20.0,
                "n_spikes": 360_000, "mean_rate_Hz": 3.9, "correct": 0, "spike_key": "x"}  # fmt: skip

    return {
        "n_neurons": 51_978, "n_synapses": 5_197_800, "n_input_synapses": 1_264_360, "n_lgn": 17_400,
        "n_samples": 3, "scale": 1.0, "profile": "nest-glif-psc", "labels": [6, 4, 7],
        "tf": runner(tf_pred), "nest": runner(nest_pred),
        "agreement": {"pair": ["tf", "nest"], "k": k, "n": 3, "ci": [0.4, 1.0]},
        "identical_spikes": identical, "wall_time_s": 80.0,
    }  # fmt: skip


def test_plan_is_off_with_zero_samples_or_without_tf_and_nest() -> None:
    assert plan_v1_accuracy(0) is None
    assert plan_v1_accuracy(3, sims=["brian2"]) is None
    run = plan_v1_accuracy(2, 0.5, sims=["nest"], timeout_s=42.0)
    assert run is not None and run.n_samples == 2 and run.scale == 0.5 and run.timeout_s == 42.0
    assert set(run.sims) | {s for s, _ in run.not_run} == {"nest"}
    assert plan_v1_accuracy(3).timeout_s == V1_RUN_TIMEOUT_S


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n_samples": -1}, "v1_samples"), ({"n_samples": 2.5}, "v1_samples"), ({"scale": 0.0}, "v1_scale"),
     ({"scale": 1.5}, "v1_scale")],
)  # fmt: skip
def test_plan_refuses_bad_input_naming_the_flag(kwargs: dict, field: str) -> None:
    with pytest.raises(SpecError) as err:
        plan_v1_accuracy(**kwargs)
    assert err.value.field == field


def test_agreeing_runners_pass_and_render(tmp_path: Path) -> None:
    regressions: list[str] = []
    entry = v1_accuracy_entry(RUN, _outcome([6, 1, 7], [6, 1, 7], True), regressions)
    assert entry["status"] == "pass" and not regressions
    assert entry["agreement"]["value"] == 1.0 and entry["identical_spikes"] is True
    # accuracy is recomputed from predictions and labels (2 of 3), not taken from the outcome
    assert [(r["simulator"], r["correct"], r["n"]) for r in entry["runners"]] == [("tf", 2, 3), ("nest", 2, 3)]
    results = synthetic_results(date="2026-11-23")
    results["v1_accuracy"] = entry
    validate_results(results)
    page = build_report(results, tmp_path / "report", tmp_path / "history.jsonl").read_text()
    assert 'id="v1-accuracy"' in page and "V1-sized accuracy" in page
    assert "51,978 GLIF3 neurons" in page and "5,197,800 recurrent synapses" in page
    assert "same prediction on 3 of" in page and "spikes identical" in page and "How the model was made" in page


def test_disagreement_is_a_regression() -> None:
    regressions: list[str] = []
    entry = v1_accuracy_entry(RUN, _outcome([6, 1, 7], [6, 2, 7], False), regressions)
    assert entry["status"] == "fail" and "2 of 3" in entry["reason"]
    assert len(regressions) == 1 and "V1-sized" in regressions[0]


def test_failed_task_is_an_error_entry_and_a_regression(tmp_path: Path) -> None:
    regressions: list[str] = []
    entry = v1_accuracy_entry(RUN, TaskFailure("error", "AdapterFailure: nest timed out after 900 s"), regressions)
    assert entry["status"] == "error" and entry["n_neurons"] is None and entry["runners"] == []
    assert regressions == ["V1-sized accuracy check did not complete: AdapterFailure: nest timed out after 900 s"]
    results = synthetic_results(date="2026-11-23")
    results["v1_accuracy"] = entry
    page = build_report(results, tmp_path / "report", tmp_path / "history.jsonl").read_text()
    assert "V1-sized accuracy" in page and "nest timed out after 900 s" in page


def test_schema_names_a_bad_v1_field() -> None:
    results = synthetic_results(date="2026-11-23")
    results["v1_accuracy"] = v1_accuracy_entry(RUN, _outcome([6, 1, 7], [6, 1, 7], True), [])
    results["v1_accuracy"]["status"] = "ok"
    with pytest.raises(ResultsSchemaError) as err:
        validate_results(results)
    assert err.value.field == "v1_accuracy.status"


def test_bad_v1_flag_exits_2_before_the_cluster_starts(monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path) -> None:
    from snnval import nightly
    from snnval.cli import main

    def refuse(*_a, **_k):
        raise AssertionError("the night started its cluster before refusing bad input")

    monkeypatch.setattr(nightly, "_client", refuse)
    code = main(["nightly", "--quick", "--out", str(tmp_path / "night"), "--v1-samples", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and "--v1-samples" in err and "an integer >= 0" in err
    assert not (tmp_path / "night").exists()
