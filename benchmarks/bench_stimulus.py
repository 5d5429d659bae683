"""Benchmark: V1-sized LGN input sampling, vectorised vs the original port's per-element Python loop.

Both versions apply the public NEST port's rule -- a spike with probability clip(x / 1.3, 0, 1) from the
stored TF input x = 1.3 p (GLIF3_SEMANTICS.md section 2) -- to the same input array of
``--inputs`` LGN fibres x ``--steps`` 1-ms steps x ``--trials`` trials:

* vectorised: :func:`snnval.stimulus.sample_ported_clip` on the whole (trials, steps, inputs) array, then
  :meth:`snnval.stimulus.Events.from_dense` (what the suite hands to every adapter);
* loop: the port's double loop, ``for neuron: for t: if np.clip(x[t, neuron] / 1.3, 0, 1) > rng.random():
  times.append(t + 1.0)``, per trial, collecting a dict of spike-time lists (the port used the legacy
  ``np.random.rand()``; a ``Generator.random()`` call costs about the same). The loop is timed on an evenly
  strided subset of ``--loop-inputs`` inputs (all steps, all trials) and scaled linearly to all inputs: its
  cost is a constant per element, so linear scaling is exact up to cache effects.

Each version runs once untimed (warm-up: page faults, first-call overheads), then ``--repeat`` timed runs
with seeds seed+1 .. seed+repeat; medians are reported. Both versions' spike counts are checked against the
expected count sum(p) (and against each other) on the timed subset.

Run from the repository root::

    /work/venv/bin/python benchmarks/bench_stimulus.py                 # V1 size, 3 trials, 5 repeats
    /work/venv/bin/python benchmarks/bench_stimulus.py --inputs 2000   # quick

Writes ``benchmarks/results/stimulus_<YYYY-MM-DD>.json`` (machine info, command, all timings).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from snnval.machine import machine_info
from snnval.stimulus import TF_INPUT_SCALE, Events, rate_to_probability, sample_ported_clip

# The MNIST task's trial layout (GLIF3_SEMANTICS.md section 2): 50 ms blank, 100 ms image, 450 ms blank.
IMAGE_ON_STEP, IMAGE_OFF_STEP = 50, 150


def make_input(n_trials: int, n_steps: int, n_inputs: int, seed: int) -> np.ndarray:
    """A (trials, steps, inputs) array of TF input values x = 1.3 p with V1-like LGN rates.

    Rates: a spontaneous rate per fibre (Gamma, mean 5 Hz) plus, while the image is on, an image-driven
    rate (Gamma, mean 25 Hz, capped at 120 Hz) that differs per trial. This puts x in roughly [0, 0.14],
    the range of the port's stored inputs (0 - 0.135), and gives about 1 % spikes per element.
    """
    g = np.random.default_rng(seed)
    spont = g.gamma(2.0, 2.5, size=(1, 1, n_inputs))
    driven = np.minimum(g.gamma(1.0, 25.0, size=(n_trials, 1, n_inputs)), 120.0)
    rate = np.broadcast_to(spont, (n_trials, n_steps, n_inputs)).copy()
    rate[:, IMAGE_ON_STEP:IMAGE_OFF_STEP, :] += driven
    return TF_INPUT_SCALE * rate_to_probability(rate, 1.0)


def sample_vectorised(x: np.ndarray, rng: np.random.Generator) -> Events:
    """The suite's way: one vectorised draw over all elements, then the sparse event list."""
    return Events.from_dense(sample_ported_clip(x, rng))


def sample_loop(x_trial: np.ndarray, rng: np.random.Generator) -> dict[int, list[float]]:
    """The original port's per-element loop over one trial's (steps, inputs) array (spike times in ms)."""
    spike_times: dict[int, list[float]] = {}
    for neuron_idx in range(x_trial.shape[1]):
        times = []
        for t_idx in range(x_trial.shape[0]):
            prob = np.clip(x_trial[t_idx, neuron_idx] / 1.3, 0.0, 1.0)
            if prob > rng.random():
                times.append(float(t_idx + 1.0))
        if times:
            spike_times[neuron_idx] = times
    return spike_times


def sample_loop_builtin_clip(x_trial: np.ndarray, rng: np.random.Generator) -> dict[int, list[float]]:
    """The same loop with Python's min/max instead of np.clip (not in the port; shows where its time goes).

    np.clip on a numpy scalar costs ~2 us per call, most of the port loop's per-element cost.
    """
    spike_times: dict[int, list[float]] = {}
    for neuron_idx in range(x_trial.shape[1]):
        times = []
        for t_idx in range(x_trial.shape[0]):
            prob = min(max(float(x_trial[t_idx, neuron_idx]) / 1.3, 0.0), 1.0)
            if prob > rng.random():
                times.append(float(t_idx + 1.0))
        if times:
            spike_times[neuron_idx] = times
    return spike_times


def _timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=17_400, help="LGN input fibres (V1 model: 17,400)")
    ap.add_argument("--steps", type=int, default=600, help="1-ms steps per trial (MNIST task: 600)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per version (>= 5 recommended)")
    ap.add_argument("--loop-inputs", type=int, default=100, help="inputs timed in the loop version")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args(argv)
    machine = machine_info()

    x = make_input(args.trials, args.steps, args.inputs, args.seed)
    p = np.clip(x / TF_INPUT_SCALE, 0.0, 1.0)
    subset = np.unique(np.linspace(0, args.inputs - 1, min(args.loop_inputs, args.inputs)).round().astype(int))
    x_sub = np.ascontiguousarray(x[:, :, subset])
    n_elements = x.size
    n_loop_elements = x_sub.size
    scale = args.inputs / subset.size

    # --- vectorised ---
    sample_vectorised(x, np.random.default_rng(args.seed))  # warm-up, untimed
    vec_times, vec_sample_times, vec_counts_sub, vec_totals = [], [], [], []
    for r in range(1, args.repeat + 1):
        rng = np.random.default_rng(args.seed + r)
        t0 = time.perf_counter()
        dense = sample_ported_clip(x, rng)
        t1 = time.perf_counter()
        ev = Events.from_dense(dense)
        t2 = time.perf_counter()
        vec_times.append(t2 - t0)
        vec_sample_times.append(t1 - t0)
        vec_totals.append(len(ev))
        vec_counts_sub.append(dense[:, :, subset].sum(axis=(0, 2)))  # per step, over subset and trials
        del dense, ev

    # --- loops (subset): the port's, and the same with builtin min/max ---
    def run_loop(fn, seed_offset: int) -> tuple[list[float], list[np.ndarray]]:
        fn(x_sub[0, :, : min(10, subset.size)], np.random.default_rng(args.seed))  # warm-up, untimed
        times_s, counts = [], []
        for r in range(1, args.repeat + 1):
            rng = np.random.default_rng(args.seed + seed_offset + r)
            per_step = np.zeros(args.steps)
            t_total = 0.0
            for tr in range(args.trials):
                dt, spikes = _timed(fn, x_sub[tr], rng)
                t_total += dt
                for times in spikes.values():
                    np.add.at(per_step, np.asarray(times, dtype=int) - 1, 1.0)  # time t+1 ms <-> step t
            times_s.append(t_total)
            counts.append(per_step)
        return times_s, counts

    loop_times, loop_counts_sub = run_loop(sample_loop, 1000)
    builtin_times, builtin_counts_sub = run_loop(sample_loop_builtin_clip, 2000)

    vec_med = statistics.median(vec_times)
    vec_sample_med = statistics.median(vec_sample_times)
    loop_sub_med = statistics.median(loop_times)
    loop_full_est = loop_sub_med * scale
    builtin_sub_med = statistics.median(builtin_times)
    builtin_full_est = builtin_sub_med * scale
    ratio = loop_full_est / vec_med

    # --- statistics on the subset: both against the expected count and against each other ---
    p_sub = p[:, :, subset]
    exp_step = p_sub.sum(axis=(0, 2))  # expected spikes per step (subset, all trials)
    var_step = (p_sub * (1 - p_sub)).sum(axis=(0, 2))
    exp_total, var_total = float(exp_step.sum()), float(var_step.sum())

    def summary(counts_per_rep: list[np.ndarray]) -> dict:
        totals = np.array([c.sum() for c in counts_per_rep])
        pooled = np.sum(counts_per_rep, axis=0)
        k = len(counts_per_rep)
        # z of the pooled total; chi-square over the 600 steps of pooled counts (df = steps, binomial var)
        z = (totals.sum() - k * exp_total) / np.sqrt(k * var_total)
        chi2 = float((((pooled - k * exp_step) ** 2) / (k * var_step)).sum())
        return {
            "mean_total_spikes": float(totals.mean()),
            "z_total_vs_expected": float(z),
            "chi2_per_step_vs_expected": chi2,
            "chi2_df": int(args.steps),
        }

    vec_stats, loop_stats = summary(vec_counts_sub), summary(loop_counts_sub)
    builtin_stats = summary(builtin_counts_sub)
    k = args.repeat
    diff_z = (np.sum([c.sum() for c in vec_counts_sub]) - np.sum([c.sum() for c in loop_counts_sub])) / np.sqrt(
        2 * k * var_total
    )
    full_expected = float(p.sum())
    full_z = (np.mean(vec_totals) - full_expected) / np.sqrt(float((p * (1 - p)).sum()) / k)

    result = {
        "benchmark": "stimulus sampling: vectorised sample_ported_clip + Events.from_dense vs per-element loop",
        "date": _dt.date.today().isoformat(),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "machine": machine,
        "params": {
            "inputs": args.inputs,
            "steps": args.steps,
            "trials": args.trials,
            "repeat": args.repeat,
            "loop_inputs_timed": int(subset.size),
            "loop_scale_factor": scale,
            "seed": args.seed,
            "elements": int(n_elements),
            "loop_elements_timed": int(n_loop_elements),
        },
        "vectorised": {
            "median_s": vec_med,
            "median_sample_only_s": vec_sample_med,
            "median_from_dense_s": statistics.median([a - b for a, b in zip(vec_times, vec_sample_times, strict=True)]),
            "all_s": vec_times,
            "ns_per_element": vec_med / n_elements * 1e9,
            "mean_events_full": float(np.mean(vec_totals)),
            "expected_events_full": full_expected,
            "z_full_vs_expected": float(full_z),
        },
        "loop": {
            "median_subset_s": loop_sub_med,
            "all_subset_s": loop_times,
            "estimated_full_s": loop_full_est,
            "ns_per_element": loop_sub_med / n_loop_elements * 1e9,
        },
        "loop_builtin_clip": {
            "median_subset_s": builtin_sub_med,
            "all_subset_s": builtin_times,
            "estimated_full_s": builtin_full_est,
            "ns_per_element": builtin_sub_med / n_loop_elements * 1e9,
        },
        "speedup_loop_over_vectorised": ratio,
        "speedup_loop_builtin_clip_over_vectorised": builtin_full_est / vec_med,
        "spike_statistics_subset": {
            "expected_total_per_run": exp_total,
            "vectorised": vec_stats,
            "loop": loop_stats,
            "loop_builtin_clip": builtin_stats,
            "z_vectorised_minus_loop": float(diff_z),
        },
        "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }

    print(
        f"input sampling, {args.inputs} inputs x {args.steps} steps x {args.trials} trials "
        f"= {n_elements:,} elements; median of {args.repeat} runs"
    )
    print(f"{'version':<34}{'median (s)':>12}{'ns/element':>12}")
    print(f"{'vectorised (sample + from_dense)':<34}{vec_med:>12.3f}{vec_med / n_elements * 1e9:>12.2f}")
    print(f"{'  of which sample_ported_clip':<34}{vec_sample_med:>12.3f}")
    print(
        f"{'loop, ' + str(subset.size) + ' inputs timed':<34}{loop_sub_med:>12.3f}"
        f"{loop_sub_med / n_loop_elements * 1e9:>12.1f}"
    )
    print(f"{'loop, scaled x' + format(scale, '.1f') + ' to all inputs':<34}{loop_full_est:>12.1f}")
    print(
        f"{'loop with builtin min/max, scaled':<34}{builtin_full_est:>12.1f}"
        f"{builtin_sub_med / n_loop_elements * 1e9:>12.1f}"
    )
    print(
        f"speed-up (port loop / vectorised): {ratio:,.0f}x; (builtin-clip loop / vectorised): "
        f"{builtin_full_est / vec_med:,.0f}x"
    )
    print(f"spikes on the {subset.size} timed inputs per run (all trials): expected {exp_total:.1f}")
    for name, st in (("vectorised", vec_stats), ("loop", loop_stats), ("loop min/max", builtin_stats)):
        print(
            f"  {name:<13}{st['mean_total_spikes']:>9.1f}  z vs expected {st['z_total_vs_expected']:+.2f}  "
            f"chi2 over steps {st['chi2_per_step_vs_expected']:.0f} (df {st['chi2_df']})"
        )
    print(f"  difference vectorised - loop: z {diff_z:+.2f}")
    print(
        f"all inputs: {np.mean(vec_totals):,.0f} events per run (expected {full_expected:,.0f}, z {full_z:+.2f}); "
        f"peak RSS {result['peak_rss_MB']:.0f} MB"
    )

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"stimulus_{result['date']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
