"""The command line: JSON output, exit status 0 / 1 / 2, and files it writes."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from snnval.cli import main
from snnval.golden import read_golden
from snnval.semantics import PROFILES

pytestmark = pytest.mark.quick


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_list_json_names_adapters_and_scenarios(capsys):
    assert main(["list", "--json"]) == 0
    out = _json(capsys)
    names = {a["name"]: a for a in out["adapters"]}
    assert {"tf", "nest"} <= set(names)
    # every adapter is available here, except the torch ones on Python >= 3.12, where no CPU build of torch
    # 2.13 can be installed (README "Python versions"); an unavailable adapter says why
    expected_unavailable = {"snntorch", "norse"} if sys.version_info >= (3, 12) else set()
    unavailable = {n for n, a in names.items() if not a["available"]}
    assert unavailable == expected_unavailable, names
    assert all(names[n]["reason"] for n in unavailable)
    assert {s["name"] for s in out["scenarios"]} >= {"single_neuron_step", "synaptic_events", "glif3_network"}
    assert set(out["profiles"]) == set(PROFILES) >= {"tf-billeh", "nest-glif-psc", "bmtk-dpointnet", "pynn-neuron"}


def test_compare_same_semantics_exits_0_with_figures(capsys):
    code = main(["compare", "single_neuron_step", "--sim", "tf", "--sim", "nest", "--dt", "1", "--json"])
    out = _json(capsys)
    assert code == 0, out
    assert out["passed"] is True and out["first_divergence"] is None
    spikes = out["spikes"]
    assert spikes["n_matched"] > 10 and spikes["n_missing"] == 0 and spikes["n_extra"] == 0
    assert out["traces"]["variables"]["V_m"]["max_abs"] <= 1e-6


def test_compare_different_semantics_exits_1_and_names_the_divergence(capsys):
    code = main(
        [
            "compare",
            "single_neuron_step",
            "--sim",
            "tf",
            "--sim",
            "nest",
            "--profile-a",
            "tf-billeh",
            "--dt",
            "1",
            "--json",
        ]
    )
    out = _json(capsys)
    assert code == 1
    fd = out["first_divergence"]
    assert fd["variable"] == "V_m" and fd["step"] >= 0 and fd["neuron"] >= 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "no_such_scenario", "--sim", "tf"], "scenario"),
        (["run", "synaptic_events", "--sim", "tf", "--profile", "brian"], "profile"),
        (["run", "synaptic_events", "--sim", "spinnaker-hw"], "sim"),
        (["compare", "synaptic_events", "--sim", "tf"], "two --sim"),
        (["run", "synaptic_events", "--sim", "tf", "--dt", "-1"], "dt_ms"),
    ],
)
def test_bad_input_exits_2_naming_the_field(capsys, argv, needle):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_usage_error_exits_2():
    assert main(["compare"]) == 2


def test_run_out_writes_a_readable_file(tmp_path, capsys):
    out = tmp_path / "run.h5"
    assert main(["run", "synaptic_events", "--sim", "nest", "--dt", "1", "--out", str(out), "--json"]) == 0
    summary = _json(capsys)
    golden = read_golden(out)
    assert list(golden.results) == ["nest/nest-glif-psc/dt1/float64"]
    v = golden.results["nest/nest-glif-psc/dt1/float64"].state["V_m"]
    assert np.ptp(v) > 1.0 and summary["n_spikes"] == 0


def test_golden_check_passes_on_shipped_goldens(capsys):
    from snnval.golden_workflow import available_golden_runs
    from snnval.scenarios import get_scenario

    assert main(["golden", "check", "synaptic_events"]) == 0
    # one line per applicable golden run (6 for tf and nest; 9 with bmtk-dpointnet, which runs at dt 1 only)
    expected = len(available_golden_runs(get_scenario("synaptic_events")))
    assert expected >= 6
    assert capsys.readouterr().out.count("ok") == expected
