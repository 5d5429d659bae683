"""Frozen stimuli: every random number is drawn here, once, from a named seed.

Adapters receive the realised events, never probabilities or seeds, so that two
simulators driven by the same :class:`FrozenStimulus` see identical input and any
difference between them is deterministic (DESIGN.md, core idea 2).

All times are integer steps on the grid of ``dt_ms`` (see :mod:`snnval.semantics`
for what a step means). Amplitudes are real-valued multipliers of the input
synapse's ``weight_pA``, so the TF reference's deterministic input ``1.3 p`` reaches
NEST exactly (``spike_generator`` ``spike_weights``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from snnval.errors import SpecError

#: The TF training code scales its deterministic LGN input by this factor (x = 1.3 p).
TF_INPUT_SCALE = 1.3


@dataclass(frozen=True)
class Events:
    """Emissions of external sources: (trial, step, source, amplitude), sorted by trial, step, source.

    ``offset_ms`` (optional): the emission's precise time within its step, in (0, dt] (the event at step
    s happened at ``s*dt + offset``; SONATA spike files with off-grid times). Grid-based neurons ignore
    it, as NEST does; NEST's precise-spike-time models (``*_ps``) integrate it.
    """

    trial: np.ndarray
    step: np.ndarray
    source: np.ndarray
    amplitude: np.ndarray
    offset_ms: np.ndarray | None = None

    @classmethod
    def empty(cls) -> Events:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    @classmethod
    def from_dense(cls, x: np.ndarray) -> Events:
        """From a (trials, steps, sources) array of amplitudes; zeros are not events."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 3:
            raise SpecError("stimulus", "x", "a (trials, steps, sources) array")
        trial, step, source = np.nonzero(x)
        return cls(trial.astype(np.int64), step.astype(np.int64), source.astype(np.int64), x[trial, step, source])

    def __len__(self) -> int:
        return int(self.step.shape[0])

    def dense(self, n_trials: int, n_steps: int, n_sources: int, dtype=np.float64) -> np.ndarray:
        """Amplitudes as a (trials, steps, sources) array (events at the same place add up)."""
        x = np.zeros((n_trials, n_steps, n_sources), dtype=dtype)
        np.add.at(x, (self.trial, self.step, self.source), self.amplitude)
        return x

    def concat(self, other: Events, dt_ms: float | None = None) -> Events:
        """Both event sets, sorted; offsets are kept if either has them (``dt_ms``: the other's default)."""
        parts = [
            np.concatenate([getattr(self, k), getattr(other, k)]) for k in ("trial", "step", "source", "amplitude")
        ]
        offset = None
        if self.offset_ms is not None or other.offset_ms is not None:
            if dt_ms is None:
                raise SpecError("stimulus", "events.offset_ms", "dt_ms to concatenate events with and without offsets")
            offset = np.concatenate([e.offset_ms if e.offset_ms is not None else np.full(len(e), float(dt_ms))
                                     for e in (self, other)])  # fmt: skip
        return _sorted_events(*parts, offset)

    def selected(self, mask: np.ndarray) -> Events:
        """The events where ``mask`` is true (offsets kept)."""
        return Events(self.trial[mask], self.step[mask], self.source[mask], self.amplitude[mask],
                      None if self.offset_ms is None else self.offset_ms[mask])  # fmt: skip


def _sorted_events(trial, step, source, amplitude, offset=None) -> Events:
    order = np.lexsort((source, step, trial))
    return Events(
        trial[order].astype(np.int64),
        step[order].astype(np.int64),
        source[order].astype(np.int64),
        amplitude[order].astype(float),
        None if offset is None else np.asarray(offset, dtype=float)[order],
    )


@dataclass(frozen=True)
class CurrentSteps:
    """Piecewise-constant injected currents: from step ``step`` on, neuron carries ``amplitude_pA``.

    A change at step s is emitted in step s and, like a spike with a 1-step delay,
    arrives in step s+1; V first feels it in step s+2 (NEST step_current_generator).
    """

    trial: np.ndarray
    step: np.ndarray
    neuron: np.ndarray
    amplitude_pA: np.ndarray

    @classmethod
    def empty(cls) -> CurrentSteps:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def __len__(self) -> int:
        return int(self.step.shape[0])

    def dense_arrivals(self, n_trials: int, n_steps: int, n_neurons: int) -> np.ndarray:
        """Current (pA) in force after the arrival step, as a (trials, steps, neurons) array."""
        out = np.zeros((n_trials, n_steps, n_neurons))
        order = np.lexsort((self.step, self.neuron, self.trial))
        tr, st, ne, amp = self.trial[order], self.step[order] + 1, self.neuron[order], self.amplitude_pA[order]
        for i in range(len(st)):  # one entry per current change (a handful), not per step
            if st[i] < n_steps:
                out[tr[i], st[i] :, ne[i]] = amp[i]
        return out


@dataclass(frozen=True)
class FrozenStimulus:
    """Everything that drives a network for ``n_trials`` trials of ``n_steps`` steps of ``dt_ms``."""

    dt_ms: float
    n_steps: int
    n_trials: int = 1
    events: Events = field(default_factory=Events.empty)
    currents: CurrentSteps = field(default_factory=CurrentSteps.empty)
    seed: int | None = None
    description: str = ""

    @property
    def duration_ms(self) -> float:
        return self.n_steps * self.dt_ms

    def validated(self, n_sources: int, n_neurons: int, source: str = "stimulus") -> FrozenStimulus:
        if not (self.dt_ms > 0 and np.isfinite(self.dt_ms)):
            raise SpecError(source, "dt_ms", "a finite number > 0")
        if self.n_steps < 1 or self.n_trials < 1:
            raise SpecError(source, "n_steps/n_trials", "integers >= 1")
        ev, cur = self.events, self.currents
        for name, arr, hi in (
            ("events.trial", ev.trial, self.n_trials),
            ("events.step", ev.step, self.n_steps),
            ("events.source", ev.source, n_sources),
            ("currents.trial", cur.trial, self.n_trials),
            ("currents.step", cur.step, self.n_steps),
            ("currents.neuron", cur.neuron, n_neurons),
        ):
            if arr.size and (arr.min() < 0 or arr.max() >= hi):
                raise SpecError(source, name, f"integers in [0, {hi - 1}], got [{arr.min()}, {arr.max()}]")
        for name, arr in (("events.amplitude", ev.amplitude), ("currents.amplitude_pA", cur.amplitude_pA)):
            if not np.all(np.isfinite(arr)):
                raise SpecError(source, name, "finite numbers")
        if ev.offset_ms is not None:
            off = ev.offset_ms
            if off.shape != ev.step.shape or not np.all(np.isfinite(off)):
                raise SpecError(source, "events.offset_ms", "one finite offset (ms) per event")
            # (0, dt] with a rounding margin: offsets are differences of ms times of order 1e3 ms
            if off.size and (off.min() <= -1e-9 or off.max() > self.dt_ms * (1 + 1e-9)):
                raise SpecError(source, "events.offset_ms", f"offsets within the step, in (0, {self.dt_ms}] ms")
        return self

    def trial(self, i: int) -> FrozenStimulus:
        """The stimulus of one trial, as a one-trial stimulus."""
        return self.trials(i, i + 1)

    def trials(self, start: int, stop: int) -> FrozenStimulus:
        """Trials ``start``..``stop - 1`` as a stimulus of their own (renumbered from 0), events unchanged."""
        stop = min(stop, self.n_trials)
        e, c = self.events, self.currents
        me = (e.trial >= start) & (e.trial < stop)
        mc = (c.trial >= start) & (c.trial < stop)
        return FrozenStimulus(
            self.dt_ms,
            self.n_steps,
            stop - start,
            Events(
                e.trial[me] - start,
                e.step[me],
                e.source[me],
                e.amplitude[me],
                None if e.offset_ms is None else e.offset_ms[me],
            ),
            CurrentSteps(c.trial[mc] - start, c.step[mc], c.neuron[mc], c.amplitude_pA[mc]),
            self.seed,
            self.description,
        )

    def first_trials(self, n: int) -> FrozenStimulus:
        """The first ``n`` trials (a fixed subset that keeps each trial's frozen events)."""
        return self.trials(0, n)

    def content_hash(self) -> str:
        h = hashlib.sha256(repr((self.dt_ms, self.n_steps, self.n_trials)).encode())
        for arr in (
            self.events.trial,
            self.events.step,
            self.events.source,
            self.events.amplitude,
            self.currents.trial,
            self.currents.step,
            self.currents.neuron,
            self.currents.amplitude_pA,
            *(() if self.events.offset_ms is None else (self.events.offset_ms,)),
        ):
            a = np.ascontiguousarray(arr)
            h.update(f"{a.dtype}{a.shape}".encode())  # so an event cannot pass for a current change
            h.update(a.tobytes())
        return h.hexdigest()


# --- sampling: every rule vectorised over (trials, steps, sources) -------------------------------


def rate_to_probability(rate_Hz: np.ndarray, dt_ms: float) -> np.ndarray:
    """Per-step spike probability of a Poisson source: p = 1 - exp(-rate * dt) (TF ``stim_dataset``)."""
    return -np.expm1(-np.asarray(rate_Hz, dtype=float) * dt_ms / 1000.0)


def deterministic_input(p: np.ndarray) -> np.ndarray:
    """The TF default (``current_input=True``): the real value 1.3 p every step, nothing sampled."""
    return TF_INPUT_SCALE * np.asarray(p, dtype=float)


def sample_bernoulli(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """TF's sampled input: a spike (amplitude 1) with probability p per step."""
    return (rng.random(np.shape(p)) < p).astype(float)


def sample_ported_clip(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The public NEST port's rule: spike with probability clip(x / 1.3, 0, 1) from stored x = 1.3 p.

    Vectorised equivalent of the port's per-element loop ``if clip(x/1.3,0,1) > rand()``.
    """
    prob = np.clip(np.asarray(x, dtype=float) / TF_INPUT_SCALE, 0.0, 1.0)
    return (prob > rng.random(prob.shape)).astype(float)


def common_background_counts(
    n_trials: int, n_steps: int, rng: np.random.Generator, n: int = 10, p: float = 0.1
) -> np.ndarray:
    """TF "rest of brain" common-source mode: one Binomial(10, 0.1) count per step shared by all neurons.

    Returns counts as a (trials, steps, 1) array, to be emitted by one background source.
    """
    return rng.binomial(n, p, size=(n_trials, n_steps, 1)).astype(float)


def independent_poisson_counts(
    n_trials: int, n_steps: int, n_sources: int, rate_Hz: float, dt_ms: float, rng: np.random.Generator
) -> np.ndarray:
    """Independent Poisson counts per source and step (what NEST ports used for background)."""
    return rng.poisson(rate_Hz * dt_ms / 1000.0, size=(n_trials, n_steps, n_sources)).astype(float)
