"""Build and run time per adapter: scenario (c) (220 GLIF3 neurons, 1 s) and, optionally, a V1-sized network.

Each configuration runs in a fresh process per repeat (as the CLI runs adapters), side by side in one
invocation; the adapters' own provenance gives build and run wall times (imports excluded). Reports
medians over ``--repeat`` runs and the real-time factor (run wall time / simulated time).

    python benchmarks/bench_network.py --repeat 5
    python benchmarks/bench_network.py --v1-scale --repeat 3      # 51,978 neurons, ~5 M synapses, 100 ms
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from snnval.adapters import RunConfig
from snnval.allen_cells import EXCITATORY, INHIBITORY, allen_cells
from snnval.machine import machine_info
from snnval.runner import run_adapter, run_scenario
from snnval.semantics import profile
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import Events, FrozenStimulus, rate_to_probability, sample_bernoulli

CONFIGS = (
    # (adapter, profile, dt_ms, threads)
    ("tf", "tf-billeh", 1.0, 1),
    ("tf", "nest-glif-psc", 1.0, 1),
    ("nest", "nest-glif-psc", 1.0, 1),
    ("nest", "nest-glif-psc", 1.0, 2),
    ("tf", "tf-billeh", 0.1, 1),
    ("tf", "nest-glif-psc", 0.1, 1),
    ("nest", "nest-glif-psc", 0.1, 1),
    ("nest", "nest-glif-psc", 0.1, 2),
)


def v1_sized(seed: int = 1, n: int = 51_978, k_in: int = 100, n_lgn: int = 17_400, steps: int = 100):
    """A synthetic network of V1 size: n GLIF3 neurons, ~k_in recurrent synapses each, n_lgn inputs."""
    rng = np.random.default_rng(seed)
    cells = allen_cells(list(EXCITATORY) + list(INHIBITORY))
    n_inh = n // 5
    node_type = np.concatenate([rng.integers(0, 3, n - n_inh), rng.integers(3, 5, n_inh)])
    is_inh = np.arange(n) >= n - n_inh
    n_syn = n * k_in
    pre, post = rng.integers(0, n, n_syn), rng.integers(0, n, n_syn)
    receptor = is_inh[pre].astype(np.int64) + 2 * is_inh[post].astype(np.int64)
    weight = np.where(is_inh[pre], -5.0, 2.0) * rng.lognormal(0, 0.5, n_syn)
    delay = rng.integers(1, 6, n_syn).astype(float)
    lgn_pre, lgn_post = rng.integers(0, n_lgn, n * 20), np.repeat(np.arange(n), 20)
    inputs = Synapses(
        lgn_pre, lgn_post, 2 * is_inh[lgn_post].astype(np.int64), np.full(lgn_pre.size, 20.0), np.ones(lgn_pre.size)
    )
    spec = NetworkSpec(
        "v1_sized", cells, node_type, Synapses(pre, post, receptor, weight, delay), n_sources=n_lgn, inputs=inputs
    )
    p = rate_to_probability(rng.uniform(2, 20, n_lgn)[None, None, :] * np.ones((1, steps, 1)), 1.0)
    return spec, FrozenStimulus(1.0, steps, 1, events=Events.from_dense(sample_bernoulli(p, rng)), seed=seed)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--v1-scale", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    machine = machine_info()
    rows = []
    if args.v1_scale:
        spec, stim = v1_sized()
        configs = [("nest", "nest-glif-psc", 1.0, 2), ("tf", "tf-billeh", 1.0, 2)]
        label = f"v1_sized ({spec.n_neurons} neurons, {len(spec.synapses)} synapses, {stim.n_steps} ms)"
    else:
        configs, label = CONFIGS, "glif3_network (220 neurons, 1 s)"
    for sim, prof, dt_ms, threads in configs:
        build, run, spikes = [], [], set()
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            if args.v1_scale:
                cfg = RunConfig(
                    semantics=profile(prof), record=(), record_neurons=np.zeros(0, np.int64), threads=threads
                )
                res = run_adapter(sim, spec, stim, cfg)
            else:
                res = run_scenario("glif3_network", sim, prof, dt_ms, threads=threads)
            total = time.perf_counter() - t0
            build.append(res.provenance["build_wall_s"])
            run.append(res.provenance["run_wall_s"])
            spikes.add(res.n_spikes)
            print(
                f"  {sim} {prof} dt {dt_ms:g} threads {threads}: build {build[-1]:.3f} s, run {run[-1]:.3f} s "
                f"(process total {total:.1f} s), {res.n_spikes} spikes",
                flush=True,
            )
        sim_s = res.n_steps * res.dt_ms / 1000.0
        rows.append(
            {
                "adapter": sim,
                "profile": prof,
                "dt_ms": dt_ms,
                "threads": threads,
                "build_s_median": statistics.median(build),
                "run_s_median": statistics.median(run),
                "realtime_factor_median": statistics.median(run) / sim_s,
                "build_s": build,
                "run_s": run,
                "spike_counts": sorted(spikes),
            }
        )
    print(f"\n{label}, medians of {args.repeat} runs, machine {machine['cpu']} x{machine['cores']}")
    print(f"{'adapter':<6} {'profile':<14} {'dt':>4} {'thr':>3} {'build s':>9} {'run s':>9} {'RT factor':>10}")
    for r in rows:
        print(
            f"{r['adapter']:<6} {r['profile']:<14} {r['dt_ms']:>4g} {r['threads']:>3} {r['build_s_median']:>9.3f} "
            f"{r['run_s_median']:>9.3f} {r['realtime_factor_median']:>10.3f}"
        )
    out = {
        "benchmark": "network_build_run",
        "network": label,
        "date": dt.date.today().isoformat(),
        "command": " ".join(["python", "benchmarks/bench_network.py", *(argv or sys.argv[1:])]),
        "machine": machine,
        "rows": rows,
    }
    name = f"network_{'v1_' if args.v1_scale else ''}{out['date']}.json"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / name).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
