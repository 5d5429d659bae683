"""The nightly's V1-sized accuracy check (issue 11): its plan entry, its task and its section of the results.

The check (:func:`snnval.v1_accuracy.v1_accuracy_check`) runs a few held-out digits through the V1-sized
model (51,978 GLIF3 neurons, 5.2 M recurrent synapses, 17,400 LGN fibres) on the TF reference and NEST,
both in NEST's profile (nest-glif-psc, float64), and reports their predictions, their agreement and their
real-time factors. It is one Dask task of its own; inside it every simulator run is isolated in a fresh
process (``reuse=False``: a V1-sized kernel is not kept alive in a persistent worker) with
:data:`V1_RUN_TIMEOUT_S`, so a hung or crashed run is this section's error with its reason and the rest of
the night carries on.

Rule: TF and NEST declare the same semantics, so their predictions must agree on at least
:data:`snnval.nightly.MIN_SAME_SEMANTICS_AGREEMENT` of the samples (with 3 samples: all of them); less, or
a run that did not complete, is a regression of the night.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

#: Held-out samples of the shipped default: 3 x 600 ms trials per simulator. Measured on this 2-core
#: machine (benchmarks/results/v1_accuracy_2026-12-01.json, load 3): TF 23 s and NEST 55 s per check incl.
#: process start and build, plus the model build; ~3 GB peak per simulator process (bench_v1.py). In the
#: nightly (validation/test_nightly_v1_end_to_end.py) the check took 89 s at load ~1-4 and 422 s at load 10-16.
V1_SAMPLES = 3
#: Fraction of V1 size (1.0: the full 51,978 neurons); smaller is the lighter option (``--v1-scale``).
V1_SCALE = 1.0
#: The two simulators whose agreement the section shows (both run NEST's profile).
V1_SIMS = ("tf", "nest")
#: Timeout of one simulator run (3 trials at V1 size). Unloaded a run takes 20-40 s; with the night's other
#: tasks and other users on the 2 cores we measured up to ~10x slower NEST runs (OpenMP threads waiting on
#: each other under oversubscription), so 15 min leaves that margin while a hung run still ends the section.
V1_RUN_TIMEOUT_S = 900.0
#: Allowance for building the model and stimulus in the Dask worker (~10 s unloaded) and the result checks.
V1_BUILD_ALLOWANCE_S = 300.0


@dataclass(frozen=True)
class V1AccuracyRun:
    """The planned V1-sized check: ``sims`` that can run it, ``not_run`` (sim, reason) that cannot."""

    n_samples: int
    scale: float
    sims: tuple[str, ...]
    not_run: tuple[tuple[str, str], ...] = ()
    timeout_s: float = V1_RUN_TIMEOUT_S

    key = "v1_accuracy"

    @property
    def worst_case_s(self) -> float:
        """Seconds the task may take at most (every run to its timeout, plus the build allowance)."""
        return len(self.sims) * self.timeout_s + V1_BUILD_ALLOWANCE_S


def plan_v1_accuracy(
    n_samples: int = V1_SAMPLES,
    scale: float = V1_SCALE,
    sims: list[str] | None = None,
    timeout_s: float | None = None,
) -> V1AccuracyRun | None:
    """The check's plan entry, or None when switched off (``n_samples`` 0) or ``sims`` names neither simulator.

    A simulator that is not available is listed in ``not_run`` with its reason (no run is attempted).
    """
    from snnval.adapters import get_adapter
    from snnval.errors import SpecError

    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 0:
        raise SpecError("--v1-samples", "v1_samples", f"an integer >= 0 (0 switches the check off), got {n_samples!r}")
    if not (isinstance(scale, int | float) and 0.0 < float(scale) <= 1.0):
        raise SpecError("--v1-scale", "v1_scale", f"a fraction of V1 size in (0, 1], got {scale!r}")
    wanted = [s for s in V1_SIMS if sims is None or s in sims]
    if n_samples == 0 or not wanted:
        return None
    ready, not_run = [], []
    for sim in wanted:
        avail = get_adapter(sim).availability()
        if avail.available:
            ready.append(sim)
        else:
            not_run.append((sim, avail.reason))
    return V1AccuracyRun(
        n_samples=n_samples,
        scale=float(scale),
        sims=tuple(ready),
        not_run=tuple(not_run),
        timeout_s=float(timeout_s) if timeout_s is not None else V1_RUN_TIMEOUT_S,
    )


def v1_accuracy_task(run: V1AccuracyRun):
    """Run the check (a Dask task): the dict of :func:`v1_accuracy_check`, or a TaskFailure (never raises)."""
    import multiprocessing

    from snnval.errors import NotApplicable
    from snnval.nightly_tasks import TaskFailure, _short

    if not run.sims:
        return TaskFailure("not_applicable", "no simulator of the check is available")
    if multiprocessing.current_process().daemon:
        return TaskFailure(
            "error",
            "not run: this Dask worker is a daemonic process, which may not start the isolated simulator process",
        )
    from snnval.v1_accuracy import v1_accuracy_check

    t0 = time.monotonic()
    try:
        out = v1_accuracy_check(
            n_samples=run.n_samples, sims=run.sims, scale=run.scale, timeout_s=run.timeout_s, reuse=False
        )
    except NotApplicable as exc:
        return TaskFailure("not_applicable", _short(exc))
    except Exception as exc:  # noqa: BLE001 - a timeout or crash is this section's error, with its reason
        return TaskFailure("error", _short(exc))
    out["wall_time_s"] = round(time.monotonic() - t0, 1)
    return out


def v1_accuracy_entry(run: V1AccuracyRun, outcome, regressions: list[str]) -> dict:
    """The results dict's ``v1_accuracy`` section from the task's outcome; appends to ``regressions``."""
    from snnval.accuracy import accuracy_with_ci
    from snnval.nightly import MIN_SAME_SEMANTICS_AGREEMENT
    from snnval.nightly_tasks import TaskFailure
    from snnval.v1_accuracy import MODEL_DESCRIPTION

    entry: dict = {
        "status": "error",
        "reason": "",
        "model": MODEL_DESCRIPTION,
        "scale": run.scale,
        "n_samples": run.n_samples,
        "profile": "nest-glif-psc",
        "n_neurons": None,
        "n_synapses": None,
        "n_input_synapses": None,
        "n_lgn": None,
        "runners": [],
        "not_run": [{"simulator": s, "reason": r} for s, r in run.not_run],
        "agreement": None,
        "identical_spikes": None,
        "timeout_s": run.timeout_s,
        "wall_time_s": None,
    }
    if isinstance(outcome, TaskFailure):
        entry.update(status=outcome.status, reason=outcome.reason)
        if outcome.status == "error":
            regressions.append(f"V1-sized accuracy check did not complete: {outcome.reason}")
        return entry
    for key in ("n_neurons", "n_synapses", "n_input_synapses", "n_lgn", "profile", "wall_time_s"):
        entry[key] = outcome.get(key, entry[key])
    labels = outcome["labels"]
    for sim in run.sims:
        r = outcome[sim]
        entry["runners"].append(
            {
                "simulator": sim,
                **accuracy_with_ci(r["predictions"], labels).as_accuracy_fields(),
                "predictions": list(r["predictions"]),
                "realtime_factor": r["realtime_factor"],
                "build_wall_s": r["build_wall_s"],
                "wall_s": r["wall_s"],
                "n_spikes": r["n_spikes"],
                "mean_rate_Hz": r["mean_rate_Hz"],
            }
        )
    agree = outcome.get("agreement")
    if agree is None:
        entry.update(status="not_applicable", reason="the agreement needs both TF and NEST; one of them did not run")
        return entry
    value = agree["k"] / agree["n"]
    entry["agreement"] = {**agree, "value": value}
    entry["identical_spikes"] = bool(outcome["identical_spikes"])
    a, b = agree["pair"]
    if value < MIN_SAME_SEMANTICS_AGREEMENT:
        entry.update(
            status="fail",
            reason=f"{a} and {b} agree on {agree['k']} of {agree['n']} predictions "
            f"(< {MIN_SAME_SEMANTICS_AGREEMENT:.0%}); both run nest-glif-psc",
        )
        regressions.append(f"V1-sized accuracy check: {entry['reason']}")
    else:
        entry["status"] = "pass"
    return entry
