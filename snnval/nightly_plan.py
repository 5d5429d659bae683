"""The nightly's plan: every independent task of a night, derived from the adapter registry and capabilities.

Plan -> execute -> assemble (:mod:`snnval.nightly`): this module decides *what* runs, before anything
runs. The grid is the registry's, never a hand-kept list:

* score-matrix cells: every scenario x dt x (every adapter x each profile it declares,
  :func:`snnval.acceptance.golden_runs`) against its golden, plus every same-semantics pair
  (:func:`snnval.acceptance.same_semantics_pairs`) against each other;
* accuracy runners: every adapter x each profile it declares, when its capabilities can run the model;
* the port ladder: on every adapter with ``port_target = True``;
* SONATA example rows (:mod:`snnval.nightly_sonata`): every adapter against bmtk pointnet's own run.

A combination that cannot run is planned as a not-applicable entry with the adapter's reason, so every
cell of the page is pass, fail, not applicable or error, each with its reason. Simulator runs are
separate tasks from the cells that compare them, so a hung or crashed run marks only the cells that
need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Fixed allowance of one isolated run: spawning a Python process and importing a simulator. Unloaded that
#: is ~5-10 s (TF's import); measured here with eight jobs sharing the 2 cores (load ~19), a 50-trial NEST run
#: that takes ~5 s alone did not finish in 120 s. A hung simulator costs one timeout per night
#: (snnval.nightly_tasks), so a generous allowance is cheap and a spurious timeout is not.
TIMEOUT_BASE_S = 600.0
#: Seconds per neuron x step x trial allowed to a run. The slowest runner measured here, the TF reference
#: on the 600-neuron digit model, takes ~3e-7 s per neuron-step (quick night: 50 trials x 200 steps in
#: ~2 s); 20x that covers a loaded machine and slower adapters without letting a hung run sit for hours.
TIMEOUT_PER_NEURON_STEP_S = 6e-6


def default_timeout_s(n_neurons: int, n_steps: int, n_trials: int) -> float:
    """Timeout (s) of one nightly task: the runner's size formula with the two constants above."""
    from snnval.runner import default_timeout_s as run_timeout_s

    return run_timeout_s(n_neurons, n_steps, n_trials, TIMEOUT_BASE_S, TIMEOUT_PER_NEURON_STEP_S)


def check_timeout(timeout_s: float | None) -> None:
    """``--timeout``: None (the size-derived default) or a finite number of seconds > 0."""
    from snnval.runner import parse_timeout

    if timeout_s is not None:
        parse_timeout(timeout_s, "--timeout", "timeout")


def label(sim: str, profile: str) -> str:
    """The report's name of an adapter running a profile, e.g. ``nest (nest-glif-psc)``."""
    return f"{sim} ({profile})"


# ------------------------------------------------------------------------------------------ task types


@dataclass(frozen=True)
class ScenarioRun:
    """One simulator run of a registered scenario (shared by every cell that compares it)."""

    scenario: str
    dt_ms: float
    sim: str
    profile: str
    timeout_s: float
    #: float64 unless a precision cell needs the float32 run (the float64 key stays as it was)
    dtype: str = "float64"

    @property
    def key(self) -> str:
        suffix = "" if self.dtype == "float64" else f"|{self.dtype}"
        return f"run|{self.scenario}|{self.dt_ms:g}|{self.sim}|{self.profile}{suffix}"


@dataclass(frozen=True)
class Cell:
    """One score-matrix cell: ``candidate`` against its golden (``reference is None``) or another run."""

    scenario: str
    dt_ms: float
    candidate: ScenarioRun | None
    reference: ScenarioRun | None = None
    #: set for a cell that cannot run (the adapter's reason); then no run is attached
    not_applicable: str = ""
    simulator_label: str = ""
    reference_label: str = "golden"
    #: "float32": a precision cell (candidate float32, reference the float64 run of the same adapter)
    dtype: str = "float64"

    @property
    def row(self) -> str:
        return f"{self.scenario} (dt {self.dt_ms:g} ms)"


@dataclass(frozen=True)
class ModelInput:
    """The model the accuracy tier runs and the held-out samples it runs on (first ``n`` of the set)."""

    path: str
    n: int | None
    n_neurons: int
    n_steps: int
    seed: int
    labels: np.ndarray
    held_out_indices: np.ndarray
    sample_neuron: int | None
    metadata: dict
    #: "" when the model can run the digits task; else why not (no readout, other input size, ...)
    unusable: str = ""


@dataclass(frozen=True)
class AccuracyRun:
    """A held-out run of the model on one adapter/profile (``mistakes``: a port variant's changes)."""

    runner: str
    sim: str
    profile: str
    timeout_s: float
    mistakes: tuple[str, ...] | None = None  # None: not a port variant
    dtype: str = "float64"

    @property
    def key(self) -> str:
        return f"accuracy|{self.runner}" if self.mistakes is None else f"variant|{self.sim}|{'+'.join(self.mistakes)}"


@dataclass(frozen=True)
class SampleRun:
    """The first held-out sample with V of one readout neuron and the raster, for the page's figures."""

    runner: str
    sim: str
    profile: str
    neuron: int
    timeout_s: float

    @property
    def key(self) -> str:
        return f"sample|{self.runner}"


@dataclass(frozen=True)
class SkippedRunner:
    runner: str
    sim: str
    profile: str
    status: str  # not_applicable | error
    reason: str


@dataclass
class NightPlan:
    runs: list[ScenarioRun] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    accuracy: list[AccuracyRun] = field(default_factory=list)
    skipped_runners: list[SkippedRunner] = field(default_factory=list)
    variants: list[tuple[str, str, AccuracyRun]] = field(default_factory=list)  # (name, description, run)
    samples: list[SampleRun] = field(default_factory=list)
    simulators: list[dict] = field(default_factory=list)
    model: ModelInput | None = None
    #: float32 accuracy runs of runners whose adapter declares float32 (precision tier: does accuracy move?)
    precision_accuracy: list[AccuracyRun] = field(default_factory=list)
    #: SONATA example rows (snnval.nightly_sonata.SonataPlan), against bmtk pointnet's own run
    sonata: Any = None

    def n_tasks(self) -> int:
        planned = [c for c in self.cells if not c.not_applicable]
        return len(self.runs) + len(planned) + len(self.accuracy) + len({v.key for _, _, v in self.variants})


# --------------------------------------------------------------------------------------------- planning


def simulators_table(sims: list[str] | None = None) -> list[dict]:
    """Availability of every registered adapter (or ``sims``), in registry order."""
    from snnval.adapters import adapter_names, get_adapter

    out = []
    for name in sims or adapter_names():
        av = get_adapter(name).availability()
        out.append({"name": name, "available": av.available, "version": av.version or None, "reason": av.reason})
    return out


def plan_scenarios(sims: list[str] | None, timeout_s: float | None, scenarios: list[str] | None = None):
    """Score-matrix runs and cells: every scenario x dt x golden run, and every same-semantics pair."""
    from snnval.acceptance import golden_runs, same_semantics_pairs
    from snnval.golden_workflow import golden_run_applicability
    from snnval.scenarios import SCENARIOS

    runs: dict[str, ScenarioRun] = {}
    cells: list[Cell] = []
    for name, sc in SCENARIOS.items():
        if scenarios is not None and name not in scenarios:
            continue
        for dt in sc.dts_ms:
            spec, stim = sc.build(dt)
            budget = timeout_s or default_timeout_s(spec.n_neurons, stim.n_steps, stim.n_trials)
            why: dict[tuple[str, str], str] = {}

            def run_of(sim: str, prof: str, sc=sc, dt=dt, budget=budget, why=why) -> ScenarioRun | None:
                if (sim, prof) not in why:
                    why[(sim, prof)] = golden_run_applicability(sc, sim, prof, dt)
                if why[(sim, prof)]:
                    return None
                run = ScenarioRun(sc.name, dt, sim, prof, budget)
                return runs.setdefault(run.key, run)

            for sim, prof in golden_runs(sims):
                run = run_of(sim, prof)
                cells.append(Cell(name, dt, run, None, why[(sim, prof)], simulator_label=label(sim, prof)))
            for prof, ref_sim, cand_sim in same_semantics_pairs(sims):
                ref, cand = run_of(ref_sim, prof), run_of(cand_sim, prof)
                reason = "; ".join(r for r in (why[(ref_sim, prof)], why[(cand_sim, prof)]) if r)
                cells.append(
                    Cell(
                        name, dt, cand, ref, reason,
                        simulator_label=label(cand_sim, prof), reference_label=label(ref_sim, prof),
                    )
                )  # fmt: skip
    return list(runs.values()), cells


def plan_accuracy(model: ModelInput, sims: list[str] | None, timeout_s: float | None, port_ladder: bool = True):
    """Accuracy runners (every adapter x declared profile that can run the model), the samples, the port ladder."""
    from snnval.acceptance import golden_runs
    from snnval.adapters import get_adapter
    from snnval.port_variants import variant_plan

    runners: list[AccuracyRun] = []
    skipped: list[SkippedRunner] = []
    samples: list[SampleRun] = []
    n_trials = len(model.labels)
    budget = timeout_s or default_timeout_s(model.n_neurons, model.n_steps, max(n_trials, 1))
    sample_budget = timeout_s or default_timeout_s(model.n_neurons, model.n_steps, 1)
    applicable_sims = set()
    for sim, prof in golden_runs(sims):
        name = label(sim, prof)
        reason = model.unusable or _model_applicability(model, sim, prof)
        if reason:
            skipped.append(SkippedRunner(name, sim, prof, "not_applicable", reason))
            continue
        applicable_sims.add(sim)
        runners.append(AccuracyRun(name, sim, prof, budget))
        if model.sample_neuron is not None:
            samples.append(SampleRun(name, sim, prof, model.sample_neuron, sample_budget))
    variants = []
    for sim in dict.fromkeys(s for s, _ in golden_runs(sims)) if port_ladder else ():
        if sim in applicable_sims and get_adapter(sim).port_target:
            for vname, description, mistakes in variant_plan():
                run = AccuracyRun(f"{sim}: {vname}", sim, "faithful", budget, mistakes=tuple(mistakes))
                variants.append((vname, description, run))
            break  # one ladder per night: the first port target (its names are the page's rows)
    return runners, skipped, samples, variants


def _model_applicability(model: ModelInput, sim: str, prof: str) -> str:
    """Why ``sim`` cannot run the model in ``prof`` ("" when it can), from availability and capabilities."""
    from snnval.adapters import RunConfig, get_adapter
    from snnval.errors import NotApplicable
    from snnval.nightly_tasks import held_out_stimulus
    from snnval.semantics import profile

    adapter = get_adapter(sim)
    avail = adapter.availability()
    if not avail.available:
        return f"{sim} is not available: {avail.reason}"
    spec, _, stim = held_out_stimulus(model.path, 1)
    try:
        adapter.check(spec.validated(), stim, RunConfig(semantics=profile(prof), record=()))
    except NotApplicable as exc:
        return str(exc)
    return ""


def make_plan(
    model: ModelInput,
    *,
    sims: list[str] | None = None,
    timeout_s: float | None = None,
    scenarios: list[str] | None = None,
    port_ladder: bool = True,
) -> NightPlan:
    """The whole night's plan (no simulator runs; availability and capability checks only)."""
    from snnval.nightly_sonata import plan_sonata

    runs, cells = plan_scenarios(sims, timeout_s, scenarios)
    runners, skipped, samples, variants = plan_accuracy(model, sims, timeout_s, port_ladder)
    p_runs, p_cells, p_accuracy = plan_precision(runners, sims, timeout_s, scenarios)
    runs = list({r.key: r for r in runs + p_runs}.values())  # the float64 runs are shared with the golden cells
    cells += p_cells
    return NightPlan(
        runs=runs,
        cells=cells,
        accuracy=runners,
        skipped_runners=skipped,
        variants=variants,
        samples=samples,
        simulators=simulators_table(sims),
        model=model,
        precision_accuracy=p_accuracy,
        sonata=plan_sonata(sims, timeout_s),
    )


# ----------------------------------------------------------------------------------- float32 precision


#: The dtype the precision tier compares with float64 (GPU simulators' precision; issue 7 section 3).
PRECISION_DTYPE = "float32"


def precision_label(sim: str, profile: str, dtype: str) -> str:
    """The report's name of an adapter running a profile in a dtype, e.g. ``tf (tf-billeh) float32``."""
    return f"{label(sim, profile)} {dtype}"


def declares_dtype(sim: str, dtype: str) -> bool:
    from snnval.adapters import get_adapter

    return dtype in get_adapter(sim).capabilities().dtypes


def plan_precision(
    accuracy_runners: list[AccuracyRun], sims: list[str] | None, timeout_s: float | None, scenarios=None
) -> tuple[list[ScenarioRun], list[Cell], list[AccuracyRun]]:
    """Precision cells and their runs: every golden run whose adapter declares float32, run in float32 and
    compared with its own float64 run by :func:`snnval.precision.precision_compare` (one cell per scenario
    x dt, not applicable with the reason where the float64 run is, or where the scenario records no V_m,
    which the tier needs); and a float32 accuracy run beside each float64 accuracy runner of such an adapter.
    """
    from snnval.acceptance import golden_runs
    from snnval.golden_workflow import golden_run_applicability
    from snnval.scenarios import SCENARIOS

    dtype = PRECISION_DTYPE
    runs: list[ScenarioRun] = []
    cells: list[Cell] = []
    pairs = [(sim, prof) for sim, prof in golden_runs(sims) if declares_dtype(sim, dtype)]
    for name, sc in SCENARIOS.items():
        if scenarios is not None and name not in scenarios:
            continue
        for dt in sc.dts_ms:
            spec, stim = sc.build(dt)
            budget = timeout_s or default_timeout_s(spec.n_neurons, stim.n_steps, stim.n_trials)
            for sim, prof in pairs:
                why = golden_run_applicability(sc, sim, prof, dt)
                if not why and "V_m" not in sc.record:
                    why = f"the precision tier needs V_m, which {name} does not record (records {sc.record})"
                ref = None if why else ScenarioRun(name, dt, sim, prof, budget)
                cand = None if why else ScenarioRun(name, dt, sim, prof, budget, dtype=dtype)
                runs += [r for r in (ref, cand) if r is not None]
                cells.append(
                    Cell(
                        name, dt, cand, ref, why,
                        simulator_label=precision_label(sim, prof, dtype),
                        reference_label=precision_label(sim, prof, "float64"),
                        dtype=dtype,
                    )
                )  # fmt: skip
    accuracy = [
        AccuracyRun(precision_label(r.sim, r.profile, dtype), r.sim, r.profile, r.timeout_s, dtype=dtype)
        for r in accuracy_runners
        if r.mistakes is None and declares_dtype(r.sim, dtype)
    ]
    return runs, cells, accuracy
