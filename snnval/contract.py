"""The adapter contract: what a run is asked to do, what it returns, and what an adapter can do.

Every simulator adapter (``snnval.adapters``) turns (NetworkSpec, FrozenStimulus, RunConfig) into a
RunResult on the integer step grid, in canonical units, and declares its Capabilities. Capabilities
fail closed: a knob an adapter does not declare, or a value it does not list, is *not applicable*,
never silently run with some other meaning.

Step conventions are in :mod:`snnval.semantics`; the timing meaning of each recorded variable is in
:data:`RECORDABLES` (one table for every adapter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnval.errors import NotApplicable
from snnval.semantics import INT_KNOBS, Semantics, profile
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

#: The value at recorded step k is the state at the *end* of step k (NEST stamps it (k+1) dt).
END_OF_STEP = "end_of_step"
#: The value at recorded step k is the input that drove V *during* step k (NEST's glif_psc currents).
DROVE_STEP = "drove_step"


@dataclass(frozen=True)
class Recordable:
    unit: str
    timing: str
    meaning: str


#: Every state variable an adapter may record: canonical unit and what "value at step k" means.
RECORDABLES: dict[str, Recordable] = {
    "V_m": Recordable("mV", END_OF_STEP, "membrane potential (V_reset in the step of a hard-reset spike)"),
    "ASC": Recordable("pA", DROVE_STEP, "sum of after-spike currents as V integrated them in step k"),
    "I_syn": Recordable("pA", DROVE_STEP, "summed synaptic currents at the start of step k"),
}
RECORDABLE_UNITS: dict[str, str] = {k: r.unit for k, r in RECORDABLES.items()}

#: How an adapter's input sources can carry an event amplitude (a multiplier of the input weight).
#: "real": any finite amplitude (NEST spike_weights, a TF input tensor); "integer": whole numbers,
#: realised as that many coincident spikes; "unit": every event must have amplitude 1 (PyNN's
#: SpikeSourceArray, Brian2's SpikeGeneratorGroup without a weight column).
EVENT_AMPLITUDES = ("real", "integer", "unit")
#: "grid": spike times are step indices; "precise": the adapter also reports the offset within the step.
SPIKE_TIMES = ("grid", "precise")


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""
    version: str = ""


@dataclass(frozen=True)
class RunConfig:
    """How to run: the semantics profile, what to record, numeric type, threads, device and options.

    ``record_neurons=None`` records every neuron. dt and duration come from the stimulus.
    ``options`` are adapter-specific run options (e.g. Brian2's code-generation target); an adapter
    lists the ones it accepts in ``Capabilities.options``.
    """

    semantics: Semantics = field(default_factory=lambda: profile("nest-glif-psc"))
    record: tuple[str, ...] = ("V_m",)
    record_neurons: np.ndarray | None = None
    dtype: str = "float64"
    threads: int = 1
    device: str = "cpu"
    options: dict = field(default_factory=dict)

    def recorded_ids(self, spec: NetworkSpec) -> np.ndarray:
        if self.record_neurons is None:
            return np.arange(spec.n_neurons)
        return np.asarray(self.record_neurons, dtype=np.int64)


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can run. Anything not declared here is not applicable.

    ``knobs`` maps every semantics knob the adapter honours to the values it supports; a knob
    missing from it cannot be run (fail closed). Integer knobs (``delay_offset_steps``) are
    declared with the tuple ``("any",)`` or the explicit values supported.
    """

    models: tuple[str, ...] = ("glif3",)
    max_receptors: int = 4
    recordables: tuple[str, ...] = ("V_m",)
    knobs: dict[str, tuple] = field(default_factory=dict)
    dtypes: tuple[str, ...] = ("float64",)
    event_amplitudes: str = "real"
    spike_times: str = "grid"
    devices: tuple[str, ...] = ("cpu",)
    current_inputs: bool = True
    options: dict[str, tuple] = field(default_factory=dict)
    #: per-model narrowing of ``knobs``: a neuron model listed here runs only these values of these
    #: knobs (e.g. the TF reference's GLIF3 step has no "in_arrival_step" input timing, its
    #: discrete LIF has); models not listed run every value in ``knobs``
    model_knobs: dict[str, dict[str, tuple]] = field(default_factory=dict)

    def __post_init__(self):
        unknown = set(self.recordables) - set(RECORDABLES)
        if unknown:
            raise ValueError(f"Capabilities.recordables: {sorted(unknown)} not in the RECORDABLES table")
        if self.event_amplitudes not in EVENT_AMPLITUDES:
            raise ValueError(f"Capabilities.event_amplitudes: one of {EVENT_AMPLITUDES}")
        if self.spike_times not in SPIKE_TIMES:
            raise ValueError(f"Capabilities.spike_times: one of {SPIKE_TIMES}")

    def check(self, spec: NetworkSpec, config: RunConfig, stimulus: FrozenStimulus | None = None) -> None:
        """Raise NotApplicable naming the first choice this adapter does not declare."""
        for knob, value in config.semantics.knobs().items():
            if knob not in self.knobs:
                raise NotApplicable(f"knob {knob} is not declared by this adapter (declared: {sorted(self.knobs)})")
            allowed = self.knobs[knob]
            if knob in INT_KNOBS and allowed == ("any",):
                continue
            if value not in allowed:
                raise NotApplicable(f"knob {knob}={value!r} is not supported (supported: {allowed})")
        unsupported = sorted(set(spec.cells.models) - set(self.models))
        if unsupported:
            raise NotApplicable(f"neuron models {unsupported} are not supported (supported: {self.models})")
        for model in sorted(set(spec.cells.models)):
            for knob, allowed in self.model_knobs.get(model, {}).items():
                value = getattr(config.semantics, knob)
                if value not in allowed:
                    raise NotApplicable(f"knob {knob}={value!r} is not supported for {model} (supported: {allowed})")
        if spec.n_receptors > self.max_receptors:
            raise NotApplicable(f"{spec.n_receptors} receptors > {self.max_receptors}")
        missing = set(config.record) - set(self.recordables)
        if missing:
            raise NotApplicable(f"cannot record {sorted(missing)} (recordable: {self.recordables})")
        if config.dtype not in self.dtypes:
            raise NotApplicable(f"dtype {config.dtype} not supported (supported: {self.dtypes})")
        if config.device not in self.devices:
            raise NotApplicable(f"device {config.device!r} not supported (supported: {self.devices})")
        for key, value in config.options.items():
            if key not in self.options:
                raise NotApplicable(f"run option {key!r} is not declared (declared: {sorted(self.options)})")
            if value not in self.options[key]:
                raise NotApplicable(f"run option {key}={value!r} is not supported (supported: {self.options[key]})")
        if stimulus is not None:
            self._check_stimulus(stimulus)

    def _check_stimulus(self, stimulus: FrozenStimulus) -> None:
        amp = stimulus.events.amplitude
        if self.event_amplitudes == "unit" and amp.size and not np.all(amp == 1.0):
            bad = amp[np.flatnonzero(amp != 1.0)[0]]
            raise NotApplicable(
                f"input events carry amplitudes other than 1 (e.g. {bad:g}); this adapter's sources cannot"
            )
        if self.event_amplitudes == "integer" and amp.size and not np.all(amp == np.round(amp)):
            bad = amp[np.flatnonzero(amp != np.round(amp))[0]]
            raise NotApplicable(f"input events carry non-integer amplitudes (e.g. {bad:g}); this adapter's cannot")
        if not self.current_inputs and len(stimulus.currents):
            raise NotApplicable("the stimulus injects step currents; this adapter has no current input")


@dataclass
class RunResult:
    """Spikes on the step grid and recorded state in canonical units.

    ``spike_trial``, ``spike_step``, ``spike_neuron`` are sorted by (trial, step, neuron).
    ``state[var]`` has shape (trials, steps, len(recorded_neurons)); what the value at step k means
    is in :data:`RECORDABLES`. ``spike_offset_ms`` (adapters with precise spike times only) is the
    spike time within its step, in (0, dt]: the spike happened at ``spike_step * dt + offset``.
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
    spike_offset_ms: np.ndarray | None = None

    @classmethod
    def from_spikes(
        cls, dt_ms, n_steps, n_trials, trial, step, neuron, recorded, state, provenance, offset_ms=None
    ) -> RunResult:
        trial, step, neuron = (np.asarray(a, dtype=np.int64) for a in (trial, step, neuron))
        order = np.lexsort((neuron, step, trial))
        offset = None if offset_ms is None else np.asarray(offset_ms, dtype=float)[order]
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
            offset,
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
