"""The nightly's tasks: top-level functions Dask ships to worker processes (the *execute* step).

Every simulator run goes through :func:`snnval.runner.run_adapter` in its own spawned process with the
plan's timeout, so a Dask worker only ever waits: a simulator that hangs is killed after its timeout, one
that crashes (segfault, ``abort()``) kills only its own process, and neither takes the worker, nor the
other cells, down. A task never raises: it returns its result or a :class:`TaskFailure` with the reason,
so Dask has nothing to retry.

A simulator that exceeded its timeout once tonight is not given the chance to do so again: its later runs
return an error at once (a night-scoped Dask ``Event`` per adapter), so one hung simulator costs one
timeout per busy worker instead of one timeout per cell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from snnval.nightly_plan import AccuracyRun, Cell, ModelInput, SampleRun, ScenarioRun

#: The held-out stimulus seed references/train_model.py records for the shipped model
#: (metadata ``evaluation_stimulus_seeds.held_out``); a model without one is evaluated on the same frozen input.
DEFAULT_HELD_OUT_SEED = 777
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class TaskFailure:
    """A task's outcome when it produced nothing: ``status`` is ``error`` or ``not_applicable``."""

    status: str
    reason: str


# ------------------------------------------------------------------------------------------ the model


def model_input(path: str, n: int | None) -> ModelInput:
    """Load the model at ``path`` (any model in the suite's HDF5 format) and its first ``n`` held-out samples.

    Training metadata is optional: without a recorded split the documented split rule picks the held-out
    images, without recorded seeds :data:`DEFAULT_HELD_OUT_SEED` freezes the input. A model without a
    readout, or whose inputs are not the digit task's LGN channels, is still loaded: ``unusable`` says why
    the accuracy tier does not apply to it, and the score matrix runs as usual.
    """
    from snnval.loaders.model_h5 import load_model

    loaded = load_model(path)
    spec, readout, metadata = loaded.spec, loaded.readout, dict(loaded.metadata)
    held_out = held_out_indices(metadata)
    labels = _images(held_out)[1]
    n_used = len(held_out) if n is None else min(n, len(held_out))
    stim = _digits_stimulus(held_out[:1], _seed(metadata))
    unusable = ""
    if readout is None:
        unusable = f"{path}: the model has no readout group, so it has no task accuracy"
    if not unusable:
        try:
            stim.validated(spec.n_sources, spec.n_neurons)
        except Exception as exc:  # noqa: BLE001 - any mismatch makes the accuracy tier not applicable
            unusable = f"{path}: the digit task's stimulus does not fit this model ({exc})"
    neuron = None
    if readout is not None and not unusable:
        neuron = int(readout.pool_neurons[int(labels[0])][0])
    return ModelInput(
        path=str(path),
        n=n,
        n_neurons=spec.n_neurons,
        n_steps=stim.n_steps,
        seed=_seed(metadata),
        labels=labels[:n_used],
        held_out_indices=held_out[:n_used],
        sample_neuron=neuron,
        metadata=metadata,
        unusable=unusable,
    )


def _seed(metadata: dict) -> int:
    seeds = metadata.get("evaluation_stimulus_seeds")
    if isinstance(seeds, dict) and "held_out" in seeds:
        return int(seeds["held_out"])
    return DEFAULT_HELD_OUT_SEED


def held_out_indices(metadata: dict) -> np.ndarray:
    """The model's held-out digit indices (recorded at training), else the documented split rule."""
    from snnval.digits import load_sklearn_digits, split_indices

    split = metadata.get("split")
    recorded = split.get("held_out_indices") if isinstance(split, dict) else None
    if recorded is None:
        recorded = split_indices(len(load_sklearn_digits()[1]))[1]
    return np.asarray(recorded, dtype=np.int64)


def _images(indices) -> tuple[np.ndarray, np.ndarray]:
    from snnval.digits import load_sklearn_digits

    images, labels = load_sklearn_digits()
    idx = np.asarray(indices, dtype=np.int64)
    return images[idx], labels[idx]


def _digits_stimulus(indices: np.ndarray, seed: int):
    from snnval.v1_model import digits_stimulus

    return digits_stimulus(_images(indices)[0], seed)


def held_out_stimulus(model_path: str, n: int | None):
    """(spec, readout, stimulus) of the first ``n`` held-out samples of the model at ``model_path``.

    The stimulus is frozen over the whole held-out set and then cut, so a quick night sees exactly the
    first trials of the full night.
    """
    from snnval.loaders.model_h5 import load_model

    loaded = load_model(model_path)
    held_out = held_out_indices(loaded.metadata)
    stim = _digits_stimulus(held_out, _seed(loaded.metadata))
    n = len(held_out) if n is None else min(n, len(held_out))
    return loaded.spec, loaded.readout, stim.first_trials(n)


# ------------------------------------------------------------------------------- isolated, guarded runs


def _hung_event(night_id: str | None, sim: str):
    """The night's "this adapter already hung" flag, or None outside a Dask worker."""
    if not night_id:
        return None
    try:
        from distributed import Event, get_worker

        get_worker()
    except (ImportError, ValueError):
        return None
    return Event(f"snnval-nightly-{night_id}-hung-{sim}")


def guarded_run(sim: str, spec, stimulus, config, timeout_s: float, night_id: str | None):
    """Run ``sim`` isolated with ``timeout_s``; return the RunResult or a TaskFailure (never raises)."""
    import multiprocessing

    from snnval.errors import NotApplicable
    from snnval.runner import run_adapter

    if multiprocessing.current_process().daemon:
        return TaskFailure(
            "error",
            "not run: this Dask worker is a daemonic process, which may not start the isolated simulator process; "
            "start workers with DASK_DISTRIBUTED__WORKER__DAEMON=False (snnval.nightly.local_cluster does)",
        )
    event = _hung_event(night_id, sim)
    if event is not None and event.is_set():
        return TaskFailure(
            "error",
            f"not run: {sim} exceeded its timeout on an earlier run tonight (see its other error cells); "
            "a hung simulator is given one timeout per night, not one per cell",
        )
    t0 = time.monotonic()
    try:
        return run_adapter(sim, spec, stimulus, config, isolate=True, timeout_s=timeout_s)
    except NotApplicable as exc:
        return TaskFailure("not_applicable", _short(exc))
    except Exception as exc:  # noqa: BLE001 - every failure becomes this run's error with its reason
        if event is not None and time.monotonic() - t0 >= timeout_s:
            event.set()
        return TaskFailure("error", _short(exc))


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


# ---------------------------------------------------------------------------------------------- tasks


def scenario_run_task(run: ScenarioRun, night_id: str | None = None):
    """One scenario run: the RunResult, or a TaskFailure."""
    from snnval.adapters import RunConfig
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    try:
        sc = get_scenario(run.scenario)
        spec, stim = sc.build(run.dt_ms)
        config = RunConfig(semantics=profile(run.profile), record=sc.record, dtype=run.dtype)
    except Exception as exc:  # noqa: BLE001
        return TaskFailure("error", _short(exc))
    return guarded_run(run.sim, spec, stim, config, run.timeout_s, night_id)


def cell_record(
    row: str, simulator: str, reference: str, dt_ms: float, status: str = "error", reason: str = ""
) -> dict:
    """A score-matrix cell before its verdict (an error with no reason until a task fills it in); every
    kind of cell (scenario, float32, SONATA) starts from it, so the report sees one shape."""
    return {
        "scenario": row,
        "simulator": simulator,
        "reference": reference,
        "dt_ms": dt_ms,
        "status": status,
        "reason": reason,
        "figures": None,
        "realtime_factor": None,
    }


def _cell_record(cell: Cell) -> dict:
    return cell_record(cell.row, cell.simulator_label, cell.reference_label, cell.dt_ms)


def cell_task(cell: Cell, candidate, reference=None) -> dict:
    """One score-matrix cell from its run(s): pass, fail with the first divergence, or error with the reason."""
    if cell.dtype != "float64":
        return precision_cell_task(cell, candidate, reference)
    out = _cell_record(cell)
    failed = [o for o in (candidate, reference) if isinstance(o, TaskFailure)]
    if cell.reference is not None and reference is None:
        failed.append(TaskFailure("error", "the reference run is missing"))
    if failed:
        status = "not_applicable" if all(f.status == "not_applicable" for f in failed) else "error"
        who = []
        for run, outcome in ((cell.candidate, candidate), (cell.reference, reference)):
            if isinstance(outcome, TaskFailure) and run is not None:
                who.append(f"{run.sim} ({run.profile}): {outcome.reason}")
        out.update(status=status, reason="; ".join(who)[:MAX_REASON_CHARS])
        return out
    try:
        from snnval.acceptance import compare_same_semantics
        from snnval.golden_workflow import check_golden_run
        from snnval.scenarios import get_scenario

        if cell.reference is None:
            cmp = check_golden_run(
                get_scenario(cell.scenario), cell.candidate.sim, cell.candidate.profile, cell.dt_ms,
                run_fn=lambda *_: candidate,
            )  # fmt: skip
        else:
            cmp = compare_same_semantics(reference, candidate)
        out.update(
            status="pass" if cmp.passed else "fail",
            figures=cmp.report_figures(),
            realtime_factor=candidate.provenance.get("realtime_factor"),
        )
        out.update(run_fields(candidate))
        if not cmp.passed:
            fd = cmp.first_divergence
            out["reason"] = f"first divergence: {fd.describe()}" if fd else "out of tolerance"
    except Exception as exc:  # noqa: BLE001 - a missing golden or stale spec is this cell's error
        from snnval.errors import NotApplicable

        out.update(status="not_applicable" if isinstance(exc, NotApplicable) else "error", reason=_short(exc))
    return out


def accuracy_task(model_path: str, n: int | None, run: AccuracyRun, night_id: str | None = None):
    """Pool counts and predictions of the first ``n`` held-out samples (a port variant when ``run.mistakes``)."""
    from snnval.adapters import RunConfig
    from snnval.port_variants import apply_mistakes
    from snnval.semantics import profile
    from snnval.v1_model import pool_counts, predict

    try:
        spec, readout, stim = held_out_stimulus(model_path, n)
        sem = profile("nest-glif-psc" if run.mistakes is not None else run.profile)
        if run.mistakes is not None:  # a port variant: the faithful NEST mapping with the mistakes applied
            from snnval.loaders.model_h5 import load_model

            m = apply_mistakes(spec, stim, readout, run.mistakes, _seed(load_model(model_path).metadata))
            spec, stim, readout, sem = m.spec, m.stimulus, m.readout, m.semantics
        config = RunConfig(semantics=sem, record=(), record_neurons=np.zeros(0, np.int64), dtype=run.dtype)
    except Exception as exc:  # noqa: BLE001
        return TaskFailure("error", _short(exc))
    t0 = time.perf_counter()
    res = guarded_run(run.sim, spec, stim, config, run.timeout_s, night_id)
    if isinstance(res, TaskFailure):
        return res
    wall = time.perf_counter() - t0
    counts = pool_counts(res.spike_trial, res.spike_step, res.spike_neuron, stim.n_trials, readout, res.dt_ms)
    return {
        "predictions": predict(counts).tolist(),
        "realtime_factor": wall / (stim.n_trials * stim.n_steps * stim.dt_ms / 1000.0),
        "mean_rate_Hz": res.n_spikes / (spec.n_neurons * stim.n_trials * stim.duration_ms / 1000.0),
    }


def sample_task(model_path: str, run: SampleRun, night_id: str | None = None):
    """The first held-out sample: V of one readout neuron and the whole network's raster."""
    from snnval.adapters import RunConfig
    from snnval.semantics import profile

    spec, _, stim = held_out_stimulus(model_path, 1)
    config = RunConfig(semantics=profile(run.profile), record=("V_m",), record_neurons=np.array([run.neuron]))
    res = guarded_run(run.sim, spec, stim, config, run.timeout_s, night_id)
    if isinstance(res, TaskFailure):
        return res
    return {
        "voltage_mV": res.state["V_m"][0, :, 0].round(4).tolist(),
        "dt_ms": res.dt_ms,
        "raster": {"step": res.spike_step.tolist(), "neuron": res.spike_neuron.tolist()},
    }


# ------------------------------------------------------------------------------- device and precision


def run_fields(result) -> dict:
    """Cell fields read from the candidate run: the device it ran on and its dtype (from provenance)."""
    prov = result.provenance
    return {"device": prov.get("device"), "dtype": prov.get("dtype", "float64")}


def precision_cell_task(cell: Cell, candidate, reference) -> dict:
    """A float32 cell: the candidate's float32 run against its own float64 run, by the precision tier.

    Passes when every divergence episode is a precision flip and the population counts agree
    (:mod:`snnval.precision`); the cell carries the number of flips, how far they reach and, once the
    night is assembled, whether the adapter's task accuracy moved in float32.
    """
    out = {**_cell_record(cell), "dtype": cell.dtype}  # "device" and "precision" only when the runs completed
    runs = ((cell.candidate, candidate), (cell.reference, reference))
    failed = [(r, o) for r, o in runs if isinstance(o, TaskFailure)]
    if failed or reference is None:
        status = "not_applicable" if failed and all(o.status == "not_applicable" for _, o in failed) else "error"
        who = [f"{r.sim} ({r.profile}, {r.dtype}): {o.reason}" for r, o in failed] or ["the float64 run is missing"]
        out.update(status=status, reason="; ".join(who)[:MAX_REASON_CHARS])
        return out
    try:
        from snnval.precision import precision_compare
        from snnval.scenarios import get_scenario
        from snnval.semantics import profile

        spec = get_scenario(cell.scenario).build(cell.dt_ms)[0].validated()
        sem = profile(cell.candidate.profile)
        hard = sem.reset == "hard_same_step"  # V_reset in the spike step: margins read from the other run
        pc = precision_compare(reference, candidate, spec, cell.dtype, populations=spec.populations, hard_reset=hard)
        dv = np.abs(np.asarray(candidate.state["V_m"]) - np.asarray(reference.state["V_m"]))
        first = pc.episodes[0].first if pc.episodes else None
        out.update(run_fields(candidate))
        out.update(
            status="pass" if pc.passed else "fail",
            realtime_factor=candidate.provenance.get("realtime_factor"),
            figures={
                "max_abs_dV_mV": float(dv.max()) if dv.size else None,
                "mean_abs_dV_mV": float(dv.mean()) if dv.size else None,
                "spikes_matched": int(pc.exact.n_matched),
                "spikes_missing": int(pc.exact.n_missing),
                "spikes_extra": int(pc.exact.n_extra),
                "first_divergence": None
                if first is None
                else {"step": first.step, "neuron": first.neuron, "variable": first.variable},
            },
            precision=precision_fields(pc),
        )
        if not pc.passed:
            real = [e for e in pc.episodes if e.kind == "real"]
            out["reason"] = (
                f"real difference: {real[0].describe()}"
                if real
                else "precision flips only, but the population spike counts moved beyond the tolerant tier"
            )[:MAX_REASON_CHARS]
    except Exception as exc:  # noqa: BLE001 - e.g. a run without V_m: this cell's error
        out.update(status="error", reason=_short(exc))
    return out


def precision_fields(pc) -> dict:
    """The cell's precision summary: flips, real differences, their reach (steps and ms) and the tolerant tier.

    ``max_reach_ms`` is the longest episode (first divergence to the last event before spikes and V re-align,
    or to the end of the run: ``reaches_end``); ``accuracy_moved`` is filled in when the night is assembled.
    """
    reach = [e.reach_steps for e in pc.episodes]
    return {
        "dtype": pc.rule.dtype,
        "n_precision_flips": int(pc.n_flips),
        "n_real_differences": int(pc.n_real),
        "max_reach_steps": int(max(reach, default=0)),
        "max_reach_ms": float(max(reach, default=0) * pc.dt_ms),
        "reaches_end": any(not e.realigned for e in pc.episodes),
        "spikes_mismatched_exact": int(pc.exact.n_missing + pc.exact.n_extra),
        "spikes_mismatched_tolerant": int(pc.tolerant.n_missing + pc.tolerant.n_extra),
        "statistics_passed": bool(pc.statistics_passed),
        "accuracy_moved": None,
    }
