"""bmtk's Keras GLIF3Cell (bmtk.simulator.dpointnet) against the TF reference running its rules.

The pair (tf, bmtk-dpointnet) in profile bmtk-dpointnet is also checked spike for spike on every
applicable scenario by validation/test_scenarios.py (same-semantics pairs come from the registry);
here: the hard_reset variant, that each bmtk rule is a knob that matters, what is not applicable
(with the reason), and that `snnval bisect` names what separates bmtk from NEST.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnval.acceptance import compare_same_semantics
from snnval.adapters import get_adapter
from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.scenarios import get_scenario
from snnval.semantics import profile
from validation.conftest import require

pytestmark = pytest.mark.quick

BMTK = profile("bmtk-dpointnet")


def test_hard_reset_variant_reproduced_spike_for_spike(scenario_run):
    """GLIF3Cell(hard_reset=True) holds v at 0 while refractory: knob value refractory=hold_reset_steps."""
    require("bmtk-dpointnet")
    sem = BMTK.with_knobs(refractory="hold_reset_steps")
    cand = scenario_run("glif3_network", "bmtk-dpointnet", sem, 1.0)
    ref = scenario_run("glif3_network", "tf", sem, 1.0)
    assert cand.provenance["hard_reset"] is True
    cmp = compare_same_semantics(ref, cand)
    assert cmp.passed, cmp.summary()
    assert cand.n_spikes >= get_scenario("glif3_network").min_spikes
    # the variant is visible: it changes the spikes against the default (hard_reset=False)
    default = scenario_run("glif3_network", "bmtk-dpointnet", BMTK, 1.0)
    assert not compare_same_semantics(default, cand).spikes.passed


@pytest.mark.parametrize(
    ("knob", "tf_billeh_value"),
    [("refractory", "mask_spikes"), ("input_delay", "edge"), ("initial_v", "v_reset")],
)
def test_each_bmtk_rule_is_a_knob_the_reference_needs(scenario_run, knob, tf_billeh_value):
    """Setting one bmtk knob back to the TF training code's value breaks the agreement (or is invisible
    for a stated reason): the profile's knobs are what reproduces bmtk, not input shifted by hand."""
    require("bmtk-dpointnet")
    cand = scenario_run("glif3_network", "bmtk-dpointnet", BMTK, 1.0)
    other = scenario_run("glif3_network", "tf", BMTK.with_knobs(**{knob: tf_billeh_value}), 1.0)
    cmp = compare_same_semantics(other, cand)
    if knob in ("refractory", "initial_v"):
        # at dt 1 ms TF's float countdown masks the same ceil(t_ref/dt) steps as bmtk's integer one,
        # and every Allen cell has V_reset = E_L: the two values coincide on this scenario
        assert cmp.passed, cmp.summary()
    else:
        assert not cmp.passed


def test_refractory_steps_knob_differs_where_float_ceil_differs():
    """mask_spikes_steps (bmtk: ceil in float, at least 1) vs mask_spikes (TF: float countdown) differ
    where t_ref/dt is a float just above a whole number: t_ref 2.1 ms at dt 0.3 ms -> 8 vs 7 steps."""
    from snnval.adapters.tf_reference import _constants

    spec, _ = get_scenario("glif3_network").build(1.0)
    cells = replace(spec.cells, t_ref_ms=np.full_like(spec.cells.t_ref_ms, 2.1))
    c = _constants(replace(spec, cells=cells), 0.3)
    assert np.all(c.n_ref_bmtk == 8) and np.all(c.n_ref == 7)


@pytest.mark.parametrize(
    ("scenario", "dt", "reason"),
    [
        ("glif3_network", 0.1, "spike buffer in ms"),
        ("synaptic_events", 0.1, "spike buffer in ms"),
        ("single_neuron_step", 1.0, "no current input"),
    ],
)
def test_not_applicable_with_reason(scenario, dt, reason):
    spec, stim = get_scenario(scenario).build(dt)
    with pytest.raises(NotApplicable, match=reason):
        get_adapter("bmtk-dpointnet").check(spec, stim, RunConfig(semantics=BMTK))


def test_v_reset_below_rest_not_applicable():
    spec, stim = get_scenario("synaptic_events").build(1.0)
    cells = replace(spec.cells, V_reset_mV=spec.cells.V_reset_mV - 5.0)
    with pytest.raises(NotApplicable, match="V_reset = E_L"):
        get_adapter("bmtk-dpointnet").check(replace(spec, cells=cells), stim, RunConfig(semantics=BMTK))


@pytest.mark.parametrize(
    "sem",
    [
        profile("tf-billeh"),  # input_delay=edge, refractory=mask_spikes: not what GLIF3Cell does
        BMTK.with_knobs(delay_offset_steps=1),
        BMTK.with_knobs(reset="hard_same_step"),
    ],
    ids=lambda s: s.name,
)
def test_undeclared_knob_values_fail_closed(sem):
    spec, stim = get_scenario("glif3_network").build(1.0)
    with pytest.raises(NotApplicable, match="knob"):
        get_adapter("bmtk-dpointnet").check(spec, stim, RunConfig(semantics=sem))


def test_runs_in_float32(scenario_run):
    require("bmtk-dpointnet")
    r32 = scenario_run("glif3_network", "bmtk-dpointnet", BMTK, 1.0, "float32")
    r64 = scenario_run("glif3_network", "bmtk-dpointnet", BMTK, 1.0, "float64")
    assert r32.provenance["dtype"] == "float32"
    dv = np.abs(r32.state["V_m"] - r64.state["V_m"]).max()
    assert 0.0 < dv < 1e-2  # float32 rounding, not another model


@pytest.mark.nightly
def test_bisect_names_what_separates_bmtk_from_nest():
    require("bmtk-dpointnet")
    require("nest")
    from snnval.bisect import bisect_knobs

    report = bisect_knobs("glif3_network", "nest", "nest-glif-psc", "bmtk-dpointnet", "bmtk-dpointnet", 1.0)
    assert report.first_divergence is not None
    assert report.residual.passed, report.summary()  # TF in bmtk's profile reproduces bmtk: all semantic
    assert report.explained and report.explaining_knobs == ["psc_to_v"], report.summary()
    flips = {k.knob: k for k in report.single_flips}
    assert set(flips) == {"reset", "refractory", "asc", "psc_to_v", "delay_rounding", "input_delay"}
    assert all(k.first_divergence is not None for k in flips.values())  # every differing knob acts
    assert report.ladder[-1][1] == 0  # all knobs flipped: NEST's reference becomes bmtk exactly
