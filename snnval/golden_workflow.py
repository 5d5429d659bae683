"""Check and regenerate a scenario's golden file (used by pytest and by ``snnval golden``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from snnval.acceptance import compare_regression, golden_key, golden_path, golden_runs, subset_recorded
from snnval.adapters import RunResult, get_adapter
from snnval.compare import Comparison
from snnval.errors import SnnvalError
from snnval.golden import check_fresh, diff_summary, golden_lock, read_golden, write_golden
from snnval.runner import run_scenario
from snnval.scenarios import Scenario

#: run_fn(scenario name, sim, profile, dt_ms) -> RunResult
RunFn = Callable[[str, str, str, float], RunResult]


def _default_run(scenario: str, sim: str, profile: str, dt_ms: float) -> RunResult:
    return run_scenario(scenario, sim, profile, dt_ms)


def golden_run_applicability(scenario: Scenario, sim: str, profile: str, dt_ms: float) -> str:
    """Why adapter ``sim`` cannot run ``scenario`` at ``dt_ms`` in ``profile`` ("" if it can)."""
    from snnval.contract import RunConfig
    from snnval.errors import NotApplicable
    from snnval.semantics import profile as get_profile

    adapter = get_adapter(sim)
    avail = adapter.availability()
    if not avail.available:
        return f"{sim} is not available: {avail.reason}"
    spec, stimulus = scenario.build(dt_ms)
    try:
        adapter.check(spec, stimulus, RunConfig(semantics=get_profile(profile), record=scenario.record))
    except NotApplicable as exc:
        return str(exc)
    return ""


def available_golden_runs(scenario: Scenario, sims: list[str] | None = None) -> list[tuple[str, str, float]]:
    """(sim, profile, dt) of the golden runs whose adapter is selected, available and applicable here."""
    return [
        (sim, profile, dt)
        for sim, profile in golden_runs(sims)
        for dt in scenario.dts_ms
        if not golden_run_applicability(scenario, sim, profile, dt)
    ]


def check_golden_run(
    scenario: Scenario, sim: str, profile: str, dt_ms: float, run_fn: RunFn = _default_run
) -> Comparison:
    """Run one golden combination afresh and compare it with the stored run.

    Raises StaleGolden if the spec moved, NotApplicable if the adapter cannot run the combination
    (then no golden is stored for it), SpecError if the file or an applicable run's key is missing.
    """
    from snnval.errors import NotApplicable, SpecError

    golden = read_golden(golden_path(scenario))
    check_fresh(golden, scenario.build_spec().validated().content_hash())
    key = golden_key(sim, profile, dt_ms)
    if key not in golden.results:
        reason = golden_run_applicability(scenario, sim, profile, dt_ms)
        if reason:  # e.g. bmtk-dpointnet at dt 0.1 ms: not applicable, not a missing golden
            raise NotApplicable(reason)
        raise SpecError(
            str(golden.path),
            f"results/{key}",
            f"a stored run for this combination (record it: snnval golden update {scenario.name} --sim {sim}; "
            "an adapter that is new in the registry has no golden until then)",
        )
    stored = golden.results[key]
    if stored.n_spikes < scenario.min_spikes:
        raise SpecError(
            str(golden.path),
            f"results/{key}",
            f">= {scenario.min_spikes} spikes (a golden that never spikes checks nothing)",
        )
    fresh = subset_recorded(run_fn(scenario.name, sim, profile, dt_ms), stored.recorded_neurons)
    return compare_regression(stored, fresh)


def update_golden(
    scenario: Scenario, sims: list[str] | None = None, run_fn: RunFn = _default_run, path: Path | None = None
) -> str:
    """Regenerate ``references/<scenario>.h5`` (or ``path``) atomically from every available golden run.

    Keys of adapters not available here are carried over from the old file unchanged. The whole
    read-run-write holds :func:`snnval.golden.golden_lock`, so a concurrent update waits and then
    builds on this one's result. An old file that cannot be read (corrupt, edited, truncated) is
    not a reason to refuse: it is regenerated from scratch, and the summary says so and what
    was lost. Returns the printable summary of what changed.
    """
    path = golden_path(scenario) if path is None else Path(path)
    with golden_lock(path):
        return _update_locked(scenario, sims, run_fn, path)


def _update_locked(scenario: Scenario, sims: list[str] | None, run_fn: RunFn, path: Path) -> str:
    notes = []
    old = None
    if path.exists():
        try:
            old = read_golden(path)
        except SnnvalError as exc:  # the documented repair: regenerate a damaged golden from scratch
            notes.append(
                f"the old file could not be used ({exc}); regenerating it from scratch: runs of adapters "
                "not run here are not carried over"
            )
    neurons = None if scenario.golden_neurons is None else np.asarray(scenario.golden_neurons)
    runs: dict[str, RunResult] = {}
    for sim, profile, dt in available_golden_runs(scenario, sims):
        runs[golden_key(sim, profile, dt)] = subset_recorded(run_fn(scenario.name, sim, profile, dt), neurons)
    spec_hash = scenario.build_spec().validated().content_hash()
    if old is not None and old.spec_hash == spec_hash:
        for key, result in old.results.items():
            runs.setdefault(key, result)
    if not runs:
        raise SnnvalError(
            f"{path}: no golden run of {scenario.name} is available here and nothing could be carried over; "
            "nothing was written"
        )
    summary = "\n".join([*notes, diff_summary(old, runs)])
    write_golden(
        path,
        runs,
        spec_hash,
        provenance={"scenario": scenario.name, "description": scenario.description},
        allow_empty_reason=scenario.empty_golden_reason or None,
    )
    return f"{path}:\n{summary}"
