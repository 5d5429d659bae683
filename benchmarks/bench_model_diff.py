"""``snnval diff`` on a V1-sized network: time to load nothing (specs in memory) and diff two ports.

A is the synthetic V1-sized network of ``bench_network.v1_sized`` (51,978 neurons, ~5.2 M recurrent and
~1 M input synapses). B is A with every 10th recurrent synapse duplicated as a multapse in both, then the
rows of B shuffled, the E->I weights x1000 and all delays permuted: the matching must sort out the order and
the multapses, and the classifier must name the factor and the permutation. Medians over ``--repeat`` runs.

    python benchmarks/bench_model_diff.py --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_network import v1_sized  # noqa: E402

from snnval.loaders import LoadedModel  # noqa: E402
from snnval.machine import machine_info  # noqa: E402
from snnval.model_diff import diff_models  # noqa: E402
from snnval.spec import Synapses  # noqa: E402

_F = tuple(Synapses.__dataclass_fields__)


def pair(seed: int = 1):
    spec, _ = v1_sized(seed)
    s = spec.synapses
    dup = np.arange(0, len(s), 10)
    s = Synapses(*(np.concatenate([getattr(s, f), getattr(s, f)[dup]]) for f in _F))
    a = replace(spec, synapses=s)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(s))
    t = Synapses(*(getattr(s, f)[order] for f in _F))
    t = replace(
        t, weight_pA=np.where(t.receptor == 2, t.weight_pA * 1000, t.weight_pA), delay_ms=rng.permutation(t.delay_ms)
    )
    return a.validated(), replace(spec, synapses=t).validated()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    machine = machine_info()
    a, b = pair()
    times, result = [], None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = diff_models(LoadedModel(a), LoadedModel(b))
        times.append(time.perf_counter() - t0)
    found = [(f.section, f.group, f.field, f.kind, f.factor) for f in result.findings]
    out = {
        "benchmark": "model_diff",
        "date": dt.date.today().isoformat(),
        "machine": machine,
        "command": " ".join(["python", "benchmarks/bench_model_diff.py", *(argv or sys.argv[1:])]),
        "network": {"neurons": a.n_neurons, "recurrent_synapses": len(a.synapses), "input_synapses": len(a.inputs)},
        "times_s": times,
        "median_s": statistics.median(times),
        "findings": [list(map(str, f)) for f in found],
    }
    print(
        f"diff of two V1-sized ports ({len(a.synapses)} + {len(a.inputs)} synapses): "
        f"median {out['median_s']:.1f} s over {len(times)} runs {[round(t, 1) for t in times]}"
    )
    for f in result.findings:
        print(f"  {f.section}/{f.group}/{f.field}: {f.kind} {f.n_affected}/{f.n_total} factor {f.factor}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / f"model_diff_{out['date']}.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
