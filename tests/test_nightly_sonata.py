"""The nightly's SONATA rows: the shipped example on every adapter against bmtk pointnet's own run.

The tasks run here as the nightly runs them (each adapter isolated in its own process, bmtk pointnet in a
subprocess), without the Dask cluster; validation/test_nightly.py runs them inside a whole night.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snnval.adapters import adapter_names, get_adapter
from snnval.nightly_sonata import (
    REFERENCE_LABEL,
    SONATA_EXAMPLES,
    SONATA_PROFILE,
    assemble_sonata,
    bmtk_reference_task,
    plan_sonata,
    sonata_cell_task,
    sonata_run_task,
)
from snnval.nightly_tasks import TaskFailure

EXAMPLE = SONATA_EXAMPLES["sonata_small"]


def test_every_adapter_has_a_cell_and_each_not_applicable_one_a_reason():
    plan = plan_sonata(None, None)
    cells = {c.simulator_label.split(" ")[0]: c for c in plan.cells}
    assert sorted(cells) == sorted(adapter_names())
    for sim, cell in cells.items():
        declares = SONATA_PROFILE in get_adapter(sim).profiles
        if not declares:
            assert cell.candidate is None and SONATA_PROFILE in cell.not_applicable, (sim, cell)
        elif cell.candidate is None:
            assert cell.not_applicable, sim  # the adapter's capabilities say why (e.g. TF: no iaf_* models)
    if get_adapter("nest").availability().available and get_adapter("bmtk").availability().available:
        assert {"nest", "bmtk"} <= {r.sim for r in plan.runs} and len(plan.references) == 1
    assert "iaf_psc_alpha" in cells["tf"].not_applicable  # the TF reference has GLIF3 only


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("bmtk")
    plan = plan_sonata(["nest"], None)
    ref = bmtk_reference_task(plan.references[0])
    assert not isinstance(ref, TaskFailure), ref
    return ref


def test_capable_adapters_reproduce_bmtk_pointnets_run_spike_for_spike(reference):
    pytest.importorskip("nest")
    # not trivial: the example fires in every group, with the clamps on
    assert reference.n_spikes > 1000 and len(np.unique(reference.spike_neuron)) == 31
    plan = plan_sonata(None, None)
    ran = {}
    for cell in plan.cells:
        if cell.candidate is None:
            continue
        out = sonata_cell_task(cell, sonata_run_task(cell.candidate), reference)
        ran[cell.candidate.sim] = out
        assert out["reference"] == REFERENCE_LABEL
        assert out["status"] == "pass", (cell.simulator_label, out["reason"])
        assert out["figures"]["spikes_matched"] == reference.n_spikes and out["figures"]["spikes_extra"] == 0
    assert {"nest", "bmtk"} <= set(ran)
    regressions: list[str] = []
    done = {c.key: ran[c.candidate.sim] for c in plan.cells if c.candidate is not None}
    cells = assemble_sonata(plan, done, regressions)
    assert regressions == [] and len(cells) == len(plan.cells)
    assert all(c["status"] == "pass" or (c["status"] == "not_applicable" and c["reason"]) for c in cells)


def test_a_diverging_run_fails_its_cell_and_is_a_regression(reference):
    plan = plan_sonata(["nest"], None)
    cell = next(c for c in plan.cells if c.candidate is not None)
    keep = np.ones(reference.n_spikes, dtype=bool)
    keep[reference.n_spikes // 2] = False  # one spike lost
    broken = replace(
        reference,
        spike_trial=reference.spike_trial[keep],
        spike_step=reference.spike_step[keep],
        spike_neuron=reference.spike_neuron[keep],
    )
    out = sonata_cell_task(cell, broken, reference)
    assert out["status"] == "fail" and "first divergence" in out["reason"] and out["figures"]["spikes_missing"] == 1
    failed = sonata_cell_task(cell, TaskFailure("error", "it crashed"), reference)
    assert failed["status"] == "error" and "it crashed" in failed["reason"]
    regressions: list[str] = []
    assemble_sonata(plan, {cell.key: out}, regressions)
    assert len(regressions) == 1 and "bmtk pointnet" in regressions[0]


def test_a_broken_example_is_an_error_row_with_the_reason(tmp_path: Path):
    raw = json.loads(EXAMPLE.read_text())
    raw["inputs"]["lgn_spikes"]["input_file"] = "$INPUT_DIR/missing.h5"
    raw["manifest"]["$BASE_DIR"] = str(EXAMPLE.parent)
    raw["network"] = str(EXAMPLE.parent / "circuit_config.json")
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(raw))
    plan = plan_sonata(["nest", "tf"], None, examples={"broken": bad})
    assert plan.runs == [] and len(plan.cells) == 2
    regressions: list[str] = []
    cells = assemble_sonata(plan, {}, regressions)
    assert all(c["status"] == "error" and "missing.h5" in c["reason"] for c in cells)
    assert len(regressions) == 2 and cells[0]["dt_ms"] == 0.1
