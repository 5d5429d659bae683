"""The nightly's V1-sized accuracy check end to end (nightly tier): `snnval nightly --quick` with its shipped
default (3 held-out samples on the full V1-sized model through TF and NEST), restricted to those two
simulators and without the port ladder so the rest of the night stays short.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from snnval.nightly import local_cluster, run_nightly
from snnval.nightly_v1 import V1_SAMPLES
from validation.conftest import require

pytestmark = [pytest.mark.nightly, pytest.mark.xdist_group("nightly")]


def test_nightly_shows_the_v1_sized_check_and_tf_and_nest_agree(tmp_path: Path) -> None:
    require("tf")
    require("nest")
    t0 = time.monotonic()
    with local_cluster(n_workers=2) as cluster:
        code = run_nightly(
            quick=True,
            out_dir=str(tmp_path / "report"),
            scheduler=cluster.scheduler_address,
            history_path=str(tmp_path / "history.jsonl"),
            sims=["tf", "nest"],
            port_ladder=False,
        )
    wall_s = time.monotonic() - t0
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    v1 = results["v1_accuracy"]
    assert v1["status"] == "pass", (v1["reason"], results["regressions"])
    assert code == 0, results["regressions"]
    # the shipped default runs at full V1 size
    assert v1["n_neurons"] == 51_978 and v1["n_synapses"] > 5_000_000 and v1["n_lgn"] == 17_400
    assert v1["n_samples"] == V1_SAMPLES
    # TF and NEST in NEST's profile: same predictions on every sample, and (measured) the same spikes
    assert v1["agreement"]["pair"] == ["tf", "nest"] and v1["agreement"]["k"] == v1["agreement"]["n"] == V1_SAMPLES
    assert v1["identical_spikes"] is True
    runners = {r["simulator"]: r for r in v1["runners"]}
    assert set(runners) == {"tf", "nest"}
    for r in runners.values():
        assert r["n"] == V1_SAMPLES and r["realtime_factor"] > 0
        # a network that fires at realistic rates, not a silent one (V1 benchmark: ~3.9 Hz mean)
        assert r["n_spikes"] > 1_000 * V1_SAMPLES and 0.5 < r["mean_rate_Hz"] < 50
    page = (tmp_path / "report" / "index.html").read_text()
    assert 'id="v1-accuracy"' in page and "V1-sized accuracy" in page and "51,978 GLIF3 neurons" in page
    assert f"same prediction on {V1_SAMPLES} of" in page and "How the model was made" in page
    print(f"night with the V1-sized check: {wall_s:.0f} s wall, V1 check {v1['wall_time_s']} s")
