"""Measure how the PyNN backends differ on one deterministic LIF network (the README's PyNN table).

    python examples/pynn_backend_differences.py [exp|alpha|cond ...] [--dt 0.1]

Runs the test suite's LIF network (tests/lif_networks.py: 30 neurons, 12 sources, 200 ms, fixed seeds)
of the given node types on the NEST adapter and on pynn-nest, pynn-neuron and pynn-brian2, and prints
for every pair: spikes, spikes identical in (step, neuron), the first step where V differs by more
than 1e-9 mV and by more than 1 mV, and the first differing spike.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' network builder

from lif_networks import lif_network, lif_stimulus  # noqa: E402

from snnval.adapters import get_adapter  # noqa: E402
from snnval.contract import RunConfig  # noqa: E402
from snnval.errors import NotApplicable  # noqa: E402
from snnval.lif_pairs import own_profile  # noqa: E402
from snnval.semantics import profile  # noqa: E402

SIMS = ("nest", "pynn-nest", "pynn-neuron", "pynn-brian2")


def _first(d: np.ndarray, tol: float) -> int | None:
    bad = np.flatnonzero(d.max(axis=1) > tol)
    return int(bad[0]) if bad.size else None


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("types", nargs="*", default=["exp"], choices=["exp", "alpha", "cond"])
    parser.add_argument("--dt", type=float, default=0.1)
    args = parser.parse_args(argv)
    spec = lif_network(tuple(args.types))
    stim = lif_stimulus(spec, args.dt)
    # each backend in its own profile (pynn-neuron and pynn-brian2 run their own LIF rules: snnval.lif_pairs)
    own = {sim: own_profile(sim, "lif_single_neuron", 0.1)[0] or "nest-glif-psc" for sim in SIMS}
    print(f"network {'+'.join(args.types)}, dt {args.dt} ms, {stim.n_steps} steps, {len(stim.events)} input events")
    runs = {}
    for sim in SIMS:
        try:
            runs[sim] = get_adapter(sim).run(spec, stim, RunConfig(profile(own[sim]), record=("V_m",)))
        except NotApplicable as exc:
            print(f"{sim}: not applicable: {exc}")
    print("pair                        spikes     identical  first dV>1e-9  first dV>1mV  first differing spike")
    for a, b in itertools.combinations(runs, 2):
        ra, rb = runs[a], runs[b]
        sa = set(zip(ra.spike_step.tolist(), ra.spike_neuron.tolist(), strict=True))
        sb = set(zip(rb.spike_step.tolist(), rb.spike_neuron.tolist(), strict=True))
        d = np.abs(ra.state["V_m"][0] - rb.state["V_m"][0])
        diff = sorted(sa ^ sb)
        print(
            f"{a + ' vs ' + b:27s} {ra.n_spikes:4d}/{rb.n_spikes:<4d}  {len(sa & sb):4d}       "
            f"{str(_first(d, 1e-9)):13s}  {str(_first(d, 1.0)):12s}  {diff[0] if diff else '-'}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
