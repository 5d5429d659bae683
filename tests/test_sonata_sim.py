"""``snnval run --sonata``: SONATA simulation configs built by bmtk, run by bmtk pointnet and by the suite.

The network, the LGN spike file and the config are bmtk's own (``bmtk.builder.NetworkBuilder``,
``bmtk.utils.reports.spike_trains``); bmtk pointnet runs in a subprocess (NEST is process-global) and the
suite's NEST adapter in its isolated process. Spikes must be identical: same nodes, same times.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from sonata_networks import IAF_ALPHA, bmtk_pointnet_spikes, build_network, write_lgn_spikes, write_simulation

from snnval.cli import main
from snnval.errors import SpecError
from snnval.sonata_sim import load_sonata_simulation, result_spike_table, spike_table_steps
from snnval.sonata_spikes import SpikeTable, read_spike_file, write_spike_csv, write_spike_h5
from snnval.time_grid import precise_spike_steps

TSTOP_MS = 300.0

pytest.importorskip("bmtk")
pytest.importorskip("nest")


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> tuple[Path, Path, np.ndarray]:
    root = tmp_path_factory.mktemp("sonata_sim")
    circuit = build_network(root)
    (root / "inputs").mkdir()
    times = write_lgn_spikes(root / "inputs" / "lgn_spikes.h5", TSTOP_MS)
    return root, circuit, times


def _spike_set(table: SpikeTable) -> set:
    return set(zip(table.population.astype(str).tolist(), table.node_id.tolist(), table.time_ms.tolist(), strict=True))


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_suite_reproduces_bmtk_pointnet_spike_for_spike(network, dt, capsys):
    root, circuit, times = network
    cfg = write_simulation(root, circuit, dt, TSTOP_MS, f"out_bmtk_{dt:g}")
    reference = bmtk_pointnet_spikes(cfg, root / f"out_bmtk_{dt:g}")

    out = root / f"out_suite_{dt:g}"
    assert main(["run", "--sonata", str(cfg), "--sim", "nest", "--output-dir", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    ours = read_spike_file(out / "spikes.h5")
    ours_csv = read_spike_file(out / "spikes.csv")

    # Not trivial: hundreds of spikes from every group, input spikes off the grid, the clamp on.
    sim = load_sonata_simulation(cfg)
    neuron, _, _ = spike_table_steps(sim.nodes, reference, dt)
    for group, ids in sim.spec.populations.items():
        assert np.isin(ids, neuron).sum() >= len(ids) // 2, f"group {group} barely fires in bmtk's run"
    assert len(reference) > 1000 and summary["n_input_events"] == times.size
    assert np.mean(np.abs(times / dt - np.rint(times / dt)) > 1e-6) > 0.9  # off-grid input times
    assert summary["n_current_changes"] == 12  # on/off for 6 clamped cells

    assert _spike_set(ours) == _spike_set(reference), "spikes differ from bmtk pointnet's own run"
    assert _spike_set(ours_csv) == _spike_set(reference)
    assert summary["n_spikes"] == len(reference)
    with h5py.File(out / "snnval_nest.h5", "r") as f:  # the suite's own result file is there too
        assert f.attrs["format"]
    # the statistical tier has the file's groups: e, i (pop_name), x (pop_name), y (model_name)
    from snnval.compare import population_statistics

    stats = population_statistics(_result_from_table(sim, ours, dt), sim.spec.populations)
    ref_stats = population_statistics(_result_from_table(sim, reference, dt), sim.spec.populations)
    assert set(stats) == {"e", "i", "x", "y"} and all(st.rate_Hz.mean() > 1.0 for st in stats.values())
    for group, st in stats.items():
        np.testing.assert_array_equal(st.rate_Hz, ref_stats[group].rate_Hz)


def test_populations_and_initial_state_come_from_the_files(network):
    root, circuit, _ = network
    sim = load_sonata_simulation(write_simulation(root, circuit, 0.1, TSTOP_MS, "out_pops"))
    pops = {k: v.tolist() for k, v in sim.spec.populations.items()}
    # pop_name where the node type has one, model_name for the iaf_psc_exp type that has only that
    assert pops == {"e": list(range(12)), "i": list(range(12, 20)), "x": list(range(20, 26)), "y": list(range(26, 31))}
    by_model = dict(zip(sim.spec.cells.models, sim.spec.cells.native_params, strict=True))
    assert by_model["iaf_psc_alpha"]["V_m"] == IAF_ALPHA["V_m"]  # the file's V_m
    assert by_model["iaf_psc_exp"]["V_m"] == -70.0  # NEST's default, where bmtk starts it
    assert by_model["glif3"] == {"V_m": -78.85}


def test_nest_default_v_m_table_is_nests(network):
    import nest

    from snnval.loaders.sonata import NEST_DEFAULT_V_M

    for model, v in NEST_DEFAULT_V_M.items():
        assert nest.GetDefaults(model)["V_m"] == v, model


def test_input_events_use_the_precise_rule(network):
    root, circuit, times = network
    sim = load_sonata_simulation(write_simulation(root, circuit, 0.1, TSTOP_MS, "out_events"))
    np.testing.assert_array_equal(np.sort(sim.stimulus.events.step), np.sort(precise_spike_steps(times, 0.1)))


def test_round_trip_of_written_spikes_is_lossless(network, tmp_path):
    root, circuit, _ = network
    sim = load_sonata_simulation(write_simulation(root, circuit, 0.1, TSTOP_MS, "out_rt"))
    rng = np.random.default_rng(1)
    neuron = rng.integers(0, sim.spec.n_neurons, 3000)
    step = rng.integers(0, 3000, 3000)
    for offsets in (None, np.minimum(rng.uniform(0, 0.1, 3000) + 1e-7, 0.1)):
        table = result_spike_table(sim.nodes, neuron, step, 0.1, offsets)
        for path in (write_spike_h5(tmp_path / "s.h5", table), write_spike_csv(tmp_path / "s.csv", table)):
            back = read_spike_file(path)
            n2, s2, o2 = spike_table_steps(sim.nodes, back, 0.1)
            got = sorted(zip(n2.tolist(), s2.tolist(), np.round(o2, 9).tolist(), strict=True))
            want_off = np.full(3000, 0.1) if offsets is None else offsets
            want = sorted(zip(neuron.tolist(), step.tolist(), np.round(want_off, 9).tolist(), strict=True))
            assert got == want
            np.testing.assert_array_equal(np.sort(back.time_ms), np.sort(table.time_ms))  # bit for bit


def test_compare_sonata_cli(network, capsys):
    root, circuit, _ = network
    cfg = write_simulation(root, circuit, 0.1, TSTOP_MS, "out_cmp")
    assert main(["compare", "--sonata", str(cfg), "--sim", "nest", "--sim", "nest", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and out["spikes"]["n_reference"] > 1000
    # the TF reference has no iaf_* models: not applicable, with the reason, exit 2
    assert main(["compare", "--sonata", str(cfg), "--sim", "nest", "--sim", "tf"]) == 2
    assert "not supported" in capsys.readouterr().err


# --- bad input ------------------------------------------------------------------------------------------------


def _bad_config(root: Path, circuit: Path, case: str, tmp: Path) -> tuple[Path, str, str]:
    """(config, file the error must name, field it must name) for one kind of bad input."""
    inp = tmp / "inputs"
    inp.mkdir(exist_ok=True)
    shutil.copy(root / "inputs" / "lgn_spikes.h5", inp / "lgn_spikes.h5")
    net = tmp / circuit.name
    if not net.exists():
        text = circuit.read_text().replace("${configdir}", str(root))
        net.write_text(text)
    extra: dict = {}
    if case == "missing_file":
        (inp / "lgn_spikes.h5").unlink()
        expect = ("config", "inputs.lgn_spikes.input_file")
    elif case == "unknown_node_set":
        extra["inputs"] = {"clamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "nope",
                                     "amp": 1.0, "delay": 5.0, "duration": 1.0}}  # fmt: skip
        expect = ("config", "inputs.clamp.node_set")
    elif case in ("unknown_node", "past_tstop", "unknown_population"):
        with h5py.File(inp / "lgn_spikes.h5", "r+") as f:
            g = f["spikes/lgn"]
            if case == "unknown_node":
                ids = g["node_ids"][()]
                ids[3] = 999
                g["node_ids"][...] = ids
            elif case == "past_tstop":
                t = g["timestamps"][()]
                t[5] = TSTOP_MS + 0.05
                g["timestamps"][...] = t
            else:
                f.move("spikes/lgn", "spikes/retina")
        field = {"unknown_node": "spikes/lgn/node_ids", "past_tstop": "spikes/lgn/timestamps",
                 "unknown_population": "spikes/retina"}[case]  # fmt: skip
        expect = ("spikes", field)
    elif case == "function_input":
        extra["inputs"] = {"gen": {"input_type": "spikes", "module": "function", "spikes_function": "my_fn",
                                   "node_set": "lgn_all"}}  # fmt: skip
        expect = ("config", "inputs.gen.module")
    elif case == "self_include":
        extra["network"] = "config_out_bad.json"
        expect = ("config", "network")
    elif case == "weight_function":
        csv = root / "network" / "v1_v1_edge_types.csv"
        lines = csv.read_text().splitlines()
        bad = tmp / "v1_v1_edge_types.csv"
        bad.write_text("\n".join([lines[0] + " weight_function", *(row + " my_weights" for row in lines[1:])]) + "\n")
        cfg = json.loads(net.read_text())
        cfg["networks"]["edges"][0]["edge_types_file"] = str(bad)
        net.write_text(json.dumps(cfg))
        expect = ("v1_v1_edge_types.csv", "weight_function")
    else:
        raise AssertionError(case)
    cfg = write_simulation(tmp, net, 0.1, TSTOP_MS, "out_bad", **extra)
    source = str(cfg) if expect[0] == "config" else expect[0]
    return cfg, source, expect[1]


@pytest.mark.parametrize(
    "case",
    ["missing_file", "unknown_node_set", "unknown_node", "past_tstop", "unknown_population", "function_input",
     "self_include", "weight_function"],
)  # fmt: skip
def test_bad_sonata_input_is_refused_by_file_and_field(network, tmp_path, case, capsys):
    root, circuit, _ = network
    cfg, source, field = _bad_config(root, circuit, case, tmp_path)
    with pytest.raises(SpecError) as info:
        load_sonata_simulation(cfg)
    err = info.value
    assert field in err.field, str(err)
    if source == "spikes":
        assert err.source.endswith("lgn_spikes.h5"), str(err)
    else:
        assert source in err.source, str(err)
    # the CLI: exit 2, the message names the file, and nothing is written
    out = tmp_path / "out_bad"
    assert main(["run", "--sonata", str(cfg), "--sim", "nest"]) == 2
    assert field in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


# --- NEST's precise-spike-time models ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def precise_network(tmp_path_factory) -> tuple[Path, Path]:
    from sonata_networks import build_precise_network

    root = tmp_path_factory.mktemp("sonata_ps")
    circuit = build_precise_network(root)
    (root / "inputs").mkdir()
    write_lgn_spikes(root / "inputs" / "lgn_spikes.h5", TSTOP_MS)
    return root, circuit


def _result_from_table(sim, table: SpikeTable, dt: float):
    from snnval.contract import RunResult

    neuron, step, offset = spike_table_steps(sim.nodes, table, dt)
    n_steps = sim.stimulus.n_steps
    return RunResult.from_spikes(dt, n_steps, 1, np.zeros(step.size), step, neuron, [], {}, {}, offset)


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_precise_models_reproduce_bmtk_and_the_tier_checks_offsets(precise_network, dt):
    from dataclasses import replace

    from snnval.acceptance import BMTK_SPIKE_FILE_TIME_TOLERANCE_MS
    from snnval.compare import compare_spikes
    from snnval.contract import RunConfig
    from snnval.runner import run_adapter
    from snnval.stimulus import Events

    root, circuit = precise_network
    cfg = write_simulation(root, circuit, dt, TSTOP_MS, f"out_ps_{dt:g}")
    raw = json.loads(cfg.read_text())
    del raw["inputs"]["clamp"]  # no 'x' cells here
    cfg.write_text(json.dumps(raw))
    reference = bmtk_pointnet_spikes(cfg, root / f"out_ps_{dt:g}")
    sim = load_sonata_simulation(cfg)
    ours = run_adapter("nest", sim.spec, sim.stimulus, RunConfig(record=()))
    assert ours.spike_offset_ms is not None and len(reference) > 200
    table = result_spike_table(sim.nodes, ours.spike_neuron, ours.spike_step, dt, ours.spike_offset_ms)
    off_grid = np.abs(table.time_ms / dt - np.rint(table.time_ms / dt)) > 1e-6
    assert off_grid.mean() > 0.8, "precise models should spike off the grid"
    # bmtk writes NEST's ASCII recorder output (3 decimals): our exact times, printed the same way, are its times
    ours_printed = {(int(n), float(f"{t:.3f}")) for n, t in zip(table.node_id, table.time_ms, strict=True)}
    assert ours_printed == set(zip(reference.node_id.tolist(), reference.time_ms.tolist(), strict=True))
    # the spike tier on precise times: against bmtk's file within its 1 us rounding (which can move a
    # time onto the grid point below it, i.e. into the previous step: window 1, the times still checked) ...
    cmp = compare_spikes(
        _result_from_table(sim, reference, dt),
        ours,
        match_window_steps=1,
        precise_time_tolerance_ms=BMTK_SPIKE_FILE_TIME_TOLERANCE_MS,
    )
    assert cmp.passed and cmp.n_time_compared == len(reference) and cmp.max_abs_time_diff_ms > 0
    # ... against itself exactly, with the default tolerance (acceptance.PRECISE_SPIKE_TIME_TOLERANCE_MS) ...
    again = run_adapter("nest", sim.spec, sim.stimulus, RunConfig(record=()))
    same = compare_spikes(ours, again)
    assert same.passed and same.max_abs_time_diff_ms == 0.0 and same.precise_time_tolerance_ms == 1e-6
    # ... and a run that drops the input offsets (grid inputs) fails it, even where the steps agree
    ev = sim.stimulus.events
    grid = replace(sim.stimulus, events=Events(ev.trial, ev.step, ev.source, ev.amplitude))
    dropped = run_adapter("nest", sim.spec, grid, RunConfig(record=()))
    bad = compare_spikes(ours, dropped, match_window_steps=2, max_mismatches=10**6)
    assert not bad.passed and bad.n_time_mismatch > 0.5 * bad.n_time_compared
