"""SONATA simulations built with bmtk's own NetworkBuilder and spike writer, and bmtk pointnet runs of them.

Used by tests/test_sonata_sim.py and validation; nothing here imitates bmtk: the files are bmtk's, and
:func:`run_bmtk_pointnet` runs bmtk's pointnet (which runs NEST) in a subprocess, because NEST's kernel is
process-global.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

GLIF_E = dict(
    V_th=-40.9,
    g=3.94,
    E_L=-76.2,
    C_m=68.1,
    t_ref=2.4,
    V_reset=-76.2,
    asc_init=[0.0, 0.0],
    asc_decay=[0.003, 0.1],
    asc_amps=[-13.0, -200.0],
    tau_syn=[5.5, 8.5, 2.8, 5.8],
    after_spike_currents=True,
    spike_dependent_threshold=False,
    adapting_threshold=False,
)
GLIF_I = dict(GLIF_E, V_th=-45.0, E_L=-70.0, V_reset=-72.0, g=5.0, C_m=80.0, t_ref=3.0, asc_r=[0.5, 1.0])
#: a native node type whose own V_m (-58 mV, not E_L) must be its initial state
IAF_ALPHA = {"C_m": 200.0, "tau_m": 12.0, "tau_syn_ex": 1.5, "tau_syn_in": 3.0, "V_th": -54.0,
             "E_L": -65.0, "V_reset": -68.0, "t_ref": 2.0, "V_m": -58.0}  # fmt: skip
IAF_EXP = {"C_m": 150.0, "tau_m": 10.0, "tau_syn_ex": 2.0, "tau_syn_in": 4.0, "V_th": -52.0,
           "E_L": -66.0, "V_reset": -70.0, "t_ref": 1.5}  # fmt: skip

RUN_POINTNET = """
import sys
from bmtk.simulator import pointnet
conf = pointnet.Config.from_json(sys.argv[1])
conf.build_env()
net = pointnet.PointNetwork.from_config(conf)
sim = pointnet.PointSimulator.from_config(conf, net)
sim.run()
"""


def build_network(root: Path, seed: int = 3, n_lgn: int = 40) -> Path:
    """Write a bmtk network under ``root/network``; return the circuit config path.

    v1: 12 GLIF3 'e' and 8 GLIF3 'i' (``pop_name``), 6 iaf_psc_alpha 'x' with V_m in its parameters,
    5 iaf_psc_exp whose node type only has ``model_name`` 'y' (no pop_name); lgn: ``n_lgn`` virtual
    fibres. Recurrent edges between all groups on the four GLIF3 receptors, delays 1.0-2.0 ms.
    """
    from bmtk.builder import NetworkBuilder

    comp = root / "components"
    (comp / "cell_models").mkdir(parents=True, exist_ok=True)
    (comp / "synaptic_models").mkdir(exist_ok=True)
    (comp / "cell_models" / "e.json").write_text(json.dumps(GLIF_E))
    (comp / "cell_models" / "i.json").write_text(json.dumps(GLIF_I))
    (comp / "cell_models" / "x.json").write_text(json.dumps(IAF_ALPHA))
    (comp / "cell_models" / "y.json").write_text(json.dumps(IAF_EXP))
    (comp / "synaptic_models" / "static.json").write_text("{}")
    # bmtk pointnet takes the NEST receptor port only from the edge type's dynamics_params (it ignores a
    # receptor_type CSV column), so each port gets its own synapse file.
    for port in range(1, 5):
        (comp / "synaptic_models" / f"port{port}.json").write_text(json.dumps({"receptor_type": port}))
    rng = np.random.default_rng(seed)
    v1 = NetworkBuilder("v1")
    glif = dict(model_type="point_neuron", model_template="nest:glif_psc")
    v1.add_nodes(N=12, pop_name="e", dynamics_params="e.json", **glif)
    v1.add_nodes(N=8, pop_name="i", dynamics_params="i.json", **glif)
    v1.add_nodes(N=6, pop_name="x", model_type="point_neuron", model_template="nest:iaf_psc_alpha",
                 dynamics_params="x.json")  # fmt: skip
    v1.add_nodes(N=5, model_name="y", model_type="point_neuron", model_template="nest:iaf_psc_exp",
                 dynamics_params="y.json")  # fmt: skip
    groups = {"e": {"pop_name": "e"}, "i": {"pop_name": "i"}, "x": {"pop_name": "x"}, "y": {"model_name": "y"}}
    # (source, target, receptor port or None for iaf targets, syn_weight pA, delay ms)
    edges = [("e", "e", 1, 25.0, 1.0), ("e", "i", 3, 40.0, 1.5), ("i", "e", 2, -60.0, 1.0), ("i", "i", 4, -30.0, 2.0),
             ("e", "x", None, 90.0, 1.5), ("x", "e", 1, 15.0, 1.0), ("e", "y", None, 120.0, 1.0),
             ("y", "i", 2, -20.0, 2.0)]  # fmt: skip
    n = 31
    for s, t, port, w, d in edges:
        conn = rng.random((n, n)) < 0.35

        def rule(src, trg, conn=conn):
            return 1 if conn[src.node_id, trg.node_id] and src.node_id != trg.node_id else 0

        v1.add_edges(source=groups[s], target=groups[t], connection_rule=rule, syn_weight=w, delay=d,
                     dynamics_params=f"port{port}.json" if port else "static.json",
                     model_template="static_synapse")  # fmt: skip
    v1.build()
    v1.save(output_dir=str(root / "network"))
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=n_lgn, model_type="virtual", pop_name="lgn")
    conn = rng.random((n_lgn, n)) < 0.3
    for target, port, w, d in ((groups["e"], 1, 180.0, 1.0), (groups["i"], 1, 150.0, 1.5),
                               (groups["x"], None, 260.0, 1.0), (groups["y"], None, 200.0, 2.0)):  # fmt: skip
        lgn.add_edges(target=v1.nodes(**target), connection_rule=lambda s, t, c=conn: int(c[s.node_id, t.node_id]),
                      syn_weight=w, delay=d, dynamics_params=f"port{port}.json" if port else "static.json",
                      model_template="static_synapse")  # fmt: skip
    lgn.build()
    lgn.save(output_dir=str(root / "network"))
    circuit = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": f"$NETWORK_DIR/{p}_nodes.h5",
                       "node_types_file": f"$NETWORK_DIR/{p}_node_types.csv"} for p in ("v1", "lgn")],
            "edges": [{"edges_file": f"$NETWORK_DIR/{a}_v1_edges.h5",
                       "edge_types_file": f"$NETWORK_DIR/{a}_v1_edge_types.csv"} for a in ("v1", "lgn")],
        },
    }  # fmt: skip
    path = root / "circuit_config.json"
    path.write_text(json.dumps(circuit, indent=2))
    return path


def write_lgn_spikes(
    path: Path, tstop_ms: float, n_lgn: int = 40, rate_Hz: float = 60.0, seed: int = 5, min_time_ms: float = 1e-3
) -> np.ndarray:
    """Off-grid Poisson spike times (ms, rounded to 1 ns like a recorded file) via bmtk's SpikeTrains writer.

    A few spikes sit exactly on 0.1 ms and 0.01 ms grid points, where ceil and round agree only by rule.
    Times below ``min_time_ms`` are raised to it.
    """
    from bmtk.utils.reports.spike_trains import SpikeTrains

    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_Hz * tstop_ms / 1000.0, n_lgn)
    ids = np.repeat(np.arange(n_lgn), n)
    times = np.round(rng.uniform(0.0, tstop_ms, ids.size), 6)
    times[:6] = [10.0, 20.1, 35.37, 50.05, 0.3, 60.7]  # grid points (0.3 is 2.9999... steps of 0.1 in float)
    times = np.clip(times, min_time_ms, tstop_ms)
    st = SpikeTrains(population="lgn")
    st.add_spikes(node_ids=ids, timestamps=times, population="lgn")
    st.to_sonata(str(path))
    return times


def write_simulation(root: Path, circuit: Path, dt_ms: float, tstop_ms: float, output_dir: str, **extra) -> Path:
    """A bmtk-style simulation config: LGN spike file input, an IClamp onto 'x', spikes out."""
    cfg = {
        "manifest": {"$BASE_DIR": "${configdir}", "$INPUT_DIR": "$BASE_DIR/inputs"},
        "target_simulator": "NEST",
        "run": {"dt": dt_ms, "tstop": tstop_ms, "duration": tstop_ms},
        "network": str(circuit.name),
        "node_sets": {"x_cells": {"population": "v1", "node_id": list(range(20, 26))},
                      "lgn_all": {"population": "lgn"}},
        "inputs": {
            "lgn_spikes": {"input_type": "spikes", "module": "sonata", "input_file": "$INPUT_DIR/lgn_spikes.h5",
                           "node_set": "lgn_all"},
            "clamp": {"input_type": "current_clamp", "module": "IClamp", "node_set": "x_cells",
                      "amp": 300.0, "delay": 50.0, "duration": 100.0},
        },
        "output": {"log_file": "log.txt", "output_dir": output_dir, "spikes_file": "spikes.h5"},
    }  # fmt: skip
    for key, value in extra.items():
        cfg[key] = value
    path = root / f"config_{output_dir}.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def run_bmtk_pointnet(config: Path, timeout_s: float = 600.0) -> subprocess.CompletedProcess:
    """Run bmtk pointnet on ``config`` in a fresh Python process (NEST's kernel is process-global)."""
    env = dict(os.environ, PYNEST_QUIET="1")
    return subprocess.run(
        [sys.executable, "-c", RUN_POINTNET, str(config)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def bmtk_pointnet_spikes(config: Path, output_dir: Path):
    """bmtk pointnet's own run of ``config`` (which must succeed) and the spikes it wrote to ``output_dir``."""
    from snnval.sonata_spikes import read_spike_file

    proc = run_bmtk_pointnet(config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_spike_file(output_dir / "spikes.h5")


IAF_EXP_PS = {"C_m": 250.0, "tau_m": 10.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "V_th": -55.0,
              "E_L": -70.0, "V_reset": -70.0, "t_ref": 2.0, "V_m": -62.0}  # fmt: skip
IAF_ALPHA_PS = {"C_m": 200.0, "tau_m": 15.0, "tau_syn_ex": 1.0, "tau_syn_in": 3.0, "V_th": -54.0,
                "E_L": -68.0, "V_reset": -70.0, "t_ref": 1.5}  # fmt: skip


def build_precise_network(root: Path, seed: int = 9, n_lgn: int = 40) -> Path:
    """A bmtk network of NEST's precise-spike-time models: 10 iaf_psc_exp_ps 'p', 6 iaf_psc_alpha_ps 'q'.

    LGN fibres drive both; 'p' excites 'q' and 'q' inhibits 'p' (delays 1.0 and 1.5 ms).
    """
    from bmtk.builder import NetworkBuilder

    comp = root / "components"
    (comp / "cell_models").mkdir(parents=True, exist_ok=True)
    (comp / "synaptic_models").mkdir(exist_ok=True)
    (comp / "cell_models" / "p.json").write_text(json.dumps(IAF_EXP_PS))
    (comp / "cell_models" / "q.json").write_text(json.dumps(IAF_ALPHA_PS))
    (comp / "synaptic_models" / "static.json").write_text("{}")
    rng = np.random.default_rng(seed)
    v1 = NetworkBuilder("v1")
    v1.add_nodes(N=10, pop_name="p", model_type="point_neuron", model_template="nest:iaf_psc_exp_ps",
                 dynamics_params="p.json")  # fmt: skip
    v1.add_nodes(N=6, pop_name="q", model_type="point_neuron", model_template="nest:iaf_psc_alpha_ps",
                 dynamics_params="q.json")  # fmt: skip
    conn = rng.random((16, 16)) < 0.4
    for s, t, w, d in (("p", "q", 150.0, 1.0), ("q", "p", -200.0, 1.5)):
        v1.add_edges(source={"pop_name": s}, target={"pop_name": t},
                     connection_rule=lambda a, b, c=conn: int(c[a.node_id, b.node_id]), syn_weight=w, delay=d,
                     dynamics_params="static.json", model_template="static_synapse")  # fmt: skip
    v1.build()
    v1.save(output_dir=str(root / "network"))
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=n_lgn, model_type="virtual", pop_name="lgn")
    c2 = rng.random((n_lgn, 16)) < 0.3
    lgn.add_edges(target=v1.nodes(), connection_rule=lambda a, b: int(c2[a.node_id, b.node_id]), syn_weight=320.0,
                  delay=1.0, dynamics_params="static.json", model_template="static_synapse")  # fmt: skip
    lgn.build()
    lgn.save(output_dir=str(root / "network"))
    circuit = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {
            "nodes": [{"nodes_file": f"$NETWORK_DIR/{p}_nodes.h5",
                       "node_types_file": f"$NETWORK_DIR/{p}_node_types.csv"} for p in ("v1", "lgn")],
            "edges": [{"edges_file": f"$NETWORK_DIR/{a}_v1_edges.h5",
                       "edge_types_file": f"$NETWORK_DIR/{a}_v1_edge_types.csv"} for a in ("v1", "lgn")],
        },
    }  # fmt: skip
    path = root / "circuit_config.json"
    path.write_text(json.dumps(circuit, indent=2))
    return path


def write_lgn_spikes_nwb(path: Path, times_ms: np.ndarray, node_ids: np.ndarray, trial: str = "trial_0") -> None:
    """The LGN trains in the NWB layout bmtk 1.2.0's pointnet reads (``NWBSTReader``).

    bmtk's own ``SpikeTrains.to_nwb`` needs pynwb and writes a ``/units`` table that ``NWBSTReader`` cannot
    read, so the file is written as bmtk's tests write theirs (``spikes.onepop.v1.0.nwb``): one
    ``/processing/<trial>/spike_train/<node_id>/data`` dataset of times per node, unit millisecond.
    """
    import h5py

    with h5py.File(path, "w") as f:
        grp = f.create_group(f"/processing/{trial}/spike_train")
        for nid in np.unique(node_ids):
            ds = grp.create_dataset(f"{int(nid)}/data", data=np.sort(times_ms[node_ids == nid]).astype(np.float64))
            ds.attrs["dimension"] = "time"
            ds.attrs["unit"] = "millisecond"


#: a clamp waveform as bmtk's CSVAmpReader reads it: (time ms, amplitude handed to NEST as pA)
CLAMP_CSV_ROWS = ((0.0, 0.0), (40.0, 150.0), (80.5, 320.0), (120.0, -60.0), (150.3, 0.0), (200.0, 240.0))


def write_clamp_csv(path: Path, rows=CLAMP_CSV_ROWS) -> None:
    """A space-separated ``timestamps amps`` clamp waveform (bmtk's default column names)."""
    path.write_text("timestamps amps\n" + "".join(f"{t!r} {a!r}\n" for t, a in rows))


def write_allen_sweep_nwb(path: Path, sweep: int, duration_ms: float, rate_Hz: float = 100_000.0) -> np.ndarray:
    """An Allen Cell Types style NWB sweep (``/epochs/Sweep_<n>/stimulus/timeseries``, data in A) as bmtk reads it.

    Waveform: 0 until 30 ms, a 180 pA step to 90 ms, a ramp from 0 to 260 pA over 100-200 ms, 0 after.
    Returns the data in pA.
    """
    import h5py

    t = np.arange(int(round(duration_ms * rate_Hz / 1000.0))) * 1000.0 / rate_Hz
    pA = np.where((t >= 30.0) & (t < 90.0), 180.0, 0.0)
    ramp = (t >= 100.0) & (t < 200.0)
    pA[ramp] = np.round(260.0 * (t[ramp] - 100.0) / 100.0, 3)
    with h5py.File(path, "w") as f:
        g = f.create_group(f"epochs/Sweep_{sweep}/stimulus/timeseries")
        g.create_dataset("data", data=pA * 1e-12)
        st = g.create_dataset("starting_time", data=0.0)
        st.attrs["rate"] = rate_Hz
    return pA
