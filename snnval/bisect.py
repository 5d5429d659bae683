"""Bisect a discrepancy to the first step, neuron, variable and the named semantic knob behind it.

Method. The reference and the candidate are run on the same frozen input and compared on the
step grid (trace tier at the same-semantics tolerance, spike tier exact), giving the first
divergence. A *knob reference* runs both knob settings: the TF reference (default; it runs every
GLIF3 knob value and the discrete LIF rules), or the Brian2 adapter for NEST's iaf_* LIF models
(``knob_reference="brian2"``, e.g. pyNN.brian2's refractory rule). Then:

1. *Residual*: the knob reference with the candidate's profile is compared with the candidate simulator. If they
   agree, the whole discrepancy is semantic (named knobs); if not, the residual is an
   implementation difference that no knob names, and the report says so.
2. *Single flips*: for each knob on which the two profiles differ, it runs the reference profile
   with only that knob set to the candidate's value. A knob *explains* the first divergence if its
   flip alone makes the reference diverge at the same step (and neuron) as the candidate does.
3. *Ladder*: knobs are flipped cumulatively, earliest-acting first, and after each rung the spike
   mismatch to the candidate is measured: how much of the discrepancy each named choice accounts for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from snnval.acceptance import same_semantics_tolerances
from snnval.compare import Comparison, Divergence, compare
from snnval.contract import RunResult
from snnval.runner import run_scenario
from snnval.scenarios import get_scenario
from snnval.semantics import Semantics, profile


@dataclass
class KnobEffect:
    knob: str
    reference_value: object
    candidate_value: object
    first_divergence: Divergence | None
    spikes_mismatched: int
    explains_first_divergence: bool = False

    def to_dict(self) -> dict:
        return {
            "knob": self.knob,
            "reference_value": self.reference_value,
            "candidate_value": self.candidate_value,
            "first_divergence": self.first_divergence.to_dict() if self.first_divergence else None,
            "spikes_mismatched": self.spikes_mismatched,
            "explains_first_divergence": self.explains_first_divergence,
        }


@dataclass
class BisectReport:
    scenario: str
    dt_ms: float
    reference: str
    candidate: str
    first_divergence: Divergence | None
    spikes_mismatched: int
    residual: Comparison
    single_flips: list[KnobEffect] = field(default_factory=list)
    ladder: list[tuple[str, int]] = field(default_factory=list)
    knob_reference: str = "tf"

    @property
    def explaining_knobs(self) -> list[str]:
        return [k.knob for k in self.single_flips if k.explains_first_divergence]

    @property
    def explained(self) -> bool:
        """True if no divergence, or a named knob explains it and no unnamed residual remains."""
        if self.first_divergence is None:
            return True
        return self.residual.passed and bool(self.explaining_knobs)

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "dt_ms": self.dt_ms,
            "reference": self.reference,
            "candidate": self.candidate,
            "first_divergence": self.first_divergence.to_dict() if self.first_divergence else None,
            "spikes_mismatched": self.spikes_mismatched,
            "residual_passed": self.residual.passed,
            "residual_first_divergence": (
                self.residual.first_divergence.to_dict() if self.residual.first_divergence else None
            ),
            "single_flips": [k.to_dict() for k in self.single_flips],
            "ladder": [{"after_flipping": k, "spikes_mismatched_to_candidate": n} for k, n in self.ladder],
            "explaining_knobs": self.explaining_knobs,
            "explained": self.explained,
            "knob_reference": self.knob_reference,
        }

    def summary(self) -> str:
        lines = [
            f"bisect {self.scenario} (dt {self.dt_ms:g} ms): reference {self.reference} vs candidate {self.candidate}"
        ]
        if self.first_divergence is None:
            return lines[0] + "\n  no divergence: spikes and traces agree"
        lines.append(
            f"  first divergence: {self.first_divergence.describe()}; {self.spikes_mismatched} spikes mismatched"
        )
        if self.residual.passed:
            lines.append(
                f"  {self.knob_reference} running the candidate's profile reproduces the candidate: "
                "the discrepancy is semantic"
            )
        else:
            fd = self.residual.first_divergence
            lines.append(
                f"  RESIDUAL: {self.knob_reference} with the candidate's profile does not reproduce the candidate "
                f"(first at {fd.describe() if fd else '?'}): an implementation difference no knob names"
            )
        lines.append("  single knob flips (reference profile, one knob set to the candidate's value):")
        for k in self.single_flips:
            fd = k.first_divergence
            where = f"first effect at step {fd.step}, neuron {fd.neuron}, {fd.variable}" if fd else "no effect"
            mark = "  <- explains the first divergence" if k.explains_first_divergence else ""
            lines.append(
                f"    {k.knob}: {k.reference_value} -> {k.candidate_value}: {where}; "
                f"{k.spikes_mismatched} spikes differ{mark}"
            )
        lines.append("  ladder (knobs flipped cumulatively; spikes still mismatched to the candidate):")
        for knob, n in self.ladder:
            lines.append(f"    {knob:<20} {n}")
        return "\n".join(lines)


def _mismatch(cmp: Comparison) -> int:
    return int(cmp.spikes.n_missing + cmp.spikes.n_extra)


def _compare(a: RunResult, b: RunResult, models: frozenset[str]) -> Comparison:
    return compare(a, b, tolerances=same_semantics_tolerances(a, b, models=models), match_window_steps=0)


def bisect_knobs(
    scenario: str,
    reference_sim: str,
    reference_profile: str,
    candidate_sim: str,
    candidate_profile: str,
    dt_ms: float,
    knob_reference: str = "tf",
    run: Callable[[str, Semantics], RunResult] | None = None,
    models: frozenset[str] | None = None,
) -> BisectReport:
    """Bisect ``candidate`` against ``reference`` on ``scenario``; ``knob_reference`` is the adapter that
    runs every knob setting of the ladder (it must declare both profiles' values for the scenario's model).
    ``run(sim, semantics)`` runs the scenario (default: :func:`snnval.runner.run_scenario`; a caller may
    pass a cached one, e.g. :class:`snnval.lif_pairs.RunCache`). ``models``: the neuron models of what ``run``
    runs (for the V tolerance), when ``run`` runs a network that is not the registered ``scenario``."""
    ref_sem, cand_sem = profile(reference_profile), profile(candidate_profile)
    if run is None:

        def run(sim, sem):  # the runner's persistent worker imports each simulator once
            return run_scenario(scenario, sim, sem, dt_ms)

    def tf(sem):
        return run(knob_reference, sem)

    if models is None:  # for the V tolerance (acceptance)
        models = get_scenario(scenario).build_spec().neuron_models
    reference = run(reference_sim, ref_sem)
    candidate = run(candidate_sim, cand_sem)
    main = _compare(reference, candidate, models)
    residual = _compare(tf(cand_sem), candidate, models)
    report = BisectReport(
        scenario,
        dt_ms,
        f"{reference_sim} ({reference_profile})",
        f"{candidate_sim} ({candidate_profile})",
        main.first_divergence,
        _mismatch(main),
        residual,
        knob_reference=knob_reference,
    )
    differing = ref_sem.differing_knobs(cand_sem)
    if main.first_divergence is None:
        return report
    first = main.first_divergence
    for knob, (ref_value, cand_value) in differing.items():
        flipped = _compare(reference, tf(ref_sem.with_knobs(**{knob: cand_value})), models)
        fd = flipped.first_divergence
        explains = fd is not None and fd.step == first.step and fd.neuron == first.neuron
        report.single_flips.append(KnobEffect(knob, ref_value, cand_value, fd, _mismatch(flipped), explains))
    # cumulative ladder, earliest-acting knob first (knobs without effect last)
    order = sorted(
        report.single_flips,
        key=lambda k: (k.first_divergence is None, k.first_divergence.step if k.first_divergence else 0),
    )
    sem = ref_sem
    report.ladder.append(("(reference profile)", _mismatch(_compare(tf(sem), candidate, models))))
    for k in order:
        sem = sem.with_knobs(**{k.knob: k.candidate_value})
        report.ladder.append((k.knob, _mismatch(_compare(tf(sem), candidate, models))))
    return report
