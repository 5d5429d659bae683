"""Norse adapter: the TF reference reproduces Norse's LIFBoxCell spike for spike under profile norse-lif-box
(both resets Norse has), what Norse cannot run is not applicable with its reason, the device option, and
``snnval bisect`` naming what separates Norse from NEST on the LIF scenario both run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from snnval.acceptance import compare_same_semantics, same_semantics_pairs
from snnval.adapters import get_adapter
from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.runner import run_scenario
from snnval.scenarios import get_scenario
from snnval.semantics import profile

pytestmark = pytest.mark.quick

SCENARIOS = ("lif_discrete_single", "lif_delta_one_step_ref")


def _require(sim: str) -> None:
    avail = get_adapter(sim).availability()
    if not avail.available:
        pytest.skip(f"{sim} not available: {avail.reason}")


def _sem(reset: str):
    return profile("norse-lif-box") if reset == "hard_same_step" else profile("norse-lif-box").with_knobs(reset=reset)


def _run(scenario, sim, semantics, **kw):
    return run_scenario(scenario, sim, semantics, 1.0, isolate=False, **kw)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("reset", ["hard_same_step", "subtract_same_step"])
def test_tf_reproduces_norse_spike_for_spike(scenario, reset):
    _require("norse")
    norse_run, tf_run = _run(scenario, "norse", _sem(reset)), _run(scenario, "tf", _sem(reset))
    assert norse_run.n_spikes >= get_scenario(scenario).min_spikes  # guards against a silent pass
    assert np.ptp(norse_run.state["V_m"]) > 0.5
    cmp = compare_same_semantics(tf_run, norse_run)
    assert cmp.passed, cmp.summary()
    assert cmp.spikes.n_matched == norse_run.n_spikes
    assert norse_run.provenance["reset_method"] == {"hard_same_step": "reset_value"}.get(reset, "reset_subtract")


def test_resets_are_distinguishable_and_differ_from_snntorch():
    """Norse's resets change the run, and Norse (reset in the spike step) is not snnTorch's snn-discrete (the
    next step): the same comparison catches both (negative controls)."""
    _require("norse")
    value = _run("lif_discrete_single", "norse", _sem("hard_same_step"))
    subtract = _run("lif_discrete_single", "norse", _sem("subtract_same_step"))
    assert not np.array_equal(value.state["V_m"], subtract.state["V_m"])
    assert not compare_same_semantics(_run("lif_discrete_single", "tf", "snn-discrete"), value).passed
    assert not compare_same_semantics(_run("lif_delta_one_step_ref", "tf", "nest-psc-delta"), _run(
        "lif_delta_one_step_ref", "norse", "norse-lif-box")).passed  # fmt: skip


def test_not_applicable_with_reason():
    _require("norse")
    adapter = get_adapter("norse")
    spec, stim = get_scenario("lif_discrete_single").build(1.0)
    with pytest.raises(NotApplicable, match="reset='hard_next_step' is not supported"):
        adapter.check(spec, stim, RunConfig(profile("snn-discrete")))
    two_steps = dataclasses.replace(spec, inputs=dataclasses.replace(spec.inputs, delay_ms=np.array([2.0])))
    with pytest.raises(NotApplicable, match="Norse has no synaptic delay buffers"):
        adapter.check(two_steps, stim, RunConfig(profile("norse-lif-box")))
    cells = dataclasses.replace(spec.cells, V_reset_mV=spec.cells.V_reset_mV + 0.5)
    with pytest.raises(NotApplicable, match="V_reset == E_L"):
        adapter.check(dataclasses.replace(spec, cells=cells), stim, RunConfig(profile("norse-lif-box")))
    glif, glif_stim = get_scenario("single_neuron_step").build(1.0)
    with pytest.raises(NotApplicable, match=r"neuron models \['glif3'\] are not supported"):
        adapter.check(glif, glif_stim, RunConfig(profile("norse-lif-box")))


def test_device_provenance_and_cuda_not_applicable_here():
    _require("norse")
    from snnval.adapters.devices import torch_devices

    result = _run("lif_discrete_single", "norse", "norse-lif-box")
    assert result.provenance["device"] == "cpu" and result.provenance["torch_device"] == "cpu"
    assert result.provenance["norse_version"] == "1.1.0"
    devices, reason = torch_devices()
    if "cuda" in devices:
        pytest.skip("a CUDA device is present: the not-applicable path cannot be shown here")
    spec, stim = get_scenario("lif_discrete_single").build(1.0)
    with pytest.raises(NotApplicable, match=r"no CUDA device: torch.cuda.is_available\(\) is False"):
        get_adapter("norse").check(spec, stim, RunConfig(profile("norse-lif-box"), device="cuda"))


def test_float32_runs_in_float32():
    _require("norse")
    f64 = _run("lif_discrete_single", "norse", "norse-lif-box")
    f32 = _run("lif_discrete_single", "norse", "norse-lif-box", dtype="float32")
    assert np.array_equal(f32.spike_step, f64.spike_step)
    # float32 rounding of u (|u| <= 4 theta, theta = 1 mV, ~100 steps): measured 3.9e-6 mV
    assert 0 < np.max(np.abs(f32.state["V_m"] - f64.state["V_m"])) < 1e-4


def test_registry_pairs_tf_with_norse():
    assert ("norse-lif-box", "tf", "norse") in same_semantics_pairs()


@pytest.mark.nightly
def test_bisect_names_what_separates_norse_from_nest():
    """NEST (nest-psc-delta) vs Norse (norse-lif-box): both reset in the spike step; NEST holds V for t_ref =
    one step after it, Norse does not, so the refractory knob explains the divergence."""
    _require("norse")
    _require("nest")
    from snnval.bisect import bisect_knobs

    report = bisect_knobs("lif_delta_one_step_ref", "nest", "nest-psc-delta", "norse", "norse-lif-box", 1.0)
    assert report.first_divergence is not None
    assert report.residual.passed, report.summary()
    assert report.explaining_knobs == ["refractory"], report.summary()
    assert report.explained and report.ladder[-1][1] == 0
