"""The main job end to end: `snnval nightly --quick` on the shipped model and scenarios.

Runs on a Dask cluster the test starts itself and hands over by address (the --scheduler path).
"""

from __future__ import annotations

import json

import pytest

from snnval.acceptance import golden_runs
from snnval.nightly import run_nightly
from snnval.scenarios import SCENARIOS
from validation.conftest import require

pytestmark = [pytest.mark.quick, pytest.mark.xdist_group("nightly")]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    require("tf")
    require("nest")
    from dask.distributed import LocalCluster

    out = tmp_path_factory.mktemp("night")
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        code = run_nightly(
            quick=True,
            out_dir=str(out / "report"),
            scheduler=cluster.scheduler_address,
            history_path=str(out / "history.jsonl"),
        )
    return code, out


def test_nightly_quick_produces_a_passing_report(night):
    code, out = night
    results = json.loads((out / "report" / "results.json").read_text())
    assert code == 0, results["regressions"]
    assert (out / "report" / "index.html").stat().st_size > 1000
    cells = results["scenarios"]
    # per scenario and dt: one golden cell per registered (adapter, profile), plus NEST vs TF; an adapter
    # that cannot run a combination (bmtk-dpointnet at dt 0.1 ms, TF on iaf_* models) is not applicable
    n_cells = sum(len(sc.dts_ms) for sc in SCENARIOS.values()) * (len(golden_runs()) + 1)
    assert len(cells) == n_cells
    assert all(c["status"] == "pass" or (c["status"] == "not_applicable" and c["reason"]) for c in cells), [
        (c["scenario"], c["simulator"], c["reason"]) for c in cells if c["status"] != "pass"
    ]
    # the GLIF3 scenarios: 3 scenarios x 2 dt x (TF and NEST golden runs in their GLIF3 profiles + TF vs NEST)
    core = {"tf (tf-billeh)", "tf (nest-glif-psc)", "nest (nest-glif-psc)"}
    glif3 = [
        c
        for c in cells
        if c["scenario"].split(" ")[0] in ("single_neuron_step", "synaptic_events", "glif3_network")
        and c["simulator"] in core
    ]
    assert sum(c["status"] == "pass" for c in glif3) == 3 * 2 * 4
    runners = {a["runner"]: a for a in results["accuracy"]}
    assert set(runners) == {"tf (tf-billeh)", "tf (nest-glif-psc)", "nest (nest-glif-psc)"}
    assert all(a["n"] == 50 for a in runners.values())
    assert runners["nest (nest-glif-psc)"]["agreement_with_reference"] is not None
    assert len((out / "history.jsonl").read_text().splitlines()) == 1


def test_broken_port_is_visibly_worse_on_the_page(night):
    _, out = night
    results = json.loads((out / "report" / "results.json").read_text())
    variants = {v["variant"]: v for v in results["port_variants"]}
    assert variants["weights_div_1000"]["ci95"][1] < variants["faithful"]["ci95"][0]
    assert variants["ladder 0: broken port"]["accuracy"] < variants["faithful"]["accuracy"] - 0.3
    html = (out / "report" / "index.html").read_text()
    assert "weights_div_1000" in html and "port-variants" in html
