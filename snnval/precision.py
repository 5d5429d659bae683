"""Precision tier: explain where a float32 run parts from the same semantics in float64.

A spike-by-spike rule cannot judge a float32 run: wherever V passes within a few rounding errors
of the threshold, the two runs may disagree on the spike (a *precision flip*), and a recurrent
network then carries the flip on. The statistical tier alone is too blind (it cannot tell such a
flip from a semantic change). This module classifies every divergence episode:

1. Rounding bound per neuron and step (mV), from the float64 reference trace V (reference run):
   ``B[t] = K eps sum_j decay^j S[t-j] + eps |V[t]|`` with ``S[t] = 2 |u[t-1]| + |u[t]|``,
   ``u = V - E_L`` (the state the simulators hold: normalised v or NEST's U). The terms summed into
   V in step t are ``decay u[t-1]`` (<= |u[t-1]|) and the step's input ``u[t] - decay u[t-1]``
   (<= |u[t]| + |u[t-1]|); each of the K rounded operations of a step errs by at most eps/2 times
   their magnitude (Higham 2002, sec. 3.1), and an error in V decays with V (factor ``decay`` per
   step). ``eps |V|`` covers the conversion of the recorded V to mV. K and eps per dtype are in
   :data:`snnval.acceptance.PRECISION_RULES`, with their reasons.
2. Episodes: spike mismatches (the exact spike matching of :func:`snnval.compare.compare_spikes`)
   and trace samples with ``|V_cand - V_ref| > B`` are events; an episode is a run of events with
   gaps shorter than ``realign_ms`` that contains a spike mismatch, and its first divergence is its
   first spike mismatch. Its length is how far the divergence propagates: until spikes and V
   re-align (``realign_ms`` without an event) or the end of the run; a later episode is a fresh
   divergence, not a consequence of an earlier one. Trace samples beyond B alone start nothing:
   B reads magnitudes from V alone and cannot see slow states (after-spike currents decay
   over hundreds of ms, excitatory and inhibitory PSCs cancel in V), whose rounding can move a quiet
   neuron's V by ~1e-4 mV (measured on bmtk-dpointnet float32) without any spike consequence.
3. Each episode's first divergence is a *precision flip* if it is a spike mismatch at a step where
   the reference's margin ``|V - V_th|`` is within B, else a *real difference*. The margin is read
   from the run whose V at that step is not a reset value
   (with subtractive reset: the reference; with a hard reset in the spike step: the run that did not
   spike, whose V agrees with the reference's pre-reset V to within B if the flip is a precision one).
4. After precision flips only, a tolerant tier: spike matching within +-k steps (reported) and
   population spike counts within ``rate_sigmas`` Poisson sigmas (the verdict).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from snnval.acceptance import PrecisionRule, precision_rule
from snnval.compare import Divergence, SpikeComparison, compare_spikes
from snnval.contract import RunResult
from snnval.errors import SpecError
from snnval.spec import NetworkSpec


def rounding_bound_mV(reference: RunResult, spec: NetworkSpec, rule: PrecisionRule) -> np.ndarray:
    """B (trials, steps, recorded neurons) in mV: the float rounding V may carry (module docstring, 1)."""
    v = np.asarray(reference.state["V_m"], dtype=float)
    ids = reference.recorded_neurons
    e_l = spec.per_neuron("E_L_mV")[ids]
    decay = np.exp(-reference.dt_ms / spec.per_neuron("tau_m_ms")[ids])
    u = np.abs(v - e_l)
    prev = np.concatenate([u[:, :1], u[:, :-1]], axis=1)
    s = 2.0 * prev + u
    acc = np.empty_like(s)
    for d in np.unique(decay):  # one exponential filter per membrane decay (a few cell types)
        cols = decay == d
        acc[:, :, cols] = lfilter([1.0], [1.0, -d], s[:, :, cols], axis=1)
    return rule.rounding_ops_per_step * rule.eps * acc + rule.eps * np.abs(v)


@dataclass(frozen=True)
class Episode:
    """One divergence episode: where it starts, what started it, and how far it reaches."""

    first: Divergence
    kind: str  # "precision_flip" or "real"
    margin_mV: float | None  # |V - V_th| at the first divergence (spike mismatches)
    bound_mV: float  # B at that step and neuron
    end_step: int  # last event of the episode
    realigned: bool  # False: the episode runs to the end of the run
    n_spike_mismatches: int
    reason: str

    @property
    def reach_steps(self) -> int:
        return int(self.end_step - self.first.step + 1)

    def to_dict(self) -> dict:
        return {
            "first_divergence": self.first.to_dict(),
            "kind": self.kind,
            "margin_mV": self.margin_mV,
            "bound_mV": self.bound_mV,
            "reach_steps": self.reach_steps,
            "reach_ms": self.reach_steps * self.first.dt_ms,
            "realigned": self.realigned,
            "n_spike_mismatches": self.n_spike_mismatches,
            "reason": self.reason,
        }

    def describe(self) -> str:
        margin = "" if self.margin_mV is None else f", margin {self.margin_mV:.3g} mV"
        reach = f"reaches {self.reach_steps} steps" + ("" if self.realigned else " (to the end)")
        return (
            f"{self.kind} at {self.first.describe()}{margin}, bound {self.bound_mV:.3g} mV; {reach}, "
            f"{self.n_spike_mismatches} spike mismatches ({self.reason})"
        )


@dataclass(frozen=True)
class PrecisionComparison:
    rule: PrecisionRule
    dt_ms: float
    n_steps: int
    episodes: list[Episode]
    exact: SpikeComparison
    tolerant: SpikeComparison
    population_counts: dict[str, tuple[int, int, float]]  # name: (reference, candidate, allowed |diff|)
    max_trace_ratio_before_first: float  # max |dV| / B before the first spike divergence
    n_trace_excess: int  # samples with |dV| > B anywhere (diagnostic, see the module docstring)
    notes: list[str] = field(default_factory=list)

    @property
    def n_flips(self) -> int:
        return sum(e.kind == "precision_flip" for e in self.episodes)

    @property
    def n_real(self) -> int:
        return sum(e.kind == "real" for e in self.episodes)

    @property
    def statistics_passed(self) -> bool:
        return all(abs(a - b) <= allowed for a, b, allowed in self.population_counts.values())

    @property
    def passed(self) -> bool:
        """No real difference; after precision flips the population counts agree."""
        return self.n_real == 0 and (not self.episodes or self.statistics_passed)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "dtype": self.rule.dtype,
            "n_precision_flips": self.n_flips,
            "n_real_differences": self.n_real,
            "episodes": [e.to_dict() for e in self.episodes],
            "exact_spikes": self.exact.to_dict(),
            "tolerant_spikes": self.tolerant.to_dict(),
            "population_counts": {
                k: {"reference": a, "candidate": b, "allowed_abs_diff": allowed}
                for k, (a, b, allowed) in self.population_counts.items()
            },
            "statistics_passed": self.statistics_passed,
            "max_trace_ratio_before_first": self.max_trace_ratio_before_first,
            "n_trace_samples_beyond_bound": self.n_trace_excess,
            "rule": {
                "eps": self.rule.eps,
                "rounding_ops_per_step": self.rule.rounding_ops_per_step,
                "realign_ms": self.rule.realign_ms,
                "match_window_steps": self.rule.match_window_steps,
                "rate_sigmas": self.rule.rate_sigmas,
                "reason": self.rule.reason,
            },
        }

    def summary(self) -> str:
        lines = [
            f"precision tier ({self.rule.dtype} vs float64, dt {self.dt_ms:g} ms): "
            f"{'PASSED' if self.passed else 'FAILED'}; {self.n_flips} precision flip(s), "
            f"{self.n_real} real difference(s); max |dV|/B before the first divergence "
            f"{self.max_trace_ratio_before_first:.3g} ({self.n_trace_excess} samples beyond B in all)"
        ]
        lines += [f"  episode {i}: {e.describe()}" for i, e in enumerate(self.episodes)]
        lines.append(f"  exact {self.exact.summary_line()}")
        lines.append(f"  tolerant {self.tolerant.summary_line()}")
        for name, (a, b, allowed) in self.population_counts.items():
            ok = "ok" if abs(a - b) <= allowed else "FAIL"
            lines.append(f"  {name}: {a} vs {b} spikes, |diff| {abs(a - b)} <= {allowed:.1f}? {ok}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _events(reference, candidate, exact, bound):
    """Divergence events (trial, step, neuron, is_trace), sorted by (trial, step, is_spike, neuron)."""
    tr = np.concatenate([reference.spike_trial[exact.missing], candidate.spike_trial[exact.extra]])
    st = np.concatenate([reference.spike_step[exact.missing], candidate.spike_step[exact.extra]])
    ne = np.concatenate([reference.spike_neuron[exact.missing], candidate.spike_neuron[exact.extra]])
    dv = np.abs(np.asarray(candidate.state["V_m"], float) - np.asarray(reference.state["V_m"], float))
    t_tr, t_st, t_col = np.nonzero(dv > bound)
    trials = np.concatenate([tr, t_tr])
    steps = np.concatenate([st, t_st])
    neurons = np.concatenate([ne, reference.recorded_neurons[t_col]])
    is_trace = np.concatenate([np.zeros(tr.size, bool), np.ones(t_tr.size, bool)])
    kind = np.concatenate([np.full(exact.missing.size, "missing"), np.full(exact.extra.size, "extra")])
    kind = np.concatenate([kind, np.full(t_tr.size, "trace")])
    order = np.lexsort((neurons, ~is_trace, steps, trials))  # a trace excess first: it is the nearer cause
    return trials[order], steps[order], neurons[order], is_trace[order], kind[order], dv


def _classify(i0, trials, steps, neurons, is_trace, reference, candidate, bound, dv, spec, hard_reset):
    """Kind, margin, bound and reason of the episode starting at event i0."""
    t, s = trials[i0], steps[i0]
    col_of = {int(n): c for c, n in enumerate(reference.recorded_neurons)}
    spiking = set(neurons[(trials == t) & (steps == s) & ~is_trace].tolist())
    c0 = col_of.get(int(neurons[i0]))
    b0 = float(bound[t, s, c0]) if c0 is not None else float("nan")
    margins = []
    v_th = spec.per_neuron("V_th_mV")
    for n in sorted(spiking):
        c = col_of.get(n)
        if c is None:
            return "real", None, b0, f"V of neuron {n} was not recorded: its margin is unknown"
        ref_spiked = np.any((reference.spike_trial == t) & (reference.spike_step == s) & (reference.spike_neuron == n))
        run = candidate if (hard_reset and ref_spiked) else reference
        margin = abs(float(run.state["V_m"][t, s, c]) - float(v_th[n]))
        margins.append((margin, float(bound[t, s, c]), n))
    worst = max(margins, key=lambda m: m[0] / m[1])
    if all(m <= b for m, b, _ in margins):
        return "precision_flip", worst[0], worst[1], "margin within the rounding bound"
    return "real", worst[0], worst[1], f"neuron {worst[2]}: margin {worst[0]:.3g} mV > bound {worst[1]:.3g} mV"


def precision_compare(
    reference: RunResult,
    candidate: RunResult,
    spec: NetworkSpec,
    dtype: str = "float32",
    populations: dict[str, np.ndarray] | None = None,
    hard_reset: bool = False,
) -> PrecisionComparison:
    """Compare a ``dtype`` run with the float64 ``reference`` of the same semantics (module docstring).

    Both runs must record V_m (the bound and the margins need it). ``hard_reset``: the profile resets
    V in the spike step (knob ``reset=hard_same_step``), so a spiking run's V at that step is V_reset.
    """
    for name, run in (("reference", reference), ("candidate", candidate)):
        if "V_m" not in run.state:
            raise SpecError("precision tier", f"{name}.state", "a run that records V_m")
    if not np.array_equal(reference.recorded_neurons, candidate.recorded_neurons):
        raise SpecError("precision tier", "recorded_neurons", "the same neurons recorded in both runs")
    rule = precision_rule(dtype, reference.dt_ms)
    exact = compare_spikes(reference, candidate, 0, 0)
    tolerant = compare_spikes(
        reference,
        candidate,
        rule.match_window_steps,
        int(np.floor(rule.max_unmatched_fraction * max(reference.n_spikes, 1))),
    )
    bound = rounding_bound_mV(reference, spec, rule)
    trials, steps, neurons, is_trace, kinds, dv = _events(reference, candidate, exact, bound)
    n_trace_excess = int(np.count_nonzero(is_trace))
    gap = max(1, int(round(rule.realign_ms / reference.dt_ms)))
    episodes = []
    if steps.size:
        new = np.ones(steps.size, bool)
        new[1:] = (trials[1:] != trials[:-1]) | (steps[1:] - steps[:-1] > gap)
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], steps.size) - 1
        for g0, i1 in zip(starts, ends, strict=True):
            spikes_in = np.flatnonzero(~is_trace[g0 : i1 + 1])
            if not spikes_in.size:  # V left B but no spike followed: reported in n_trace_excess only
                continue
            i0 = g0 + spikes_in[0]
            kind, margin, b0, reason = _classify(
                i0, trials, steps, neurons, is_trace, reference, candidate, bound, dv, spec, hard_reset
            )
            first = Divergence(
                int(steps[i0]), int(trials[i0]), int(neurons[i0]), "V_m" if is_trace[i0] else "spikes",
                str(kinds[i0]), reference.dt_ms,
            )  # fmt: skip
            episodes.append(
                Episode(
                    first,
                    kind,
                    margin,
                    b0,
                    int(steps[i1]),
                    bool(steps[i1] + gap < reference.n_steps),
                    int(np.count_nonzero(~is_trace[i0 : i1 + 1])),
                    reason,
                )  # fmt: skip
            )
    # max |dV| / B before the first divergence (a positive control shows how close rounding came to B)
    first_step = int(steps[0]) if steps.size else reference.n_steps
    ratio = dv[:, :first_step] / bound[:, :first_step]
    pops = populations or {"all": np.arange(max(int(reference.recorded_neurons.max(initial=-1)) + 1, 1))}
    counts = {}
    for name, ids in pops.items():
        a = int(np.isin(reference.spike_neuron, ids).sum())
        b = int(np.isin(candidate.spike_neuron, ids).sum())
        counts[name] = (a, b, rule.rate_sigmas * float(np.sqrt(a + b)))
    return PrecisionComparison(
        rule, reference.dt_ms, reference.n_steps, episodes, exact, tolerant, counts,
        float(ratio.max()) if ratio.size else 0.0, n_trace_excess,
    )  # fmt: skip


#: Accuracy "moves" if the exact McNemar test on the paired trials rejects equal accuracy at this level.
ACCURACY_MOVE_P = 0.05


def accuracy_movement(pred_reference, pred_candidate, labels) -> dict:
    """Does a lower-precision run change task accuracy? Paired on the same frozen trials.

    Accuracies with Wilson intervals, the fraction of identical predictions, and the exact McNemar
    test on discordant trials (:mod:`snnval.accuracy`); ``moved`` when p < :data:`ACCURACY_MOVE_P`.
    """
    from snnval.accuracy import accuracy_with_ci, mcnemar_exact, prediction_agreement

    pred_reference, pred_candidate, labels = (np.asarray(a) for a in (pred_reference, pred_candidate, labels))
    test = mcnemar_exact(pred_reference == labels, pred_candidate == labels)
    return {
        "reference": accuracy_with_ci(pred_reference, labels).as_accuracy_fields(),
        "candidate": accuracy_with_ci(pred_candidate, labels).as_accuracy_fields(),
        "prediction_agreement": prediction_agreement(pred_reference, pred_candidate).value,
        "mcnemar_b": test.b,
        "mcnemar_c": test.c,
        "mcnemar_p": test.p,
        "moved": bool(test.p < ACCURACY_MOVE_P),
    }
