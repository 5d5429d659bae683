"""Norse adapter: the discrete LIF rule on Norse 1.1's ``LIFBoxCell`` (torch, CPU or CUDA).

Norse 1.1.0 (``norse/torch/functional/lif_box.py``, ``lif_box_feed_forward_step``) does, per step with the
input I[t] of that step, one forward-Euler step of tau dv/dt = v_leak - v + I:

    v' = v + dt/tau (I + v_leak - v);   z = H(v' - v_th) (strict: H(x) = 1 for x > 0);
    v_new = (1 - z) v' + z v_reset      (``reset_value``, the default)  -> knob ``reset=hard_same_step``
    v_new = (1 - z) v' + z (v' - v_th)  (``reset_subtract``)            -> ``subtract_same_step``

With v_leak = 0, v_th = 1, v_reset = 0 (u normalised by theta = V_th - E_L) that is
u[t] = beta u[t-1] + (1 - beta) I[t] with beta = 1 - dt/tau: the suite's discrete rule with the reset in
the spike step and the input in its arrival step. The adapter sets tau_mem_inv = (1 - beta) / dt and passes
the suite's input divided by (1 - beta), so that the jump is the weight (to rounding). There are no delays,
refractory periods or after-spike currents: what needs them is not applicable (:mod:`.discrete_inputs`).
Its profile is ``norse-lif-box`` (``snn-discrete`` with ``reset=hard_same_step``).
"""

from __future__ import annotations

import time

from snnval.adapters.base import RunConfig, RunResult
from snnval.adapters.discrete_inputs import normalised_beta_and_gain
from snnval.adapters.snntorch_sim import DISCRETE_KNOBS
from snnval.adapters.torch_discrete import TorchDiscreteAdapter, run_discrete_loop, torch_device, torch_dtype
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

#: knob ``reset`` -> Norse reset function name (``norse.torch.functional.reset``)
RESETS = {"hard_same_step": "reset_value", "subtract_same_step": "reset_subtract"}

#: Norse's forward-Euler step of 1 ms units: the adapter passes dt = 1 and tau_mem_inv = 1 - beta per step.
NORSE_DT = 1.0


class NorseAdapter(TorchDiscreteAdapter):
    name = "norse"
    package = "norse"
    description = "Norse LIFBoxCell (discrete LIF rule, reset in the spike step; torch, device cpu or cuda)"
    profiles = ("norse-lif-box",)
    library = "Norse"
    knobs = {**DISCRETE_KNOBS, "reset": tuple(RESETS)}

    def _import(self) -> None:
        import norse  # noqa: F401
        import torch  # noqa: F401

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        import norse
        import torch
        from norse.torch import LIFBoxParameters
        from norse.torch.functional import lif_box as lif_box_fn
        from norse.torch.functional import reset

        t0 = time.perf_counter()
        device = torch.device(torch_device(config.device))
        dtype = torch_dtype(config)
        beta, _ = normalised_beta_and_gain(spec, stimulus.dt_ms)
        leak = torch.tensor(1.0 - beta, dtype=dtype, device=device)  # dt/tau of Norse's Euler step
        zero, one = torch.zeros((), dtype=dtype, device=device), torch.ones((), dtype=dtype, device=device)
        p = LIFBoxParameters(
            tau_mem_inv=leak / NORSE_DT,
            v_leak=zero,
            v_th=one,  # u normalised by theta
            v_reset=zero,
            method="heaviside",  # the forward pass of every surrogate; no gradients here
            reset_method=getattr(reset, RESETS[config.semantics.reset]),
        )

        def step(current, state):
            z, state = lif_box_fn.lif_box_feed_forward_step(current / leak, state, p, dt=NORSE_DT)
            return z, state.v, state

        v0 = torch.zeros((stimulus.n_trials, spec.n_neurons), dtype=dtype, device=device)  # u = 0: V = E_L
        state0 = lif_box_fn.LIFBoxFeedForwardState(v=v0)
        prov = {
            "torch_version": torch.__version__,
            "norse_version": norse.__version__,
            "reset_method": RESETS[config.semantics.reset],
        }
        return run_discrete_loop(spec, stimulus, config, step, state0, t0, prov)
