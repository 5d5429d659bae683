"""Time-mapping rules: times in ms (SONATA files, simulator output) <-> the suite's integer step grid.

Every rule is computed in NEST's integer *tics* (``tics_per_ms`` = 1000 by default, so one tic is 1 us),
never as a float ``t / h``: 0.3 ms / 0.1 ms is 2.9999999999999996 in floating point, which a ``ceil`` or
``floor`` on the float quotient would put in the wrong step. The rules were read from NEST 3.10
(``nestkernel/nest_time.h`` ``Time(ms)``: tics = trunc(t * tics_per_ms + 0.5); ``nest_time.cpp``
``Time::fromstamp``: tics = trunc(t * tics_per_ms), cut down to the step, one step up if the step's time
is still below t; ``models/spike_generator.cpp`` ``assert_valid_spike_time_and_insert_``;
``models/step_current_generator.cpp`` ``update``) and checked against NEST itself in tests/test_time_grid.py.

Suite conventions (:mod:`snnval.semantics`, ``adapters/nest_glif.py``): an input event at step ``s`` is a
NEST spike stamped at the end of step ``s`` (time ``(s+1) h``) and with a delay of ``d`` steps first moves
V in step ``s+d+1``; a neuron spike in step ``s`` is stamped ``(s+1) h``; a current change at step ``s``
first drives V in step ``s+2``.
"""

from __future__ import annotations

import numpy as np

from snnval.errors import SpecError
from snnval.semantics import NEST_TICS_PER_MS

__all__ = [
    "nest_tics_per_step",
    "nest_ms_stamp_steps",
    "nest_grid_steps",
    "precise_spike_steps",
    "grid_spike_steps",
    "spike_offsets_ms",
    "step_current_change_step",
    "current_clamp_steps",
    "spike_times_ms",
    "steps_from_spike_times",
]


def nest_tics_per_step(dt_ms: float, tics_per_ms: int = NEST_TICS_PER_MS) -> int:
    """NEST's tics per step for resolution ``dt_ms``; the resolution must be a whole number of tics."""
    tics = float(dt_ms) * tics_per_ms
    n = int(np.rint(tics))
    if n < 1 or abs(tics - n) > 1e-9 * max(1.0, tics):
        raise SpecError("run", "dt", f"a multiple of NEST's tic (1/{tics_per_ms} ms), got {dt_ms} ms")
    return n


def nest_ms_stamp_steps(t_ms: np.ndarray, dt_ms: float, tics_per_ms: int = NEST_TICS_PER_MS) -> np.ndarray:
    """NEST ``Time::ms_stamp``: the step whose *end* is the first grid point at or after ``t`` (a step count).

    tics = trunc(t * tics_per_ms); cut to whole steps; add one step when that step's time (in ms,
    floating point) is still below t. Equivalent to ceil(t / h) except at float corners, which it
    decides as NEST does.
    """
    t = np.asarray(t_ms, dtype=float)
    tps = nest_tics_per_step(dt_ms, tics_per_ms)
    n = np.trunc(t * tics_per_ms).astype(np.int64)
    steps = n // tps
    ms_per_step = tps / tics_per_ms
    return steps + (steps * ms_per_step < t)


def nest_grid_steps(
    t_ms: np.ndarray, dt_ms: float, tics_per_ms: int = NEST_TICS_PER_MS
) -> tuple[np.ndarray, np.ndarray]:
    """NEST ``Time(ms)`` on the grid: (steps, on_grid). tics = trunc(t * tics_per_ms + 0.5) (half up).

    ``on_grid`` is False where those tics are not a whole number of steps (``steps`` is then the floor).
    """
    t = np.asarray(t_ms, dtype=float)
    tps = nest_tics_per_step(dt_ms, tics_per_ms)
    tics = np.trunc(t * tics_per_ms + 0.5).astype(np.int64)
    return tics // tps, tics % tps == 0


def precise_spike_steps(t_ms: np.ndarray, dt_ms: float, tics_per_ms: int = NEST_TICS_PER_MS) -> np.ndarray:
    """Suite event step of an input spike at ``t`` ms under NEST's ``precise_times`` (bmtk's setting).

    NEST stamps the spike ``Time::ms_stamp(t)`` (the end of the step t lies in, or t itself on the
    grid) and keeps the offset; a grid-based neuron ignores the offset, so the spike acts as a grid
    spike at that stamp, i.e. as the suite event at step ``ceil(t/h) - 1`` (counted in tics).
    """
    return nest_ms_stamp_steps(t_ms, dt_ms, tics_per_ms) - 1


def grid_spike_steps(
    t_ms: np.ndarray,
    dt_ms: float,
    allow_offgrid_times: bool = False,
    source: str = "spike times",
    field: str = "timestamps",
    tics_per_ms: int = NEST_TICS_PER_MS,
) -> np.ndarray:
    """Suite event step of an input spike at ``t`` ms under NEST's grid rule (``precise_times`` false).

    NEST rounds t to tics (half up); a time on the grid is stamped there. An off-grid time is an error
    (NEST: "not representable in current resolution") unless ``allow_offgrid_times``, which stamps it
    at the end of its step (``Time::ms_stamp``). Event step = stamp - 1.
    """
    steps, on_grid = nest_grid_steps(t_ms, dt_ms, tics_per_ms)
    if not np.all(on_grid):
        if not allow_offgrid_times:
            bad = np.asarray(t_ms, dtype=float).ravel()[np.flatnonzero(~on_grid.ravel())[0]]
            raise SpecError(
                source,
                field,
                f"spike times on the {dt_ms} ms grid (NEST's grid rule; {bad!r} ms is not); set "
                "run.precise_times or allow_offgrid_spikes",
            )
        steps = np.where(on_grid, steps, nest_ms_stamp_steps(t_ms, dt_ms, tics_per_ms))
    return steps - 1


def spike_offsets_ms(t_ms: np.ndarray, steps: np.ndarray, dt_ms: float) -> np.ndarray:
    """Offset within the step, in (0, dt]: a spike in step ``s`` at ``t = s*dt + offset`` (RunResult)."""
    return np.asarray(t_ms, dtype=float) - np.asarray(steps, dtype=float) * float(dt_ms)


def step_current_change_step(
    amplitude_time_ms: np.ndarray, dt_ms: float, delay_ms: float, tics_per_ms: int = NEST_TICS_PER_MS
) -> np.ndarray:
    """Suite current step of a NEST ``step_current_generator`` amplitude change at ``T`` ms, delay ``d`` ms.

    NEST switches the amplitude one step ahead (``update`` applies the change stamped T in the step that
    ends at T - h) and the connection delays it by d: V first feels it in step T/h + d/h; the suite's
    change at step s first drives V in step s + 2, so s = T/h + d/h - 2 (GLIF3_SEMANTICS.md section 3,
    measured on NEST's LIF_ASC protocol). Amplitude times must be on the grid (NEST's default
    ``allow_offgrid_times`` false); delays are rounded as NEST rounds them (half up).
    """
    steps, on_grid = nest_grid_steps(amplitude_time_ms, dt_ms, tics_per_ms)
    if not np.all(on_grid):
        bad = np.asarray(amplitude_time_ms, dtype=float).ravel()[np.flatnonzero(~on_grid.ravel())[0]]
        raise SpecError(
            "step current",
            "amplitude_times",
            f"times on the {dt_ms} ms grid (NEST refuses {bad!r} ms: not representable in the resolution)",
        )
    tps = nest_tics_per_step(dt_ms, tics_per_ms)
    d_steps = int(np.floor(float(delay_ms) * tics_per_ms / tps + 0.5))
    return steps + d_steps - 2


def current_clamp_steps(
    delay_ms: float, duration_ms: float, dt_ms: float, connection_delay_ms: float | None = None
) -> tuple[int, int]:
    """(start, stop) suite steps of a current clamp on from ``delay`` for ``duration`` ms (bmtk IClamp on NEST).

    bmtk pointnet sets a ``step_current_generator`` to the amplitude at ``delay`` and back to 0 at
    ``delay + duration`` and connects it with a delay of one step (``connection_delay_ms`` = dt); each
    change maps by :func:`step_current_change_step`. The current is in force in suite steps
    [start, stop).
    """
    d = float(dt_ms) if connection_delay_ms is None else float(connection_delay_ms)
    start, stop = step_current_change_step(np.array([delay_ms, delay_ms + duration_ms]), dt_ms, d)
    return int(start), int(stop)


def spike_times_ms(steps: np.ndarray, dt_ms: float, offsets_ms: np.ndarray | None = None) -> np.ndarray:
    """Spike times in ms of neuron spikes in ``steps``: NEST's stamp (s+1) h, or s h + offset (precise)."""
    s = np.asarray(steps, dtype=np.int64)
    tps = nest_tics_per_step(dt_ms)
    if offsets_ms is None:
        # (s+1) h from integer tics, the way NEST prints a stamp: steps * tics_per_step / tics_per_ms
        return (s + 1) * tps / NEST_TICS_PER_MS
    return s * tps / NEST_TICS_PER_MS + np.asarray(offsets_ms, dtype=float)


def steps_from_spike_times(t_ms: np.ndarray, dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`spike_times_ms`: (step, offset in (0, dt]) of neuron spike times (ceil in tics)."""
    steps = nest_ms_stamp_steps(t_ms, dt_ms) - 1
    return steps, spike_offsets_ms(t_ms, steps, dt_ms)
