"""The step loop shared by the torch library adapters (snnTorch, Norse): the discrete LIF rule on a torch device.

Each library supplies one function ``step(current, state) -> (spikes, membrane, state)`` built from its own
neuron API; this module builds the normalised input (:mod:`.discrete_inputs`: u in units of theta, threshold
1, reset 0), applies recurrent synapses to the previous step's spikes (a dense matrix, as an ``nn.Linear``
feedback layer would), records spikes and V, and converts V back to mV.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from snnval.adapters.base import Adapter
from snnval.adapters.devices import GPU_NAMES, check_device, torch_devices
from snnval.adapters.discrete_inputs import check_discrete_lif, external_input, recurrent_matrix, theta_mV
from snnval.contract import Capabilities, RunConfig, RunResult
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus


def torch_device(device: str) -> str:
    """The torch device string of a suite device name ("gpu" is "cuda")."""
    return "cuda" if device in GPU_NAMES else device


def torch_dtype(config: RunConfig):
    import torch

    return torch.float64 if config.dtype == "float64" else torch.float32


def run_discrete_loop(
    spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig, step: Callable, state0, t0: float, prov: dict
) -> RunResult:
    """Run every step of every trial (batched over trials) with the library's ``step``.

    ``state0``: the library's initial state (None: the library starts from u = 0, V = E_L = V_reset).
    ``t0``: perf_counter at the start of the build (build time in provenance); ``prov``: the library's own
    provenance (versions, its reset choice), completed with wall times, the torch device and threads.
    """
    import torch

    device = torch.device(torch_device(config.device))
    dtype = torch_dtype(config)
    drive = torch.tensor(external_input(spec, stimulus, np.float64), dtype=dtype, device=device)
    w_rec = torch.tensor(recurrent_matrix(spec), dtype=dtype, device=device)
    has_rec = bool(len(spec.synapses))
    B, T, N = drive.shape
    rec_ids = config.recorded_ids(spec)
    t1 = time.perf_counter()
    state = state0
    spk = torch.zeros((B, N), dtype=dtype, device=device)
    spikes = torch.zeros((B, T, N), dtype=torch.bool, device=device)
    v = torch.zeros((B, T, len(rec_ids)), dtype=dtype, device=device)
    rec_index = torch.tensor(rec_ids, device=device)
    with torch.no_grad():
        for t in range(T):  # the libraries' APIs are one call per step
            # a library may return float32 spikes whatever the membrane's dtype: cast before the matmul
            current = drive[:, t] + spk.to(dtype) @ w_rec.T if has_rec else drive[:, t]
            spk, mem, state = step(current, state)
            spikes[:, t] = spk > 0.5
            v[:, t] = mem[:, rec_index]
    t2 = time.perf_counter()
    trial, step_idx, neuron = np.nonzero(spikes.cpu().numpy())
    theta = theta_mV(spec)[rec_ids]
    e_l = spec.cells.E_L_mV[spec.node_type][rec_ids]
    states = {"V_m": v.cpu().numpy().astype(np.float64) * theta + e_l} if "V_m" in config.record else {}
    prov = {"build_wall_s": t1 - t0, "run_wall_s": t2 - t1, **prov, "torch_device": str(device)}
    prov["threads"] = config.threads
    return RunResult.from_spikes(
        stimulus.dt_ms, stimulus.n_steps, stimulus.n_trials, trial, step_idx, neuron, rec_ids, states, prov
    )


class TorchDiscreteAdapter(Adapter):
    """Capabilities and applicability shared by the torch library adapters; a subclass names its library
    (``library``, for reasons) and its knob declarations (``knobs``)."""

    library = ""
    knobs: dict[str, tuple] = {}

    def capabilities(self) -> Capabilities:
        devices, _ = torch_devices()
        return Capabilities(
            models=("lif_discrete", "iaf_psc_delta"),
            max_receptors=16,  # delta synapses: every receptor adds to u alike
            recordables=("V_m",),
            knobs=dict(self.knobs),
            dtypes=("float32", "float64"),
            event_amplitudes="real",
            devices=devices,
        )

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        check_device(config.device, *torch_devices())  # the library's own reason first
        super().check(spec, stimulus, config)
        check_discrete_lif(spec, stimulus.dt_ms, config, self.library)
