"""Write a NetworkSpec and a one-trial FrozenStimulus as a SONATA simulation (the external-process protocol).

The layout is what bmtk pointnet reads (and :func:`snnval.loaders.sonata.load_sonata` reads back):

* ``network/net_nodes.h5`` + ``net_node_types.csv``: population ``net``, node id = spec neuron index,
  node type ``100 + t`` per spec node type with ``model_template nest:<model>`` and a
  ``components/cell_models/type_<t>.json`` of NEST parameters (GLIF3 as ``glif_psc`` with the three
  mechanism flags; ``V_m`` = the initial state the run's semantics or the spec's file gives).
* ``network/inputs_nodes.h5``: population ``inputs`` of virtual nodes, node id = spec source index.
* ``network/{net,inputs}_net_edges.h5`` + edge types: one edge type per NEST receptor port
  (``components/synaptic_models/port<p>.json`` = ``{"receptor_type": p}``; port 0 for NEST-native
  targets), ``syn_weight`` (pA) and ``delay`` (ms, already whole steps: the suite applied the profile's
  rounding and offset) per edge.
* ``inputs/spikes.h5``: the events, an event at step s with offset o at t = s dt + o ms (grid events
  at (s+1) dt); an event of integer amplitude k is k spikes.
* ``config.json``: ``run`` (dt, tstop = (n_steps + 1) dt: one flush step, see below), ``precise_times``
  true, the spike input, one ``IClamp`` per current change (changes add up), the output directory and,
  for recorded variables, ``multimeter_report`` reports.

Everything is vectorised (h5py datasets written whole); nothing per synapse in Python.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from snnval.errors import NotApplicable
from snnval.semantics import Semantics, delay_steps
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus
from snnval.time_grid import nest_tics_per_step, spike_times_ms

NEURONS, SOURCES = "net", "inputs"
#: NEST multimeter names of the suite's recordables (glif_psc)
REPORT_VARIABLES = {"V_m": "V_m", "ASC": "ASCurrents_sum", "I_syn": "I_syn"}


def _grid_ms(steps: np.ndarray | int, dt_ms: float) -> np.ndarray:
    """Whole steps -> ms from integer tics, so NEST reads them back as exactly those steps."""
    return np.asarray(steps, dtype=np.int64) * nest_tics_per_step(dt_ms) / 1000.0


def _write_nodes(path: Path, population: str, n: int, type_ids: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        g = f.create_group(f"nodes/{population}")
        g.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))
        g.create_dataset("node_type_id", data=np.asarray(type_ids, dtype=np.uint64))
        g.create_dataset("node_group_id", data=np.zeros(n, dtype=np.uint32))
        g.create_dataset("node_group_index", data=np.arange(n, dtype=np.uint64))
        g.create_group("0")


def _write_edges(path: Path, name: str, src_pop: str, pre, post, type_id, weight, delay) -> None:
    m = int(np.asarray(pre).size)
    with h5py.File(path, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        g = f.create_group(f"edges/{name}")
        s = g.create_dataset("source_node_id", data=np.asarray(pre, dtype=np.uint64))
        s.attrs["node_population"] = src_pop
        t = g.create_dataset("target_node_id", data=np.asarray(post, dtype=np.uint64))
        t.attrs["node_population"] = NEURONS
        g.create_dataset("edge_type_id", data=np.asarray(type_id, dtype=np.uint32))
        g.create_dataset("edge_group_id", data=np.zeros(m, dtype=np.uint32))
        g.create_dataset("edge_group_index", data=np.arange(m, dtype=np.uint64))
        grp = g.create_group("0")
        grp.create_dataset("syn_weight", data=np.asarray(weight, dtype=float))
        grp.create_dataset("delay", data=np.asarray(delay, dtype=float))


def _node_params(spec: NetworkSpec, t: int, semantics: Semantics) -> tuple[str, dict]:
    """(NEST model, parameters) of node type t with its initial V_m, as the NEST adapter sets them."""
    cells = spec.cells
    model = cells.models[t]
    if model == "glif3":
        params = cells.nest_params(t)
        v0 = cells.V_reset_mV[t] if semantics.initial_v == "v_reset" else cells.E_L_mV[t]
        nest_model = "glif_psc"
    else:
        params = dict(cells.native_params[t])
        key = "V_reset" if semantics.initial_v == "v_reset" else "E_L"
        # absent: NEST's default of that key, which for the iaf_* models equals NEST's default V_m, so
        # leaving V_m out starts the node where the NEST adapter starts it
        v0 = params.get(key)
        nest_model = model
    native = cells.native_params[t] if cells.native_params else {}
    if "V_m" in native:  # the file's V_m wins, as in the NEST adapter
        params["V_m"] = float(native["V_m"])
    elif v0 is not None:
        params["V_m"] = float(v0)
    return nest_model, params


def write_simulation(
    root: Path,
    spec: NetworkSpec,
    trial: FrozenStimulus,
    semantics: Semantics,
    record: tuple[str, ...] = (),
    record_neurons: np.ndarray | None = None,
) -> Path:
    """Write ``spec`` driven by the one-trial ``trial`` under ``root``; return the config path."""
    dt = float(trial.dt_ms)
    comp = root / "components"
    (comp / "cell_models").mkdir(parents=True, exist_ok=True)
    (comp / "synaptic_models").mkdir(parents=True, exist_ok=True)
    (root / "network").mkdir(exist_ok=True)
    (root / "inputs").mkdir(exist_ok=True)
    is_glif = (np.asarray(spec.cells.models, dtype=object) == "glif3")[spec.node_type]

    rows = ["node_type_id model_type model_template dynamics_params pop_name"]
    for t in range(spec.cells.n_types):
        model, params = _node_params(spec, t, semantics)
        (comp / "cell_models" / f"type_{t}.json").write_text(json.dumps(params))
        rows.append(f"{100 + t} point_neuron nest:{model} type_{t}.json t{t}")
    (root / "network" / f"{NEURONS}_node_types.csv").write_text("\n".join(rows) + "\n")
    _write_nodes(root / "network" / f"{NEURONS}_nodes.h5", NEURONS, spec.n_neurons, 100 + spec.node_type)
    nodes = [
        {"nodes_file": f"$NETWORK_DIR/{NEURONS}_nodes.h5", "node_types_file": f"$NETWORK_DIR/{NEURONS}_node_types.csv"}
    ]
    if spec.n_sources:
        (root / "network" / f"{SOURCES}_node_types.csv").write_text(
            "node_type_id model_type pop_name\n1 virtual inputs\n"
        )
        _write_nodes(root / "network" / f"{SOURCES}_nodes.h5", SOURCES, spec.n_sources, np.ones(spec.n_sources))
        nodes.append(
            {
                "nodes_file": f"$NETWORK_DIR/{SOURCES}_nodes.h5",
                "node_types_file": f"$NETWORK_DIR/{SOURCES}_node_types.csv",
            }
        )

    n_rec = spec.n_receptors
    for port in range(n_rec + 1):
        (comp / "synaptic_models" / f"port{port}.json").write_text(json.dumps({"receptor_type": port} if port else {}))
    etypes = "edge_type_id model_template dynamics_params\n" + "".join(
        f"{100 + p} static_synapse port{p}.json\n" for p in range(n_rec + 1)
    )
    edges = []
    for src_pop, syn in ((NEURONS, spec.synapses), (SOURCES, spec.inputs)):
        if not len(syn):
            continue
        steps = delay_steps(syn.delay_ms, dt, semantics)
        port = np.where(is_glif[syn.post], syn.receptor + 1, 0)
        stem = f"{src_pop}_{NEURONS}"
        _write_edges(root / "network" / f"{stem}_edges.h5", f"{src_pop}_to_{NEURONS}", src_pop, syn.pre, syn.post,
                     100 + port, syn.weight_pA, _grid_ms(steps, dt))  # fmt: skip
        (root / "network" / f"{stem}_edge_types.csv").write_text(etypes)
        edges.append(
            {"edges_file": f"$NETWORK_DIR/{stem}_edges.h5", "edge_types_file": f"$NETWORK_DIR/{stem}_edge_types.csv"}
        )

    inputs: dict = {}
    ev = trial.events
    if len(ev) and spec.n_sources:
        counts = ev.amplitude
        if np.any(counts != np.round(counts)) or np.any(counts < 1):
            raise NotApplicable("input events must be whole spike counts >= 1 (SONATA spike files carry no weights)")
        reps = counts.astype(np.int64)
        t_ms = spike_times_ms(ev.step, dt, ev.offset_ms)
        with h5py.File(root / "inputs" / "spikes.h5", "w") as f:
            g = f.create_group(f"spikes/{SOURCES}")
            g.attrs["sorting"] = "none"
            ts = g.create_dataset("timestamps", data=np.repeat(t_ms, reps))
            ts.attrs["units"] = "ms"
            g.create_dataset("node_ids", data=np.repeat(ev.source, reps).astype(np.uint64))
        inputs["spikes"] = {"input_type": "spikes", "module": "sonata", "input_file": "${BASE_DIR}/inputs/spikes.h5",
                            "node_set": {"population": SOURCES}}  # fmt: skip
    inputs.update(_clamps(trial, dt))

    reports = {}
    rec_ids = np.arange(spec.n_neurons) if record_neurons is None else np.unique(record_neurons)
    for var in record:
        reports[f"rec_{var}"] = {"cells": {"population": NEURONS, "node_id": rec_ids.tolist()},
                                 "variable_name": REPORT_VARIABLES[var], "module": "multimeter_report",
                                 "sections": "soma", "file_name": f"rec_{var}.h5"}  # fmt: skip
    config = {
        "manifest": {"$BASE_DIR": "${configdir}", "$NETWORK_DIR": "$BASE_DIR/network",
                     "$COMPONENTS_DIR": "$BASE_DIR/components"},
        "target_simulator": "NEST",
        # one flush step: NEST's multimeter delivers the last sample one step late (adapters/nest_glif.py)
        "run": {"dt": dt, "tstop": float(_grid_ms(trial.n_steps + 1, dt)), "precise_times": True},
        "components": {"point_neuron_models_dir": "$COMPONENTS_DIR/cell_models",
                       "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models"},
        "networks": {"nodes": nodes, "edges": edges},
        "inputs": inputs,
        "reports": reports,
        "output": {"output_dir": "${BASE_DIR}/output", "spikes_file": "spikes.h5", "log_file": "log.txt",
                   "overwrite_output_dir": True},
    }  # fmt: skip
    path = root / "config.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def _clamps(trial: FrozenStimulus, dt: float) -> dict:
    """One IClamp per (current change, amplitude step): the suite's change at step s is NEST's at (s+1) dt.

    Clamps add up in NEST, so each change is the difference to the level before it, on from (s+1) dt
    until after the run (bmtk connects the generator with a 1-step delay: ``time_grid``).
    """
    cur = trial.currents
    if not len(cur):
        return {}
    order = np.lexsort((cur.step, cur.neuron))
    neuron, step, level = cur.neuron[order], cur.step[order], cur.amplitude_pA[order]
    first = np.r_[True, neuron[1:] != neuron[:-1]]
    delta = level - np.where(first, 0.0, np.r_[0.0, level[:-1]])
    if np.any(step == 0):
        raise NotApplicable("a current change at step 0: bmtk pointnet skips IClamp onsets at or before dt")
    out = {}
    end = float(_grid_ms(trial.n_steps + 2, dt))
    keys = sorted({(int(s), float(d)) for s, d in zip(step, delta, strict=True) if d != 0.0})
    for i, (s, d) in enumerate(keys):
        ids = neuron[(step == s) & (delta == d)]
        onset = float(_grid_ms(s + 1, dt))
        out[f"clamp_{i}"] = {"input_type": "current_clamp", "module": "IClamp", "amp": d, "delay": onset,
                             "duration": end - onset,
                             "node_set": {"population": NEURONS, "node_id": ids.tolist()}}  # fmt: skip
    return out


__all__ = ["NEURONS", "REPORT_VARIABLES", "SOURCES", "write_simulation"]
