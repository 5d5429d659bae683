"""SONATA rows of the nightly score matrix: a shipped SONATA example run by every adapter, against bmtk pointnet.

Each example (:data:`SONATA_EXAMPLES`, small files built by ``bmtk.builder.NetworkBuilder``, see
``examples/sonata_small/build_example.py``) is one row. Its reference is bmtk pointnet's own run of the config
(``python -m snnval.adapters.bmtk_pointnet_run``, the external-process runner, on a copy of the config whose
output goes to a temporary folder); its cells are every registered adapter running the config as
``snnval run --sonata`` does (:func:`snnval.sonata_sim.load_sonata_simulation`, then the adapter), compared
spike for spike (:func:`snnval.acceptance.compare_same_semantics`: window 0, no mismatch).

bmtk pointnet runs NEST's own models, i.e. the ``nest-glif-psc`` semantics; an adapter runs the row in that
profile when it declares it, and its capabilities (``Adapter.check``) say why not when it cannot express the
network (models, inputs). An adapter that does not declare the profile is not applicable, with that reason.

The plan/execute/assemble hooks (:func:`plan_sonata`, :func:`submit_sonata`, :func:`assemble_sonata`) are
called by :mod:`snnval.nightly_plan` and :mod:`snnval.nightly`; every task returns a value or a
:class:`snnval.nightly_tasks.TaskFailure`, never raises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snnval.nightly_tasks import MAX_REASON_CHARS, TaskFailure, _short, cell_record, guarded_run
from snnval.paths import REPO_ROOT

#: name -> SONATA simulation config of each shipped example (one score-matrix row each)
SONATA_EXAMPLES = {"sonata_small": REPO_ROOT / "examples" / "sonata_small" / "config.simulation.json"}
#: the semantics bmtk pointnet runs (NEST's own models): the profile every cell runs in
SONATA_PROFILE = "nest-glif-psc"
REFERENCE_LABEL = "bmtk pointnet (own run)"
ROW_PREFIX = "SONATA "
#: the label's profile of an adapter that declares none of its own (it runs only as a port target)
NO_PROFILE = "no own profile"


@dataclass(frozen=True)
class SonataReferenceRun:
    """bmtk pointnet's own run of an example config (a subprocess with a timeout)."""

    example: str
    config: str
    timeout_s: float

    @property
    def key(self) -> str:
        return f"sonata-reference|{self.example}"


@dataclass(frozen=True)
class SonataRun:
    """One adapter's run of an example config (``snnval run --sonata``)."""

    example: str
    config: str
    sim: str
    profile: str
    timeout_s: float

    @property
    def key(self) -> str:
        return f"sonata-run|{self.example}|{self.sim}|{self.profile}"


@dataclass(frozen=True)
class SonataCell:
    example: str
    dt_ms: float
    simulator_label: str
    candidate: SonataRun | None = None
    reference: SonataReferenceRun | None = None
    not_applicable: str = ""
    #: set when the example itself does not load (the row's error, with the reason)
    error: str = ""

    @property
    def row(self) -> str:
        return f"{ROW_PREFIX}{self.example} (dt {self.dt_ms:g} ms)"

    @property
    def key(self) -> str:
        return f"sonata-cell|{self.example}|{self.simulator_label}"


@dataclass
class SonataPlan:
    references: list[SonataReferenceRun] = field(default_factory=list)
    runs: list[SonataRun] = field(default_factory=list)
    cells: list[SonataCell] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- planning


def plan_sonata(sims: list[str] | None, timeout_s: float | None, examples: dict[str, Path] | None = None) -> SonataPlan:
    """One cell per example and registered adapter (in the row's profile, or not applicable with the reason)."""
    from snnval.adapters import adapter_names
    from snnval.nightly_plan import default_timeout_s, label
    from snnval.sonata_sim import load_sonata_simulation

    plan = SonataPlan()
    for name, config in (SONATA_EXAMPLES if examples is None else examples).items():
        try:
            sim = load_sonata_simulation(config)
        except Exception as exc:  # noqa: BLE001 - a broken example is its row's error, not the night's
            for adapter in sims or adapter_names():
                plan.cells.append(
                    SonataCell(name, _config_dt(config), label(adapter, _profile_of(adapter)), error=_short(exc))
                )
            continue
        stim = sim.stimulus
        budget = timeout_s or default_timeout_s(sim.spec.n_neurons, stim.n_steps, stim.n_trials)
        ref_why = _reference_availability()
        reference = SonataReferenceRun(name, str(config), budget)
        if not ref_why:
            plan.references.append(reference)
        for adapter in sims or adapter_names():
            prof = _profile_of(adapter)
            try:
                why = ref_why or _applicability(adapter, prof, sim)
            except Exception as exc:  # noqa: BLE001 - a capability check that breaks is this cell's error
                plan.cells.append(SonataCell(name, sim.dt_ms, label(adapter, prof), error=_short(exc)))
                continue
            if why:
                plan.cells.append(SonataCell(name, sim.dt_ms, label(adapter, prof), not_applicable=why))
                continue
            run = SonataRun(name, str(config), adapter, prof, budget)
            plan.runs.append(run)
            plan.cells.append(SonataCell(name, sim.dt_ms, label(adapter, prof), run, reference))
    return plan


def _profile_of(adapter: str) -> str:
    """The row's profile when the adapter declares it, else its first (for the not-applicable label)."""
    from snnval.adapters import get_adapter

    profiles = get_adapter(adapter).profiles
    if not profiles:
        return NO_PROFILE
    return SONATA_PROFILE if SONATA_PROFILE in profiles else profiles[0]


def _config_dt(config: Path) -> float:
    """The row's dt for a config that does not load (1.0 when even run.dt cannot be read)."""
    try:
        dt = float(json.loads(Path(config).read_text())["run"]["dt"])
        return dt if dt > 0 else 1.0
    except Exception:  # noqa: BLE001 - only the row's label depends on it
        return 1.0


def _reference_availability() -> str:
    from snnval.adapters import get_adapter

    av = get_adapter("bmtk").availability()
    return "" if av.available else f"the reference, bmtk pointnet's own run, cannot run: {av.reason}"


def _applicability(adapter: str, prof: str, sim) -> str:
    """Why ``adapter`` cannot run the loaded SONATA simulation in ``prof`` ("" when it can)."""
    from snnval.adapters import RunConfig, get_adapter
    from snnval.errors import NotApplicable
    from snnval.semantics import profile

    if prof == NO_PROFILE:
        return f"{adapter} declares no semantics profile of its own; the row runs {SONATA_PROFILE} (bmtk pointnet's)"
    if prof != SONATA_PROFILE:
        return (
            f"{adapter} declares {', '.join(get_adapter(adapter).profiles)}, not {SONATA_PROFILE} "
            "(NEST's own models, what bmtk pointnet runs); spike-for-spike identity needs the same semantics"
        )
    ad = get_adapter(adapter)
    av = ad.availability()
    if not av.available:
        return f"{adapter} is not available: {av.reason}"
    try:
        ad.check(sim.spec.validated(), sim.stimulus, RunConfig(semantics=profile(prof), record=()))
    except NotApplicable as exc:
        return str(exc)
    return ""


# ------------------------------------------------------------------------------------------------ tasks


def _copy_config(config: Path, out_dir: Path) -> Path:
    """The example config with its base folder made absolute and its output in ``out_dir`` (nothing else)."""
    raw = json.loads(config.read_text())
    raw.setdefault("manifest", {})
    for key, value in list(raw["manifest"].items()):
        if isinstance(value, str):
            raw["manifest"][key] = value.replace("${configdir}", str(config.parent.resolve()))
    if isinstance(raw.get("network"), str):
        net = raw["network"].replace("${configdir}", str(config.parent.resolve()))
        raw["network"] = net if ("$" in net or Path(net).is_absolute()) else str(config.parent.resolve() / net)
    raw.setdefault("output", {})
    raw["output"]["output_dir"] = str(out_dir)
    raw["output"].setdefault("spikes_file", "spikes.h5")
    path = out_dir.parent / "config.json"
    path.write_text(json.dumps(raw, indent=1))
    return path


def bmtk_reference_task(ref: SonataReferenceRun):
    """bmtk pointnet's own run of the example: a RunResult on the config's step grid, or a TaskFailure."""
    from snnval.contract import RunResult
    from snnval.sonata_sim import load_sonata_simulation, spike_table_steps
    from snnval.sonata_spikes import read_spike_file

    try:
        sim = load_sonata_simulation(ref.config)
        with tempfile.TemporaryDirectory(prefix="snnval-sonata-") as tmp:
            out = Path(tmp) / "output"
            out.mkdir()
            cfg = _copy_config(Path(ref.config), out)
            proc = subprocess.run(
                [sys.executable, "-m", "snnval.adapters.bmtk_pointnet_run", str(cfg)],
                cwd=tmp,
                env=dict(os.environ, PYNEST_QUIET="1"),
                capture_output=True,
                text=True,
                timeout=ref.timeout_s,
            )
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                return TaskFailure("error", f"bmtk pointnet exited {proc.returncode}: {' | '.join(tail)}"[:500])
            table = read_spike_file(out / "spikes.h5")
        neuron, step, offset = spike_table_steps(sim.nodes, table, sim.dt_ms, "bmtk pointnet spikes.h5")
        on_grid = bool(len(offset) == 0 or abs(offset - sim.dt_ms).max() < 1e-9)
        return RunResult.from_spikes(
            sim.dt_ms, sim.stimulus.n_steps, 1, [0] * step.size, step, neuron, [], {},
            {"simulator": "bmtk pointnet", "profile": SONATA_PROFILE, "sonata_config": ref.config},
            None if on_grid else offset,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return TaskFailure("error", f"bmtk pointnet did not finish within {ref.timeout_s:.0f} s")
    except Exception as exc:  # noqa: BLE001 - every failure is the row's reference error, with its reason
        return TaskFailure("error", _short(exc))


def sonata_run_task(run: SonataRun, night_id: str | None = None):
    """One adapter's run of the example, as ``snnval run --sonata`` runs it (isolated, timed out)."""
    from snnval.contract import RunConfig
    from snnval.semantics import profile
    from snnval.sonata_sim import load_sonata_simulation

    try:
        sim = load_sonata_simulation(run.config)
        config = RunConfig(semantics=profile(run.profile), record=())
    except Exception as exc:  # noqa: BLE001
        return TaskFailure("error", _short(exc))
    return guarded_run(run.sim, sim.spec, sim.stimulus, config, run.timeout_s, night_id)


def sonata_cell_task(cell: SonataCell, candidate, reference) -> dict:
    """One SONATA cell: the adapter's run against bmtk pointnet's, spike for spike (a score-matrix cell)."""
    out = _cell_dict(cell, "error", "")
    failed = [(who, o) for who, o in (("", candidate), ("reference: ", reference)) if isinstance(o, TaskFailure)]
    if failed:
        status = "not_applicable" if all(o.status == "not_applicable" for _, o in failed) else "error"
        out.update(status=status, reason="; ".join(f"{who}{o.reason}" for who, o in failed)[:MAX_REASON_CHARS])
        return out
    try:
        from snnval.acceptance import compare_same_semantics

        cmp = compare_same_semantics(reference, candidate)
        out.update(
            status="pass" if cmp.passed else "fail",
            figures=cmp.report_figures(),
            realtime_factor=candidate.provenance.get("realtime_factor"),
        )
        if not cmp.passed:
            fd = cmp.first_divergence
            out["reason"] = f"first divergence: {fd.describe()}" if fd else "spikes differ from bmtk pointnet's run"
        elif reference.n_spikes == 0:  # an example that never spikes would pass anything
            out.update(status="error", reason="bmtk pointnet's run has no spikes: the example checks nothing")
    except Exception as exc:  # noqa: BLE001
        out.update(status="error", reason=_short(exc))
    return out


def _cell_dict(cell: SonataCell, status: str, reason: str) -> dict:
    return cell_record(cell.row, cell.simulator_label, REFERENCE_LABEL, cell.dt_ms, status, reason)


# ------------------------------------------------------------------------------------ execute, assemble


def submit_sonata(plan: SonataPlan | None, submit, futures: dict[str, Any], night_id: str) -> float:
    """Submit the SONATA tasks through the nightly's ``submit(key, fn, *args)``; return their summed timeouts."""
    if plan is None:
        return 0.0
    for ref in plan.references:
        submit(ref.key, bmtk_reference_task, ref)
    for run in plan.runs:
        submit(run.key, sonata_run_task, run, night_id)
    for cell in plan.cells:
        if cell.candidate is not None:
            submit(cell.key, sonata_cell_task, cell, futures[cell.candidate.key], futures[cell.reference.key])
    return sum(r.timeout_s for r in plan.references) + sum(r.timeout_s for r in plan.runs)


def assemble_sonata(plan: SonataPlan | None, done: dict[str, Any], regressions: list[str]) -> list[dict]:
    """The SONATA score-matrix cells of the night; a fail or error is a regression."""
    if plan is None:
        return []
    out = []
    for cell in plan.cells:
        if cell.error or cell.not_applicable:
            value = _cell_dict(cell, "error" if cell.error else "not_applicable", cell.error or cell.not_applicable)
        else:
            value = done[cell.key]
            if isinstance(value, TaskFailure):
                value = _cell_dict(cell, value.status, value.reason)
        out.append(value)
        if value["status"] in ("fail", "error"):
            regressions.append(
                f"{value['scenario']}: {value['simulator']} does not reproduce bmtk pointnet's run ({value['reason']})"
            )
    return out


__all__ = [
    "SONATA_EXAMPLES",
    "SonataPlan",
    "assemble_sonata",
    "bmtk_reference_task",
    "plan_sonata",
    "sonata_cell_task",
    "sonata_run_task",
    "submit_sonata",
]
