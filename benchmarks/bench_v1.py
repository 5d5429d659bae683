"""V1-sized network, side by side: the suite's NEST adapter, raw PyNEST, bmtk pointnet and the TF reference.

Network and stimulus: :mod:`snnval.v1_benchmark` (51,978 GLIF3 neurons in 17 populations, 100 recurrent
synapses per neuron, 17,400 LGN fibres + 1,000 background sources, 600 ms at dt = 1 ms, realistic rates).
The spec and the frozen stimulus are built once per scale and pickled; every variant then runs in a
fresh Python process that loads them (loading is not timed) and reports:

* build (s): every wall second outside ``Simulate`` (NEST variants: kernel set-up, Create, Connect,
  inputs, recorder, spike read-out; the adapter variant also its validation and spec hashing; TF: the
  network constants and the weight tensors plus the read-out);
* run (s): the simulation proper (NEST ``Simulate``; TF the batched ``tf.function`` call incl. tracing);
* peak RSS (GB): ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the child at the end, and its RSS
  after imports and loading (the baseline every variant shares);
* spikes: the count and a SHA-256 of the sorted (step, neuron) pairs; NEST variants must agree exactly.

Variants: ``adapter`` (``snnval.adapters`` NEST adapter, ``Adapter.run``), ``raw_gen`` (idiomatic PyNEST:
one Create per node type with a CopyModel'd model, one CopyModel'd static synapse per receptor port and
one array ``Connect`` each, ``spike_generator`` inputs, one ``spike_recorder``), ``raw_inj`` (the same
with ``spike_train_injector`` inputs), ``bmtk`` (bmtk pointnet on the same network written as SONATA
files with h5py; building the files is not timed) and ``tf`` (the TF reference adapter, profile
nest-glif-psc, float64).

    python benchmarks/bench_v1.py                              # full size, every variant, 2 repeats
    python benchmarks/bench_v1.py --scales 0.125 0.25 0.5 1 --repeat 1 --variants adapter raw_inj bmtk tf
    python benchmarks/bench_v1.py --scales 0 --variants tf tf_before   # scale 0: glif3_network (220 neurons, 1 s)

``tf_before`` runs the TF reference of commit TF_BEFORE_REV (every step a sparse matmul against the whole
spike buffer), for the before/after of the event-driven propagation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("adapter", "raw_gen", "raw_inj", "bmtk", "tf", "tf_before")
#: the commit whose TF reference is "before" the event-driven propagation (issue 11)
TF_BEFORE_REV = "58eb10d"
NEST_VARIANTS = ("adapter", "raw_gen", "raw_inj", "bmtk")


def _rss_GB() -> float:
    """Current RSS (GB) from /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


def _peak_rss_GB() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # ru_maxrss is in kB on Linux


def spikes_digest(step: np.ndarray, neuron: np.ndarray) -> str:
    """SHA-256 of the (step, neuron) pairs sorted by step then neuron."""
    order = np.lexsort((neuron, step))
    pairs = np.stack([np.asarray(step)[order], np.asarray(neuron)[order]]).astype(np.int64)
    return hashlib.sha256(pairs.tobytes()).hexdigest()[:16]


# --- preparation (not timed) --------------------------------------------------------------------


def prepare(scale: float, workdir: Path, seed: int = 1, stim_seed: int = 2) -> Path:
    """Build and pickle the spec and stimulus of one scale; write the SONATA files for bmtk."""
    from snnval.v1_benchmark import V1BenchConfig, build_v1_benchmark, v1_stimulus

    d = workdir / (f"scale_{scale:g}" if scale > 0 else "glif3_network")
    if (d / "network.pkl").exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    if scale > 0:
        spec = build_v1_benchmark(seed, V1BenchConfig(scale=scale))
        stim = v1_stimulus(spec, stim_seed)
    else:  # scale 0: scenario (c) glif3_network at dt 1 ms (220 neurons, 1 s), for the TF before/after
        from snnval.scenarios import get_scenario

        spec, stim = get_scenario("glif3_network").build(1.0)
    with open(d / "network.pkl.tmp", "wb") as f:
        pickle.dump((spec, stim), f, protocol=pickle.HIGHEST_PROTOCOL)
    if scale > 0:
        write_sonata(spec, stim, d / "sonata")
    os.replace(d / "network.pkl.tmp", d / "network.pkl")
    return d


def write_sonata(spec, stim, out: Path) -> None:
    """The network as SONATA (nodes, edges, node/edge types, input spikes, config) for bmtk pointnet.

    Written with h5py per the SONATA spec (nodes: /nodes/<pop>/node_type_id, node_id, node_group_id,
    node_group_index; edges: /edges/<pop>/source_node_id, target_node_id, edge_type_id, edge_group_id,
    edge_group_index, 0/syn_weight, 0/delay, with the indices/ groups left out: bmtk does not need them).
    One edge type per receptor port (dynamics_params {"receptor_type": port}); node types carry the GLIF3
    parameters of the nest-glif-psc profile (V_m starts at E_L). Input spikes at (step + 1) * dt ms,
    the time the suite's NEST adapter hands to its spike generators.
    """
    import h5py

    from snnval.adapters.nest_glif import NestGlifAdapter
    from snnval.semantics import profile

    out.mkdir(parents=True, exist_ok=True)
    comp = out / "components"
    (comp / "cells").mkdir(parents=True, exist_ok=True)
    (comp / "synapses").mkdir(parents=True, exist_ok=True)
    sem = profile("nest-glif-psc")
    # node types: one per spec node type, params as the adapter's (via its own helper: same numbers)
    lines = ["node_type_id model_type model_template dynamics_params"]
    for t in range(spec.cells.n_types):
        _, params = NestGlifAdapter._node_params(None, spec, t, sem)
        (comp / "cells" / f"nt{t}.json").write_text(json.dumps(params))
        lines.append(f"{100 + t} point_neuron nest:glif_psc nt{t}.json")
    (out / "v1_node_types.csv").write_text("\n".join(lines) + "\n")
    (out / "inp_node_types.csv").write_text("node_type_id model_type\n1 virtual\n")
    with h5py.File(out / "v1_nodes.h5", "w") as f:
        g = f.create_group("nodes/v1")
        g["node_id"] = np.arange(spec.n_neurons, dtype=np.uint64)
        g["node_type_id"] = (100 + spec.node_type).astype(np.uint64)
        g["node_group_id"] = np.zeros(spec.n_neurons, dtype=np.uint32)
        g["node_group_index"] = np.arange(spec.n_neurons, dtype=np.uint64)
        g.create_group("0")
    with h5py.File(out / "inp_nodes.h5", "w") as f:
        g = f.create_group("nodes/inp")
        g["node_id"] = np.arange(spec.n_sources, dtype=np.uint64)
        g["node_type_id"] = np.ones(spec.n_sources, dtype=np.uint64)
        g["node_group_id"] = np.zeros(spec.n_sources, dtype=np.uint32)
        g["node_group_index"] = np.arange(spec.n_sources, dtype=np.uint64)
        g.create_group("0")
    elines = ["edge_type_id model_template dynamics_params"]
    for r in range(spec.n_receptors):
        (comp / "synapses" / f"port{r + 1}.json").write_text(json.dumps({"receptor_type": r + 1}))
        elines.append(f"{r} static_synapse port{r + 1}.json")
    (out / "edge_types.csv").write_text("\n".join(elines) + "\n")
    for name, syn, src in (("v1_v1", spec.synapses, "v1"), ("inp_v1", spec.inputs, "inp")):
        order = np.lexsort((syn.pre, syn.post))  # sorted by target: SONATA's usual layout
        with h5py.File(out / f"{name}_edges.h5", "w") as f:
            g = f.create_group(f"edges/{name}")
            s = g.create_dataset("source_node_id", data=syn.pre[order].astype(np.uint64))
            s.attrs["node_population"] = src
            t = g.create_dataset("target_node_id", data=syn.post[order].astype(np.uint64))
            t.attrs["node_population"] = "v1"
            g["edge_type_id"] = syn.receptor[order].astype(np.uint32)
            g["edge_group_id"] = np.zeros(order.size, dtype=np.uint32)
            g["edge_group_index"] = np.arange(order.size, dtype=np.uint64)
            g["0/syn_weight"] = syn.weight_pA[order]
            g["0/delay"] = syn.delay_ms[order]
    ev = stim.events
    with h5py.File(out / "inp_spikes.h5", "w") as f:
        g = f.create_group("spikes/inp")
        order = np.lexsort((ev.source, ev.step))
        g["timestamps"] = (ev.step[order] + 1) * stim.dt_ms
        g["node_ids"] = ev.source[order].astype(np.uint64)
        g.attrs["sorting"] = "by_time"
    config = {
        "manifest": {"$BASE": str(out)},
        "run": {"tstop": stim.n_steps * stim.dt_ms, "dt": stim.dt_ms},
        "target_simulator": "NEST",
        "components": {
            "point_neuron_models_dir": str(comp / "cells"),
            "synaptic_models_dir": str(comp / "synapses"),
        },
        "networks": {
            "nodes": [
                {"nodes_file": str(out / "v1_nodes.h5"), "node_types_file": str(out / "v1_node_types.csv")},
                {"nodes_file": str(out / "inp_nodes.h5"), "node_types_file": str(out / "inp_node_types.csv")},
            ],
            "edges": [
                {"edges_file": str(out / f"{n}_edges.h5"), "edge_types_file": str(out / "edge_types.csv")}
                for n in ("v1_v1", "inp_v1")
            ],
        },
        "inputs": {
            "lgn_bkg": {
                "input_type": "spikes",
                "module": "sonata",
                "input_file": str(out / "inp_spikes.h5"),
                "node_set": "inp",
            }
        },
        "output": {
            "output_dir": str(out / "output"),
            "log_file": "log.txt",
            "spikes_file": "spikes.h5",
            "overwrite_output_dir": True,
        },
        "reports": {},
    }
    (out / "config.json").write_text(json.dumps(config, indent=1))


# --- variants (each runs in a fresh child process) ----------------------------------------------


def _load(d: Path):
    with open(d / "network.pkl", "rb") as f:
        return pickle.load(f)


def _timed_adapter_run(adapter, spec, stim, threads: int) -> dict:
    """One ``Adapter.run`` in NEST's profile, recording nothing: build = wall time outside the simulation."""
    from snnval.adapters import RunConfig
    from snnval.semantics import profile

    rss0, cpu_loaded = _rss_GB(), _cpu_s()
    cfg = RunConfig(
        semantics=profile("nest-glif-psc"), record=(), record_neurons=np.zeros(0, np.int64), threads=threads
    )
    t0 = time.perf_counter()
    res = adapter.run(spec, stim, cfg)
    total = time.perf_counter() - t0
    run_s = res.provenance["run_wall_s"]
    return dict(
        build_s=total - run_s,
        run_s=run_s,
        rss_loaded_GB=rss0,
        cpu_loaded_s=cpu_loaded,
        step=res.spike_step,
        neuron=res.spike_neuron,
    )


def run_adapter_variant(d: Path, threads: int) -> dict:
    from snnval.adapters import get_adapter

    spec, stim = _load(d)
    adapter = get_adapter("nest")
    adapter.availability()  # imports NEST (not timed, as in the raw variants)
    return _timed_adapter_run(adapter, spec, stim, threads)


def run_raw_variant(d: Path, threads: int, injector: bool) -> dict:
    """Idiomatic PyNEST from the network's arrays (what an expert writes by hand for this network)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    spec, stim = _load(d)
    rss0, cpu_loaded = _rss_GB(), _cpu_s()
    dt_ms = stim.dt_ms
    t0 = time.perf_counter()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": dt_ms, "local_num_threads": threads})
    c = spec.cells
    # node types are contiguous id ranges in this network: neuron i is node i + 1
    assert np.all(np.diff(spec.node_type) >= 0)
    neurons = None
    for t in range(c.n_types):
        n_t = int(np.count_nonzero(spec.node_type == t))
        params = {
            "V_th": c.V_th_mV[t], "E_L": c.E_L_mV[t], "V_reset": c.V_reset_mV[t], "g": c.g_nS[t],
            "C_m": c.C_m_pF[t], "t_ref": c.t_ref_ms[t], "asc_init": [0.0, 0.0],
            "asc_decay": c.asc_decay_per_ms[t].tolist(), "asc_amps": c.asc_amps_pA[t].tolist(),
            "asc_r": c.asc_r_or_ones[t].tolist(), "tau_syn": c.tau_syn_ms[t].tolist(), "V_m": c.E_L_mV[t],
            "after_spike_currents": True, "spike_dependent_threshold": False, "adapting_threshold": False,
        }  # fmt: skip
        nest.CopyModel(
            "glif_psc", f"glif_nt{t}", {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}
        )
        pop = nest.Create(f"glif_nt{t}", n_t)
        neurons = pop if neurons is None else neurons + pop
    for r in range(spec.n_receptors):
        nest.CopyModel("static_synapse", f"syn_port{r + 1}", {"receptor_type": r + 1})
    syn = spec.synapses
    for r in range(spec.n_receptors):
        m = syn.receptor == r
        spec_r = {"synapse_model": f"syn_port{r + 1}", "weight": syn.weight_pA[m], "delay": syn.delay_ms[m]}
        nest.Connect(syn.pre[m] + 1, syn.post[m] + 1, "one_to_one", spec_r)
    # inputs: one node per source that fires in the trial; times (step + 1) * dt
    ev = stim.events
    order = np.argsort(ev.source, kind="stable")
    src, starts = np.unique(ev.source[order], return_index=True)
    times = np.split((ev.step[order] + 1) * dt_ms, starts[1:])
    model = "spike_train_injector" if injector else "spike_generator"
    gens = nest.Create(model, src.size)
    gens.set([{"spike_times": t} for t in times])
    first = gens[0].global_id
    gid_of_src = np.zeros(spec.n_sources, dtype=np.int64)
    gid_of_src[src] = np.arange(first, first + src.size)
    inp = spec.inputs
    keep = gid_of_src[inp.pre] > 0
    for r in range(spec.n_receptors):
        m = keep & (inp.receptor == r)
        if m.any():
            # NEST: every connection out of a device (spike_generator) must use one synapse model,
            # so generators take static_synapse with a receptor_type; injectors are nodes and take the copies
            spec_r = {"synapse_model": f"syn_port{r + 1}"} if injector else {"receptor_type": r + 1}
            nest.Connect(gid_of_src[inp.pre[m]], inp.post[m] + 1, "one_to_one",
                         {**spec_r, "weight": inp.weight_pA[m], "delay": inp.delay_ms[m]})  # fmt: skip
    sr = nest.Create("spike_recorder")
    nest.Connect(neurons, sr)
    t1 = time.perf_counter()
    nest.Simulate(stim.n_steps * dt_ms)
    t2 = time.perf_counter()
    events = sr.events
    step = np.rint(np.asarray(events["times"]) / dt_ms).astype(np.int64) - 1
    neuron = np.asarray(events["senders"], dtype=np.int64) - 1
    t3 = time.perf_counter()
    return dict(
        build_s=(t1 - t0) + (t3 - t2),
        run_s=t2 - t1,
        rss_loaded_GB=rss0,
        cpu_loaded_s=cpu_loaded,
        step=step,
        neuron=neuron,
    )


def run_bmtk_variant(d: Path, threads: int) -> dict:
    """bmtk pointnet as its users run it: config -> PointNetwork -> PointSimulator -> run, spikes from its file."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import h5py
    import nest
    from bmtk.simulator import pointnet

    _, stim = _load(d)
    rss0, cpu_loaded = _rss_GB(), _cpu_s()
    t0 = time.perf_counter()
    configure = pointnet.Config.from_json(str(d / "sonata" / "config.json"))
    configure.build_env()
    net = pointnet.PointNetwork.from_config(configure)
    sim = pointnet.PointSimulator.from_config(configure, net, n_thread=threads)
    # sim.run() = modules' initialize (input spike generators + their connections, the spike recorder),
    # nest.Simulate(tstop) (no block_run), modules' finalize (spike file); done here step by step so that
    # only Simulate counts as run (bmtk 1.2.0 PointSimulator.run)
    for mod in sim._mods:
        mod.initialize(sim)
    t1 = time.perf_counter()
    nest.Simulate(float(configure["run"]["tstop"]))
    t2 = time.perf_counter()
    for mod in sim._mods:
        mod.finalize(sim)
    with h5py.File(d / "sonata" / "output" / "spikes.h5", "r") as f:
        g = f["spikes/v1"]
        neuron = np.asarray(g["node_ids"], dtype=np.int64)
        step = np.rint(np.asarray(g["timestamps"]) / stim.dt_ms).astype(np.int64) - 1
    t3 = time.perf_counter()
    return dict(
        build_s=(t1 - t0) + (t3 - t2),
        run_s=t2 - t1,
        rss_loaded_GB=rss0,
        cpu_loaded_s=cpu_loaded,
        step=step,
        neuron=neuron,
    )


def run_tf_variant(d: Path, threads: int, before: bool = False) -> dict:
    """The TF reference adapter; ``before``: the adapter module of commit TF_BEFORE_REV (dense matmul)."""
    from snnval.adapters import get_adapter

    spec, stim = _load(d)
    if before:
        import importlib.util

        src = subprocess.run(
            ["git", "show", f"{TF_BEFORE_REV}:adapters/tf_reference.py"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        path = d / f"tf_reference_{TF_BEFORE_REV}.py"
        path.write_text(src)
        mspec = importlib.util.spec_from_file_location("tf_reference_before", path)
        module = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(module)
        adapter = module.TFReferenceAdapter()
    else:
        adapter = get_adapter("tf")
    adapter.availability()  # imports TF (not timed)
    return _timed_adapter_run(adapter, spec, stim, threads)


def _cpu_s() -> float:
    """CPU seconds of this process (every thread, user + system)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _time_simulate() -> dict:
    """Wrap ``nest.Simulate`` to sum the CPU seconds spent inside it (build CPU = the rest)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    spent = {"cpu_s": 0.0}
    simulate = nest.Simulate

    def timed(*args, **kwargs):
        c0 = _cpu_s()
        try:
            return simulate(*args, **kwargs)
        finally:
            spent["cpu_s"] += _cpu_s() - c0

    vars(nest)["Simulate"] = timed  # nest refuses setattr on its module; the dict entry is what lookups find
    return spent


def child(variant: str, d: Path, threads: int) -> None:
    # CPU seconds beside wall seconds: on a shared machine wall time is inflated by other load, CPU time
    # much less so (variants without NEST report no split)
    sim_cpu = _time_simulate() if variant in NEST_VARIANTS else None
    if variant == "adapter":
        out = run_adapter_variant(d, threads)
    elif variant in ("raw_gen", "raw_inj"):
        out = run_raw_variant(d, threads, injector=variant == "raw_inj")
    elif variant == "bmtk":
        out = run_bmtk_variant(d, threads)
    elif variant in ("tf", "tf_before"):
        out = run_tf_variant(d, threads, before=variant == "tf_before")
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    step, neuron = out.pop("step"), out.pop("neuron")
    if sim_cpu is not None:  # includes loading the pickle in every variant alike
        out.update(build_cpu_s=_cpu_s() - out["cpu_loaded_s"] - sim_cpu["cpu_s"], run_cpu_s=sim_cpu["cpu_s"])
    np.save(d / f"spikes_{variant}.npy", np.stack([step, neuron]))
    out.update(peak_rss_GB=_peak_rss_GB(), n_spikes=int(step.size), spikes_sha=spikes_digest(step, neuron))
    print("RESULT " + json.dumps(out), flush=True)


# --- driver -------------------------------------------------------------------------------------

LABELS = {
    "adapter": "suite's NEST adapter",
    "raw_gen": "raw PyNEST, spike generators",
    "raw_inj": "raw PyNEST, spike injectors",
    "bmtk": "bmtk pointnet (SONATA)",
    "tf": "TF reference (nest-glif-psc, float64)",
    "tf_before": f"TF reference before (commit {TF_BEFORE_REV}, dense matmul)",
}


def markdown(results: list[dict]) -> str:
    """Side-by-side table (largest scale) and scaling table of recorded results, as Markdown."""
    rows = [r for res in results for r in res["rows"]]
    top = max(r["scale"] for r in rows)
    out = [
        "| variant | build (s) | build CPU (s) | run 600 ms (s) | real-time factor | peak RSS (GB) | spikes "
        "| spikes SHA |"
    ]
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if r["scale"] == top:
            cpu = r.get("build_cpu_s_median")
            out.append(
                f"| {LABELS[r['variant']]} | {r['build_s_median']:.2f} | {'-' if cpu is None else f'{cpu:.2f}'} "
                f"| {r['run_s_median']:.2f} | "
                f"{r['realtime_factor_median']:.1f} | {r['peak_rss_GB_median']:.2f} | {r['n_spikes'][0]:,} | "
                f"{', '.join(r['spikes_sha'])} |"
            )
    out += ["", "| scale | neurons | synapses | variant | build (s) | run (s) | peak RSS (GB) | spikes |"]
    out.append("|---:|---:|---:|---|---:|---:|---:|---:|")
    for r in sorted(rows, key=lambda r: (r["scale"], VARIANTS.index(r["variant"]))):
        out.append(
            f"| {r['scale']:g} | {r['n_neurons']:,} | {r['n_synapses']:,} | {r['variant']} | {r['build_s_median']:.2f} "
            f"| {r['run_s_median']:.2f} | {r['peak_rss_GB_median']:.2f} | {r['n_spikes'][0]:,} |"
        )
    first = next((r for r in rows if r["scale"] == top and r["variant"] in NEST_VARIANTS), None)
    if first is not None:
        from snnval.v1_benchmark import TARGET_RATE_HZ, rate_key

        out += ["", f"Rates at scale {top:g} ({first['variant']}, mean {first['mean_rate_Hz']:.2f} Hz):", ""]
        out += ["| population | rate (Hz) | target (Hz) |", "|---|---:|---:|"]
        for pop, rate in first["population_rates_Hz"].items():
            out.append(f"| {pop} | {rate:.2f} | {TARGET_RATE_HZ[rate_key(pop)]:g} |")
    for res in results:
        for scale, check in res.get("checks", {}).items():
            ratio = check.get("adapter_vs_fastest_raw")
            if ratio:
                out.append(
                    f"\nScale {scale}: adapter / {ratio['raw_variant']} (fastest raw): "
                    + ", ".join(f"{k} {v:.2f}" for k, v in ratio.items() if k != "raw_variant")
                    + f"; identical spikes: {check['nest_adapter_raw_identical_spikes']}"
                )
    for res in results:
        m = res["machine"]
        out.append(
            f"\n`{res['command']}` at {res.get('utc', res['date'])}: {m['cpu']} x{m['cores']}, {m['mem_total_GB']} GB, "
            f"Python {m['python']}, load average {m['loadavg_1_5_15']} at start, {res.get('loadavg_end')} at end"
        )
    return "\n".join(out)


def _median_or_none(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def adapter_ratios(rows: list[dict]) -> dict[str, float]:
    """Adapter / fastest raw PyNEST variant (by median build) at one scale: build and run of the medians,
    build CPU of the medians, and the median over repeats of the paired ratio (adapter vs that raw
    variant in the same repeat, run next to each other)."""
    by = {r["variant"]: r for r in rows}
    raws = [by[v] for v in ("raw_gen", "raw_inj") if v in by]
    if "adapter" not in by or not raws:
        return {}
    a, raw = by["adapter"], min(raws, key=lambda r: r["build_s_median"])
    out = {
        "raw_variant": raw["variant"],
        "build": a["build_s_median"] / raw["build_s_median"],
        "run": a["run_s_median"] / raw["run_s_median"],
    }
    if a.get("build_cpu_s_median") and raw.get("build_cpu_s_median"):
        out["build_cpu"] = a["build_cpu_s_median"] / raw["build_cpu_s_median"]
    pairs = [
        (x, y) for x in a["runs"] for y in raw["runs"] if x.get("repeat") is not None and x["repeat"] == y.get("repeat")
    ]
    if pairs:
        out["build_paired_median"] = statistics.median(x["build_s"] / y["build_s"] for x, y in pairs)
        out["run_paired_median"] = statistics.median(x["run_s"] / y["run_s"] for x, y in pairs)
    return out


def run_child(variant: str, d: Path, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--data", str(d), "--threads", str(threads)]
    env = dict(os.environ, PYNEST_QUIET="1", TF_CPP_MIN_LOG_LEVEL="2")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{variant} failed (exit {p.returncode}):\n{p.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "snnval_bench_v1"))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--tag", default="")
    ap.add_argument("--markdown", nargs="+", metavar="RESULT.json", help="print the tables of recorded results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, Path(args.data), args.threads)
        return {}
    if args.markdown:
        print(markdown([json.loads(Path(f).read_text()) for f in args.markdown]))
        return {}

    from snnval.machine import machine_info
    from snnval.v1_benchmark import population_rates_Hz

    machine = machine_info()
    rows = []
    for scale in args.scales:
        d = prepare(scale, Path(args.workdir))
        spec, stim = _load(d)
        # interleaved (A B C A B C ...): a change of the machine's load hits every variant alike, and the
        # runs of one repeat are neighbours in time (paired ratios below)
        by_variant: dict[str, list[dict]] = {v: [] for v in args.variants}
        for i in range(args.repeat):
            for variant in args.variants:
                load = os.getloadavg()
                r = run_child(variant, d, args.threads)
                r.update(repeat=i, loadavg_1min=load[0], loadavg_start=list(load), loadavg_end=list(os.getloadavg()))
                by_variant[variant].append(r)
                cpu = f"  build CPU {r['build_cpu_s']:6.2f} s" if "build_cpu_s" in r else ""
                print(
                    f"  scale {scale:g} #{i} {variant:<8} build {r['build_s']:7.2f} s  run {r['run_s']:7.2f} s{cpu}  "
                    f"peak RSS {r['peak_rss_GB']:.2f} GB (loaded {r['rss_loaded_GB']:.2f})  {r['n_spikes']} spikes "
                    f"{r['spikes_sha']}  load {load[0]:.1f}",
                    flush=True,
                )
        for variant in args.variants:
            runs = by_variant[variant]
            sp = np.load(d / f"spikes_{variant}.npy")
            rates = population_rates_Hz(spec, sp[1], stim.duration_ms / 1000.0)
            rows.append(
                {
                    "scale": scale,
                    "n_neurons": spec.n_neurons,
                    "n_synapses": len(spec.synapses),
                    "n_input_synapses": len(spec.inputs),
                    "n_sources": spec.n_sources,
                    "variant": variant,
                    "build_s_median": statistics.median(r["build_s"] for r in runs),
                    "run_s_median": statistics.median(r["run_s"] for r in runs),
                    "peak_rss_GB_median": statistics.median(r["peak_rss_GB"] for r in runs),
                    "rss_loaded_GB_median": statistics.median(r["rss_loaded_GB"] for r in runs),
                    "realtime_factor_median": statistics.median(r["run_s"] for r in runs) / (stim.duration_ms / 1000),
                    "build_cpu_s_median": _median_or_none([r.get("build_cpu_s") for r in runs]),
                    "run_cpu_s_median": _median_or_none([r.get("run_cpu_s") for r in runs]),
                    "n_spikes": sorted({r["n_spikes"] for r in runs}),
                    "spikes_sha": sorted({r["spikes_sha"] for r in runs}),
                    "mean_rate_Hz": float(sp.shape[1] / spec.n_neurons / (stim.duration_ms / 1000.0)),
                    "population_rates_Hz": rates,
                    "runs": runs,
                }
            )
    print(
        f"\nV1 benchmark network, {args.threads} threads, medians of {args.repeat}, "
        f"machine {machine['cpu']} x{machine['cores']}"
    )
    print(
        f"{'scale':>6} {'neurons':>7} {'variant':<8} {'build s':>8} {'run s':>8} {'RT fact':>8} {'peak GB':>8} "
        f"{'spikes':>8} sha"
    )
    for r in rows:
        print(
            f"{r['scale']:>6g} {r['n_neurons']:>7} {r['variant']:<8} {r['build_s_median']:>8.2f} "
            f"{r['run_s_median']:>8.2f} {r['realtime_factor_median']:>8.2f} {r['peak_rss_GB_median']:>8.2f} "
            f"{r['n_spikes'][0]:>8} {','.join(r['spikes_sha'])}"
        )
    checks = {}
    for scale in args.scales:
        shas = {r["variant"]: r["spikes_sha"] for r in rows if r["scale"] == scale and r["variant"] in NEST_VARIANTS}
        nest_core = {v: s for v, s in shas.items() if v in ("adapter", "raw_gen", "raw_inj")}
        if len(nest_core) < 2:
            continue
        same = len({tuple(s) for s in nest_core.values()}) == 1 and all(len(s) == 1 for s in nest_core.values())
        checks[f"{scale:g}"] = {"nest_adapter_raw_identical_spikes": same, "shas": shas}
        print(f"scale {scale:g}: NEST adapter and raw PyNEST spikes identical: {same}")
        ratios = adapter_ratios([r for r in rows if r["scale"] == scale])
        if ratios:
            checks[f"{scale:g}"]["adapter_vs_fastest_raw"] = ratios
            print(
                f"scale {scale:g}: adapter / fastest raw PyNEST ({ratios['raw_variant']}): "
                + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items() if k != "raw_variant")
            )
    out = {
        "benchmark": "v1_side_by_side",
        "date": dt.date.today().isoformat(),
        "utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/bench_v1.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "loadavg_end": list(os.getloadavg()),
        "rows": rows,
        "checks": checks,
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    name = f"v1_{out['date']}{'_' + args.tag if args.tag else ''}.json"
    (Path(args.out) / name).write_text(json.dumps(out, indent=1))
    print(f"wrote {Path(args.out) / name}")
    return out


if __name__ == "__main__":
    main()
