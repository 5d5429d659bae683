"""The nightly job: validate -> plan -> execute -> assemble -> publish.

1. **validate** every input before any work: the output directory (a directory, writable, new or an
   earlier report), the history file (every line well-formed), the model, the timeout, the scheduler
   address. Bad input is a SpecError (CLI exit 2) naming the flag or file, the field and the expected form.
2. **plan** (:mod:`snnval.nightly_plan`): every independent task, derived from the adapter registry.
3. **execute** (:mod:`snnval.nightly_tasks`): the tasks on Dask distributed (a LocalCluster of
   single-threaded workers unless ``--scheduler`` names one). Each simulator run is isolated in its own
   process with a timeout; nothing is retried (``allowed-failures`` 0): a hung or crashed run is one
   error entry with its reason and the rest of the night carries on.
4. **assemble** the results dict (schema: :mod:`snnval.report_schema`) and the night's regressions.
5. **publish** (:func:`snnval.report.build_report`): the page, results and history as one transaction.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from snnval.errors import SpecError
from snnval.nightly_plan import NightPlan, check_timeout, make_plan
from snnval.nightly_tasks import TaskFailure

#: quick tier: a fixed subset of the held-out set (the first N in split order)
QUICK_SAMPLES = 50
#: two runners that declare the same profile must agree on at least this fraction of held-out predictions
#: (measured: TF and NEST in nest-glif-psc agree on 400 of 400; one flip in 100 is the noise floor we accept
#: for float64 summation-order differences that move a tied pool count)
MIN_SAME_SEMANTICS_AGREEMENT = 0.99
#: Seconds the night may spend beyond its runs' own timeouts (comparisons, scheduling, figures).
DEADLINE_SLACK_S = 900.0


# ------------------------------------------------------------------------------------------- validate


def validate_inputs(out: Path, history: Path, model_path: str, timeout_s: float | None, scheduler: str | None) -> None:
    """Refuse bad input before any simulation (SpecError / HistoryError: CLI exit 2)."""
    from snnval.report import check_destination, load_history

    check_timeout(timeout_s)
    check_destination(out, "--out")
    if history.exists() and not history.is_file():
        raise SpecError(str(history), "history", "a JSON-lines file, got a directory")
    check_destination(history.parent, "history directory", report_dir=False)
    load_history(history)  # a malformed line is found now, not after the night's runs
    if not Path(model_path).is_file():
        raise SpecError(str(model_path), "--model", "an existing model file in the snnval HDF5 format")
    if scheduler is not None:
        _check_scheduler_address(scheduler)


def _check_scheduler_address(address: str) -> None:
    from distributed.comm import parse_address

    try:
        scheme, loc = parse_address(address)
    except (ValueError, TypeError) as exc:
        raise SpecError("--scheduler", "scheduler", f"a Dask address such as tcp://host:8786 ({exc})") from None
    if scheme in ("tcp", "tls") and (":" not in loc or not loc.rsplit(":", 1)[1].isdigit()):
        raise SpecError(
            "--scheduler", "scheduler", f"a Dask address with a port, e.g. tcp://host:8786, got {address!r}"
        )


# -------------------------------------------------------------------------------------------- execute


def local_cluster(n_workers: int | None = None):
    """A LocalCluster fit for the nightly: single-threaded, non-daemonic workers (each run spawns its own
    process, which a daemonic process may not) and no retries of a task whose worker died."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.worker.daemon": False}):
        return LocalCluster(
            n_workers=n_workers or min(2, os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: None falls back to 8787, taken by any other cluster
            silence_logs=40,
        )


def _client(scheduler: str | None):
    from dask.distributed import Client

    if not scheduler:
        cluster = local_cluster()
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise SpecError(
            "--scheduler", "scheduler", f"a reachable Dask scheduler address; {scheduler!r} failed: {exc}"
        ) from None


def execute(plan: NightPlan, client, night_id: str) -> dict[str, Any]:
    """Submit every task of ``plan``; return {task key: result or TaskFailure}. Never raises for a task."""
    from snnval.nightly_sonata import submit_sonata
    from snnval.nightly_tasks import accuracy_task, cell_task, sample_task, scenario_run_task

    model = plan.model
    futures: dict[str, Any] = {}

    def submit(key: str, fn, *args) -> None:
        if key not in futures:
            futures[key] = client.submit(fn, *args, pure=False, retries=0)

    for run in plan.runs:
        submit(run.key, scenario_run_task, run, night_id)
    for i, cell in enumerate(plan.cells):
        if cell.not_applicable:
            continue
        ref = futures[cell.reference.key] if cell.reference is not None else None
        submit(f"cell|{i}", cell_task, cell, futures[cell.candidate.key], ref)
    for run in plan.accuracy + [v for _, _, v in plan.variants]:
        submit(run.key, accuracy_task, model.path, model.n, run, night_id)
    for s in plan.samples:
        submit(s.key, sample_task, model.path, s, night_id)
    for run in plan.precision_accuracy:
        submit(run.key, accuracy_task, model.path, model.n, run, night_id)
    worst_case = submit_sonata(plan.sonata, submit, futures, night_id)
    worst_case += sum(r.timeout_s for r in plan.runs) + sum(r.timeout_s for r in plan.accuracy)
    worst_case += sum(v.timeout_s for _, _, v in plan.variants) + sum(s.timeout_s for s in plan.samples)
    worst_case += sum(r.timeout_s for r in plan.precision_accuracy)
    return _gather(client, futures, worst_case + DEADLINE_SLACK_S)


def _gather(client, futures: dict[str, Any], deadline_s: float) -> dict[str, Any]:
    """Wait for every future with a progress bar; a failed task's value is a TaskFailure.

    ``deadline_s`` (every run's timeout back to back, plus slack) is a backstop against a lost worker or
    scheduler: what is unfinished by then is cancelled and reported, so the night still ends.
    """
    from dask.distributed import as_completed
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    by_future = {f: k for k, f in futures.items()}
    done: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), transient=False,
    ) as bar:  # fmt: skip
        task = bar.add_task("nightly tasks", total=len(futures))
        try:
            for fut in as_completed(list(futures.values()), timeout=deadline_s):
                key = by_future[fut]
                try:
                    done[key] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died under it: an error, not retried
                    done[key] = TaskFailure("error", f"task failed: {type(exc).__name__}: {exc}"[:500])
                bar.advance(task)
        except TimeoutError:
            for fut, key in by_future.items():
                if key not in done:
                    fut.cancel()
                    done[key] = TaskFailure("error", f"not finished within the night's deadline of {deadline_s:.0f} s")
    return done


# ------------------------------------------------------------------------------------------- assemble


def assemble(plan: NightPlan, done: dict[str, Any], quick: bool, regressions: list[str]) -> dict:
    """The results dict of the night (schema :mod:`snnval.report_schema`); appends to ``regressions``."""
    cells = []
    for i, cell in enumerate(plan.cells):
        if cell.not_applicable:
            cells.append(
                {
                    "scenario": cell.row,
                    "simulator": cell.simulator_label,
                    "reference": cell.reference_label,
                    "dt_ms": cell.dt_ms,
                    "status": "not_applicable",
                    "reason": cell.not_applicable,
                    "figures": None,
                    "realtime_factor": None,
                }
            )
            continue
        value = done[f"cell|{i}"]
        if isinstance(value, TaskFailure):
            value = {
                "scenario": cell.row,
                "simulator": cell.simulator_label,
                "reference": cell.reference_label,
                "dt_ms": cell.dt_ms,
                "status": value.status,
                "reason": value.reason,
                "figures": None,
                "realtime_factor": None,
            }
        cells.append(value)
        if cell.dtype != "float64":  # a precision cell: its regression says what the tier found
            _precision_regression(value, regressions)
            continue
        if cell.reference is None and value["status"] in ("fail", "error"):
            regressions.append(
                f"{value['scenario']}: {value['simulator']} no longer matches its golden ({value['reason']})"
            )
        elif cell.reference is not None and value["status"] in ("fail", "error"):
            regressions.append(
                f"{value['scenario']}: {value['simulator']} and {value['reference']} declare the same semantics "
                f"but differ ({value['reason']})"
            )
    from snnval.nightly_sonata import assemble_sonata

    cells += assemble_sonata(plan.sonata, done, regressions)
    accuracy, not_run, agreement = _accuracy(plan, done, regressions)
    precision_accuracy = _precision_accuracy(plan, done, cells, regressions)
    return {
        "quick": quick,
        "simulators": plan.simulators,
        "scenarios": cells,
        "accuracy": accuracy,
        "accuracy_not_run": not_run,
        "agreement": agreement,
        "port_variants": _variants(plan, done, regressions),
        "sample": _sample(plan, done),
        "precision_accuracy": precision_accuracy,
    }


def _accuracy(plan: NightPlan, done: dict[str, Any], regressions: list[str]):
    from snnval.acceptance import same_semantics_pairs
    from snnval.accuracy import accuracy_with_ci, confusion_matrix, mcnemar_exact, prediction_agreement
    from snnval.nightly_plan import label

    labels = plan.model.labels
    not_run = [
        {"runner": s.runner, "simulator": s.sim, "profile": s.profile, "status": s.status, "reason": s.reason}
        for s in plan.skipped_runners
    ]
    preds: dict[str, np.ndarray] = {}
    accuracy = []
    for run in plan.accuracy:
        res = done[run.key]
        if isinstance(res, TaskFailure):
            not_run.append(
                {"runner": run.runner, "simulator": run.sim, "profile": run.profile, "status": res.status,
                 "reason": res.reason}
            )  # fmt: skip
            regressions.append(f"accuracy run {run.runner} did not complete: {res.reason}")
            continue
        pred = np.asarray(res["predictions"])
        preds[run.runner] = pred
        accuracy.append(
            {
                "runner": run.runner,
                "simulator": run.sim,
                "profile": run.profile,
                **accuracy_with_ci(pred, labels).as_accuracy_fields(),
                "confusion": confusion_matrix(pred, labels).tolist(),
                "realtime_factor": res["realtime_factor"],
            }
        )
    agreement = []
    names = list(preds)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            mc = mcnemar_exact(preds[a] == labels, preds[b] == labels)
            agreement.append(
                {"a": a, "b": b, "agreement": prediction_agreement(preds[a], preds[b]).value,
                 "mcnemar": {"b": mc.b, "c": mc.c, "p": mc.p}}
            )  # fmt: skip
    for prof, ref, cand in same_semantics_pairs([r.sim for r in plan.accuracy] or None):
        a, b = label(ref, prof), label(cand, prof)
        if a in preds and b in preds:
            agree = float((preds[a] == preds[b]).mean())
            if agree < MIN_SAME_SEMANTICS_AGREEMENT:
                regressions.append(
                    f"{a} and {b} declare the same semantics but agree on only {agree:.1%} of predictions "
                    f"(< {MIN_SAME_SEMANTICS_AGREEMENT:.0%})"
                )
    recorded = plan.model.metadata.get("held_out_predictions")
    if isinstance(recorded, dict) and plan.accuracy:
        first = plan.accuracy[0]
        rec = recorded.get(f"{first.sim}:{first.profile}:float64")
        if rec is not None and first.runner in preds:
            got = preds[first.runner]
            n_diff = int((np.asarray(rec)[: len(got)] != got).sum())
            if n_diff:
                regressions.append(
                    f"{first.runner} predictions differ from the model's recorded predictions on "
                    f"{n_diff} of {len(got)} held-out samples"
                )
    return accuracy, not_run, agreement


def _variants(plan: NightPlan, done: dict[str, Any], regressions: list[str]) -> list[dict]:
    from snnval.accuracy import accuracy_with_ci

    out, faithful = [], None
    for name, description, run in plan.variants:
        res = done[run.key]
        if isinstance(res, TaskFailure):
            regressions.append(f"port variant {name} did not complete: {res.reason}")
            continue
        acc = accuracy_with_ci(np.asarray(res["predictions"]), plan.model.labels)
        if name == "faithful":
            faithful = acc.value
        out.append(
            {
                "variant": name,
                "description": description,
                "changes": list(run.mistakes or ()),
                "accuracy": acc.value,
                "ci95": list(acc.ci),
                "delta_vs_faithful": 0.0,
            }
        )
    for v in out:
        v["delta_vs_faithful"] = v["accuracy"] - (faithful if faithful is not None else v["accuracy"])
    return out


def _sample(plan: NightPlan, done: dict[str, Any]) -> dict | None:
    runs = {s.runner: done[s.key] for s in plan.samples}
    runs = {k: v for k, v in runs.items() if not isinstance(v, TaskFailure)}
    if not runs:
        return None
    model = plan.model
    return {
        "index": int(model.held_out_indices[0]),
        "label": int(model.labels[0]),
        "dt_ms": next(iter(runs.values()))["dt_ms"],
        "neuron": int(model.sample_neuron),
        "voltage_mV": {k: v["voltage_mV"] for k, v in runs.items()},
        "raster": {k: v["raster"] for k, v in runs.items()},
    }


# ----------------------------------------------------------------------------------- float32 precision


def _precision_regression(value: dict, regressions: list[str]) -> None:
    """A precision cell that fails found a real difference (or moved counts) between float32 and float64."""
    if value["status"] in ("fail", "error"):
        regressions.append(
            f"{value['scenario']}: {value['simulator']} vs {value['reference']}: {value['reason'] or value['status']}"
        )


def _precision_accuracy(plan: NightPlan, done: dict[str, Any], cells: list[dict], regressions: list[str]) -> list:
    """Float32 vs float64 task accuracy per runner (paired on the same trials, :func:`snnval.precision.
    accuracy_movement`); each precision cell of that runner gets ``precision.accuracy_moved``; a precision
    cell that did not run gets its dtype (no device, no precision)."""
    from snnval.nightly_plan import label
    from snnval.precision import accuracy_movement

    out, moved = [], {}
    for run in plan.precision_accuracy:
        entry = {"runner": run.runner, "simulator": run.sim, "profile": run.profile, "dtype": run.dtype}
        ref = done.get(f"accuracy|{label(run.sim, run.profile)}")
        res = done[run.key]
        if isinstance(res, TaskFailure) or ref is None or isinstance(ref, TaskFailure):
            why = res.reason if isinstance(res, TaskFailure) else "the float64 accuracy run did not complete"
            out.append({**entry, "status": "error", "reason": why, "movement": None})
            regressions.append(f"accuracy run {run.runner} did not complete: {why}")
            continue
        m = accuracy_movement(ref["predictions"], res["predictions"], plan.model.labels)
        moved[(run.sim, run.profile)] = m["moved"]
        out.append({**entry, "status": "pass" if not m["moved"] else "fail", "reason": "", "movement": m})
        if m["moved"]:
            regressions.append(
                f"accuracy of {run.runner} moved against float64 (McNemar p = {m['mcnemar_p']:.3g}): "
                f"{m['candidate']['accuracy']:.1%} vs {m['reference']['accuracy']:.1%}"
            )
    for cell, value in zip(plan.cells, cells[: len(plan.cells)], strict=True):  # the planned cells come first
        if cell.dtype == "float64":
            continue
        value.setdefault("dtype", cell.dtype)
        run = cell.candidate
        if value.get("precision") is not None and run is not None:
            value["precision"]["accuracy_moved"] = moved.get((run.sim, run.profile))
    return out


# ---------------------------------------------------------------------------------------------- night


def run_nightly(
    quick: bool = False,
    out_dir: str | None = None,
    scheduler: str | None = None,
    model: str | None = None,
    history_path: str | None = None,
    timeout_s: float | None = None,
    sims: list[str] | None = None,
    port_ladder: bool = True,
    v1_samples: int | None = None,
    v1_scale: float | None = None,
) -> int:
    """Run the night, publish ``reports/<date>/`` (or ``out_dir``); return 0, or 1 on a regression.

    ``history_path`` defaults to ``reports/history.jsonl`` (append-only, shared by all nights).
    ``timeout_s`` overrides every run's size-derived timeout; ``sims`` restricts the adapters;
    ``port_ladder=False`` leaves the port-variant ladder out. ``v1_samples`` (default
    :data:`snnval.nightly_v1.V1_SAMPLES`, 0: off) and ``v1_scale`` set the V1-sized accuracy check.
    """
    from snnval import __version__
    from snnval.golden import git_revision
    from snnval.machine import machine_info
    from snnval.nightly_tasks import model_input
    from snnval.paths import REPORTS_DIR
    from snnval.report import build_report
    from snnval.v1_model import SHIPPED_MODEL

    os.environ.setdefault("PYNEST_QUIET", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    today = _dt.date.today().isoformat()
    out = Path(out_dir) if out_dir else REPORTS_DIR / today
    history = Path(history_path) if history_path else REPORTS_DIR / "history.jsonl"
    model_path = str(model or SHIPPED_MODEL)
    validate_inputs(out, history, model_path, timeout_s, scheduler)
    if sims is not None:
        from snnval.adapters import get_adapter

        for s in sims:
            get_adapter(s)  # an unknown name is a SpecError naming the registered ones
    try:
        model_in = model_input(model_path, QUICK_SAMPLES if quick else None)
    except OSError as exc:  # a truncated or non-HDF5 file
        raise SpecError(model_path, "--model", f"a readable model in the snnval HDF5 format ({exc})") from None

    from snnval.nightly_v1 import V1_SAMPLES, V1_SCALE, plan_v1_accuracy, v1_accuracy_task

    v1_run = plan_v1_accuracy(
        V1_SAMPLES if v1_samples is None else v1_samples, V1_SCALE if v1_scale is None else v1_scale, sims, timeout_s
    )

    client, cluster = _client(scheduler)
    started = time.monotonic()
    try:
        plan = make_plan(model_in, sims=sims, timeout_s=timeout_s, port_ladder=port_ladder)
        done = execute(plan, client, uuid.uuid4().hex)
        if v1_run is not None:  # after the rest of the night: it runs alone, so its real-time factors are its own
            future = client.submit(v1_accuracy_task, v1_run, pure=False, retries=0)
            done.update(_gather(client, {v1_run.key: future}, v1_run.worst_case_s))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    regressions: list[str] = []
    results = assemble(plan, done, quick, regressions)
    if v1_run is not None:
        from snnval.nightly_v1 import v1_accuracy_entry

        results["v1_accuracy"] = v1_accuracy_entry(v1_run, done[v1_run.key], regressions)
    results = {
        "schema_version": 2,
        "date": today,
        "created": _dt.datetime.now(_dt.UTC).isoformat(),
        "suite_version": __version__,
        "git_revision": git_revision(),
        "machine": machine_info(),
        "command": " ".join(["snnval", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith("snnval")
        else "snnval nightly" + (" --quick" if quick else ""),
        **results,
        "regressions": regressions,
        "wall_time_s": round(time.monotonic() - started, 1),
        "model": {
            "path": model_path,
            "n_neurons": model_in.n_neurons,
            "n_samples": int(len(model_in.labels)),
            "seed": model_in.metadata.get("seed"),
            "recorded_accuracy": model_in.metadata.get("accuracy"),
            "accuracy_tier": model_in.unusable or "applicable",
        },
    }
    try:
        page = build_report(results, out, history)
    except Exception as exc:
        # the previous report is whole (publishing is one transaction); keep tonight's results too if we can
        saved = _keep_unpublished(results, out)
        if saved is not None:
            exc.add_note(f"snnval: the night's results were not published; they are kept in {saved}")
        raise
    written = json.loads((out / "results.json").read_text(encoding="utf-8"))
    _print_summary(page, out, written)
    _print_v1_summary(written.get("v1_accuracy"))
    return 1 if written["regressions"] else 0


def _keep_unpublished(results: dict, out: Path) -> Path | None:
    """Best effort: write the unpublished results beside ``out`` so a failed publish loses no night."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.unpublished-", suffix=".json", dir=out.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1, default=str)
        return Path(name)
    except Exception:  # noqa: BLE001 - the disk may be full: the original error is what matters
        return None


def _print_summary(page: Path, out: Path, written: dict) -> None:
    print(f"\nreport: {page}\nresults: {out / 'results.json'}")
    for entry in written["accuracy"]:
        lo, hi = entry["ci95"]
        print(f"  {entry['runner']:<22} accuracy {entry['accuracy']:.1%} [{lo:.1%}, {hi:.1%}] (n={entry['n']})")
    for entry in written["accuracy_not_run"]:
        print(f"  {entry['runner']:<22} {entry['status']}: {entry['reason'][:100]}")
    cells = written["scenarios"]
    counts = {s: sum(c["status"] == s for c in cells) for s in ("pass", "fail", "not_applicable", "error")}
    print(f"  score matrix: {counts['pass']} of {len(cells)} cells pass", {k: v for k, v in counts.items() if v})
    for r in written["regressions"]:
        print(f"  REGRESSION: {r}")


def _print_v1_summary(v1: dict | None) -> None:
    if not v1:
        return
    runners = ", ".join(
        f"{r['simulator']} {r['correct']}/{r['n']} correct, RT factor {r['realtime_factor']:.1f}" for r in v1["runners"]
    )
    agree = v1["agreement"]
    agreed = f"agree {agree['k']}/{agree['n']}" if agree else "no agreement"
    print(f"  V1-sized check ({v1['n_neurons']} neurons): {v1['status']}, {agreed}; {runners} {v1['reason'][:100]}")


# ------------------------------------------------------------------------ single runs (validation tests)


def held_out_stimulus(model_path: str, n: int | None):
    """(spec, readout, metadata, labels, stimulus) of the first ``n`` held-out samples of a model."""
    from snnval.loaders.model_h5 import load_model
    from snnval.nightly_tasks import held_out_stimulus as _stimulus
    from snnval.nightly_tasks import model_input

    model = model_input(model_path, n)
    spec, readout, stim = _stimulus(model_path, n)
    return spec, readout, load_model(model_path).metadata, model.labels, stim


def accuracy_run(model_path: str, n: int | None, sim: str, semantics: str, mistakes: tuple[str, ...] = ()) -> dict:
    """One accuracy run as the nightly does it (isolated, timed out); ``semantics="faithful"``: a port variant.

    Raises AdapterFailure (or NotApplicable) instead of returning the nightly's error entry.
    """
    from snnval.errors import AdapterFailure, NotApplicable
    from snnval.nightly_plan import AccuracyRun, default_timeout_s, label
    from snnval.nightly_tasks import accuracy_task, model_input

    model = model_input(model_path, n)
    budget = default_timeout_s(model.n_neurons, model.n_steps, len(model.labels))
    variant = tuple(mistakes) if semantics == "faithful" else None
    out = accuracy_task(model_path, n, AccuracyRun(label(sim, semantics), sim, semantics, budget, mistakes=variant))
    if isinstance(out, TaskFailure):
        raise (NotApplicable if out.status == "not_applicable" else AdapterFailure)(out.reason)
    return out
