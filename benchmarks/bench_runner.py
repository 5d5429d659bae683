"""Isolated runs: a fresh process per run against the runner's persistent per-adapter worker.

What it measures: wall time of ``snnval.runner.run_scenario`` for one scenario on one adapter,
(a) with ``reuse=False`` semantics (a fresh spawned process per run, the runner before issue 10),
(b) through the persistent worker (the first run pays the spawn and the simulator import, later
runs only the simulation), and (c) in this process. Writes a JSON file with the machine and every
timing to benchmarks/results/.

    python benchmarks/bench_runner.py --sim nest --scenario single_neuron_step --dt 1 --repeat 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    from snnval.contract import RunConfig
    from snnval.machine import machine_info
    from snnval.runner import run_adapter, shutdown_workers
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    p = argparse.ArgumentParser()
    p.add_argument("--sim", default="nest")
    p.add_argument("--profile", default="nest-glif-psc")
    p.add_argument("--scenario", default="single_neuron_step")
    p.add_argument("--dt", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()

    sc = get_scenario(args.scenario)
    spec, stim = sc.build(args.dt)
    config = RunConfig(semantics=profile(args.profile), record=sc.record)
    machine = machine_info()

    def timed(**kw) -> float:
        t0 = time.perf_counter()
        run_adapter(args.sim, spec, stim, config, **kw)
        return time.perf_counter() - t0

    shutdown_workers()
    fresh = [timed(reuse=False) for _ in range(args.repeat)]
    reused = [timed(reuse=True) for _ in range(args.repeat)]  # reused[0] starts the worker
    in_process = [timed(isolate=False) for _ in range(args.repeat)]
    shutdown_workers()
    rows = {
        "fresh process per run": fresh,
        "persistent worker, first run": reused[:1],
        "persistent worker, later runs": reused[1:],
        "in this process": in_process[1:] or in_process,
    }
    print(f"{args.scenario} on {args.sim} ({args.profile}), dt {args.dt:g} ms; wall s (median of n)")
    for name, ts in rows.items():
        print(f"  {name:<32} {statistics.median(ts):8.3f}  (n={len(ts)})")
    out = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "timings_s": rows,
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    name = f"runner_{args.sim}_{args.scenario}_{dt.date.today().isoformat()}.json"
    (Path(args.out) / name).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
