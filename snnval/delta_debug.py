"""Delta debugging over a network: the smallest set of B's parameter groups that reproduces A-vs-B's divergence.

When model B diverges from model A and no single knob explains it (:mod:`snnval.bisect`), the cause is in
the network's numbers. The differences between A and B are cut into *changes*: one per (node type,
parameter column) whose values differ, and one per (synapse section, group, field) with the differing
synapses of that group (recurrent groups are receptors, input groups source kind / receptor; missing and
extra synapses are changes of their own). A *hybrid* is A with a subset of the changes applied, i.e. B's
values for those groups and A's for the rest. The failure is the first divergence of B from A (step and
neuron on the spike tier by default, or spikes and traces); a hybrid reproduces it when its first divergence
from A is at the same step and neuron.

The minimal set is found with ddmin (A. Zeller and R. Hildebrandt, "Simplifying and Isolating
Failure-Inducing Input", IEEE TSE 28(2), 2002): test halves, then complements, then finer partitions, until
no single change can be dropped (1-minimal). Then every synapse change in the result is refined: its
synapses are split by the target's node type, then by target neuron, then (recurrent synapses) by
presynaptic neuron, and ddmin runs again on those parts with the rest of the set applied, so the report
says "weights of e_to_i onto neuron 17" where that is the cause. Every distinct subset is run once (results
are cached); the report gives the number of runs.

:func:`delta_debug_simulators` does the same for two simulators (or two mappings) on one network: the
changes are the network's own synapse groups, kept or disconnected, and the result is the smallest part of
the network through which the two still part at the same step and neuron.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from snnval.errors import SpecError
from snnval.model_diff import _CELL_FIELDS, match_synapses, synapse_groups
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses

_SYN_FIELDS = tuple(Synapses.__dataclass_fields__)


@dataclass(frozen=True, eq=False)  # compared by identity: ddmin tests membership
class Change:
    """One group of B's values. ``kind``: ``cell`` (``node_type``, ``param``, ``col``), ``value`` (synapse
    ``param`` of A's synapses ``idx_a`` set to B's ``idx_b``), ``missing`` (A's ``idx_a`` removed) or
    ``extra`` (B's ``idx_b`` added)."""

    name: str
    kind: str
    section: str = ""
    param: str = ""
    node_type: int = -1
    col: int = -1
    idx_a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    idx_b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return 1 if self.kind == "cell" else int(max(self.idx_a.size, self.idx_b.size))


def _cell_changes(a: NetworkSpec, b: NetworkSpec) -> list[Change]:
    out = []
    for name in _CELL_FIELDS:
        xa = a.cells.asc_r_or_ones if name == "asc_r" else getattr(a.cells, name)
        xb = b.cells.asc_r_or_ones if name == "asc_r" else getattr(b.cells, name)
        xa, xb = np.asarray(xa, float), np.asarray(xb, float)
        for t in range(a.cells.n_types):
            cols = [-1] if xa.ndim == 1 else range(xa.shape[1])
            for j in cols:
                va, vb = (xa[t], xb[t]) if j < 0 else (xa[t, j], xb[t, j])
                if va != vb:
                    label = name if j < 0 else f"{name}[{j}]"
                    out.append(Change(f"cells/{a.cells.names[t]}/{label}", "cell", "cells", name, t, j))
    return out


def _syn_changes(a: NetworkSpec, b: NetworkSpec, section: str) -> list[Change]:
    sa, sb = (a.synapses, b.synapses) if section == "recurrent" else (a.inputs, b.inputs)
    ia, ib = match_synapses(sa, sb, a.n_neurons, a.n_receptors)
    ga, gb, names = synapse_groups(a, b, section)
    out = []
    for code in np.unique(np.concatenate([ga, gb])).tolist():
        g = names[code]
        sel = ga[ia] == code
        for name in ("weight_pA", "delay_ms"):
            diff = sel & (getattr(sa, name)[ia] != getattr(sb, name)[ib])
            if diff.any():
                out.append(Change(f"{section}/{g}/{name}", "value", section, name, idx_a=ia[diff], idx_b=ib[diff]))
        missing = np.setdiff1d(np.flatnonzero(ga == code), ia)
        extra = np.setdiff1d(np.flatnonzero(gb == code), ib)
        if missing.size:
            out.append(Change(f"{section}/{g}/missing synapses", "missing", section, idx_a=missing))
        if extra.size:
            out.append(Change(f"{section}/{g}/extra synapses", "extra", section, idx_b=extra))
    return out


def network_changes(a: NetworkSpec, b: NetworkSpec) -> list[Change]:
    """Every group in which B's numbers differ from A's (exactly: a hybrid with all of them is B)."""
    src = "delta debugging"
    if a.n_neurons != b.n_neurons or a.n_sources != b.n_sources or a.cells.n_types != b.cells.n_types:
        raise SpecError(src, "models", "two networks with the same neurons, sources and node types (see snnval diff)")
    if not np.array_equal(a.node_type, b.node_type) or a.cells.models != b.cells.models:
        raise SpecError(src, "node_type", "the same node type for every neuron in A and B (see snnval diff)")
    return _cell_changes(a, b) + _syn_changes(a, b, "recurrent") + _syn_changes(a, b, "input")


def _take(s: Synapses, keep: np.ndarray) -> Synapses:
    return Synapses(*(getattr(s, f)[keep] for f in _SYN_FIELDS))


def hybrid(a: NetworkSpec, b: NetworkSpec, changes: Sequence[Change]) -> NetworkSpec:
    """A with ``changes`` (from :func:`network_changes`) taken from B."""
    cells = {f: np.array(getattr(a.cells, f), float, copy=True) for f in _CELL_FIELDS if f != "asc_r"}
    cells["asc_r"] = np.array(a.cells.asc_r_or_ones, float, copy=True)
    syn = {"recurrent": a.synapses, "input": a.inputs}
    arrays = {sec: {f: np.array(getattr(s, f), copy=True) for f in _SYN_FIELDS} for sec, s in syn.items()}
    drop = {sec: np.zeros(len(s), bool) for sec, s in syn.items()}
    add: dict[str, list[np.ndarray]] = {"recurrent": [], "input": []}
    for c in changes:
        if c.kind == "cell":
            xb = np.asarray(b.cells.asc_r_or_ones if c.param == "asc_r" else getattr(b.cells, c.param))
            if c.col < 0:
                cells[c.param][c.node_type] = xb[c.node_type]
            else:
                cells[c.param][c.node_type, c.col] = xb[c.node_type, c.col]
        elif c.kind == "value":
            sb = b.synapses if c.section == "recurrent" else b.inputs
            arrays[c.section][c.param][c.idx_a] = getattr(sb, c.param)[c.idx_b]
        elif c.kind == "missing":
            drop[c.section][c.idx_a] = True
        else:
            add[c.section].append(c.idx_b)
    out = {}
    for sec in syn:
        s = _take(Synapses(**arrays[sec]), ~drop[sec])
        if add[sec]:
            sb = b.synapses if sec == "recurrent" else b.inputs
            extra = _take(sb, np.concatenate(add[sec]))
            s = Synapses(*(np.concatenate([getattr(s, f), getattr(extra, f)]) for f in _SYN_FIELDS))
        out[sec] = s
    new_cells = GLIF3Cells(**cells, names=a.cells.names, models=a.cells.models, native_params=a.cells.native_params)
    return replace(a, cells=new_cells, synapses=out["recurrent"], inputs=out["input"])


def ddmin(items: Sequence, test: Callable[[tuple], bool]) -> tuple:
    """A 1-minimal subsequence of ``items`` for which ``test`` holds (Zeller & Hildebrandt 2002, ddmin).

    ``test(items)`` must hold. Subsets are tried as chunks of an ``n``-way partition, then their
    complements; ``n`` doubles when neither reproduces. ``test`` should cache (subsets recur).
    """
    items = tuple(items)
    n = 2
    while len(items) >= 2:
        size = len(items) / n
        chunks = [items[int(round(i * size)) : int(round((i + 1) * size))] for i in range(n)]
        chunks = [c for c in chunks if c]
        for c in chunks:
            if test(c):
                items, n = c, 2
                break
        else:
            for c in chunks:
                rest = tuple(x for x in items if x not in c)
                if len(chunks) > 2 and test(rest):
                    items, n = rest, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), 2 * n)
    return items


@dataclass
class DeltaDebugReport:
    scenario: str
    sim: str
    tier: str
    n_changes: int
    target: dict | None  # the first divergence of B from A
    minimal: list[str] = field(default_factory=list)
    minimal_sizes: list[int] = field(default_factory=list)
    n_runs: int = 0
    runs_per_stage: dict[str, int] = field(default_factory=dict)
    one_minimal: bool = False
    #: how the summary names the changes and the two sides
    groups_label: str = "differing groups"
    sides: tuple[str, str] = ("A", "B")

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "sim": self.sim,
            "tier": self.tier,
            "n_changes": self.n_changes,
            "target_first_divergence": self.target,
            "minimal": [{"change": n, "elements": k} for n, k in zip(self.minimal, self.minimal_sizes, strict=True)],
            "n_runs": self.n_runs,
            "runs_per_stage": self.runs_per_stage,
            "one_minimal": self.one_minimal,
        }

    def summary(self) -> str:
        a, b = self.sides
        lines = [f"delta-debug on {self.scenario} ({self.sim}, {self.tier} tier): {self.n_changes} {self.groups_label}"]
        if self.target is None:
            return lines[0] + f"\n  no divergence between {a} and {b}: nothing to isolate"
        t = self.target
        lines.append(f"  first divergence of {b} from {a}: step {t['step']}, neuron {t['neuron']}, {t['variable']}")
        lines.append(f"  minimal set ({len(self.minimal)} change(s), 1-minimal: {self.one_minimal}):")
        for name, k in zip(self.minimal, self.minimal_sizes, strict=True):
            lines.append(f"    {name}  ({k} element{'s' if k != 1 else ''})")
        stages = ", ".join(f"{k} {v}" for k, v in self.runs_per_stage.items())
        lines.append(f"  simulator runs: {self.n_runs} ({stages})")
        return "\n".join(lines)


def _split(c: Change, a: NetworkSpec, b: NetworkSpec, by: str) -> list[Change]:
    """A synapse change cut by its targets' node type (``by="type"``), target neuron (``"neuron"``) or
    presynaptic neuron (``"pre"``, recurrent synapses only)."""
    if c.kind == "cell" or (by == "pre" and c.section != "recurrent"):
        return [c]  # inputs are not cut by fibre: a neuron's drive needs many fibres, and ddmin would pay for each
    s = (a.synapses if c.section == "recurrent" else a.inputs) if c.idx_a.size else None
    if s is None:
        s = b.synapses if c.section == "recurrent" else b.inputs
    idx = c.idx_a if c.idx_a.size else c.idx_b
    post = s.post[idx]
    key = {"type": a.node_type[post], "neuron": post, "pre": s.pre[idx]}[by]
    parts = []
    for k in np.unique(key):
        m = key == k
        if by == "pre":
            name = f"{c.name} from neuron {k}"
        else:
            base = c.name.split(" onto ")[0]
            label = f"onto {a.cells.names[k]}" if by == "type" else f"onto neuron {k} ({a.cells.names[a.node_type[k]]})"
            name = f"{base} {label}"
        parts.append(
            replace(
                c,
                name=name,
                idx_a=c.idx_a[m] if c.idx_a.size else c.idx_a,
                idx_b=c.idx_b[m] if c.idx_b.size else c.idx_b,
            )
        )
    return parts


def delta_debug(
    a: NetworkSpec,
    b: NetworkSpec,
    run: Callable[[NetworkSpec], object],
    first_divergence: Callable[[object, object], object],
    *,
    refine: bool = True,
    scenario: str = "",
    sim: str = "",
    tier: str = "spikes",
) -> DeltaDebugReport:
    """ddmin over :func:`network_changes` of A -> B. ``run(spec)`` runs a network; ``first_divergence(ra, r)``
    is the first divergence of run ``r`` from A's run ``ra`` (an object with ``step`` and ``neuron``) or None."""
    changes = network_changes(a, b)
    report = DeltaDebugReport(scenario, sim, tier, len(changes), None)
    stage = "reference"
    counts: dict[str, int] = {}

    def counted_run(spec):
        counts[stage] = counts.get(stage, 0) + 1
        return run(spec)

    ra = counted_run(a)
    stage = "all changes"
    target = first_divergence(ra, counted_run(hybrid(a, b, changes)))
    report.target = None if target is None else target.to_dict()
    if target is None:
        report.runs_per_stage, report.n_runs = counts, sum(counts.values())
        return report
    cache: dict[frozenset, bool] = {}

    def make_test(fixed: tuple):
        def test(subset: tuple) -> bool:
            key = frozenset(c.name for c in fixed + subset)
            if key not in cache:
                fd = first_divergence(ra, counted_run(hybrid(a, b, fixed + subset)))
                cache[key] = fd is not None and (fd.step, fd.neuron) == (target.step, target.neuron)
            return cache[key]

        return test

    cache[frozenset(c.name for c in changes)] = True
    stage = "groups"
    minimal = ddmin(changes, make_test(()))
    if refine:
        for by in ("type", "neuron", "pre"):
            stage = "refine by " + {"type": "target node type", "neuron": "target neuron", "pre": "source"}[by]
            refined: list[Change] = []
            for i, c in enumerate(minimal):
                parts = _split(c, a, b, by)
                if len(parts) == 1:
                    refined.append(c)
                    continue
                others = tuple(refined) + tuple(minimal[i + 1 :])
                test = make_test(others)
                cache[frozenset(x.name for x in others + tuple(parts))] = True  # the whole change, as found
                refined += list(ddmin(parts, test))
            minimal = tuple(refined)
    # 1-minimality: dropping any one change loses the divergence (cached runs mostly)
    stage = "1-minimality check"
    test = make_test(())
    report.one_minimal = (
        test(tuple(minimal)) and all(not test(tuple(x for x in minimal if x is not c)) for c in minimal)
        if len(minimal) > 1
        else test(tuple(minimal))
    )
    report.minimal = [c.name for c in minimal]
    report.minimal_sizes = [c.size for c in minimal]
    report.runs_per_stage, report.n_runs = counts, sum(counts.values())
    return report


def scenario_runner(
    a: NetworkSpec,
    scenario: str,
    sim: str = "nest",
    profile: str = "nest-glif-psc",
    dt_ms: float | None = None,
    isolate: bool = True,
) -> Callable[[NetworkSpec], object]:
    """run(spec): the network on ``scenario``'s frozen stimulus (built once, for A) on adapter ``sim``.

    Runs go to the runner's persistent worker of the adapter (``isolate=True``, the default: the simulator
    is imported once, a crash or hang is an AdapterFailure, and a run costs about what it costs in-process;
    ``benchmarks/bench_runner.py``). ``isolate=False`` runs in this process.
    """
    from snnval.contract import RunConfig
    from snnval.runner import run_adapter
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile as get_profile

    sc = get_scenario(scenario)
    dt = sc.dts_ms[0] if dt_ms is None else dt_ms
    stim = sc.build_stimulus(a, dt).validated(a.n_sources, a.n_neurons)
    config = RunConfig(semantics=get_profile(profile), record=sc.record)

    def run(spec: NetworkSpec):
        return run_adapter(sim, spec.validated(), stim, config, isolate=isolate)

    return run


def divergence_on(tier: str) -> Callable[[object, object], object]:
    """first_divergence(ra, rb) on the ``spikes`` tier (exact spike match) or ``traces`` (spikes, and every
    recorded variable within the same-semantics tolerances of :mod:`snnval.acceptance`)."""
    from snnval.acceptance import same_semantics_tolerances
    from snnval.compare import compare

    if tier not in ("spikes", "traces"):
        raise SpecError("delta debugging", "tier", f"'spikes' or 'traces', got {tier!r}")

    def first(ra, rb):
        tol = None
        if tier == "traces":
            tol = same_semantics_tolerances(ra, rb)
        return compare(ra, rb, tolerances=tol).first_divergence

    return first


def delta_debug_models(
    a: NetworkSpec,
    b: NetworkSpec,
    scenario: str,
    *,
    sim: str = "nest",
    profile: str = "nest-glif-psc",
    dt_ms: float | None = None,
    tier: str = "spikes",
    refine: bool = True,
) -> DeltaDebugReport:
    """:func:`delta_debug` of two networks on a scenario's stimulus (changes are exact differences, so that
    the hybrid with every change is B)."""
    run = scenario_runner(a, scenario, sim, profile, dt_ms)
    return delta_debug(a, b, run, divergence_on(tier), refine=refine, scenario=scenario, sim=sim, tier=tier)


def _name(semantics) -> str:
    return semantics if isinstance(semantics, str) else semantics.name


def delta_debug_simulators(
    spec: NetworkSpec,
    scenario: str,
    reference: tuple[str, str],
    candidate: tuple[str, str],
    *,
    dt_ms: float | None = None,
    tier: str = "spikes",
    refine: bool = True,
) -> DeltaDebugReport:
    """The smallest part of the network on which two simulators (``(adapter, profile)`` pairs) still part
    at the same step and neuron as on the whole network.

    There is no model B here: the changes are the network's own synapse groups, and a hybrid keeps only
    some of them (the neurons and their parameters stay; a group not kept is disconnected). ddmin then
    finds a 1-minimal set of groups to keep, refined to target node types and neurons: the connections
    through which the first divergence arises. Each test runs both simulators (their persistent workers).
    """
    empty = replace(spec, synapses=Synapses.empty(), inputs=Synapses.empty())
    run_ref = scenario_runner(spec, scenario, reference[0], reference[1], dt_ms)
    run_cand = scenario_runner(spec, scenario, candidate[0], candidate[1], dt_ms)
    first = divergence_on(tier)

    def run_pair(s: NetworkSpec):
        if s is empty:  # delta_debug's reference run: nothing to compare it with, and never used
            return None
        return run_ref(s), run_cand(s)

    report = delta_debug(
        empty,
        spec,
        run_pair,
        lambda _unused, pair: first(*pair),
        refine=refine,
        scenario=scenario,
        sim=f"{reference[0]} ({_name(reference[1])}) vs {candidate[0]} ({_name(candidate[1])})",
        tier=tier,
    )
    report.minimal = [m.replace("/extra synapses", "/synapses kept") for m in report.minimal]
    report.groups_label, report.sides = "synapse groups", ("the reference", "the candidate")
    report.runs_per_stage.pop("reference", None)
    report.runs_per_stage = {k: 2 * v for k, v in report.runs_per_stage.items()}  # two simulators per test
    report.n_runs = sum(report.runs_per_stage.values())
    return report
