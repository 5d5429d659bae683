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

from snnval.adapters.base import RunConfig, RunResult
from snnval.adapters.discrete_inputs import normalised_beta_and_gain
from snnval.adapters.torch_discrete import TorchDiscreteAdapter, run_discrete_loop, torch_device, torch_dtype
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


class SnnTorchAdapter(TorchDiscreteAdapter):
    name = "snntorch"
    package = "snntorch"
    description = "snnTorch Leaky (discrete LIF rule; torch, device cpu or cuda)"
    profiles = ("snn-discrete",)
    library = "snnTorch"
    knobs = DISCRETE_KNOBS

    def _import(self) -> None:
        import snntorch  # noqa: F401
        import torch  # noqa: F401

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        import snntorch
        import torch

        t0 = time.perf_counter()
        device = torch.device(torch_device(config.device))
        dtype = torch_dtype(config)
        mechanism, reset_delay = RESETS[config.semantics.reset]
        beta, _ = normalised_beta_and_gain(spec, stimulus.dt_ms)
        lif = snntorch.Leaky(
            beta=torch.tensor(beta, dtype=dtype, device=device),
            threshold=1.0,  # u normalised by theta
            reset_mechanism=mechanism,
            reset_delay=reset_delay,
        ).to(device)

        def step(current, mem):
            spk, mem = lif(current, mem)
            return spk, mem, mem

        mem0 = torch.zeros((stimulus.n_trials, spec.n_neurons), dtype=dtype, device=device)  # u[-1] = 0
        prov = {
            "torch_version": torch.__version__,
            "snntorch_version": snntorch.__version__,
            "reset_mechanism": mechanism,
            "reset_delay": reset_delay,
        }
        return run_discrete_loop(spec, stimulus, config, step, mem0, t0, prov)
