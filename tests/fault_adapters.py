"""Fault-injecting adapters for tests/test_faults.py: the real NEST adapter, then a fault.

Each class subclasses the built-in NEST adapter and calls its real ``_run`` (NEST really simulates),
then hangs, aborts, segfaults or returns a malformed result. They are registered for a test through
``SNNVAL_EXTRA_ADAPTERS`` (see :func:`register`), which the runner's worker processes inherit.
This module must stay importable by module name (``fault_adapters``) from a worker process: pytest
puts tests/ on ``sys.path`` and spawned workers receive the parent's ``sys.path``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import time

from snnval.adapters import EXTRA_ADAPTERS_ENV
from snnval.adapters.nest_glif import NestGlifAdapter

#: seconds the hanging adapter sleeps: far beyond any timeout a test sets
HANG_S = 3600.0


class HangingNest(NestGlifAdapter):
    """Runs NEST, then never returns (a deadlocked or endlessly slow simulator)."""

    name = "nest-hang"
    profiles = ()

    def _run(self, spec, stimulus, config):
        result = super()._run(spec, stimulus, config)
        time.sleep(HANG_S)
        return result


class AbortingNest(NestGlifAdapter):
    """Runs NEST, then aborts the process (SIGABRT, as a failed C++ assertion does)."""

    name = "nest-abort"
    profiles = ()

    def _run(self, spec, stimulus, config):
        super()._run(spec, stimulus, config)
        os.abort()


class SegfaultingNest(NestGlifAdapter):
    """Runs NEST, then dereferences a null pointer (SIGSEGV)."""

    name = "nest-segfault"
    profiles = ()

    def _run(self, spec, stimulus, config):
        super()._run(spec, stimulus, config)
        ctypes.string_at(0)


class GarbageNest(NestGlifAdapter):
    """Runs NEST, then returns its result with the trace cut short (a malformed RunResult)."""

    name = "nest-garbage"
    profiles = ()

    def _run(self, spec, stimulus, config):
        result = super()._run(spec, stimulus, config)
        state = {k: v[:, : v.shape[1] // 2] for k, v in result.state.items()}
        return dataclasses.replace(result, state=state)


class NotARunResultNest(NestGlifAdapter):
    """Runs NEST, then returns a plain dict instead of a RunResult."""

    name = "nest-dict"
    profiles = ()

    def _run(self, spec, stimulus, config):
        result = super()._run(spec, stimulus, config)
        return {"spikes": result.spike_step.tolist()}


class SecondNest(NestGlifAdapter):
    """Not a fault: the real NEST adapter under a second registry name (concurrent golden updates)."""

    name = "nest-second"
    profiles = ("nest-glif-psc",)


FAULTY = {
    cls.name: f"{__name__}:{cls.__name__}"
    for cls in (HangingNest, AbortingNest, SegfaultingNest, GarbageNest, NotARunResultNest)
}


def register(monkeypatch) -> None:
    """Register every faulty adapter for one test (the environment is restored afterwards)."""
    monkeypatch.setenv(EXTRA_ADAPTERS_ENV, ",".join(f"{k}={v}" for k, v in FAULTY.items()))
