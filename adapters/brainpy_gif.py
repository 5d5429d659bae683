"""GLIF3 on BrainPy 2.8.2's ``brainpy.dyn.GifRef`` (profile ``brainpy-gifref``; JAX, CPU or GPU).

GifRef's step (``brainpy/dyn/neurons/lif.py``, GifLTC / GifRefLTC ``update``, non-training mode) as read
from the source and checked against a step-by-step transcription (max |dV| 4e-13 mV over 400 steps):

1. I_j, V_th and V are integrated together with ``exp_auto``; each equation sees the others at their
   start-of-step values, so V_new = V_rest + (V - V_rest) e^(-dt/tau) + R (I + I_1 + I_2)(1 - e^(-dt/tau))
   (GLIF3's exponential-Euler step with the start-of-step ASC) and I_j decays by e^(-k_j dt), every step;
2. while (t - t_last_spike) <= tau_ref, V is put back to its start-of-step value (the ASCs keep decaying);
3. spike if V >= V_th; then V = V_reset, I_j = R_j I_j + A_j and V_th = max(V_th_reset, V_th).

GLIF3 mapping: R = 1/g, tau = C_m/g, A_j = asc_amps, R_j = asc_r, k_j = asc_decay; the threshold is
held fixed (a = 0, V_th_reset = V_th_inf = V_th = GLIF3's V_th, so dV_th/dt = 0 and the max() is V_th).
Refractoriness runs on the step index (``t`` in steps, tau_ref = t_ref/dt whole steps, checked by the
adapter), so V is held for the t_ref/dt steps after the spike, NEST's count. Current input follows the
suite's convention (:class:`snnval.stimulus.CurrentSteps`), like the LifRef path of :mod:`.brainpy_sim`.
Networks with synapses are not applicable (:func:`snnval.adapters.brainpy_sim.gif_not_applicable`).
"""

from __future__ import annotations

import time

import numpy as np

from snnval.adapters.brainpy_sim import jax_provenance, jax_setup
from snnval.adapters.discrete_inputs import current_in_force
from snnval.contract import RunConfig, RunResult
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus


def refractory_hold_mask(spikes: np.ndarray, n_ref: np.ndarray) -> np.ndarray:
    """(B, T, N) True in the ``n_ref`` steps after each spike (V held), from (B, T, N) spikes.

    Vectorised: the step of the last spike at or before each step (a running maximum of spike indices);
    a step is held if it is 1..n_ref steps after that spike.
    """
    B, T, N = spikes.shape
    idx = np.where(spikes, np.arange(T)[None, :, None], -(10**9))
    last = np.maximum.accumulate(idx, axis=1)
    since = np.arange(T)[None, :, None] - last
    return (since >= 1) & (since <= n_ref[None, None, :])


def run_gifref(spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
    """Run every trial of a GLIF3 network (no synapses) on one GifRef population; V_m and ASC recordable."""
    import brainpy as bp
    import brainpy.math as bm
    import jax

    t0 = time.perf_counter()
    np_dtype, dt, device = jax_setup(config, stimulus)
    c, t = spec.cells, spec.node_type
    N, B, T = spec.n_neurons, stimulus.n_trials, stimulus.n_steps
    v0 = c.E_L_mV[t] if config.semantics.initial_v == "e_l" else c.V_reset_mV[t]
    current = current_in_force(spec, stimulus)  # the suite's convention, as the LifRef path
    n_ref = np.round(c.t_ref_ms[t] / dt)  # whole steps (BrainPyAdapter.check)
    k, amps, r = c.asc_decay_per_ms[t], c.asc_amps_pA[t], c.asc_r_or_ones[t]
    rec_ids = config.recorded_ids(spec)

    def arr(x):
        return bm.asarray(np.asarray(x, dtype=np_dtype))

    spikes, volts, ascs = [], [], []
    with jax.default_device(device):
        gif = bp.dyn.GifRef(
            N,
            V_rest=arr(c.E_L_mV[t]),
            V_reset=arr(c.V_reset_mV[t]),
            V_th_inf=arr(c.V_th_mV[t]),
            V_th_reset=arr(c.V_th_mV[t]),
            R=arr(1.0 / c.g_nS[t]),  # GOhm: mV per pA
            tau=arr(c.tau_m_ms[t]),
            a=0.0,  # threshold adaptation off (GLIF3 has a fixed threshold); b then multiplies V_th - V_th_inf = 0
            k1=arr(k[:, 0]),
            k2=arr(k[:, 1]),
            R1=arr(r[:, 0]),
            R2=arr(r[:, 1]),
            A1=arr(amps[:, 0]),
            A2=arr(amps[:, 1]),
            tau_ref=arr(n_ref),  # in steps: t is the step index below
            V_initializer=bp.init.Constant(arr(v0)),
            Vth_initializer=bp.init.Constant(arr(c.V_th_mV[t])),
            method="exp_auto",
        )

        def step(i, cur):
            bp.share.save(t=i * 1.0, dt=dt, i=i)  # t in steps (refractory test), dt in ms (integration)
            spike = gif(cur)
            return spike, gif.V.value, gif.I1.value + gif.I2.value

        t1 = time.perf_counter()
        for b in range(B):  # trials are independent; each starts from the initial state
            bp.reset_state(gif)
            spk, v, asc_end = bm.for_loop(step, (bm.arange(T), arr(current[b])))
            spikes.append(np.asarray(spk).astype(bool))
            volts.append(np.asarray(v)[:, rec_ids])
            ascs.append(np.asarray(asc_end))
    t2 = time.perf_counter()
    spk_all = np.stack(spikes)
    trial, step_idx, neuron = np.nonzero(spk_all)
    state = {}
    if "V_m" in config.record:
        state["V_m"] = np.stack(volts).astype(np.float64)
    if "ASC" in config.record:
        # RECORDABLES "ASC": the sum V integrated in step k, i.e. the start-of-step I1 + I2 (the end of step
        # k - 1; 0 at k = 0), held at the last integrating step's value while V is held (as NEST records it)
        end = np.stack(ascs).astype(np.float64)
        drove = np.concatenate([np.zeros((B, 1, N)), end[:, :-1]], axis=1)
        held = refractory_hold_mask(spk_all, n_ref)
        src = np.where(held, -1, np.arange(T)[None, :, None])
        src = np.maximum.accumulate(src, axis=1)  # last integrating step (never held at k = 0)
        drove = np.take_along_axis(drove, np.maximum(src, 0), axis=1)
        state["ASC"] = drove[:, :, rec_ids]
    prov = jax_provenance(config, device, t1 - t0, t2 - t1, "GifRef")
    return RunResult.from_spikes(dt, T, B, trial, step_idx, neuron, rec_ids, state, prov)
