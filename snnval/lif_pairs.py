"""Every pair of LIF-capable adapters on every LIF scenario: spike-tier compare, and bisect where it fails.

``snnval pairs`` (or ``python -m snnval.lif_pairs``) prints one verdict per (scenario, dt, adapter A,
adapter B) that both adapters can run:

* ``pass``: spike for spike (exact steps, every spike matched), each adapter in its own profile;
* ``knob(s): ...``: the pair differs, and ``snnval bisect`` (a knob reference runs every knob setting)
  names the knob(s) whose flip alone reproduces the first divergence, with no unnamed residual;
* ``predicted difference: ...``: the pair differs by a documented, tested difference that is not a
  discrete rule (:data:`PREDICTED_DIFFERENCES`; tests/test_lif_pairs.py checks each);
* ``unexplained: first divergence at step N, neuron M``: none of the above (said, never hidden);

and, per scenario, the adapters that cannot run it with the reason ("not applicable: ...").

Each adapter runs as itself: the first profile of the scenario's model in :data:`MODEL_PROFILES` that the
adapter declares (``Adapter.profiles``) and can run. Runs go through :func:`snnval.runner.run_scenario`
(isolated workers) and are made once per (adapter, profile, scenario, dt), shared by compare and bisect.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from snnval.contract import RunResult
from snnval.semantics import Semantics, profile

#: Profiles each LIF-family model runs in, in order of preference (an adapter takes the first it declares
#: and can run): the discrete rule, NEST's delta LIF, NEST's iaf_* step and pyNN.brian2's variant of it.
MODEL_PROFILES: dict[str, tuple[str, ...]] = {
    "lif_discrete": ("snn-discrete",),
    "iaf_psc_delta": ("nest-psc-delta", "snn-discrete"),
    "iaf_psc_exp": ("nest-glif-psc", "pynn-brian2", "pynn-neuron"),
    "iaf_psc_alpha": ("nest-glif-psc", "pynn-brian2", "pynn-neuron"),
    "iaf_cond_exp": ("nest-glif-psc", "pynn-brian2", "pynn-neuron"),
}
#: Profiles an adapter runs its LIF cells as, beyond its declared (golden) ``profiles``: pyNN.neuron its
#: implicit Euler step and late reset, pyNN.brian2 its refractory countdown (semantics.PROFILES).
#: Adapters that run any knob setting of a model, tried in order as bisect's knob reference.
KNOB_REFERENCES = ("tf", "brian2")


@dataclass(frozen=True)
class PredictedDifference:
    """A documented difference that is not a discrete rule, with its measured size and the test that checks it."""

    name: str
    #: adapter -> its implementation family; a pair of adapters from two different families shows it
    family: dict[str, str]
    models: frozenset[str]
    facts: str
    test: str

    def applies(self, sim_a: str, sim_b: str, models: frozenset[str]) -> bool:
        fa, fb = self.family.get(sim_a), self.family.get(sim_b)
        return bool(models & self.models) and None not in (fa, fb) and fa != fb


PREDICTED_DIFFERENCES: tuple[PredictedDifference, ...] = (
    PredictedDifference(
        "conductance-based integrator (NEST's adaptive RKF45 vs fixed-step RK4)",
        {"nest": "gsl-rkf45", "pynn-nest": "gsl-rkf45", "bmtk": "gsl-rkf45", "brian2": "rk4-20-substeps"},
        frozenset({"iaf_cond_exp"}),
        "iaf_cond_exp has no exact propagator: NEST integrates each step with GSL's adaptive RKF45, the Brian2 "
        "adapter (profile nest-glif-psc) with 20 RK4 sub-steps and exact conductance decay. Measured on the "
        "30-neuron conductance network of tests/lif_networks.py at dt 0.1 ms, 200 ms: V differs by at most "
        "1.7e-9 mV, on ei_coba (800 neurons) 7.9e-6 mV, below NEST's solver bound 1e-3 mV (the V tolerance of "
        "networks with iaf_cond_exp, acceptance.SOLVER_V_TOLERANCE), spikes identical. "
        "(pyNN.neuron's implicit Euler and pyNN.brian2's forward Euler are discrete rules: knob values.)",
        "tests/test_lif_pairs.py::test_cond_exp_rkf45_and_rk4_differ_below_the_tolerance",
    ),
)


@dataclass
class PairVerdict:
    scenario: str
    dt_ms: float
    sim_a: str
    profile_a: str
    sim_b: str
    profile_b: str
    verdict: str
    spikes_a: int = 0
    spikes_b: int = 0
    mismatched: int = 0
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class PairsTable:
    verdicts: list[PairVerdict]
    #: (scenario, dt, adapter) -> why it cannot run the scenario
    not_applicable: dict[tuple[str, float, str], str]

    def to_dict(self) -> dict:
        return {
            "verdicts": [v.to_dict() for v in self.verdicts],
            "not_applicable": [
                {"scenario": s, "dt_ms": dt, "sim": sim, "reason": why}
                for (s, dt, sim), why in self.not_applicable.items()
            ],
        }

    def markdown(self) -> str:
        lines = [
            "| scenario | dt (ms) | A (profile) | B (profile) | spikes A / B | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for v in self.verdicts:
            lines.append(
                f"| {v.scenario} | {v.dt_ms:g} | {v.sim_a} ({v.profile_a}) | {v.sim_b} ({v.profile_b}) | "
                f"{v.spikes_a} / {v.spikes_b} | {v.verdict} |"
            )
        if self.not_applicable:
            lines += ["", "Not applicable (the adapter cannot run the scenario; no pair row for it):", ""]
            by_reason: dict[tuple[str, str], list[str]] = {}
            for (s, dt, sim), why in self.not_applicable.items():
                by_reason.setdefault((sim, _short(why)), []).append(f"{s} (dt {dt:g})")
            for (sim, why), where in sorted(by_reason.items()):
                lines.append(f"- {sim}: {', '.join(where)}: not applicable: {why}")
        return "\n".join(lines)


def _short(reason: str, limit: int = 160) -> str:
    first = reason.strip().splitlines()[0] if reason.strip() else reason
    return first if len(first) <= limit else first[: limit - 3] + "..."


def lif_scenarios() -> list[str]:
    """Registered scenarios whose neurons are all of the LIF family (every model but glif3)."""
    from snnval.scenarios import SCENARIOS

    return [name for name in SCENARIOS if "glif3" not in scenario_models(name)]


def lif_adapters(sims: list[str] | None = None) -> list[str]:
    """Built-in adapters (or those in ``sims``, e.g. an entry-point adapter) that declare a LIF-family model."""
    from snnval.adapters import BUILTIN, get_adapter

    return [s for s in (sims or list(BUILTIN)) if set(get_adapter(s).capabilities().models) - {"glif3"}]


@functools.cache
def scenario_models(scenario: str) -> frozenset[str]:
    """The neuron models of a registered scenario's network."""
    from snnval.scenarios import get_scenario

    return get_scenario(scenario).build_spec().neuron_models


def own_profile(sim: str, scenario: str, dt_ms: float) -> tuple[str, str]:
    """(profile, "") the adapter runs ``scenario`` as, or ("", why it cannot)."""
    from snnval.adapters import get_adapter
    from snnval.golden_workflow import golden_run_applicability
    from snnval.scenarios import get_scenario

    adapter = get_adapter(sim)
    declared = adapter.profiles
    sc = get_scenario(scenario)
    supported = adapter.capabilities().models
    missing = sorted(scenario_models(scenario) - set(supported))
    if missing:
        return "", f"neuron models {missing} are not supported (supported: {', '.join(supported)})"
    candidates = [p for m in sorted(scenario_models(scenario)) for p in MODEL_PROFILES.get(m, ()) if p in declared]
    if not candidates:
        return "", f"runs none of the profiles of {sorted(scenario_models(scenario))} ({declared or 'no profile'})"
    reasons = []
    for prof in dict.fromkeys(candidates):
        why = golden_run_applicability(sc, sim, prof, dt_ms)
        if not why:
            return prof, ""
        reasons.append(f"{prof}: {why}")
    return "", "; ".join(reasons)


def knob_reference(scenario: str, dt_ms: float, profiles: list[Semantics]) -> str:
    """The first of :data:`KNOB_REFERENCES` that runs ``scenario`` under every profile given ("" if none)."""
    from snnval.golden_workflow import golden_run_applicability
    from snnval.scenarios import get_scenario

    sc = get_scenario(scenario)
    for ref in KNOB_REFERENCES:
        if all(not _applicability(golden_run_applicability, sc, ref, p, dt_ms) for p in profiles):
            return ref
    return ""


def _applicability(fn, sc, sim: str, sem: Semantics, dt_ms: float) -> str:
    # golden_run_applicability takes a profile name; a flipped Semantics is checked through the adapter
    if sem.name in _profile_names():
        return fn(sc, sim, sem.name, dt_ms)
    from snnval.adapters import get_adapter
    from snnval.contract import RunConfig
    from snnval.errors import NotApplicable

    adapter = get_adapter(sim)
    if not adapter.availability().available:
        return adapter.availability().reason
    spec, stim = sc.build(dt_ms)
    try:
        adapter.check(spec, stim, RunConfig(semantics=sem, record=sc.record))
    except NotApplicable as exc:
        return str(exc)
    return ""


def _profile_names() -> set[str]:
    from snnval.semantics import PROFILES

    return set(PROFILES)


def _spike_compare(a: RunResult, b: RunResult, name_a: str, name_b: str, models: frozenset[str] = frozenset()):
    """Spike tier exact (window 0), traces at the same-semantics tolerance (for the first divergence)."""
    from snnval.acceptance import same_semantics_tolerances
    from snnval.compare import compare

    tol = same_semantics_tolerances(a, b, models=models)
    return compare(a, b, tolerances=tol, match_window_steps=0, reference_name=name_a, candidate_name=name_b)


class RunCache:
    """One run per (adapter, knob setting, scenario, dt), through the runner (isolated workers)."""

    def __init__(self, runner: Callable[..., RunResult] | None = None):
        from snnval.runner import run_scenario

        self._run = runner or run_scenario
        self._store: dict[tuple, RunResult] = {}

    def __call__(self, scenario: str, sim: str, sem: Semantics | str, dt_ms: float) -> RunResult:
        sem = profile(sem)
        key = (scenario, sim, tuple(sorted(sem.knobs().items())), float(dt_ms))
        if key not in self._store:
            self._store[key] = self._run(scenario, sim, sem, dt_ms)
        return self._store[key]


def _where(fd) -> str:
    return f"step {fd.step}, neuron {fd.neuron}" if fd is not None else "?"


def pair_verdict(scenario: str, dt_ms: float, a: tuple[str, str], b: tuple[str, str], runs: RunCache) -> PairVerdict:
    """Spike-tier compare of A and B in their profiles; bisect (and the predicted differences) where it fails."""
    from snnval.bisect import bisect_knobs

    (sim_a, prof_a), (sim_b, prof_b) = a, b
    ra, rb = runs(scenario, sim_a, prof_a, dt_ms), runs(scenario, sim_b, prof_b, dt_ms)
    models = scenario_models(scenario)
    cmp = _spike_compare(ra, rb, sim_a, sim_b, models)
    out = PairVerdict(scenario, dt_ms, sim_a, prof_a, sim_b, prof_b, "", ra.n_spikes, rb.n_spikes)
    out.mismatched = int(cmp.spikes.n_missing + cmp.spikes.n_extra)
    if cmp.spikes.passed:
        out.verdict = "pass"
        return out
    first = cmp.spikes.first_divergence  # the earliest unmatched spike (the spike tier's verdict)
    out.details["first_spike_divergence"] = first.to_dict() if first else None
    out.details["first_divergence"] = cmp.first_divergence.to_dict() if cmp.first_divergence else None
    parts: list[str] = []
    residual = {sim_a: first, sim_b: first}  # what no knob names, per side (None: reproduced by the reference)
    sem_a, sem_b = profile(prof_a), profile(prof_b)
    if sem_a.differing_knobs(sem_b):
        ref = knob_reference(scenario, dt_ms, [sem_a, sem_b, *_flips(sem_a, sem_b)])
        if ref:
            report = bisect_knobs(
                scenario, sim_a, prof_a, sim_b, prof_b, dt_ms, knob_reference=ref,
                run=lambda s, sem: runs(scenario, s, sem, dt_ms),
            )  # fmt: skip
            out.details["bisect"] = report.to_dict()
            if report.explaining_knobs:
                flips = {k.knob: k.candidate_value for k in report.single_flips if k.explains_first_divergence}
                text = "knob(s): " + ", ".join(f"{k}={v}" for k, v in flips.items())
                # knobs of the ladder that remove further mismatched spikes (after the first divergence)
                more = [
                    f"{knob}={getattr(sem_b, knob)}"
                    for (knob, n), (_, before) in zip(report.ladder[1:], report.ladder[:-1], strict=True)
                    if n < before and knob not in flips
                ]
                if more:
                    text += f", then {', '.join(more)} (ladder {report.ladder[0][1]} -> {report.ladder[-1][1]})"
                parts.append(text + f" (bisect via {ref})")
            # B's residual is bisect's; A's: does the knob reference in A's profile reproduce A?
            residual[sim_b] = None if report.residual.passed else report.residual.spikes.first_divergence
            res_a = _spike_compare(runs(scenario, ref, sem_a, dt_ms), ra, ref, sim_a, models)
            residual[sim_a] = None if res_a.spikes.passed else res_a.spikes.first_divergence
            if not report.explaining_knobs and residual[sim_a] is None and residual[sim_b] is None:
                parts.append(f"knob(s): profiles {prof_a} vs {prof_b} (no single flip; bisect via {ref})")
        else:
            out.details["bisect"] = "no knob reference runs this scenario under both profiles"
    left = [r for r in residual.values() if r is not None]
    if left or not parts:
        at = min(left, key=lambda d: (d.step, d.neuron)) if left else first
        models = scenario_models(scenario)
        predicted = [p.name for p in PREDICTED_DIFFERENCES if p.applies(sim_a, sim_b, models)]
        where = f"first spike difference at {_where(at)}"
        if predicted:
            parts.append("predicted difference: " + "; ".join(predicted) + f" ({where})")
        else:
            parts.append(f"unexplained: {where}")
    out.verdict = "; ".join(parts)
    return out


def _flips(sem_a: Semantics, sem_b: Semantics) -> list[Semantics]:
    return [sem_a.with_knobs(**{k: vb}) for k, (_, vb) in sem_a.differing_knobs(sem_b).items()]


def pairs_table(
    sims: list[str] | None = None,
    scenarios: list[str] | None = None,
    runner: Callable[..., RunResult] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PairsTable:
    """Verdicts of every pair of LIF-capable adapters on every LIF scenario (and dt) both can run."""
    runs = RunCache(runner)
    names = lif_adapters(sims)
    table = PairsTable([], {})
    from snnval.scenarios import get_scenario

    for sc_name in scenarios or lif_scenarios():
        for dt in get_scenario(sc_name).dts_ms:
            own: dict[str, str] = {}
            for sim in names:
                prof, why = own_profile(sim, sc_name, dt)
                if prof:
                    own[sim] = prof
                else:
                    table.not_applicable[(sc_name, dt, sim)] = why
            for sim_a, sim_b in itertools.combinations(list(own), 2):
                try:
                    v = pair_verdict(sc_name, dt, (sim_a, own[sim_a]), (sim_b, own[sim_b]), runs)
                except Exception as exc:  # a crashed run is a row that says so, not a lost table
                    v = PairVerdict(sc_name, dt, sim_a, own[sim_a], sim_b, own[sim_b], f"error: {_short(str(exc))}")
                table.verdicts.append(v)
                if progress:
                    progress(f"{sc_name} dt {dt:g}: {sim_a} vs {sim_b}: {v.verdict}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snnval pairs", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--family", choices=("lif",), default="lif", help="model family (LIF: every model but GLIF3)")
    parser.add_argument("--sim", action="append", default=None, help="only these adapters (repeatable)")
    parser.add_argument("--scenario", action="append", default=None, help="only these scenarios (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from snnval.scenarios import get_scenario

    for name in args.scenario or []:
        get_scenario(name)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    table = pairs_table(args.sim, args.scenario, progress=progress)
    if args.json:
        print(json.dumps(table.to_dict(), indent=1, default=str))
    else:
        print(f"LIF pairs, measured {_dt.date.today().isoformat()}")
        print(table.markdown())
    bad = [v for v in table.verdicts if v.verdict.startswith(("unexplained", "error"))]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
