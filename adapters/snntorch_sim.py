"""snnTorch adapter: the discrete-time LIF rule on snnTorch ``Leaky`` neurons (torch, CPU or CUDA).

snnTorch 1.0 (``snntorch/_neurons/leaky.py``) updates, per step t, with the input I[t] of that step:

* ``reset_mechanism="zero"``: u[t] = beta (1 - s[t-1]) u[t-1] + I[t]       -> knob ``reset=hard_next_step``
* ``reset_mechanism="subtract"``: u[t] = beta u[t-1] + I[t] - s[t-1] theta  -> ``subtract_next_step``
* ``"zero"`` with ``reset_delay=False``: u set to 0 in the spike step         -> ``hard_same_step``

and s[t] = (u[t] - theta > 0) (the surrogate's forward pass is a strict Heaviside). snnTorch's
``"subtract"`` with ``reset_delay=False`` is *not* ``subtract_same_step``: its next step subtracts
theta again whenever u stays above theta after the subtraction, so it is not declared. The input of
step t is added in step t (``input_timing="in_arrival_step"``). There are no delays, refractory
periods or after-spike currents: networks with them are not applicable (:mod:`.discrete_inputs`).

Mapping: u is normalised by theta = V_th - E_L (threshold 1, reset to 0, requires V_reset = E_L), one
``Leaky`` layer holds every neuron (beta per neuron), recurrent synapses are a dense matrix applied to
the previous step's spikes, as an ``nn.Linear`` feedback layer would. The step loop is snnTorch's own
API (one call per step); it runs on the torch device the run asks for.
"""

from __future__ import annotations

import time

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.adapters.devices import GPU_NAMES, check_device, torch_devices
from snnval.adapters.discrete_inputs import (
    check_discrete_lif,
    external_input,
    normalised_beta_and_gain,
    recurrent_matrix,
    theta_mV,
)
from snnval.semantics import KNOB_VALUES
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

#: knob ``reset`` -> (snnTorch reset_mechanism, reset_delay)
RESETS = {
    "hard_next_step": ("zero", True),
    "subtract_next_step": ("subtract", True),
    "hard_same_step": ("zero", False),
}

#: Knobs of the discrete LIF rule that snnTorch runs. lif_discrete (and iaf_psc_delta without a
#: refractory period) have no refractoriness, ASC or PSC, so refractory, asc and psc_to_v have nothing to
#: act on (as in the TF reference's discrete LIF); V starts at 0 = E_L = V_reset, so both initial_v agree.
DISCRETE_KNOBS: dict[str, tuple] = {
    "reset": tuple(RESETS),
    "refractory": KNOB_VALUES["refractory"],
    "asc": KNOB_VALUES["asc"],
    "psc_to_v": KNOB_VALUES["psc_to_v"],
    "delay_rounding": KNOB_VALUES["delay_rounding"],
    "initial_v": KNOB_VALUES["initial_v"],
    "input_timing": ("in_arrival_step",),
    "input_delay": ("edge",),
    "delay_offset_steps": (0,),
}


def torch_device(device: str) -> str:
    """The torch device string of a suite device name ("gpu" is "cuda")."""
    return "cuda" if device in GPU_NAMES else device


class SnnTorchAdapter(Adapter):
    name = "snntorch"
    package = "snntorch"
    description = "snnTorch Leaky (discrete LIF rule; torch, device cpu or cuda)"
    profiles = ("snn-discrete",)

    def _import(self) -> None:
        import snntorch  # noqa: F401
        import torch  # noqa: F401

    def capabilities(self) -> Capabilities:
        devices, _ = torch_devices()
        return Capabilities(
            models=("lif_discrete", "iaf_psc_delta"),
            max_receptors=16,  # delta synapses: every receptor adds to u alike
            recordables=("V_m",),
            knobs=dict(DISCRETE_KNOBS),
            dtypes=("float32", "float64"),
            event_amplitudes="real",
            devices=devices,
        )

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        check_device(config.device, *torch_devices())  # the library's own reason first
        super().check(spec, stimulus, config)
        check_discrete_lif(spec, stimulus.dt_ms, config, "snnTorch")

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        import snntorch
        import torch

        t0 = time.perf_counter()
        device = torch.device(torch_device(config.device))
        dtype = torch.float64 if config.dtype == "float64" else torch.float32
        mechanism, reset_delay = RESETS[config.semantics.reset]
        beta, _ = normalised_beta_and_gain(spec, stimulus.dt_ms)
        lif = snntorch.Leaky(
            beta=torch.tensor(beta, dtype=dtype, device=device),
            threshold=1.0,  # u normalised by theta
            reset_mechanism=mechanism,
            reset_delay=reset_delay,
        ).to(device)
        drive = torch.tensor(external_input(spec, stimulus, np.float64), dtype=dtype, device=device)
        w_rec = torch.tensor(recurrent_matrix(spec), dtype=dtype, device=device)
        has_rec = bool(len(spec.synapses))
        B, T, N = drive.shape
        rec_ids = config.recorded_ids(spec)
        t1 = time.perf_counter()
        mem = torch.zeros((B, N), dtype=dtype, device=device)  # u[-1] = 0: V = E_L = V_reset
        spk = torch.zeros((B, N), dtype=dtype, device=device)
        spikes = torch.zeros((B, T, N), dtype=torch.bool, device=device)
        v = torch.zeros((B, T, len(rec_ids)), dtype=dtype, device=device)
        rec_index = torch.tensor(rec_ids, device=device)
        with torch.no_grad():
            for t in range(T):  # snnTorch's API is one call per step
                # snnTorch's Heaviside returns float32 spikes whatever the membrane's dtype: cast before the
                # recurrent matmul (else a float64 run of a recurrent network fails on mixed dtypes)
                current = drive[:, t] + spk.to(dtype) @ w_rec.T if has_rec else drive[:, t]
                spk, mem = lif(current, mem)
                spikes[:, t] = spk > 0.5
                v[:, t] = mem[:, rec_index]
        t2 = time.perf_counter()
        trial, step, neuron = np.nonzero(spikes.cpu().numpy())
        theta = theta_mV(spec)[rec_ids]
        e_l = spec.cells.E_L_mV[spec.node_type][rec_ids]
        state = {"V_m": v.cpu().numpy().astype(np.float64) * theta + e_l} if "V_m" in config.record else {}
        prov = {
            "build_wall_s": t1 - t0,
            "run_wall_s": t2 - t1,
            "torch_version": torch.__version__,
            "snntorch_version": snntorch.__version__,
            "torch_device": str(device),
            "reset_mechanism": mechanism,
            "reset_delay": reset_delay,
            "threads": config.threads,
        }
        return RunResult.from_spikes(
            stimulus.dt_ms, stimulus.n_steps, stimulus.n_trials, trial, step, neuron, rec_ids, state, prov
        )
