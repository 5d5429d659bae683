"""The Scenario record: a network, a frozen stimulus per dt, and what its runs must show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus


def steps(ms: float, dt_ms: float) -> int:
    """A time in ms as a whole number of steps of ``dt_ms``."""
    return int(round(ms / dt_ms))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build_spec: Callable[[], NetworkSpec]
    build_stimulus: Callable[[NetworkSpec, float], FrozenStimulus]
    dts_ms: tuple[float, ...] = (1.0, 0.1)
    record: tuple[str, ...] = ("V_m",)
    #: minimum spikes the reference run must produce: guards against a trivially passing silent run
    min_spikes: int = 1
    #: neurons whose traces the golden file keeps (None: all); spikes are always kept for all
    golden_neurons: tuple[int, ...] | None = None
    #: why a golden without spikes is still meaningful (empty: such a golden is refused)
    empty_golden_reason: str = ""
    #: simulated time (ms) and the times (ms) where the stimulus changes: a dt must divide each
    #: (snnval.preflight refuses one that does not; 0.0 = derive the duration from a build at dts_ms[0])
    duration_ms: float = 0.0
    grid_times_ms: tuple[float, ...] = ()

    def build(self, dt_ms: float) -> tuple[NetworkSpec, FrozenStimulus]:
        spec = self.build_spec().validated()
        return spec, self.build_stimulus(spec, dt_ms).validated(spec.n_sources, spec.n_neurons)
