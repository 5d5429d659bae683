"""The one interface every simulator adapter implements (PyNN-style: one backend per module).

An adapter turns (NetworkSpec, FrozenStimulus, RunConfig) into a RunResult on the
integer step grid, in canonical units. It must not draw random numbers: all
randomness is in the frozen stimulus.
"""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from snnval.errors import NotApplicable
from snnval.semantics import KNOB_VALUES, Semantics, profile
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

#: Recordable state variables, canonical units.
RECORDABLE_UNITS = {"V_m": "mV", "ASC": "pA", "I_syn": "pA"}


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""
    version: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can run. ``knobs`` maps each knob to the values it supports."""

    models: tuple[str, ...] = ("glif3",)
    max_receptors: int = 4
    recordables: tuple[str, ...] = ("V_m",)
    knobs: dict[str, tuple] = field(default_factory=lambda: dict(KNOB_VALUES))
    dtypes: tuple[str, ...] = ("float64",)
    gpu: bool = False

    def check(self, spec: NetworkSpec, config: RunConfig) -> None:
        """Raise NotApplicable naming the first unsupported choice."""
        for knob, value in config.semantics.knobs().items():
            if knob in self.knobs and value not in self.knobs[knob]:
                raise NotApplicable(f"knob {knob}={value!r} is not supported (supported: {self.knobs[knob]})")
        unsupported = sorted(set(spec.cells.models) - set(self.models))
        if unsupported:
            raise NotApplicable(f"neuron models {unsupported} are not supported (supported: {self.models})")
        if spec.n_receptors > self.max_receptors:
            raise NotApplicable(f"{spec.n_receptors} receptors > {self.max_receptors}")
        missing = set(config.record) - set(self.recordables)
        if missing:
            raise NotApplicable(f"cannot record {sorted(missing)} (recordable: {self.recordables})")
        if config.dtype not in self.dtypes:
            raise NotApplicable(f"dtype {config.dtype} not supported (supported: {self.dtypes})")


@dataclass(frozen=True)
class RunConfig:
    """How to run: the semantics profile, what to record, numeric type and threads.

    ``record_neurons=None`` records every neuron. dt and duration come from the stimulus.
    """

    semantics: Semantics = field(default_factory=lambda: profile("nest-glif-psc"))
    record: tuple[str, ...] = ("V_m",)
    record_neurons: np.ndarray | None = None
    dtype: str = "float64"
    threads: int = 1

    def recorded_ids(self, spec: NetworkSpec) -> np.ndarray:
        if self.record_neurons is None:
            return np.arange(spec.n_neurons)
        return np.asarray(self.record_neurons, dtype=np.int64)


@dataclass
class RunResult:
    """Spikes on the step grid and recorded state in canonical units.

    ``spike_trial``, ``spike_step``, ``spike_neuron`` are sorted by (trial, step, neuron).
    ``state[var]`` has shape (trials, steps, len(recorded_neurons)); the value at step k is the
    state at the end of step k.
    """

    dt_ms: float
    n_steps: int
    n_trials: int
    spike_trial: np.ndarray
    spike_step: np.ndarray
    spike_neuron: np.ndarray
    recorded_neurons: np.ndarray
    state: dict[str, np.ndarray]
    provenance: dict

    @classmethod
    def from_spikes(cls, dt_ms, n_steps, n_trials, trial, step, neuron, recorded, state, provenance) -> RunResult:
        trial, step, neuron = (np.asarray(a, dtype=np.int64) for a in (trial, step, neuron))
        order = np.lexsort((neuron, step, trial))
        return cls(
            dt_ms,
            n_steps,
            n_trials,
            trial[order],
            step[order],
            neuron[order],
            np.asarray(recorded, dtype=np.int64),
            state,
            provenance,
        )

    @property
    def n_spikes(self) -> int:
        return int(self.spike_step.shape[0])

    def spike_counts(self, n_neurons: int, window_steps: tuple[int, int] | None = None) -> np.ndarray:
        """Spike counts per (trial, neuron), optionally within [start, stop) steps."""
        mask = np.ones(self.n_spikes, dtype=bool)
        if window_steps is not None:
            mask = (self.spike_step >= window_steps[0]) & (self.spike_step < window_steps[1])
        counts = np.zeros((self.n_trials, n_neurons), dtype=np.int64)
        np.add.at(counts, (self.spike_trial[mask], self.spike_neuron[mask]), 1)
        return counts


class Adapter(ABC):
    """Base class of every simulator adapter. Subclasses set ``name`` and ``package``."""

    name: str = ""
    #: distribution whose version goes into provenance and availability
    package: str = ""
    description: str = ""

    def availability(self) -> Availability:
        try:
            version = importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return Availability(False, f"the Python package '{self.package}' is not installed")
        try:
            self._import()
        except Exception as exc:  # an import that crashes is "unavailable", with its reason
            return Availability(False, f"importing {self.package} failed: {type(exc).__name__}: {exc}", version)
        return Availability(True, "", version)

    @abstractmethod
    def _import(self) -> None:
        """Import the simulator (called by availability()); raise if it cannot be used."""

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult: ...

    def run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        """Validate, check applicability, run. Raises NotApplicable with the reason."""
        avail = self.availability()
        if not avail.available:
            raise NotApplicable(f"{self.name} is not available: {avail.reason}")
        spec = spec.validated()
        stimulus = stimulus.validated(spec.n_sources, spec.n_neurons)
        self.capabilities().check(spec, config)
        result = self._run(spec, stimulus, config)
        result.provenance.setdefault("simulator", self.name)
        result.provenance.setdefault("simulator_version", avail.version)
        result.provenance.setdefault("profile", config.semantics.name)
        result.provenance.setdefault("knobs", config.semantics.knobs())
        result.provenance.setdefault("dt_ms", stimulus.dt_ms)
        result.provenance.setdefault("dtype", config.dtype)
        result.provenance.setdefault("stimulus_seed", stimulus.seed)
        result.provenance.setdefault("spec_hash", spec.content_hash())
        return result
