"""The input-timing knob on a real second simulator: NEST iaf_psc_delta vs the TF reference's delta LIF.

NEST's iaf_psc_delta adds an arriving spike to V in its arrival step (``input_timing=in_arrival_step``,
profile ``nest-psc-delta``), the rule of the discrete LIF of deep-learning libraries. The TF reference
runs the same rule; validation/test_scenarios.py checks the pair spike for spike on ``delta_network``
(measured: 2809 spikes at dt 1 ms and 3025 at 0.1 ms, all matched, max |dV| 7e-14 mV). Here: with the
input one step late (the GLIF3 convention) TF parts from NEST, and ``snnval bisect`` names the knob.
"""

from __future__ import annotations

import pytest

from snnval.bisect import bisect_knobs
from snnval.semantics import PROFILES
from validation.conftest import require

pytestmark = [pytest.mark.quick, pytest.mark.xdist_group("delta_network")]


def test_bisect_names_input_timing_as_the_whole_difference():
    require("tf")
    require("nest")
    late = PROFILES["nest-psc-delta"].with_knobs(input_timing="end_of_arrival_step")
    report = bisect_knobs("delta_network", "tf", late, "nest", "nest-psc-delta", 1.0)
    assert report.first_divergence is not None, "one step of input latency must show"
    assert report.spikes_mismatched > 100, report.summary()
    assert report.explaining_knobs == ["input_timing"], report.summary()
    assert report.explained and report.residual.passed, report.summary()  # no unnamed residual
