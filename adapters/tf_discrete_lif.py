"""The discrete-time LIF rule of deep-learning SNN libraries, in the TF reference (model ``lif_discrete``).

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
* ``input_timing="in_arrival_step"``: in[t] holds the spikes arriving in step t (and the current in
  force from step t); ``"end_of_arrival_step"``: those of step t - 1.

There is no refractory period, no ASC and no PSC, so the knobs ``refractory``, ``asc`` and
``psc_to_v`` have nothing to act on; ``initial_v`` chooses u[-1] = V_reset - E_L or 0, and delays are
rounded by ``delay_rounding`` as for every model.
"""

from __future__ import annotations

import numpy as np

from snnval.adapters.tf_reference import TFGlif3Network
from snnval.errors import SpecError
from snnval.spec import NetworkSpec

MODEL = "lif_discrete"


def discrete_beta(spec: NetworkSpec) -> np.ndarray:
    """Per-neuron decay factor beta from the node types' ``native_params``; SpecError if missing or bad."""
    betas = []
    for t, params in enumerate(spec.cells.native_params):
        if spec.cells.models[t] != MODEL:
            betas.append(np.nan)
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
    """A network of ``lif_discrete`` neurons; weights and delays as in :class:`TFGlif3Network`.

    The parent keeps u normalised by vsc = V_th - E_L (threshold 1) and weights divided by vsc.
    """

    def __init__(self, spec: NetworkSpec, dt_ms: float, semantics, dtype: str = "float64"):
        super().__init__(spec, dt_ms, semantics, dtype)
        self.beta = discrete_beta(spec)
        self.g = spec.per_neuron("g_nS")

    def _unroll(self, drive, current, rec_ids, record, train):
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
        # (spike buffer z[t-1..t-D], u, input of the previous step (delta jumps + current drive))
        state0 = (tf.zeros((B, N * D), self.dtype), tf.tile(u0[None], (B, 1)), zeros)
        same_step_input = sem.input_timing == "in_arrival_step"

        def step(state, t):
            z_buf, u, pending = state
            z_prev = z_buf[:, :N]
            rec = tf.sparse.sparse_dense_matmul(rec_w, z_buf, adjoint_b=True)  # (N*R, B): arrivals in step t
            jumps = tf.reduce_sum(tf.reshape(tf.transpose(rec), (B, N, R)) + drive[:, t], axis=-1)
            arriving = jumps + current_gain * current[:, t]
            inp = arriving if same_step_input else pending
            u_start = tf.where(z_prev > 0.5, u_reset, u) if sem.reset == "hard_next_step" else u
            u_new = beta * u_start + inp
            if sem.reset == "subtract_next_step":
                u_new -= z_prev * sub
            z = self._spike(u_new - 1.0, train)
            if sem.reset == "hard_same_step":
                u_new = tf.where(z > 0.5, tf.broadcast_to(u_reset, u_new.shape), u_new)
            elif sem.reset == "subtract_same_step":
                u_new -= z * sub
            new_buf = tf.concat([z, z_buf[:, : N * (D - 1)]], axis=1)
            return (new_buf, u_new, arriving), z, u_new

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
