"""Inputs of the discrete-time LIF rule for library adapters (snnTorch, BrainPy): per-step drive and weights.

The libraries' neurons take one input per neuron and step, added to u in that step; this module
turns the suite's spec and frozen stimulus into that input, in the units the TF reference uses
(:mod:`snnval.adapters.tf_discrete_lif`): u normalised by theta = V_th - E_L (threshold 1, reset 0),
so both run the same arithmetic.

* input spikes: an event emitted in step s through an input synapse of d steps adds
  ``weight / theta`` (the weight read as a jump of u in mV) in step s + d (``input_timing="in_arrival_step"``);
* injected current: the suite's convention (:class:`snnval.stimulus.CurrentSteps`, a change at step s
  first acts in step s + 2) times the current gain (1 - beta) / g, divided by theta;
* recurrent synapses: a (post, pre) matrix of weight / theta[post], applied to the previous step's spikes
  (delay exactly one step; the libraries have no delay buffers).
"""

from __future__ import annotations

import numpy as np

from snnval.adapters.tf_discrete_lif import discrete_beta
from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.semantics import delay_steps, input_delay_steps
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus


def check_discrete_lif(spec: NetworkSpec, dt_ms: float, config: RunConfig, library: str) -> None:
    """Raise NotApplicable unless the network is the discrete rule these libraries run.

    Their neurons reset to 0 (zero reset) or subtract the threshold, so V_reset must equal E_L; they
    have no refractory period (iaf_psc_delta only under refractory=mask_spikes with t_ref <= dt, where
    it masks nothing) and no delay buffers (every delay one step).
    """
    types = np.unique(spec.node_type)
    c = spec.cells
    bad = [c.names[t] for t in types if c.V_reset_mV[t] != c.E_L_mV[t]]
    if bad:
        raise NotApplicable(f"{library} resets u to 0 or by the threshold: needs V_reset == E_L (not for {bad})")
    delta = np.asarray(c.models, dtype=object)[spec.node_type] == "iaf_psc_delta"
    if np.any(delta) and config.semantics.refractory == "clamp":
        raise NotApplicable(
            f"{library}'s LIF has no refractory period; iaf_psc_delta with refractory=clamp holds V for "
            f"ceil(t_ref/dt) >= 1 steps"
        )
    if np.any(spec.per_neuron("t_ref_ms")[delta] > dt_ms):
        raise NotApplicable(
            f"{library}'s LIF has no refractory period: iaf_psc_delta needs t_ref <= dt to mask nothing"
        )
    for name, syn, fn in (("recurrent", spec.synapses, delay_steps), ("input", spec.inputs, input_delay_steps)):
        if len(syn):
            d = fn(syn.delay_ms, dt_ms, config.semantics)
            if np.any(d != 1):
                raise NotApplicable(
                    f"{library} has no synaptic delay buffers: {name} delays must be one step "
                    f"(found {sorted(set(d.tolist()))[:5]} steps at dt {dt_ms:g} ms)"
                )


def theta_mV(spec: NetworkSpec) -> np.ndarray:
    """Per-neuron threshold above rest, V_th - E_L (mV): the unit of the normalised u."""
    return spec.cells.vsc_mV[spec.node_type]


def normalised_beta_and_gain(spec: NetworkSpec, dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """(beta, current gain (1 - beta) / g in mV/pA) per neuron, as the TF reference computes them."""
    beta = discrete_beta(spec, dt_ms)
    return beta, (1.0 - beta) / spec.per_neuron("g_nS")


def input_jumps(spec: NetworkSpec, stimulus: FrozenStimulus, in_steps: np.ndarray, scale=None) -> np.ndarray:
    """(trials, steps, neurons) sum of input weights (times ``scale[post]`` if given) arriving in each step.

    An event emitted in step s through an input synapse of ``in_steps`` steps arrives in step s + d (one
    matrix product per distinct delay, vectorised over trials and steps).
    """
    B, T, N = stimulus.n_trials, stimulus.n_steps, spec.n_neurons
    out = np.zeros((B, T, N))
    inp = spec.inputs
    if not len(inp):
        return out
    x = stimulus.events.dense(B, T, max(spec.n_sources, 1))  # emissions (trials, steps, sources)
    weight = inp.weight_pA if scale is None else inp.weight_pA * scale[inp.post]
    for d in np.unique(in_steps):
        m = in_steps == d
        w = np.zeros((max(spec.n_sources, 1), N))
        np.add.at(w, (inp.pre[m], inp.post[m]), weight[m])
        out[:, d:] += x[:, : T - d] @ w
    return out


def current_in_force(spec: NetworkSpec, stimulus: FrozenStimulus) -> np.ndarray:
    """(trials, steps, neurons) injected current (pA) that drives V in each step: the suite's convention
    (:class:`snnval.stimulus.CurrentSteps`: the current in force after arrival step k drives step k + 1)."""
    B, T, N = stimulus.n_trials, stimulus.n_steps, spec.n_neurons
    out = np.zeros((B, T, N))
    if len(stimulus.currents):
        out[:, 1:] = stimulus.currents.dense_arrivals(B, T, N)[:, :-1]
    return out


def external_input(spec: NetworkSpec, stimulus: FrozenStimulus, dtype) -> np.ndarray:
    """Normalised input added to u in each step, (trials, steps, neurons): input spikes and current."""
    theta = theta_mV(spec)
    # every input delay is one step (check_discrete_lif): an event of step s arrives in step s + 1
    out = input_jumps(spec, stimulus, np.ones(len(spec.inputs), np.int64), scale=1.0 / theta)
    if len(stimulus.currents):
        _, gain = normalised_beta_and_gain(spec, stimulus.dt_ms)
        out += gain * current_in_force(spec, stimulus) / theta
    return out.astype(dtype)


def recurrent_matrix(spec: NetworkSpec) -> np.ndarray:
    """(post, pre) weights / theta[post]: u jumps of a spike one step after its emission."""
    syn, N = spec.synapses, spec.n_neurons
    w = np.zeros((N, N))
    if len(syn):
        np.add.at(w, (syn.post, syn.pre), syn.weight_pA / theta_mV(spec)[syn.post])
    return w
