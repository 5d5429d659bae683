"""SONATA inputs from NWB files and clamp waveforms from CSV/NWB files: bmtk pointnet vs ``snnval run --sonata``.

The network is bmtk's (``NetworkBuilder``, tests/sonata_networks.py); the LGN trains are written in the NWB
layout bmtk 1.2.0's pointnet reads, the clamp waveforms as bmtk's ``CSVAmpReader`` and ``NWBReader`` (Allen
Cell Types sweep) read them. bmtk pointnet runs in a subprocess; spikes must be identical.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from sonata_networks import (
    bmtk_pointnet_spikes,
    build_network,
    write_allen_sweep_nwb,
    write_clamp_csv,
    write_lgn_spikes,
    write_lgn_spikes_nwb,
    write_simulation,
)

from snnval.cli import main
from snnval.errors import SpecError
from snnval.sonata_sim import load_sonata_simulation
from snnval.sonata_spikes import SpikeTable, read_nwb_spike_file, read_spike_file
from snnval.time_grid import precise_spike_steps, step_current_change_step

pytest.importorskip("bmtk")
pytest.importorskip("nest")

TSTOP_MS = 300.0
SWEEP = 7


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> tuple[Path, Path, SpikeTable]:
    root = tmp_path_factory.mktemp("sonata_inputs")
    circuit = build_network(root)
    (root / "inputs").mkdir()
    write_lgn_spikes(root / "inputs" / "lgn_spikes.h5", TSTOP_MS)
    table = read_spike_file(root / "inputs" / "lgn_spikes.h5")
    write_lgn_spikes_nwb(root / "inputs" / "lgn_spikes.nwb", table.time_ms, table.node_id)
    write_clamp_csv(root / "inputs" / "clamp.csv")
    write_allen_sweep_nwb(root / "inputs" / "sweeps.nwb", SWEEP, TSTOP_MS)
    return root, circuit, table


def _inputs(dt: float) -> dict:
    return {
        "lgn_spikes": {"input_type": "spikes", "module": "nwb", "input_file": "$INPUT_DIR/lgn_spikes.nwb",
                       "node_set": "lgn_all"},
        "csv_clamp": {"input_type": "csv", "module": "IClamp", "node_set": "x_cells", "file": "$INPUT_DIR/clamp.csv"},
        "nwb_clamp": {"input_type": "nwb", "module": "IClamp", "node_set": "y_cells", "file": "$INPUT_DIR/sweeps.nwb",
                      "sweep_id": SWEEP, "downsample": dt, "sweep_window": [0.0, 250.0], "delay": 20.0},
    }  # fmt: skip


def _config(root: Path, circuit: Path, dt: float, out: str, inputs: dict | None = None) -> Path:
    node_sets = {"x_cells": {"population": "v1", "node_id": list(range(20, 26))},
                 "y_cells": {"population": "v1", "node_id": list(range(26, 31))},
                 "lgn_all": {"population": "lgn"}}  # fmt: skip
    return write_simulation(root, circuit, dt, TSTOP_MS, out, inputs=inputs or _inputs(dt), node_sets=node_sets)


def _spike_set(table: SpikeTable) -> set:
    return set(zip(table.population.astype(str).tolist(), table.node_id.tolist(), table.time_ms.tolist(), strict=True))


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_nwb_spikes_and_file_clamps_reproduce_bmtk_pointnet(network, dt, capsys):
    root, circuit, lgn = network
    cfg = _config(root, circuit, dt, f"out_bmtk_{dt:g}")
    reference = bmtk_pointnet_spikes(cfg, root / f"out_bmtk_{dt:g}")

    out = root / f"out_suite_{dt:g}"
    assert main(["run", "--sonata", str(cfg), "--sim", "nest", "--output-dir", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    ours = read_spike_file(out / "spikes.h5")
    assert len(reference) > 1000 and summary["n_input_events"] == len(lgn)
    assert _spike_set(ours) == _spike_set(reference), "spikes differ from bmtk pointnet's own run"

    # the clamps are read and matter: every clamped cell fires, and without them the run differs from bmtk's
    sim = load_sonata_simulation(cfg)
    clamped = np.unique(sim.stimulus.currents.neuron)
    assert clamped.tolist() == list(range(20, 31))
    fired = {int(n) for p, n in zip(reference.population, reference.node_id, strict=True) if p == "v1"}
    assert set(clamped.tolist()) <= fired
    no_clamp = _config(root, circuit, dt, f"out_noclamp_{dt:g}", inputs={"lgn_spikes": _inputs(dt)["lgn_spikes"]})
    out2 = root / f"out_noclamp_suite_{dt:g}"
    assert main(["run", "--sonata", str(no_clamp), "--sim", "nest", "--output-dir", str(out2)]) == 0
    capsys.readouterr()
    assert _spike_set(read_spike_file(out2 / "spikes.h5")) != _spike_set(reference)


def test_nwb_spike_file_reads_the_same_events_as_the_sonata_file(network):
    root, circuit, lgn = network
    nwb = read_nwb_spike_file(root / "inputs" / "lgn_spikes.nwb", "lgn")
    assert sorted(zip(nwb.node_id.tolist(), nwb.time_ms.tolist(), strict=True)) == sorted(
        zip(lgn.node_id.tolist(), lgn.time_ms.tolist(), strict=True)
    )
    sim = load_sonata_simulation(_config(root, circuit, 0.1, "out_events"))
    np.testing.assert_array_equal(np.sort(sim.stimulus.events.step), np.sort(precise_spike_steps(lgn.time_ms, 0.1)))


def test_csv_clamp_levels_follow_bmtks_amplitude_series(network):
    """Each CSV row sets the level from its time on (bmtk has no off switch there); the 0 at t=0 is dropped."""
    from sonata_networks import CLAMP_CSV_ROWS

    root, circuit, _ = network
    sim = load_sonata_simulation(_config(root, circuit, 0.1, "out_levels"))
    cur = sim.stimulus.currents
    x0 = cur.neuron == 20
    times = np.array([t for t, _ in CLAMP_CSV_ROWS[1:]])
    np.testing.assert_array_equal(cur.step[x0], step_current_change_step(times, 0.1, 0.1))
    np.testing.assert_array_equal(cur.amplitude_pA[x0], [a for _, a in CLAMP_CSV_ROWS[1:]])


def test_a_spike_input_feeds_the_whole_population_of_its_node_set(network, capsys):
    """bmtk pointnet feeds every virtual node of the node set's populations, whatever else the set says."""
    root, circuit, lgn = network
    ns = {"x_cells": {"population": "v1", "node_id": list(range(20, 26))},
          "lgn_some": {"population": "lgn", "node_id": list(range(10))}}  # fmt: skip
    inputs = {"lgn_spikes": {"input_type": "spikes", "module": "nwb", "input_file": "$INPUT_DIR/lgn_spikes.nwb",
                             "node_set": "lgn_some"}}  # fmt: skip
    cfg = write_simulation(root, circuit, 0.1, TSTOP_MS, "out_some", inputs=inputs, node_sets=ns)
    reference = bmtk_pointnet_spikes(cfg, root / "out_some")
    sim = load_sonata_simulation(cfg)
    assert sim.stimulus.events.step.size == len(lgn) > np.isin(lgn.node_id, range(10)).sum()
    assert any("lgn_some" in note for note in sim.notes)
    out = root / "out_some_suite"
    assert main(["run", "--sonata", str(cfg), "--sim", "nest", "--output-dir", str(out)]) == 0
    capsys.readouterr()
    assert _spike_set(read_spike_file(out / "spikes.h5")) == _spike_set(reference) and len(reference) > 1000


def test_node_type_id_in_a_clamp_node_set_is_noted_where_bmtk_clamps_the_whole_population(network):
    """bmtk 1.2.0 ignores node_type_id in a node set (measured: its run equals the run clamping all of v1)."""
    root, circuit, _ = network
    lgn = {"lgn_spikes": _inputs(0.1)["lgn_spikes"]}
    clamp = {"input_type": "current_clamp", "module": "IClamp", "node_set": "target", "amp": 300.0, "delay": 50.0,
             "duration": 100.0}  # fmt: skip
    runs = {}
    for name, target in (("ntid", {"population": "v1", "node_type_id": 102}), ("all", {"population": "v1"})):
        ns = {"target": target, "lgn_all": {"population": "lgn"}}
        cfg = write_simulation(root, circuit, 0.1, TSTOP_MS, f"out_ntid_{name}", inputs={**lgn, "clamp": clamp},
                               node_sets=ns)  # fmt: skip
        runs[name] = _spike_set(bmtk_pointnet_spikes(cfg, root / f"out_ntid_{name}"))
        sim = load_sonata_simulation(cfg)
        clamped = np.unique(sim.stimulus.currents.neuron).tolist()
        assert clamped == (list(range(20, 26)) if name == "ntid" else list(range(31)))
        assert any("ignores node_type_id" in n for n in sim.notes) == (name == "ntid")
    assert runs["ntid"] == runs["all"]  # bmtk clamped every v1 node; when bmtk changes this, drop the note


# --- bad input ------------------------------------------------------------------------------------------------


def _bad(root: Path, circuit: Path, tmp: Path, case: str) -> tuple[Path, str, str]:
    """(config, file the error must name, field it must name)."""
    inp = tmp / "inputs"
    shutil.copytree(root / "inputs", inp)
    net = tmp / circuit.name
    net.write_text(circuit.read_text().replace("${configdir}", str(root)))
    inputs = _inputs(0.1)
    src = "config"
    if case == "nwb_units_table":  # what bmtk's SpikeTrains.to_nwb writes: bmtk's pointnet cannot read it
        with h5py.File(inp / "lgn_spikes.nwb", "w") as f:
            f.create_dataset("units/spike_times", data=[1.0, 2.0])
        src, field = "lgn_spikes.nwb", "processing"
    elif case == "nwb_two_trials":
        with h5py.File(inp / "lgn_spikes.nwb", "r+") as f:
            f.copy("processing/trial_0", "processing/trial_1")
        src, field = "lgn_spikes.nwb", "processing"
    elif case == "nwb_unknown_trial":
        inputs["lgn_spikes"]["trial"] = "trial_9"
        src, field = "lgn_spikes.nwb", "processing/trial_9"
    elif case == "nwb_unknown_node":
        with h5py.File(inp / "lgn_spikes.nwb", "r+") as f:
            f.move("processing/trial_0/spike_train/3", "processing/trial_0/spike_train/999")
        src, field = "lgn_spikes.nwb", "processing/trial_0/spike_train"
    elif case == "nwb_seconds":
        with h5py.File(inp / "lgn_spikes.nwb", "r+") as f:
            f["processing/trial_0/spike_train/2/data"].attrs["unit"] = "second"
        src, field = "lgn_spikes.nwb", "processing/trial_0/spike_train/2/data"
    elif case == "nwb_past_tstop":
        with h5py.File(inp / "lgn_spikes.nwb", "r+") as f:
            ds = f["processing/trial_0/spike_train/4/data"]
            t = ds[()]
            t[-1] = TSTOP_MS + 1.0
            ds[...] = t
        src, field = "lgn_spikes.nwb", "spike_train/<node_id>/data"
    elif case == "csv_missing_column":
        (inp / "clamp.csv").write_text("time amps\n10.0 5.0\n20.0 0.0\n")
        src, field = "clamp.csv", "timestamps"
    elif case == "csv_not_increasing":
        (inp / "clamp.csv").write_text("timestamps amps\n10.0 5.0\n10.0 0.0\n")
        src, field = "clamp.csv", "timestamps"
    elif case == "csv_off_grid":
        (inp / "clamp.csv").write_text("timestamps amps\n10.0 5.0\n20.05 0.0\n")
        src, field = "clamp.csv", "timestamps"
    elif case == "csv_missing_file":
        (inp / "clamp.csv").unlink()
        field = "inputs.csv_clamp.file"
    elif case == "nwb_missing_sweep":
        inputs["nwb_clamp"]["sweep_id"] = 3
        src, field = "sweeps.nwb", "epochs/Sweep_3/stimulus/timeseries"
    elif case == "clamp_input_type":
        inputs["csv_clamp"]["input_type"] = "wav"
        field = "inputs.csv_clamp.input_type"
    elif case == "n_runs":
        cfg = _config(tmp, net, 0.1, "out_bad", inputs)
        raw = json.loads(cfg.read_text())
        raw["run"]["n_runs"] = 3
        cfg.write_text(json.dumps(raw))
        return cfg, str(cfg), "run.n_runs"
    elif case == "block_run_remainder":
        cfg = _config(tmp, net, 0.1, "out_bad", inputs)
        raw = json.loads(cfg.read_text())
        raw["run"].update(block_run=True, block_size=700)
        cfg.write_text(json.dumps(raw))
        return cfg, str(cfg), "run.block_size"
    else:
        raise AssertionError(case)
    cfg = _config(tmp, net, 0.1, "out_bad", inputs)
    return cfg, str(cfg) if src == "config" else src, field


BAD = ["nwb_units_table", "nwb_two_trials", "nwb_unknown_trial", "nwb_unknown_node", "nwb_seconds", "nwb_past_tstop",
       "csv_missing_column", "csv_not_increasing", "csv_off_grid", "csv_missing_file", "nwb_missing_sweep",
       "clamp_input_type", "n_runs", "block_run_remainder"]  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_input_files_are_refused_by_file_and_field(network, tmp_path, case, capsys):
    root, circuit, _ = network
    cfg, source, field = _bad(root, circuit, tmp_path, case)
    with pytest.raises(SpecError) as info:
        load_sonata_simulation(cfg)
    err = info.value
    assert field in err.field and source in err.source, str(err)
    out = tmp_path / "out_bad"
    assert main(["run", "--sonata", str(cfg), "--sim", "nest"]) == 2
    assert field in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_block_run_in_whole_blocks_is_the_same_run(network):
    root, circuit, _ = network
    cfg = _config(root, circuit, 0.1, "out_block")
    plain = load_sonata_simulation(cfg)
    raw = json.loads(cfg.read_text())
    raw["run"].update(block_run=True, block_size=1000)  # 3 blocks of 100 ms
    cfg.write_text(json.dumps(raw))
    blocked = load_sonata_simulation(cfg)
    assert blocked.stimulus.n_steps == plain.stimulus.n_steps == 3000
