"""Run an adapter in an isolated process, so a simulator crash or hang is a clear failure.

NEST keeps process-global kernel state and TensorFlow its graph caches; a fresh
process per run also makes runs independent of each other (determinism).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback

from snnval.adapters import RunConfig, RunResult, get_adapter
from snnval.errors import AdapterFailure, SnnvalError
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

DEFAULT_TIMEOUT_S = 1800.0


def _child(conn, adapter_name, spec, stimulus, config):
    os.environ.setdefault("PYNEST_QUIET", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        result = get_adapter(adapter_name).run(spec, stimulus, config)
        conn.send(("ok", result))
    except SnnvalError as exc:  # NotApplicable, SpecError: pass through with their type
        conn.send(("error", exc))
    except BaseException as exc:  # anything else is an adapter failure with its traceback
        conn.send(("failure", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def run_adapter(
    adapter_name: str,
    spec: NetworkSpec,
    stimulus: FrozenStimulus,
    config: RunConfig,
    *,
    isolate: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RunResult:
    """Run one adapter; with ``isolate`` in a fresh spawned process (killed after ``timeout_s``)."""
    if not isolate:
        return get_adapter(adapter_name).run(spec, stimulus, config)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, adapter_name, spec, stimulus, config), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            proc.kill()
            proc.join()
            raise AdapterFailure(f"{adapter_name}: no result within {timeout_s:.0f} s (killed)")
        try:
            kind, payload = parent.recv()
        except EOFError:
            proc.join()
            raise AdapterFailure(f"{adapter_name}: the simulator process died (exit code {proc.exitcode})") from None
    finally:
        parent.close()
    proc.join(timeout=30)
    if kind == "ok":
        return payload
    if kind == "error":
        raise payload
    raise AdapterFailure(f"{adapter_name} failed:\n{payload}")


def run_scenario(
    scenario_name: str,
    sim: str,
    semantics,
    dt_ms: float,
    *,
    dtype: str = "float64",
    threads: int = 1,
    isolate: bool = True,
    record_neurons=None,
) -> RunResult:
    """Build a registered scenario at ``dt_ms`` and run it on adapter ``sim`` with ``semantics``."""
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    scenario = get_scenario(scenario_name)
    spec, stimulus = scenario.build(dt_ms)
    config = RunConfig(
        semantics=profile(semantics),
        record=scenario.record,
        record_neurons=record_neurons,
        dtype=dtype,
        threads=threads,
    )
    return run_adapter(sim, spec, stimulus, config, isolate=isolate)
