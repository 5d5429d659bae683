"""The nightly job: the accuracy tier and every scenario comparison on every adapter -> a report.

The grid of independent runs (scenario x dt, runner x held-out samples, port variants) is executed
on Dask distributed: a LocalCluster of single-threaded worker processes when no scheduler address
is given (NEST keeps process-global state, so one run at a time per process), or the cluster at
``--scheduler``. A crashed or failing run becomes an "error" cell; it never aborts the night.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

#: quick tier: a fixed subset of the held-out set (the first N in split order)
QUICK_SAMPLES = 50
#: TF (nest-glif-psc) and NEST must agree on at least this fraction of held-out predictions
MIN_SAME_SEMANTICS_AGREEMENT = 0.99

ACCURACY_RUNNERS = (
    # (runner label, simulator, profile)
    ("tf (tf-billeh)", "tf", "tf-billeh"),
    ("tf (nest-glif-psc)", "tf", "nest-glif-psc"),
    ("nest (nest-glif-psc)", "nest", "nest-glif-psc"),
)
REFERENCE_RUNNER = ACCURACY_RUNNERS[0][0]


# --------------------------------------------------------------------------------------------- tasks
# Top-level functions so Dask can ship them to worker processes.


def scenario_cells(scenario: str, dt_ms: float) -> list[dict]:
    """All score-matrix cells of one scenario at one dt: each golden run, and NEST vs TF (same semantics)."""
    from snnval.acceptance import compare_same_semantics, golden_runs
    from snnval.adapters import get_adapter
    from snnval.golden_workflow import check_golden_run, golden_run_applicability
    from snnval.runner import run_scenario
    from snnval.scenarios import get_scenario

    sc = get_scenario(scenario)
    label = f"{scenario} (dt {dt_ms:g} ms)"
    runs, cells = {}, []

    def run(sim, profile):
        if (sim, profile) not in runs:
            runs[(sim, profile)] = run_scenario(scenario, sim, profile, dt_ms, isolate=False)
        return runs[(sim, profile)]

    def cell(simulator, reference, fn):
        base = {
            "scenario": label,
            "simulator": simulator,
            "reference": reference,
            "dt_ms": dt_ms,
            "figures": None,
            "realtime_factor": None,
            "reason": "",
        }
        try:
            cmp, rtf = fn()
            base.update(status="pass" if cmp.passed else "fail", figures=cmp.report_figures(), realtime_factor=rtf)
            if not cmp.passed:
                fd = cmp.first_divergence
                base["reason"] = f"first divergence: {fd.describe()}" if fd else "out of tolerance"
        except Exception as exc:  # one cell's failure must not abort the night
            from snnval.errors import NotApplicable

            status = "not_applicable" if isinstance(exc, NotApplicable) else "error"
            base.update(status=status, reason=f"{type(exc).__name__}: {exc}"[:500])
        cells.append(base)

    for sim, profile in golden_runs():
        avail = get_adapter(sim).availability()
        # a run the adapter cannot do (model, knob) has no golden key: "not applicable", not a regression
        reason = avail.reason if not avail.available else golden_run_applicability(sc, sim, profile, dt_ms)
        if reason:
            cells.append(
                {
                    "scenario": label,
                    "simulator": f"{sim} ({profile})",
                    "reference": "golden",
                    "dt_ms": dt_ms,
                    "status": "not_applicable",
                    "reason": reason,
                    "figures": None,
                    "realtime_factor": None,
                }
            )
            continue
        cell(
            f"{sim} ({profile})",
            "golden",
            lambda sim=sim, profile=profile: (
                check_golden_run(sc, sim, profile, dt_ms, run_fn=lambda s, si, p, d: run(si, p)),
                run(sim, profile).provenance.get("realtime_factor"),
            ),
        )
    cell(
        "nest (nest-glif-psc)",
        "tf (nest-glif-psc)",
        lambda: (
            compare_same_semantics(run("nest", "nest-glif-psc"), run("tf", "nest-glif-psc")),
            run("nest", "nest-glif-psc").provenance.get("realtime_factor"),
        ),
    )
    return cells


def held_out_stimulus(model_path: str, n: int | None):
    """The model, its held-out labels and the frozen held-out stimulus, cut to the first ``n`` samples.

    The stimulus is frozen over the whole held-out set from the model's evaluation seed and then cut,
    so a quick run sees exactly the first trials of the full night (and of the recorded predictions).
    """
    from snnval.v1_model import digits_stimulus, load_shipped_model

    spec, readout, metadata = load_shipped_model(model_path)
    held_out = held_out_indices(metadata)
    images, labels = _images(held_out)
    stim = digits_stimulus(images, int(metadata["evaluation_stimulus_seeds"]["held_out"]))
    n = len(held_out) if n is None else min(n, len(held_out))
    return spec, readout, metadata, labels[:n], stim.first_trials(n)


def accuracy_run(model_path: str, n: int | None, sim: str, semantics, mistakes: tuple[str, ...] = ()) -> dict:
    """Pool counts and predictions of the first ``n`` held-out samples on ``sim`` (optionally a port variant)."""
    from snnval.adapters import RunConfig, get_adapter
    from snnval.port_variants import apply_mistakes
    from snnval.semantics import profile
    from snnval.v1_model import pool_counts, predict

    spec, readout, metadata, _, stim = held_out_stimulus(model_path, n)
    seed = int(metadata["evaluation_stimulus_seeds"]["held_out"])
    sem = profile("nest-glif-psc" if semantics == "faithful" else semantics)
    if semantics == "faithful":  # a port variant: the faithful NEST mapping with ``mistakes`` applied
        m = apply_mistakes(spec, stim, readout, mistakes, seed)
        spec, stim, readout, sem = m.spec, m.stimulus, m.readout, m.semantics
    config = RunConfig(semantics=sem, record=(), record_neurons=np.zeros(0, np.int64))
    t0 = time.perf_counter()
    res = get_adapter(sim).run(spec, stim, config)
    wall = time.perf_counter() - t0
    counts = pool_counts(res.spike_trial, res.spike_step, res.spike_neuron, stim.n_trials, readout, res.dt_ms)
    return {
        "predictions": predict(counts).tolist(),
        "counts": counts.tolist(),
        "realtime_factor": wall / (stim.n_trials * stim.n_steps * stim.dt_ms / 1000.0),
        "mean_rate_Hz": res.n_spikes / (spec.n_neurons * stim.n_trials * stim.duration_ms / 1000.0),
    }


def sample_run(model_path: str, sim: str, semantics: str, neuron: int) -> dict:
    """The first held-out sample: V of one readout neuron and the spike raster of the whole network."""
    from snnval.adapters import RunConfig, get_adapter
    from snnval.semantics import profile

    spec, _, _, _, stim = held_out_stimulus(model_path, 1)
    res = get_adapter(sim).run(
        spec, stim, RunConfig(semantics=profile(semantics), record=("V_m",), record_neurons=np.array([neuron]))
    )
    return {
        "voltage_mV": res.state["V_m"][0, :, 0].round(4).tolist(),
        "dt_ms": res.dt_ms,
        "raster": {"step": res.spike_step.tolist(), "neuron": res.spike_neuron.tolist()},
    }


def _images(indices) -> tuple[np.ndarray, np.ndarray]:
    from snnval.digits import load_sklearn_digits

    images, labels = load_sklearn_digits()
    idx = np.asarray(indices, dtype=np.int64)
    return images[idx], labels[idx]


def held_out_indices(metadata: dict) -> np.ndarray:
    """The model's held-out digit indices (recorded at training), else the documented split rule."""
    from snnval.digits import load_sklearn_digits, split_indices

    recorded = metadata.get("split", {}).get("held_out_indices")
    if recorded is None:
        recorded = split_indices(len(load_sklearn_digits()[1]))[1]
    return np.asarray(recorded, dtype=np.int64)


# ------------------------------------------------------------------------------------------ assembly


def _accuracy_entry(runner, sim, profile, out, labels, ref_pred):
    from snnval.accuracy import accuracy_with_ci, confusion_matrix, mcnemar_exact, prediction_agreement

    pred = np.asarray(out["predictions"])
    entry = {
        "runner": runner,
        "simulator": sim,
        "profile": profile,
        **accuracy_with_ci(pred, labels).as_accuracy_fields(),
        "confusion": confusion_matrix(pred, labels).tolist(),
        "realtime_factor": out["realtime_factor"],
        "agreement_with_reference": None,
        "mcnemar": None,
    }
    if ref_pred is not None and runner != REFERENCE_RUNNER:
        entry["agreement_with_reference"] = prediction_agreement(ref_pred, pred).value
        mc = mcnemar_exact(ref_pred == labels, pred == labels)
        entry["mcnemar"] = {"b": mc.b, "c": mc.c, "p": mc.p}
    return entry


def _client(scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=min(2, os.cpu_count() or 1),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )
    return Client(cluster), cluster


def run_nightly(
    quick: bool = False,
    out_dir: str | None = None,
    scheduler: str | None = None,
    model: str | None = None,
    history_path: str | None = None,
) -> int:
    """Run everything, write ``reports/<date>/`` (or ``out_dir``); return 0, or 1 on a regression.

    ``history_path`` defaults to ``reports/history.jsonl`` (append-only, shared by all nights).
    """
    from snnval import __version__
    from snnval.adapters import adapter_names, get_adapter
    from snnval.golden import git_revision
    from snnval.machine import machine_info
    from snnval.paths import REPORTS_DIR
    from snnval.port_variants import variant_plan
    from snnval.report import build_report
    from snnval.scenarios import SCENARIOS
    from snnval.v1_model import SHIPPED_MODEL, load_shipped_model

    os.environ.setdefault("PYNEST_QUIET", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    today = _dt.date.today().isoformat()
    out = Path(out_dir) if out_dir else REPORTS_DIR / today
    out.mkdir(parents=True, exist_ok=True)
    history = Path(history_path) if history_path else REPORTS_DIR / "history.jsonl"
    model_path = str(model or SHIPPED_MODEL)
    spec, readout, metadata = load_shipped_model(model_path)
    n = QUICK_SAMPLES if quick else None
    _, _, _, labels, _ = held_out_stimulus(model_path, n)

    simulators = []
    for name in adapter_names():
        av = get_adapter(name).availability()
        simulators.append({"name": name, "available": av.available, "version": av.version or None, "reason": av.reason})
    available = {s["name"] for s in simulators if s["available"]}

    client, cluster = _client(scheduler)
    futures = {}
    try:
        for name, sc in SCENARIOS.items():
            for dt in sc.dts_ms:
                futures[("scenario", name, dt)] = client.submit(scenario_cells, name, dt, pure=False)
        for runner, sim, prof in ACCURACY_RUNNERS:
            if sim in available:
                futures[("accuracy", runner)] = client.submit(accuracy_run, model_path, n, sim, prof, pure=False)
        plan = variant_plan() if "nest" in available else []
        unique = {m for _, _, m in plan}
        for mistakes in unique:
            futures[("variant", mistakes)] = client.submit(
                accuracy_run, model_path, n, "nest", "faithful", mistakes, pure=False
            )
        sample_index = int(held_out_indices(metadata)[0])
        neuron = int(readout.pool_neurons[int(labels[0])][0])
        for runner, sim, prof in ACCURACY_RUNNERS:
            if sim in available:
                futures[("sample", runner)] = client.submit(sample_run, model_path, sim, prof, neuron, pure=False)
        done = _gather_with_progress(client, futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    regressions: list[str] = []
    cells = []
    for key, value in done.items():
        if key[0] != "scenario":
            continue
        if isinstance(value, Exception):
            cells.append(
                {
                    "scenario": f"{key[1]} (dt {key[2]:g} ms)",
                    "simulator": "all",
                    "reference": "golden",
                    "dt_ms": key[2],
                    "status": "error",
                    "reason": str(value)[:500],
                    "figures": None,
                    "realtime_factor": None,
                }
            )
        else:
            cells += value
    for c in cells:
        if c["reference"] == "golden" and c["status"] in ("fail", "error"):
            regressions.append(f"{c['scenario']}: {c['simulator']} no longer matches its golden ({c['reason']})")

    accuracy, preds = [], {}
    ref = done.get(("accuracy", REFERENCE_RUNNER))
    ref_pred = None if ref is None or isinstance(ref, Exception) else np.asarray(ref["predictions"])
    for runner, sim, prof in ACCURACY_RUNNERS:
        res = done.get(("accuracy", runner))
        if res is None or isinstance(res, Exception):
            if res is not None:
                regressions.append(f"accuracy run {runner} failed: {res}")
            continue
        preds[runner] = np.asarray(res["predictions"])
        accuracy.append(_accuracy_entry(runner, sim, prof, res, labels, ref_pred))
    recorded = metadata.get("held_out_predictions", {}).get("tf:tf-billeh:float64")
    if ref_pred is not None and recorded is not None:
        n_diff = int((np.asarray(recorded)[: len(ref_pred)] != ref_pred).sum())
        if n_diff:
            regressions.append(
                f"TF (tf-billeh) predictions differ from the model's recorded predictions on "
                f"{n_diff} of {len(ref_pred)} held-out samples"
            )
    tf_nest, nest = preds.get("tf (nest-glif-psc)"), preds.get("nest (nest-glif-psc)")
    if tf_nest is not None and nest is not None:
        agree = float((tf_nest == nest).mean())
        if agree < MIN_SAME_SEMANTICS_AGREEMENT:
            regressions.append(
                f"TF (nest-glif-psc) and NEST agree on only {agree:.1%} of predictions "
                f"(< {MIN_SAME_SEMANTICS_AGREEMENT:.0%})"
            )

    variants = _variants(done, plan, labels, regressions)
    sample = _sample(done, sample_index, int(labels[0]), neuron)
    results = {
        "schema_version": 1,
        "date": today,
        "created": _dt.datetime.now(_dt.UTC).isoformat(),
        "suite_version": __version__,
        "git_revision": git_revision(),
        "quick": quick,
        "machine": machine_info(),
        "command": " ".join(["snnval", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("snnval")
        else "snnval nightly" + (" --quick" if quick else ""),
        "simulators": simulators,
        "scenarios": cells,
        "accuracy": accuracy,
        "port_variants": variants,
        "sample": sample,
        "regressions": regressions,
        "model": {
            "path": model_path,
            "n_neurons": spec.n_neurons,
            "n_samples": int(len(labels)),
            "seed": metadata.get("seed"),
            "recorded_accuracy": metadata.get("accuracy"),
        },
    }
    page = build_report(results, out, history)
    written = json.loads((out / "results.json").read_text())
    print(f"\nreport: {page}\nresults: {out / 'results.json'}")
    for entry in accuracy:
        lo, hi = entry["ci95"]
        print(f"  {entry['runner']:<22} accuracy {entry['accuracy']:.1%} [{lo:.1%}, {hi:.1%}] (n={entry['n']})")
    n_pass = sum(c["status"] == "pass" for c in cells)
    print(f"  score matrix: {n_pass} of {len(cells)} cells pass")
    for r in written["regressions"]:
        print(f"  REGRESSION: {r}")
    return 1 if written["regressions"] else 0


def _variants(done, plan, labels, regressions) -> list[dict]:
    from snnval.accuracy import accuracy_with_ci

    out, faithful = [], None
    for name, description, mistakes in plan:
        res = done.get(("variant", mistakes))
        if res is None or isinstance(res, Exception):
            regressions.append(f"port variant {name} failed: {res}")
            continue
        acc = accuracy_with_ci(np.asarray(res["predictions"]), labels)
        if name == "faithful":
            faithful = acc.value
        out.append(
            {
                "variant": name,
                "description": description,
                "changes": list(mistakes),
                "accuracy": acc.value,
                "ci95": list(acc.ci),
                "delta_vs_faithful": 0.0,
            }
        )
    for v in out:
        v["delta_vs_faithful"] = v["accuracy"] - (faithful if faithful is not None else v["accuracy"])
    return out


def _sample(done, index, label, neuron) -> dict | None:
    runs = {runner: done.get(("sample", runner)) for runner, _, _ in ACCURACY_RUNNERS}
    runs = {k: v for k, v in runs.items() if v is not None and not isinstance(v, Exception)}
    if not runs:
        return None
    dt = next(iter(runs.values()))["dt_ms"]
    return {
        "index": index,
        "label": label,
        "dt_ms": dt,
        "neuron": neuron,
        "voltage_mV": {k: v["voltage_mV"] for k, v in runs.items()},
        "raster": {k: v["raster"] for k, v in runs.items()},
    }


def _gather_with_progress(client, futures: dict) -> dict:
    """Wait for every future with a progress bar; a failed task's value is its exception."""
    from dask.distributed import as_completed
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    by_future = {f: k for k, f in futures.items()}
    done = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("nightly runs", total=len(futures))
        for fut in as_completed(list(futures.values())):
            key = by_future[fut]
            try:
                done[key] = fut.result()
            except Exception as exc:  # noqa: BLE001 - recorded as an error cell / regression
                done[key] = RuntimeError(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
            bar.advance(task)
    return done
