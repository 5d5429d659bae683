"""Run adapters in isolated worker processes with a timeout: a crash or hang becomes a clear failure.

Every simulator run of the CLI, the nightly and the validation tests goes through
:func:`run_adapter`. With ``isolate=True`` (the default) the run happens in a worker process:

* one persistent worker per adapter, reused across runs, so TensorFlow's and NEST's import time
  (seconds each) is paid once per process, not once per run. NEST keeps kernel state between
  runs, but its adapter calls ``nest.ResetKernel()`` at the start of every build (and resets its
  RNG with it); the TF adapter builds a new network and ``tf.function`` per run. Adapters draw
  no random numbers, so a reused worker gives the same numbers as a fresh one (checked in
  tests/test_faults.py);
* a run that does not answer within its timeout is killed (SIGKILL, the worker is replaced on the
  next run) and becomes :class:`AdapterFailure` naming the timeout; a worker that dies
  (segfault, ``os.abort``, OOM kill) becomes :class:`AdapterFailure` with its exit code. There are
  no retries: a deterministic crash would only multiply the cost;
* a result that is not a well-formed :class:`RunResult` for this stimulus (wrong type, grid,
  shapes or ids) is an :class:`AdapterFailure` too, never handed to a comparison;
* workers die with the parent: they are daemonic, killed at interpreter exit, by the CLI's
  SIGTERM/SIGINT handling (:func:`install_signal_handlers`) and, on Linux, by
  ``PR_SET_PDEATHSIG`` if the parent is killed outright.

Timeout: explicit ``timeout_s`` > environment variable ``SNNVAL_TIMEOUT_S`` > the per-run
default :func:`default_timeout_s` derived from the run's size.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import multiprocessing as mp
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass

import numpy as np

from snnval.adapters import RunConfig, RunResult, get_adapter
from snnval.errors import AdapterFailure, SnnvalError, SpecError
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

#: Environment variable that overrides every default timeout (seconds, a number > 0).
TIMEOUT_ENV = "SNNVAL_TIMEOUT_S"
#: Fixed part of the default timeout: spawning a worker and importing TensorFlow or NEST takes
#: 5-15 s on the shared 2-core machine, building the largest built-in scenario a few more; 120 s
#: leaves a factor of about 8 for a loaded machine.
BASE_TIMEOUT_S = 120.0
#: Per neuron-step-trial part of the default timeout. The slowest built-in adapter, the TF reference
#: on the 220-neuron network at dt 0.1 ms (2.2e6 neuron-steps), took 26 s in a fresh worker on the
#: shared 2-core machine: 9.1 s simulating (4e-6 s per neuron-step), the rest TF import, build and
#: tracing (command in README "Reliability"). 1e-4 s is 10-25 times that, for loaded machines and
#: denser networks; the base covers the fixed costs.
PER_NEURON_STEP_S = 1e-4
#: Kept for callers that imported it: the timeout that used to apply to every run.
DEFAULT_TIMEOUT_S = 1800.0


def default_timeout_s(
    n_neurons: int,
    n_steps: int,
    n_trials: int = 1,
    base_s: float = BASE_TIMEOUT_S,
    per_neuron_step_s: float = PER_NEURON_STEP_S,
) -> float:
    """Default timeout (s) of one run: ``base_s + per_neuron_step_s * neurons * steps * trials``.

    The work of a time-driven simulation is proportional to neurons x steps x trials (plus the
    synaptic events, which grow with the same product at fixed rates and connectivity); the fixed
    part covers process start, simulator import and build. The defaults are one worker run's
    (reasons above); the nightly passes its own for a whole isolated task (snnval.nightly_plan).
    """
    return base_s + per_neuron_step_s * float(n_neurons) * float(n_steps) * float(n_trials)


def parse_timeout(value, source: str, field_name: str) -> float:
    """A timeout in seconds: a finite number > 0, else SpecError naming ``source`` and ``field_name``."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise SpecError(source, field_name, f"a timeout in seconds (a number > 0), got {value!r}") from None
    if not (math.isfinite(t) and t > 0):
        raise SpecError(source, field_name, f"a timeout in seconds (a finite number > 0), got {value!r}")
    return t


def resolve_timeout_s(timeout_s: float | None, spec: NetworkSpec, stimulus: FrozenStimulus) -> float:
    """Explicit ``timeout_s``, else ``$SNNVAL_TIMEOUT_S``, else :func:`default_timeout_s` of the run."""
    if timeout_s is not None:
        return parse_timeout(timeout_s, "run_adapter", "timeout_s")
    env = os.environ.get(TIMEOUT_ENV)
    if env not in (None, ""):
        return parse_timeout(env, f"environment variable {TIMEOUT_ENV}", TIMEOUT_ENV)
    return default_timeout_s(spec.n_neurons, stimulus.n_steps, stimulus.n_trials)


# --------------------------------------------------------------------------------------------
# Result checks
# --------------------------------------------------------------------------------------------


def malformed_reason(result, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> str:
    """Why ``result`` is not a well-formed RunResult of this run ("" if it is)."""
    if not isinstance(result, RunResult):
        return f"returned a {type(result).__name__}, not a RunResult"
    try:
        if float(result.dt_ms) != float(stimulus.dt_ms):
            return f"dt_ms {result.dt_ms} != the stimulus's {stimulus.dt_ms}"
        if int(result.n_steps) != stimulus.n_steps or int(result.n_trials) != stimulus.n_trials:
            return (
                f"grid (steps, trials) = ({result.n_steps}, {result.n_trials}), "
                f"expected ({stimulus.n_steps}, {stimulus.n_trials})"
            )
        arrays = [np.asarray(getattr(result, f"spike_{n}")) for n in ("trial", "step", "neuron")]
        if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays):
            return "spike_trial/step/neuron are not 1-d arrays of one length"
        if arrays[0].size:
            if any(not np.issubdtype(a.dtype, np.integer) for a in arrays):
                return "spike arrays are not integer arrays"
            for a, hi, name in zip(
                arrays, (stimulus.n_trials, stimulus.n_steps, spec.n_neurons), ("trial", "step", "neuron"), strict=True
            ):
                if a.min() < 0 or a.max() >= hi:
                    return f"spike_{name} outside [0, {hi}): [{a.min()}, {a.max()}]"
        recorded = np.asarray(result.recorded_neurons)
        if recorded.ndim != 1:
            return "recorded_neurons is not a 1-d array"
        if not isinstance(result.state, dict):
            return f"state is a {type(result.state).__name__}, not a dict"
        shape = (stimulus.n_trials, stimulus.n_steps, recorded.shape[0])
        for var in config.record:
            if var not in result.state:
                return f"state lacks the requested recordable {var!r}"
        for var, arr in result.state.items():
            if np.shape(arr) != shape:
                return f"state[{var!r}] has shape {np.shape(arr)}, expected {shape}"
        if not isinstance(result.provenance, dict):
            return f"provenance is a {type(result.provenance).__name__}, not a dict"
    except Exception as exc:  # a result so broken that checking it raises is malformed too
        return f"could not be checked ({type(exc).__name__}: {exc})"
    return ""


def _checked(adapter_name: str, result, spec, stimulus, config) -> RunResult:
    reason = malformed_reason(result, spec, stimulus, config)
    if reason:
        raise AdapterFailure(f"{adapter_name}: malformed result: {reason}")
    return result


# --------------------------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------------------------


def _die_with_parent(parent_pid: int) -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies (no orphaned simulator).

    A parent that died before the request took effect is caught by comparing the parent pid.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent is already gone: nobody will read a result
        os._exit(1)


def _worker_main(conn, parent_pid: int) -> None:
    """Serve runs from ``conn`` until the parent closes it."""
    _die_with_parent(parent_pid)
    # The parent handles SIGINT (Ctrl-C reaches the whole process group) and then kills the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("PYNEST_QUIET", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    while True:
        try:
            adapter_name, spec, stimulus, config = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = ("ok", get_adapter(adapter_name).run(spec, stimulus, config))
        except SnnvalError as exc:  # NotApplicable, SpecError: pass through with their type
            reply = ("error", exc)
        except BaseException as exc:  # anything else is an adapter failure with its traceback
            reply = ("failure", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            conn.send(reply)
        except Exception as exc:  # e.g. an unpicklable result: report it instead of dying silently
            conn.send(("failure", f"the result could not be sent back: {type(exc).__name__}: {exc}"))


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: object

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=30)


_WORKERS: dict[str, _Worker] = {}
_LOCK = threading.Lock()


def _start_worker() -> _Worker:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=_worker_main, args=(child, os.getpid()), daemon=True, name="snnval-worker")
    # Dask's worker processes (the nightly) are daemonic, and multiprocessing refuses children of a
    # daemonic process because such a parent may be terminated without cleaning up. The worker
    # cannot outlive its parent here (PR_SET_PDEATHSIG, _die_with_parent), so the flag is lifted for
    # the start only. Checked: a run from a Dask LocalCluster worker (tests/test_faults.py).
    config = mp.current_process()._config
    daemonic = config.get("daemon")
    config["daemon"] = False
    try:
        proc.start()
    finally:
        if daemonic is None:
            config.pop("daemon", None)
        else:
            config["daemon"] = daemonic
    child.close()
    return _Worker(proc, parent)


def shutdown_workers() -> None:
    """Kill every worker process (at exit, on SIGTERM/SIGINT, or to start afresh)."""
    while _WORKERS:
        _, worker = _WORKERS.popitem()
        worker.kill()


atexit.register(shutdown_workers)


def worker_pids() -> dict[str, int]:
    """Process id of each live worker, by "adapter/threads=n" (for tests and diagnostics)."""
    return {name: w.process.pid for name, w in _WORKERS.items() if w.process.is_alive()}


def _run_in_worker(adapter_name, spec, stimulus, config, timeout_s: float, reuse: bool):
    # TF fixes its thread pools once per process: one worker per (adapter, threads)
    key = f"{adapter_name}/threads={int(config.threads)}"
    with _LOCK:
        worker = _WORKERS.pop(key, None) if reuse else None
        if worker is not None and not worker.process.is_alive():
            worker.kill()
            worker = None
    if worker is None:
        worker = _start_worker()
    keep = False
    try:
        try:
            worker.conn.send((adapter_name, spec, stimulus, config))
        except (BrokenPipeError, OSError):
            worker.process.join(timeout=5)
            raise AdapterFailure(
                f"{adapter_name}: the simulator process died before the run (exit code {worker.process.exitcode})"
            ) from None
        if not worker.conn.poll(timeout_s):
            if not worker.process.is_alive():
                raise AdapterFailure(_died(adapter_name, worker))
            raise AdapterFailure(
                f"{adapter_name}: no result within the timeout of {timeout_s:g} s; the simulator process was "
                f"killed (raise it with --timeout or {TIMEOUT_ENV} if the run is legitimately this slow)"
            )
        try:
            kind, payload = worker.conn.recv()
        except (EOFError, OSError):
            raise AdapterFailure(_died(adapter_name, worker)) from None
        keep = reuse
    finally:
        if keep:
            with _LOCK:
                old = _WORKERS.pop(key, None)
                _WORKERS[key] = worker
            if old is not None:
                old.kill()
        else:  # timeout, crash, signal or no reuse: this worker is finished
            worker.kill()
    return kind, payload


def _died(adapter_name: str, worker: _Worker) -> str:
    worker.process.join(timeout=30)
    code = worker.process.exitcode
    what = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    return f"{adapter_name}: the simulator process died ({what}, exit code {code}) without a result"


def run_adapter(
    adapter_name: str,
    spec: NetworkSpec,
    stimulus: FrozenStimulus,
    config: RunConfig,
    *,
    isolate: bool = True,
    timeout_s: float | None = None,
    reuse: bool = True,
) -> RunResult:
    """Run one adapter and return its checked result.

    Parameters
    ----------
    isolate : bool
        Run in a worker process (default). ``False`` runs in this process: no timeout, and a
        crash takes the caller down; only for debugging.
    timeout_s : float, optional
        Seconds to wait for the result before killing the worker; default ``$SNNVAL_TIMEOUT_S``,
        else :func:`default_timeout_s` of this run's neurons x steps x trials.
    reuse : bool
        Reuse this adapter's persistent worker (default) or use a fresh process for this run only.

    Raises
    ------
    AdapterFailure
        Timeout (worker killed), worker death (exit code), an exception inside the adapter
        (with its traceback) or a malformed result.
    NotApplicable, SpecError
        Raised inside the worker, passed through with their type.
    """
    from snnval.preflight import check_run

    check_run(spec, stimulus, config)  # delays vs dt and the memory estimate, before a worker allocates anything
    if not isolate:
        return _checked(adapter_name, get_adapter(adapter_name).run(spec, stimulus, config), spec, stimulus, config)
    timeout = resolve_timeout_s(timeout_s, spec, stimulus)
    kind, payload = _run_in_worker(adapter_name, spec, stimulus, config, timeout, reuse)
    if kind == "ok":
        return _checked(adapter_name, payload, spec, stimulus, config)
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
    timeout_s: float | None = None,
    device: str = "cpu",
) -> RunResult:
    """Build a registered scenario at ``dt_ms`` and run it on adapter ``sim`` with ``semantics``.

    ``device`` ("cpu", "cuda"/"gpu") is for GPU-class adapters; others declare only "cpu".

    ``dt_ms`` is checked first (on NEST's tic grid, dividing the scenario's durations) and the
    run's memory estimate against the bound (:mod:`snnval.preflight`), before anything is built.
    """
    from snnval.preflight import check_run_request
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    scenario = get_scenario(scenario_name)
    check_run_request(scenario, dt_ms, threads=threads)
    spec, stimulus = scenario.build(dt_ms)
    config = RunConfig(
        semantics=profile(semantics),
        record=scenario.record,
        record_neurons=record_neurons,
        dtype=dtype,
        threads=threads,
        device=device,
    )
    return run_adapter(sim, spec, stimulus, config, isolate=isolate, timeout_s=timeout_s)


def install_signal_handlers() -> dict:
    """SIGTERM (and SIGHUP) end this process like Ctrl-C does, so workers are killed on the way out.

    Python's default SIGTERM action ends the process at once, skipping ``finally`` blocks and
    atexit handlers, which would leave a simulator worker running. Here SIGTERM raises
    SystemExit(128 + signum) in the main thread; the runner's ``finally`` kills the current
    worker and :func:`shutdown_workers` the rest. SIGINT keeps raising KeyboardInterrupt, which
    takes the same path. Returns the previous handlers (for :func:`restore_signal_handlers`).
    """

    def handler(signum, _frame):
        shutdown_workers()
        raise SystemExit(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    return previous


def restore_signal_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
