"""snnTorch adapter: the TF reference reproduces snnTorch's Leaky spike for spike under profile snn-discrete
(and each reset snnTorch has), what snnTorch cannot run is not applicable with its reason, the device option,
float32 runs, and ``snnval bisect`` naming what separates snnTorch from NEST on the LIF scenarios.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from snnval.acceptance import compare_same_semantics
from snnval.adapters import get_adapter
from snnval.adapters.devices import torch_devices
from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.runner import run_scenario
from snnval.scenarios import get_scenario
from snnval.semantics import profile

pytestmark = pytest.mark.quick

LIF_DISCRETE_SCENARIOS = ("lif_discrete_single", "lif_delta_one_step_ref")


def _require(sim: str) -> None:
    avail = get_adapter(sim).availability()
    if not avail.available:
        pytest.skip(f"{sim} not available: {avail.reason}")


def _run(scenario, sim, semantics, **kw):
    return run_scenario(scenario, sim, semantics, 1.0, isolate=False, **kw)


@pytest.mark.parametrize("scenario", LIF_DISCRETE_SCENARIOS)
@pytest.mark.parametrize("reset", ["hard_next_step", "subtract_next_step", "hard_same_step"])
def test_tf_reproduces_snntorch_spike_for_spike(scenario, reset):
    _require("snntorch")
    sem = profile("snn-discrete").with_knobs(reset=reset) if reset != "hard_next_step" else profile("snn-discrete")
    torch_run, tf_run = _run(scenario, "snntorch", sem), _run(scenario, "tf", sem)
    assert torch_run.n_spikes >= get_scenario(scenario).min_spikes  # guards against a silent pass
    assert np.ptp(torch_run.state["V_m"]) > 0.5
    cmp = compare_same_semantics(tf_run, torch_run)
    assert cmp.passed, cmp.summary()
    assert cmp.spikes.n_matched == torch_run.n_spikes


def test_resets_are_distinguishable():
    """The reset values really change snnTorch's run (else the same-semantics test above would be blind)."""
    _require("snntorch")
    zero = _run("lif_discrete_single", "snntorch", "snn-discrete")
    sub = _run("lif_discrete_single", "snntorch", profile("snn-discrete").with_knobs(reset="subtract_next_step"))
    same = _run("lif_discrete_single", "snntorch", profile("snn-discrete").with_knobs(reset="hard_same_step"))
    assert not np.array_equal(zero.state["V_m"], same.state["V_m"])  # V at the spike step: kept vs reset
    assert np.array_equal(zero.spike_step, same.spike_step)  # reset to 0 then or one step later: same spikes
    # the dc_40 neuron ends far above threshold: subtracting theta keeps it spiking every step
    assert sub.n_spikes != zero.n_spikes or not np.array_equal(sub.spike_step, zero.spike_step)


def test_tf_under_nest_profile_differs_from_snntorch():
    """Negative control: a different reset/refractory rule is caught by the same comparison."""
    _require("snntorch")
    torch_run = _run("lif_delta_one_step_ref", "snntorch", "snn-discrete")
    nest_rule = _run("lif_delta_one_step_ref", "tf", "nest-psc-delta")
    assert not compare_same_semantics(nest_rule, torch_run).passed


@pytest.mark.parametrize(
    ("scenario", "changes", "reason"),
    [
        ("lif_discrete_single", {"reset": "subtract_same_step"}, "reset='subtract_same_step' is not supported"),
        ("lif_discrete_single", {"input_timing": "end_of_arrival_step"}, "input_timing"),
        ("lif_discrete_single", {"delay_offset_steps": 1}, "delay_offset_steps"),
        ("lif_delta_one_step_ref", {"refractory": "clamp"}, "no refractory period"),
        ("single_neuron_step", {}, "neuron models ['glif3'] are not supported"),
    ],
)
def test_not_applicable_with_reason(scenario, changes, reason):
    _require("snntorch")
    spec, stim = get_scenario(scenario).build(1.0)
    config = RunConfig(semantics=profile("snn-discrete").with_knobs(**changes))
    with pytest.raises(NotApplicable, match=reason.replace("[", r"\[").replace("]", r"\]")):
        get_adapter("snntorch").check(spec, stim, config)


def test_delays_and_reset_values_not_applicable():
    _require("snntorch")
    spec, stim = get_scenario("lif_discrete_single").build(1.0)
    config = RunConfig(semantics=profile("snn-discrete"))
    two_steps = dataclasses.replace(spec, inputs=dataclasses.replace(spec.inputs, delay_ms=np.array([2.0])))
    with pytest.raises(NotApplicable, match="no synaptic delay buffers"):
        get_adapter("snntorch").check(two_steps, stim, config)
    cells = dataclasses.replace(spec.cells, V_reset_mV=spec.cells.V_reset_mV + 0.5)
    with pytest.raises(NotApplicable, match="V_reset == E_L"):
        get_adapter("snntorch").check(dataclasses.replace(spec, cells=cells), stim, config)


def test_devices_are_the_ones_torch_sees_and_provenance_records_the_device():
    _require("snntorch")
    import torch

    caps = get_adapter("snntorch").capabilities()
    assert ("cuda" in caps.devices) == torch.cuda.is_available()
    assert "cpu" in caps.devices
    result = _run("lif_discrete_single", "snntorch", "snn-discrete")
    assert result.provenance["device"] == "cpu" and result.provenance["torch_device"] == "cpu"


def test_cuda_not_applicable_here_with_reason():
    _require("snntorch")
    devices, reason = torch_devices()
    if "cuda" in devices:
        pytest.skip("a CUDA device is present: the not-applicable path cannot be shown here")
    spec, stim = get_scenario("lif_discrete_single").build(1.0)
    for device in ("cuda", "gpu"):
        with pytest.raises(NotApplicable, match=r"no CUDA device: torch.cuda.is_available\(\) is False"):
            get_adapter("snntorch").check(spec, stim, RunConfig(semantics=profile("snn-discrete"), device=device))


def test_cli_device_cuda():
    """``--device cuda``: on a GPU machine the run agrees with the CPU run; here it is not applicable (exit 2)."""
    _require("snntorch")
    devices, reason = torch_devices()
    cmd = [sys.executable, "-m", "snnval.cli", "run", "lif_discrete_single", "--sim", "snntorch"]
    cmd += ["--profile", "snn-discrete", "--dt", "1", "--device", "cuda"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if "cuda" not in devices:
        assert proc.returncode == 2 and "torch.cuda.is_available() is False" in proc.stderr, proc.stderr
        pytest.skip(f"--device cuda cannot run here: {reason} (the CLI says so and exits 2)")
    assert proc.returncode == 0, proc.stderr
    cpu = _run("lif_discrete_single", "snntorch", "snn-discrete")
    gpu = _run("lif_discrete_single", "snntorch", "snn-discrete", device="cuda")
    assert np.array_equal(cpu.spike_step, gpu.spike_step)


def test_float32_run():
    """float32 (the libraries' default) runs; on this scenario it keeps every spike of the float64 run."""
    _require("snntorch")
    f64 = _run("lif_discrete_single", "snntorch", "snn-discrete")
    f32 = _run("lif_discrete_single", "snntorch", "snn-discrete", dtype="float32")
    assert f32.provenance["dtype"] == "float32"
    assert np.array_equal(f32.spike_step, f64.spike_step) and np.array_equal(f32.spike_neuron, f64.spike_neuron)
    # float32 rounding of u (|u| <= 4 theta, theta = 1 mV, ~100 steps of beta-decayed sums): << 1e-4 mV
    assert np.max(np.abs(f32.state["V_m"] - f64.state["V_m"])) < 1e-4


@pytest.mark.nightly
def test_bisect_names_what_separates_snntorch_from_nest():
    """NEST (nest-psc-delta) vs snnTorch (snn-discrete) on the LIF scenario both run: semantic, reset explains."""
    _require("snntorch")
    _require("nest")
    from snnval.bisect import bisect_knobs

    report = bisect_knobs("lif_delta_one_step_ref", "nest", "nest-psc-delta", "snntorch", "snn-discrete", 1.0)
    assert report.first_divergence is not None
    assert report.residual.passed, report.summary()  # TF under snn-discrete reproduces snnTorch
    assert report.explaining_knobs == ["reset"], report.summary()
    assert report.explained
    assert report.ladder[-1][1] == 0  # every named knob flipped: nothing left
    refractory = next(k for k in report.single_flips if k.knob == "refractory")
    assert refractory.first_divergence is not None and refractory.spikes_mismatched > 0


def test_tf_mask_spikes_on_iaf_psc_delta_masks_for_t_ref():
    """TF's iaf_psc_delta under refractory=mask_spikes: TF-billeh's countdown masks spikes for t_ref (here
    5 steps) while V integrates, so inter-spike intervals grow to >= 5 steps; snnTorch (no refractory
    period) refuses t_ref > dt."""
    spec, stim = get_scenario("lif_delta_one_step_ref").build(1.0)
    long_ref = dataclasses.replace(spec, cells=dataclasses.replace(spec.cells, t_ref_ms=np.array([5.0])))
    adapter = get_adapter("tf")
    config = RunConfig(semantics=profile("snn-discrete"))
    short = adapter.run(spec, stim, config)
    masked = adapter.run(long_ref, stim, config)
    dc40 = int(spec.populations["dc_40"][0])

    def isi(result):
        return np.diff(result.spike_step[result.spike_neuron == dc40])

    assert isi(short).min() < 5  # without masking the strongest neuron fires faster than every 5 steps
    assert isi(masked).size >= 5 and isi(masked).min() >= 5
    if get_adapter("snntorch").availability().available:
        with pytest.raises(NotApplicable, match="t_ref <= dt"):
            get_adapter("snntorch").check(long_ref, stim, config)


def test_registry_derives_the_same_semantics_pairs():
    """validation/test_scenarios.py checks TF vs snnTorch (snn-discrete) and TF vs BrainPy (nest-psc-delta)."""
    from snnval.acceptance import same_semantics_pairs

    pairs = same_semantics_pairs()
    assert ("snn-discrete", "tf", "snntorch") in pairs
    assert ("nest-psc-delta", "tf", "brainpy") in pairs
