"""Checks of user input that run before any simulation, build or allocation.

Every check raises :class:`snnval.errors.SpecError` naming the source (flag or file), the field
and the expected form; the CLI turns it into exit status 2. The CLI calls these on its flags
first, :func:`snnval.runner.run_scenario` calls :func:`check_run_request` before building a
scenario, and :func:`snnval.runner.run_adapter` calls :func:`check_run_resources` before
sending a run to a worker.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import tempfile
from pathlib import Path

from snnval.errors import SpecError
from snnval.semantics import NEST_TICS_PER_MS

#: Environment variable: the memory bound of one run, in GB (a number > 0).
MAX_RUN_GB_ENV = "SNNVAL_MAX_RUN_GB"
#: Default memory bound of one run's estimate: a quarter of the physical memory, at most 4 GB. The
#: estimate counts only the recorded state and the dense input drive; the simulators' own copies
#: (NEST's recorder buffers, TF's intermediate tensors of a batch) make the real footprint a small
#: multiple of it, and two nightly workers run side by side. The largest built-in scenario run
#: (the network at dt 0.1 ms) estimates 0.1 GB; the issue's ``--dt 0.0001`` case 96 GB.
DEFAULT_RUN_MEMORY_FRACTION = 0.25
DEFAULT_RUN_MEMORY_CAP_GB = 4.0
#: Relative slack when testing that dt is a whole number of tics or divides a time: float
#: arithmetic on values such as 0.1 is off by ~1e-16 relative; 1e-9 is far above that and far
#: below any real mismatch (one tic in 1e6 ms).
_REL_EPS = 1e-9
#: Upper bound of --threads: NEST and TF allocate per-thread structures; more threads than this
#: on one node is a typo (80 for 8), not a plan.
MAX_THREADS = 1024


def _number(value, source: str, field_name: str, expected: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SpecError(source, field_name, f"{expected}, got {value!r}") from None
    if not math.isfinite(x):
        raise SpecError(source, field_name, f"{expected}, got {value!r}")
    return x


def _is_multiple(value: float, unit: float) -> bool:
    q = value / unit
    return abs(q - round(q)) <= _REL_EPS * max(1.0, abs(q))


def check_dt(
    dt_ms,
    source: str = "--dt",
    *,
    duration_ms: float | None = None,
    grid_times_ms: tuple[float, ...] = (),
    what: str = "the scenario",
) -> float:
    """A simulation step in ms: finite, > 0, a whole number of NEST tics, dividing the given times.

    NEST represents time in integer tics (1000 per ms by default, NEST documentation "Simulation
    resolution"), so a resolution such as 0.0005 ms cannot be set; a dt that does not divide the
    duration would silently change the simulated length, one that does not divide a stimulus time
    would move the stimulus.
    """
    dt = _number(dt_ms, source, "dt_ms", "a step in ms, a finite number > 0")
    if dt <= 0:
        raise SpecError(source, "dt_ms", f"a step in ms > 0, got {dt_ms!r}")
    tic = 1.0 / NEST_TICS_PER_MS
    if not _is_multiple(dt, tic):
        raise SpecError(source, "dt_ms", f"a multiple of NEST's time grid of {tic:g} ms (1 tic), got {dt:g} ms")
    for t in ((duration_ms,) if duration_ms else ()) + tuple(grid_times_ms):
        if not _is_multiple(float(t), dt):
            kind = "duration" if t == duration_ms else "stimulus time"
            raise SpecError(
                source,
                "dt_ms",
                f"a step that divides {what}'s {kind} of {t:g} ms (e.g. 1, 0.5, 0.25, 0.1), got {dt:g} ms "
                f"({t / dt:.4g} steps would change the run silently)",
            )
    return dt


def check_threads(threads, source: str = "--threads") -> int:
    """A thread count: an integer in [1, MAX_THREADS]."""
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or not 1 <= threads <= MAX_THREADS:
        raise SpecError(source, "threads", f"an integer in [1, {MAX_THREADS}], got {threads!r}")
    return int(threads)


def check_output_file(path, source: str = "--out") -> Path:
    """An output file we can create: its directory exists and is writable, the path is not a directory.

    Writability is tested by creating (and removing) a temporary file in the directory, which
    also catches read-only file systems and full disks where ``os.access`` would say yes (root).
    """
    if path is None or str(path) == "":
        raise SpecError(source, "path", "a file path")
    p = Path(path)
    if p.is_dir():
        raise SpecError(source, "path", f"a file path, got the directory {str(p)!r}")
    directory = p.parent if str(p.parent) else Path(".")
    if not directory.is_dir():
        raise SpecError(source, "path", f"a file in an existing directory; {str(directory)!r} does not exist")
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=f".{p.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise SpecError(source, "path", f"a file in a writable directory; {str(directory)!r}: {exc.strerror}") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise SpecError(source, "path", f"a writable file; {str(p)!r} is read-only")
    return p


def check_output_dir(path, source: str = "--out") -> Path:
    """An output directory: existing and writable, or creatable (its nearest existing parent is writable)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpecError(source, "path", f"a directory, got the file {str(p)!r}")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise SpecError(source, "path", f"a directory path; {str(probe)!r} is a file")
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".snnval.", suffix=".probe")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise SpecError(source, "path", f"a writable directory; {str(probe)!r}: {exc.strerror}") from None
    return p


# --------------------------------------------------------------------------------------------
# Resource estimate
# --------------------------------------------------------------------------------------------


def max_run_bytes() -> float:
    """The memory bound of one run: ``$SNNVAL_MAX_RUN_GB``, else min(4 GB, a quarter of the memory)."""
    env = os.environ.get(MAX_RUN_GB_ENV)
    if env not in (None, ""):
        gb = _number(env, f"environment variable {MAX_RUN_GB_ENV}", MAX_RUN_GB_ENV, "a size in GB > 0")
        if gb <= 0:
            raise SpecError(f"environment variable {MAX_RUN_GB_ENV}", MAX_RUN_GB_ENV, f"a size in GB > 0, got {env!r}")
        return gb * 1e9
    cap = DEFAULT_RUN_MEMORY_CAP_GB * 1e9
    with contextlib.suppress(ValueError, OSError, AttributeError):
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return min(cap, DEFAULT_RUN_MEMORY_FRACTION * phys)
    return cap


def estimate_run_bytes(
    n_neurons: int, n_steps: int, n_trials: int, n_recorded: int, n_sources: int, n_receptors: int
) -> float:
    """Bytes of the arrays a run holds at once, float64 (8 bytes per value).

    recorded state: steps x trials x ``n_recorded`` (recorded neurons x recorded variables), held
    whole; dense input drive: steps x (sources + neurons x receptors) for one trial, the TF
    reference's event tensor and per-receptor drive, which it builds per batch of trials
    (snnval.adapters.tf_reference), and the scenario builders' dense rate arrays.
    """
    recorded = float(n_steps) * float(n_trials) * float(max(n_recorded, 0))
    drive = float(n_steps) * float(n_sources + n_neurons * n_receptors)
    return 8.0 * (recorded + drive)


def check_resources(
    source: str,
    n_neurons: int,
    n_steps: int,
    n_trials: int,
    n_recorded: int,
    n_sources: int,
    n_receptors: int,
) -> float:
    """Refuse a run whose estimate exceeds :func:`max_run_bytes`; return the estimate (bytes).

    ``n_recorded``: recorded neurons x recorded variables.
    """
    need = estimate_run_bytes(n_neurons, n_steps, n_trials, n_recorded, n_sources, n_receptors)
    bound = max_run_bytes()
    if need > bound:
        raise SpecError(
            source,
            "dt_ms/size",
            f"a run within the memory bound of {bound / 1e9:.1f} GB ({MAX_RUN_GB_ENV}, else a quarter of the "
            f"memory, at most 4 GB); {n_steps} steps x {n_trials} trials, {n_neurons} neurons "
            f"({n_recorded} recorded traces, {n_sources} sources, {n_receptors} receptors) needs about "
            f"{need / 1e9:.1f} GB: use a coarser dt",
        )
    return need


def scenario_duration_ms(scenario) -> float:
    """The scenario's simulated time: its ``duration_ms``, else from a build at its first dt."""
    if getattr(scenario, "duration_ms", 0.0):
        return float(scenario.duration_ms)
    dt = float(scenario.dts_ms[0])
    _, stimulus = scenario.build(dt)
    return stimulus.n_steps * dt


def check_run_request(scenario, dt_ms, *, threads: int = 1, source: str = "--dt") -> float:
    """dt and size checks of one scenario run, before anything is built; returns dt (ms)."""
    duration = scenario_duration_ms(scenario)
    dt = check_dt(
        dt_ms,
        source,
        duration_ms=duration,
        grid_times_ms=tuple(getattr(scenario, "grid_times_ms", ())),
        what=f"scenario {scenario.name!r}",
    )
    check_threads(threads)
    spec = scenario.build_spec()
    check_resources(
        f"scenario {scenario.name!r} at dt {dt:g} ms",
        int(spec.node_type.shape[0]),
        int(round(duration / dt)),
        1,
        len(scenario.record) * int(spec.node_type.shape[0]),
        int(spec.n_sources),
        int(spec.cells.tau_syn_ms.shape[1]),
    )
    return dt


def check_run_resources(spec, stimulus, config) -> float:
    """The memory estimate of one built run (spec and stimulus exist, nothing simulated yet)."""
    return check_resources(
        f"run of '{spec.name}' at dt {stimulus.dt_ms:g} ms",
        spec.n_neurons,
        stimulus.n_steps,
        stimulus.n_trials,
        len(config.recorded_ids(spec)) * len(config.record),
        spec.n_sources,
        spec.n_receptors,
    )


def check_delays(spec, dt_ms: float) -> None:
    """Every delay in [dt, MAX_DELAY_MS]: a shorter delay cannot exist on the step grid.

    NEST refuses delays below its resolution and the TF training code clips them up to dt; either
    would change the model without a word, so such a model is refused before it runs. The upper
    bound is :data:`snnval.plausibility.MAX_DELAY_MS` (checked when the spec is validated).
    """
    import numpy as np

    for part in ("synapses", "inputs"):
        delay = np.asarray(getattr(spec, part).delay_ms, dtype=float)
        short = delay < dt_ms * (1.0 - _REL_EPS)
        if part == "inputs":  # exactly 0: acts in the step it arrives (semantics.input_delay_steps)
            short &= delay != 0.0
        if short.any():
            i = int(np.flatnonzero(short)[0])
            raise SpecError(
                f"spec '{spec.name}' {part}",
                "delay_ms",
                f"delays >= dt = {dt_ms:g} ms ({int(short.sum())} of {delay.size} are shorter, e.g. element {i} = "
                f"{delay[i]:g} ms): a delay below one step cannot be simulated (NEST refuses it, the TF rule "
                "would clip it to dt); use a finer dt or fix the delays",
            )


def check_run(spec, stimulus, config) -> float:
    """Checks of one built run before it is sent to a simulator: delays vs dt, memory estimate."""
    check_delays(spec, float(stimulus.dt_ms))
    return check_run_resources(spec, stimulus, config)
