"""The base class every simulator adapter derives from (PyNN-style: one backend per module).

The data model an adapter speaks (RunConfig, RunResult, Capabilities, the recordables table) is
the library's, in :mod:`snnval.contract`. An adapter must not draw random numbers: all randomness
is in the frozen stimulus.
"""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod

from snnval.contract import Availability, Capabilities, RunConfig, RunResult
from snnval.errors import NotApplicable
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

__all__ = ["Adapter", "Availability", "Capabilities", "RunConfig", "RunResult"]


class Adapter(ABC):
    """Base class of every simulator adapter. Subclasses set ``name``, ``package`` and ``profiles``."""

    name: str = ""
    #: distribution whose version goes into provenance and availability
    package: str = ""
    description: str = ""
    #: the semantics profiles this adapter runs as itself: its golden runs, its score-matrix columns
    #: and its accuracy runners are derived from this tuple (the first is its native profile)
    profiles: tuple[str, ...] = ()
    #: the port ladder (named porting mistakes on the faithful mapping) runs on adapters that set this
    port_target: bool = False

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

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        """Raise NotApplicable if this adapter cannot run the combination (no simulator needed)."""
        self.capabilities().check(spec, config, stimulus)

    def run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        """Validate, check applicability, run. Raises NotApplicable with the reason."""
        avail = self.availability()
        if not avail.available:
            raise NotApplicable(f"{self.name} is not available: {avail.reason}")
        spec = spec.validated()
        stimulus = stimulus.validated(spec.n_sources, spec.n_neurons)
        try:
            self.check(spec, stimulus, config)
            result = self._run(spec, stimulus, config)
        except NotApplicable as exc:  # name the adapter: a compare runs two, and "this adapter" is ambiguous
            raise NotApplicable(f"{self.name}: {exc}") from None
        result.provenance.setdefault("simulator", self.name)
        result.provenance.setdefault("simulator_version", avail.version)
        result.provenance.setdefault("profile", config.semantics.name)
        result.provenance.setdefault("knobs", config.semantics.knobs())
        result.provenance.setdefault("dt_ms", stimulus.dt_ms)
        result.provenance.setdefault("dtype", config.dtype)
        result.provenance.setdefault("device", config.device)
        if config.options:
            result.provenance.setdefault("options", dict(config.options))
        result.provenance.setdefault("stimulus_seed", stimulus.seed)
        result.provenance.setdefault("spec_hash", spec.content_hash())
        return result
