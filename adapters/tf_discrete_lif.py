"""Discrete-time LIF rules with delta synapses in the TF reference: ``lif_discrete`` and ``iaf_psc_delta``.

One step t (all in mV relative to E_L, the state u = V - E_L)::

    u[t] = beta * u_start[t-1] + (1 - beta) * I[t] / g + sum_j w_j s_j[t] - reset terms
    s[t] = u[t] > theta,   theta = V_th - E_L

with delta synapses: an input spike adds its weight (the synapse's ``weight_pA`` read as a jump of u
in **mV**, since these libraries have dimensionless weights) to u, no PSC. ``beta`` is the per-step
decay factor of the node type (``native_params["beta"]``, in (0, 1)), as these libraries define it per
step; an injected current I (pA) moves u towards I / g (the steady state of the continuous LIF with
leak conductance g). ``reset`` and ``input_timing`` are semantics knobs (:mod:`snnval.semantics`):

* ``hard_next_step``: u_start = u_reset in the step after a spike (snnTorch ``Leaky``,
  reset_mechanism="zero", with u_reset = V_reset - E_L = 0): u[t] = beta u[t-1] (1 - s[t-1]) + in[t];
* ``subtract_next_step``: u[t] = beta u[t-1] + in[t] - s[t-1] (V_th - V_reset) (snnTorch "subtract");
* ``hard_same_step``: u = u_reset in the spike step itself (the recorded V is V_reset);
* ``subtract_same_step``: u -= V_th - V_reset in the spike step itself;
* ``input_timing="in_arrival_step"``: in[t] holds the input spikes arriving in step t;
  ``"end_of_arrival_step"``: those of step t - 1. An injected current follows the suite's convention
  for every model (a change at step s first acts in step s + 2, :class:`snnval.stimulus.CurrentSteps`).

``lif_discrete`` has no refractory period, no ASC and no PSC, so the knobs ``refractory``, ``asc``
and ``psc_to_v`` have nothing to act on; ``initial_v`` chooses u[-1] = V_reset - E_L or 0, and delays
are rounded by ``delay_rounding`` as for every model.

``iaf_psc_delta`` is NEST's LIF with delta synapses (``models/iaf_psc_delta.cpp``), the same rule with
beta = exp(-dt / tau_m) and the exact current propagator P30 = (1 - beta) / g, a hard reset in the
spike step and V held at V_reset for ceil(t_ref / dt) steps during which arriving spikes are dropped
(NEST's default ``refractory_input=False``). NEST tests ``V >= V_th``, this code ``V > V_th`` (as
every TF rule here); the two differ only when V lands on the threshold exactly.
"""

from __future__ import annotations

import numpy as np

from snnval.adapters.tf_reference import TFGlif3Network
from snnval.errors import SpecError
from snnval.semantics import refractory_steps
from snnval.spec import NetworkSpec

MODEL = "lif_discrete"
#: the models this module runs
DELTA_MODELS = ("lif_discrete", "iaf_psc_delta")


def discrete_beta(spec: NetworkSpec, dt_ms: float) -> np.ndarray:
    """Per-neuron decay factor: ``native_params["beta"]`` (lif_discrete) or exp(-dt / tau_m) (iaf_psc_delta)."""
    betas = []
    for t, params in enumerate(spec.cells.native_params):
        if spec.cells.models[t] != MODEL:
            betas.append(float(np.exp(-dt_ms / spec.cells.tau_m_ms[t])))
            continue
        beta = params.get("beta") if isinstance(params, dict) else None
        if not isinstance(beta, (int, float)) or not 0.0 < float(beta) < 1.0:
            raise SpecError(
                f"spec '{spec.name}' cells",
                f"native_params[{t}]['beta'] ({spec.cells.names[t]})",
                f"a number in (0, 1) (per-step decay of {MODEL}), got {beta!r}",
            )
        betas.append(float(beta))
    return np.asarray(betas)[spec.node_type]


class TFDiscreteLIFNetwork(TFGlif3Network):
    """A network of ``lif_discrete`` / ``iaf_psc_delta`` neurons; weights and delays as in :class:`TFGlif3Network`.

    The parent keeps u normalised by vsc = V_th - E_L (threshold 1) and weights divided by vsc.
    """

    def __init__(self, spec: NetworkSpec, dt_ms: float, semantics, dtype: str = "float64"):
        super().__init__(spec, dt_ms, semantics, dtype)
        self.beta = discrete_beta(spec, self.dt)
        self.g = spec.per_neuron("g_nS")
        is_delta_iaf = np.asarray(spec.cells.models, dtype=object)[spec.node_type] == "iaf_psc_delta"
        self.n_ref = np.where(is_delta_iaf, refractory_steps(spec.per_neuron("t_ref_ms"), self.dt), 0).astype(float)
        # refractory="mask_spikes": TF-billeh's float countdown (spikes masked for t_ref while V integrates;
        # no effect when t_ref <= dt); lif_discrete has no refractory period under either value
        self.t_ref_mask = np.where(is_delta_iaf, spec.per_neuron("t_ref_ms"), 0.0)

    def use_event_driven(self) -> bool:
        """The discrete LIF keeps the dense formulation (its networks are small)."""
        return False

    def _unroll(self, drive, current, rec_ids, record, train, event_driven=False):
        if event_driven:
            raise ValueError("the discrete LIF runs the dense formulation only (event_driven=False)")
        tf, c, sem = self.tf, self.c, self.sem
        N, R, D = self.N, self.R, self.max_delay
        B, T = drive.shape[0], drive.shape[1]
        beta = self._c(self.beta)
        current_gain = self._c((1.0 - self.beta) / self.g)  # normalised u per normalised pA
        u_reset = self._c(c.v_reset)  # (V_reset - E_L) / vsc
        sub = 1.0 - u_reset  # (V_th - V_reset) / vsc
        vsc, e_l = self._c(c.vsc), self._c(c.E_L)
        rec_w = tf.sparse.SparseTensor(self.rec_indices, self.rec_weights, self.rec_shape)
        u0 = u_reset if sem.initial_v == "v_reset" else tf.zeros(N, self.dtype)
        zeros = tf.zeros((B, N), self.dtype)
        n_ref = self._c(self.n_ref)
        mask = sem.refractory == "mask_spikes"
        t_ref_mask, dt = self._c(self.t_ref_mask), self.tf.constant(self.dt, self.dtype)
        # (spike buffer z[t-1..t-D], u, jumps that arrived in the previous step, current in force
        # (normalised pA), refractory steps left)
        state0 = (tf.zeros((B, N * D), self.dtype), tf.tile(u0[None], (B, 1)), zeros, zeros, zeros)
        same_step_input = sem.input_timing == "in_arrival_step"

        def step(state, t):
            z_buf, u, pending, i_e, r = state
            z_prev = z_buf[:, :N]
            rec = tf.sparse.sparse_dense_matmul(rec_w, z_buf, adjoint_b=True)  # (N*R, B): arrivals in step t
            arriving = tf.reduce_sum(tf.reshape(tf.transpose(rec), (B, N, R)) + drive[:, t], axis=-1)
            jumps = arriving if same_step_input else pending
            u_start = tf.where(z_prev > 0.5, u_reset, u) if sem.reset == "hard_next_step" else u
            u_new = beta * u_start + current_gain * i_e + jumps
            if sem.reset == "subtract_next_step":
                u_new -= z_prev * sub
            if mask:  # r: refractory time left (ms); spikes masked while V integrates
                r_new = tf.nn.relu(r + z_prev * t_ref_mask - dt)
                allowed = r_new <= 0.0
            else:
                refractory = r > 0.5  # V held, arriving spikes dropped (iaf_psc_delta; never for lif_discrete)
                u_new = tf.where(refractory, u, u_new)
                r_new = tf.where(refractory, r - 1.0, r)
                allowed = tf.logical_not(refractory)
            z = self._spike(u_new - 1.0, train) * tf.cast(allowed, self.dtype)
            if sem.reset == "hard_same_step":
                u_new = tf.where(z > 0.5, tf.broadcast_to(u_reset, u_new.shape), u_new)
            elif sem.reset == "subtract_same_step":
                u_new -= z * sub
            if not mask:
                r_new = tf.where(z > 0.5, tf.broadcast_to(n_ref, r_new.shape), r_new)
            new_buf = tf.concat([z, z_buf[:, : N * (D - 1)]], axis=1)
            return (new_buf, u_new, arriving, current[:, t], r_new), z, u_new

        z_ta = tf.TensorArray(self.dtype, size=T)
        v_ta = tf.TensorArray(self.dtype, size=T)

        def body(t, state, z_ta, v_ta):
            state, z, u = step(state, t)
            return t + 1, state, z_ta.write(t, z), v_ta.write(t, tf.gather(u * vsc + e_l, rec_ids, axis=1))

        _, _, z_ta, v_ta = tf.while_loop(
            lambda t, *_: t < T, body, (tf.constant(0), state0, z_ta, v_ta), maximum_iterations=T
        )
        result = {"z": tf.transpose(z_ta.stack(), (1, 0, 2))}
        if "V_m" in record:
            result["V_m"] = tf.transpose(v_ta.stack(), (1, 0, 2))
        return result
