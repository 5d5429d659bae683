"""Time-mapping rules (snnval.time_grid) against their definitions and against NEST itself."""

from __future__ import annotations

import numpy as np
import pytest

from snnval.errors import SpecError
from snnval.time_grid import (
    current_clamp_steps,
    grid_spike_steps,
    nest_ms_stamp_steps,
    nest_tics_per_step,
    precise_spike_steps,
    spike_times_ms,
    step_current_change_step,
    steps_from_spike_times,
)


def test_float_corners_are_decided_in_tics():
    # 0.3 / 0.1 = 2.9999999999999996 and 0.7 / 0.1 = 6.999999999999999 in floating point:
    # a float ceil puts 0.3 ms in step 3 (event step 2) only by luck, 0.7 ms goes wrong.
    t = np.array([0.3, 0.7, 1.1, 0.30000000000000004, 0.3001, 0.2999])
    assert np.ceil(0.7 / 0.1) == 7.0 and np.floor(0.3 / 0.1) == 2.0  # the float quotients' pitfalls
    np.testing.assert_array_equal(nest_ms_stamp_steps(t, 0.1), [3, 7, 11, 3, 4, 3])
    np.testing.assert_array_equal(precise_spike_steps(t, 0.1), [2, 6, 10, 2, 3, 2])


def test_grid_rule_refuses_offgrid_unless_allowed():
    np.testing.assert_array_equal(grid_spike_steps(np.array([0.1, 0.3, 2.0]), 0.1), [0, 2, 19])
    with pytest.raises(SpecError, match="not representable|0.35"):
        grid_spike_steps(np.array([0.35]), 0.1, source="in.h5", field="spikes/lgn/timestamps")
    np.testing.assert_array_equal(grid_spike_steps(np.array([0.35, 0.3]), 0.1, allow_offgrid_times=True), [3, 2])


def test_resolution_must_be_whole_tics():
    assert nest_tics_per_step(0.1) == 100 and nest_tics_per_step(0.01) == 10
    with pytest.raises(SpecError, match="tic"):
        nest_tics_per_step(0.0001)


def test_step_current_rule_and_clamp_window():
    # a change at T = 5 ms with the 1-step delay bmtk uses acts like the suite's change at 5/0.1 + 1 - 2.
    assert int(step_current_change_step(np.array([5.0]), 0.1, 0.1)[0]) == 49
    assert current_clamp_steps(50.0, 100.0, 0.1) == (499, 1499)
    assert current_clamp_steps(50.0, 100.0, 0.01) == (4999, 14999)
    with pytest.raises(SpecError, match="grid"):
        step_current_change_step(np.array([5.05]), 0.1, 0.1)


def test_spike_times_round_trip_is_lossless():
    rng = np.random.default_rng(0)
    for dt in (0.1, 0.01, 0.025, 1.0):
        steps = np.sort(rng.integers(0, 10**6, 5000))
        step_back, off = steps_from_spike_times(spike_times_ms(steps, dt), dt)
        np.testing.assert_array_equal(step_back, steps)
        np.testing.assert_allclose(off, dt, rtol=0, atol=1e-9 * max(1.0, steps.max() * dt))
        offsets = rng.uniform(0.0, dt, steps.size) + 1e-6  # precise offsets in (0, dt]
        offsets = np.minimum(offsets, dt)
        step2, off2 = steps_from_spike_times(spike_times_ms(steps, dt, offsets), dt)
        np.testing.assert_array_equal(step2, steps)
        np.testing.assert_allclose(off2, offsets, rtol=0, atol=1e-8)


# --- against NEST itself ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nest():
    nest = pytest.importorskip("nest")
    nest.set_verbosity("M_ERROR")
    return nest


def _measured_event_steps(nest, times: np.ndarray, dt: float, precise: bool) -> np.ndarray:
    """NEST's own step for each input spike: spike_generator -> parrot_neuron (1 step) -> spike_recorder.

    The parrot re-emits a spike delivered in step s (the generator's stamp S plus the delay) stamped
    (s+1) dt; the suite event step of the input is S - 1 = recorded stamp / dt - 2.
    """
    nest.ResetKernel()
    nest.resolution = dt
    gen = nest.Create("spike_generator", len(times), params={"precise_times": precise})
    for g, t in zip(gen, times, strict=True):
        g.spike_times = [float(t)]
    parrots = nest.Create("parrot_neuron", len(times))
    nest.Connect(gen, parrots, "one_to_one", syn_spec={"delay": dt})
    rec = nest.Create("spike_recorder")
    nest.Connect(parrots, rec)
    nest.Simulate(float(np.ceil(times.max())) + 5.0)
    ev = rec.events
    order = np.argsort(ev["senders"])
    stamps = np.asarray(ev["times"])[order]
    assert stamps.size == len(times), "every input spike must come through"
    return np.rint(stamps / dt).astype(np.int64) - 2


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_precise_rule_matches_nest_and_the_natural_guesses_do_not(nest, dt):
    rng = np.random.default_rng(7)
    off_grid = np.round(rng.uniform(0.05, 60.0, 400), 6)  # recorded times (1 ns resolution)
    on_grid = np.round(rng.integers(1, 600, 400) * 0.1, 6)  # times a 0.1 ms simulation wrote (0.3, 0.7, ...)
    times = np.concatenate([off_grid, on_grid])
    measured = _measured_event_steps(nest, times, dt, precise=True)
    np.testing.assert_array_equal(measured, precise_spike_steps(times, dt))
    # The guesses users make, round(t/h) and floor(t/h) as the event step, against NEST. Off the grid
    # floor happens to be the rule (ceil - 1); on the grid both are wrong for (nearly) every spike, and
    # round is wrong for about half of the off-grid ones. The rule must match all of them.
    on = slice(off_grid.size, None)
    round_guess = np.rint(times / dt).astype(np.int64)
    floor_guess = np.floor(times / dt).astype(np.int64)
    assert np.mean(round_guess[on] == measured[on]) < 0.05
    assert np.mean(floor_guess[on] == measured[on]) < 0.5  # right only where t/h falls below in float (~1/3)
    assert 0.3 < np.mean(round_guess[: off_grid.size] == measured[: off_grid.size]) < 0.7


def test_grid_rule_matches_nest(nest):
    dt = 0.1
    times = np.array([0.1, 0.3, 0.7, 2.0, 12.3, 59.9])
    np.testing.assert_array_equal(_measured_event_steps(nest, times, dt, precise=False), grid_spike_steps(times, dt))


@pytest.mark.parametrize("dt, T, d", [(0.1, 5.0, 0.1), (0.1, 5.0, 1.0), (0.01, 2.5, 0.01), (0.1, 12.3, 0.5)])
def test_step_current_rule_matches_nest(nest, dt, T, d):
    """A step_current_generator change at T with delay d first moves glif_psc's V in step T/h + d/h."""
    nest.ResetKernel()
    nest.resolution = dt
    n = nest.Create("glif_psc", params={"V_m": -78.85, "E_L": -78.85})
    scg = nest.Create("step_current_generator", params={"amplitude_times": [T], "amplitude_values": [100.0]})
    nest.Connect(scg, n, syn_spec={"delay": d})
    mm = nest.Create("multimeter", params={"interval": dt, "record_from": ["V_m"]})
    nest.Connect(mm, n)
    nest.Simulate(T + d + 20 * dt)
    v = np.asarray(mm.events["V_m"])
    stamps = np.rint(np.asarray(mm.events["times"]) / dt).astype(np.int64)
    first_moved_step = stamps[np.flatnonzero(v != -78.85)[0]] - 1  # stamp (k+1) dt = end of step k
    assert first_moved_step == int(step_current_change_step(np.array([T]), dt, d)[0]) + 2
