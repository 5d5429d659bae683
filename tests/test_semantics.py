"""Semantics knobs and profiles (GLIF3_SEMANTICS.md section 4), delay and refractory rounding."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snnval import semantics
from snnval.errors import SpecError
from snnval.semantics import KNOB_VALUES, PROFILES, Semantics, delay_steps, refractory_steps

pytestmark = pytest.mark.quick

TF, NEST = PROFILES["tf-billeh"], PROFILES["nest-glif-psc"]

# GLIF3_SEMANTICS.md section 4, one row per knob: (row, knob, TF value, NEST value)
SECTION_4 = [
    (1, "reset", "subtract_next_step", "hard_same_step"),  # subtractive one step late | hard, same step
    (2, "refractory", "mask_spikes", "clamp"),  # masks spikes only | V held, ASC frozen
    (3, "asc", "tf_late_jump", "nest_exact"),  # jump one step late | jump at once, step-averaged
    (4, "psc_to_v", "euler_lag", "exact_alpha"),  # exponential Euler, one-step lag | exact propagators
    (6, "delay_rounding", "tf_clip_half_even", "nest_half_up"),  # clip 5 ms, half-even | half-up
    (9, "initial_v", "v_reset", "e_l"),  # V_reset | E_L
]

# GLIF3_SEMANTICS.md section 2 "BMTK dpointnet GLIF3Cell": knob values and knobs beyond section 4.
# Whole-step refractory countdown ceil(t_ref/dt) >= 1 (masking only, or with hard_reset holding V).
BMTK_EXTRA_VALUES = {"refractory": {"mask_spikes_steps", "hold_reset_steps"}}
# (knob, value of TF and NEST, bmtk value): inputs act in the step they are given (no input delay).
BMTK_KNOBS = [("input_delay", "edge", "ignored")]
BMTK = PROFILES["bmtk-dpointnet"]


@pytest.mark.parametrize(("row", "knob", "tf_value", "nest_value"), SECTION_4)
def test_profiles_match_semantics_table(row, knob, tf_value, nest_value):
    assert getattr(TF, knob) == tf_value, f"row {row}"
    assert getattr(NEST, knob) == nest_value, f"row {row}"
    assert set(KNOB_VALUES[knob]) == {tf_value, nest_value} | BMTK_EXTRA_VALUES.get(knob, set())


def test_every_knob_is_in_the_table_and_profiles_differ_on_each():
    assert set(KNOB_VALUES) == {knob for _, knob, _, _ in SECTION_4} | {knob for knob, _, _ in BMTK_KNOBS}
    # row 5 (latency) is the integer knob; both profiles are the simulators' own semantics: no compensation
    assert semantics.INT_KNOBS == ("delay_offset_steps",)
    assert TF.delay_offset_steps == NEST.delay_offset_steps == 0
    assert set(TF.differing_knobs(NEST)) == {knob for _, knob, _, _ in SECTION_4}
    assert TF.name == "tf-billeh" and NEST.name == "nest-glif-psc"


@pytest.mark.parametrize(("knob", "tf_nest_value", "bmtk_value"), BMTK_KNOBS)
def test_bmtk_only_knobs(knob, tf_nest_value, bmtk_value):
    assert getattr(TF, knob) == getattr(NEST, knob) == tf_nest_value
    assert getattr(BMTK, knob) == bmtk_value
    assert set(KNOB_VALUES[knob]) == {tf_nest_value, bmtk_value}


def test_bmtk_profile_is_tf_billeh_with_named_differences():
    # section 2: the TF training step, with whole-step refractoriness, v starting at 0 (= E_L) and
    # inputs without delays
    assert TF.differing_knobs(BMTK) == {
        "refractory": ("mask_spikes", "mask_spikes_steps"),
        "initial_v": ("v_reset", "e_l"),
        "input_delay": ("edge", "ignored"),
    }
    assert BMTK.name == "bmtk-dpointnet" and BMTK.delay_offset_steps == 0


def test_bmtk_refractory_steps_float_ceil_at_least_one():
    # ceil in float64 like GLIF3Cell.__init__: 2.1/0.3 = 7.000000000000001 -> 8; t_ref 0 -> 1
    np.testing.assert_array_equal(semantics.refractory_steps_bmtk(np.array([2.1, 0.0, 0.3, 3.0]), 0.3), [8, 1, 1, 10])
    np.testing.assert_array_equal(semantics.refractory_steps_bmtk(np.array([2.2, 0.0, 1.0]), 1.0), [3, 1, 1])
    # NEST counts in integer tics: the same 2.1 ms is 7 steps there
    assert refractory_steps(np.array([2.1]), 0.3)[0] == 7


def test_profile_lookup():
    assert semantics.profile("tf-billeh") is TF
    assert semantics.profile(NEST) is NEST
    with pytest.raises(SpecError) as info:
        semantics.profile("brian2")
    assert info.value.field == "profile" and "tf-billeh" in str(info.value)


def _one_knob_changes():
    for prof in PROFILES.values():
        for knob, allowed in KNOB_VALUES.items():
            for value in allowed:
                if value != getattr(prof, knob):
                    yield prof, knob, value
        yield prof, "delay_offset_steps", 1


@pytest.mark.parametrize(("prof", "knob", "value"), list(_one_knob_changes()))
def test_with_knobs_changes_exactly_one_knob_and_names_it(prof, knob, value):
    changed = prof.with_knobs(**{knob: value})
    assert prof.differing_knobs(changed) == {knob: (getattr(prof, knob), value)}
    assert changed.name == f"{prof.name}+{knob}={value}"
    assert getattr(prof, knob) != value  # the original is untouched (frozen dataclass)


def test_with_knobs_several_and_none():
    both = TF.with_knobs(reset="hard_same_step", initial_v="e_l")
    assert set(TF.differing_knobs(both)) == {"reset", "initial_v"}
    assert both.name == "tf-billeh+initial_v=e_l,reset=hard_same_step"  # sorted, so names are canonical
    assert TF.with_knobs() == TF


def test_knobs_dict_excludes_name():
    # section 4's GLIF3 knobs, the integer knob, and the LIF-family knobs kept apart in LIF_KNOB_VALUES
    assert set(TF.knobs()) == set(KNOB_VALUES) | {"delay_offset_steps"} | {"input_timing"}
    assert set(semantics.LIF_KNOB_VALUES) - set(KNOB_VALUES) == {"input_timing"}


@pytest.mark.parametrize("knob", sorted(KNOB_VALUES))
def test_invalid_knob_value_raises_naming_the_knob(knob):
    with pytest.raises(SpecError) as info:
        TF.with_knobs(**{knob: "no_such_value"})
    assert info.value.field == knob
    assert "no_such_value" in str(info.value)


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None])
def test_invalid_delay_offset_raises(bad):
    with pytest.raises(SpecError) as info:
        NEST.with_knobs(delay_offset_steps=bad)
    assert info.value.field == "delay_offset_steps"


def test_invalid_value_in_constructor_raises():
    with pytest.raises(SpecError, match="'reset'"):
        Semantics("soft", "clamp", "nest_exact", "exact_alpha", "nest_half_up", "e_l")


def test_unknown_knob_is_refused():
    with pytest.raises((TypeError, SpecError)):
        TF.with_knobs(threshold="adaptive")


def test_unknown_knob_raises_spec_error_naming_it():
    with pytest.raises(SpecError) as info:
        TF.with_knobs(threshold="adaptive")
    assert info.value.field == "threshold"


# --- delay rounding -----------------------------------------------------------------------------------------


def test_nest_half_up():
    np.testing.assert_array_equal(delay_steps(np.array([1.5, 2.5, 0.5, 1.49, 3.0]), 1.0, NEST), [2, 3, 1, 1, 3])
    # at 0.1 ms in integer tics: 0.25 ms = 2.5 steps -> 3; 0.35 ms -> 4 (no float 3.4999... surprise)
    np.testing.assert_array_equal(delay_steps(np.array([0.25, 0.35, 0.1, 7.0]), 0.1, NEST), [3, 4, 1, 70])


# Measured here with NEST 3.10 (pip wheel): nest.resolution = dt; nest.Connect(a, b, syn_spec={"delay": d});
# GetConnections(...).delay / dt. NEST computes steps = floor(d * STEPS_PER_MS + 0.5) in double precision
# (nest_time.h Time::delay_ms_to_steps, ld_round), WITHOUT snapping d to tics first. Float32 delays -- the TF
# checkpoint's dtype -- sit just below the half-step boundary and round down in NEST.
NEST_3_10_MEASURED = [
    (1.0, 1.4999, 1),
    (1.0, 2.4999999, 2),
    (0.1, float(np.float32(0.35)), 3),  # 0.3499999940395355
    (0.1, float(np.float32(0.45)), 4),  # 0.44999998807907104
    (0.1, 0.1499999, 1),
]


@pytest.mark.parametrize(("dt", "delay", "nest_steps"), NEST_3_10_MEASURED)
def test_nest_half_up_matches_nest_off_the_tic_grid(dt, delay, nest_steps):
    assert delay_steps(np.array([delay]), dt, NEST)[0] == nest_steps


def test_nest_does_not_clip_long_delays():
    np.testing.assert_array_equal(delay_steps(np.array([7.0, 100.0]), 1.0, NEST), [7, 100])


def test_tf_clip_half_even():
    np.testing.assert_array_equal(delay_steps(np.array([2.5, 3.5, 1.5, 0.5]), 1.0, TF), [2, 4, 2, 1])
    # clipped to TF's max_delay flag = 5 ms, then to steps
    np.testing.assert_array_equal(delay_steps(np.array([7.0, 5.0, 5.4, 100.0]), 1.0, TF), [5, 5, 5, 5])
    assert semantics.TF_MAX_DELAY_MS == 5.0


@pytest.mark.parametrize("prof", [TF, NEST])
def test_delay_offset_steps_is_added(prof):
    d = np.array([1.0, 2.5, 7.0])
    base = delay_steps(d, 1.0, prof)
    np.testing.assert_array_equal(delay_steps(d, 1.0, prof.with_knobs(delay_offset_steps=1)), base + 1)
    np.testing.assert_array_equal(delay_steps(d, 1.0, prof.with_knobs(delay_offset_steps=3)), base + 3)
    if prof is TF:
        # the offset comes after clipping: 7 ms -> 5 steps -> 6 (the NEST-alignment of row 5)
        assert delay_steps(np.array([7.0]), 1.0, prof.with_knobs(delay_offset_steps=1))[0] == 6


def test_delay_steps_keeps_shape():
    assert delay_steps(np.ones((3, 4)), 1.0, NEST).shape == (3, 4)
    assert delay_steps(np.ones((3, 4)), 1.0, TF).dtype == np.int64


# dt on NEST's tic grid; delays as whole tics up to 20 ms (the exact rational value of such a float is used below)
dts = st.sampled_from([0.1, 0.25, 0.5, 1.0])
delay_tics = st.integers(min_value=1, max_value=20_000)


@given(tics=delay_tics, dt=dts)
def test_nest_half_up_matches_exact_arithmetic(tics, dt):
    # On the tic grid NEST's double-precision floor(d * STEPS_PER_MS + 0.5) equals exact arithmetic (checked
    # for every tic up to 50 ms at these dt), so exact arithmetic is the reference here.
    step_tics = round(dt * 1000)
    exact = Fraction(tics, step_tics)  # delay / dt exactly, from integer tics
    expected = math.floor(exact + Fraction(1, 2))
    if expected < 1:
        with pytest.raises(SpecError):
            delay_steps(np.array([tics / 1000]), dt, NEST)
    else:
        assert delay_steps(np.array([tics / 1000]), dt, NEST)[0] == expected


@given(d=st.floats(0.0, 20.0))
def test_tf_rounding_at_dt_1_is_numpy_half_even_of_clipped_delay(d):
    # at dt = 1 the quotient d/dt is exact, so half-even rounding of the exact value is well defined
    clipped = Fraction(min(max(d, 1.0), 5.0))
    assert delay_steps(np.array([d]), 1.0, TF)[0] == round(clipped)  # Fraction rounds half to even


# --- refractory steps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t_ref", "dt", "steps"),
    [(2.4, 0.1, 24), (0.25, 0.1, 3), (2.4, 1.0, 3), (2.0, 1.0, 2), (0.1, 0.1, 1), (3.2, 0.1, 32), (1e-3, 1.0, 1)],
)
def test_refractory_steps_ceil_in_tics(t_ref, dt, steps):
    # 2.4 / 0.1 = 23.999999999999996 in floats: a float ceil would give 24 by luck here but 3.2/0.1 =
    # 32.00000000000001 would give 33; counting in integer tics gives the intended 32.
    assert refractory_steps(np.array([t_ref]), dt)[0] == steps


def test_refractory_steps_vectorised():
    np.testing.assert_array_equal(refractory_steps(np.array([[2.4, 3.2], [0.25, 2.0]]), 0.1), [[24, 32], [3, 20]])


@given(tics=st.integers(1, 50_000), dt=dts)
def test_refractory_matches_exact_ceil(tics, dt):
    expected = math.ceil(Fraction(tics, round(dt * 1000)))
    assert refractory_steps(np.array([tics / 1000]), dt)[0] == expected
