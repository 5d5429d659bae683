"""TensorFlow reference: a batched GLIF3 recurrent network that runs any semantics profile.

With profile ``tf-billeh`` one step is exactly the step of the TF training code of
Billeh et al. / Chen et al. (``models.py``, class ``BillehColumn``; GLIF3_SEMANTICS.md
section 2): state in units normalised by vsc = V_th - E_L of each neuron, exponential
Euler PSC->V with a one-step lag, subtractive reset one step late, refractoriness that
only masks spikes (float countdown ``r``), ASC jump one step late.

With profile ``nest-glif-psc`` the same code performs the step of NEST ``glif_psc``
(``models/glif_psc.cpp``, ``update()``; GLIF3_SEMANTICS.md section 3): exact alpha
propagators P31/P32 (``libnestutil/iaf_propagator.cpp``), hard reset in the spike step,
V held and ASCs frozen for ceil(t_ref/h) steps, ASC step mean and jump
``asc_amps + r * ASC * exp(-k t_ref)``. In float64 it reproduces NEST to rounding error.

With profile ``bmtk-dpointnet`` it performs the step of bmtk's Keras ``GLIF3Cell``
(``bmtk/simulator/dpointnet/cell_models/glif3_cell.py``; GLIF3_SEMANTICS.md section 2): the
training step with an integer refractory countdown of max(ceil(t_ref/dt), 1) steps, v starting at
E_L, and inputs acting in the step they are given (no input delay); in float64 it reproduces
bmtk spike for spike.

With profile ``brainpy-gifref`` it performs the step of BrainPy 2.8.2's ``GifRef`` on a GLIF3 cell with a
fixed threshold (:mod:`snnval.adapters.brainpy_gif`): NEST's hard reset and V hold, ASCs that jump to
``r * ASC + asc_amps`` in the spike step and keep decaying while refractory, V driven by the start-of-step
ASC; in float64 it reproduces BrainPy spike for spike (single_neuron_step, dt 0.1 ms: max |dV| 2e-13 mV).

Every knob of :mod:`snnval.semantics` switches one of these rules on its own.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.errors import NotApplicable
from snnval.semantics import (
    ALL_KNOB_VALUES,
    KNOB_VALUES,
    Semantics,
    delay_steps,
    input_delay_steps,
    refractory_steps,
    refractory_steps_bmtk,
)
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN kernels may change the order of float additions from run to run; the reference must be
# deterministic (same seed, same numbers), so they stay off unless the user asks for them.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

#: Upper bound on trials x steps x neurons x (receptors + 1) per TF call (~400 MB in float64).
MAX_BATCH_ELEMENTS = 50_000_000

#: Networks with at least this many synapses (recurrent + input) propagate spikes event-driven; smaller
#: ones keep the dense sparse-matmul step, whose few large ops beat the event path's ~40 small ops per
#: step there (glif3_network, 4,800 synapses: 0.8 s dense vs 4.5 s event-driven per 1,000 steps; V1 at
#: 1/8 size, 650,000 synapses: event-driven already faster, benchmarks/README.md). Both give the same
#: numbers, so the threshold only moves time.
EVENT_DRIVEN_MIN_SYNAPSES = 200_000

#: Pseudo-derivative dampening of the TF training code (Bellec et al. 2018).
DAMPENING_FACTOR = 0.3


def alpha_propagators(tau_syn_ms: np.ndarray, tau_m_ms: np.ndarray, C_m_pF: np.ndarray, h_ms: float):
    """Exact propagators (P31, P32) from the alpha-PSC state (y1, y2) to V over one step h.

    y1' = -y1/tau_s, y2' = y1 - y2/tau_s, V' = -V/tau_m + y2/C. Regular branch of NEST's
    IAFPropagatorAlpha (used whenever h > 1e-7 tau_m^2/|tau_m - tau_s|); the singular
    limit tau_m == tau_s is handled as NEST does.
    Shapes broadcast: tau_syn (..., R), tau_m and C_m (..., 1). Returns P31 in mV/(pA),
    P32 in mV/pA (per unit of y1 and y2 respectively).
    """
    tau_s = np.asarray(tau_syn_ms, dtype=float)
    tau_m = np.asarray(tau_m_ms, dtype=float)
    c_m = np.asarray(C_m_pF, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = tau_s * tau_m / (tau_m - tau_s)
        gamma = beta / c_m
        inv_beta = (tau_m - tau_s) / (tau_s * tau_m)
        exp_s = np.exp(-h_ms / tau_s)
        expm1_b = np.expm1(h_ms * inv_beta)
        p32 = gamma * exp_s * expm1_b
        p31 = gamma * exp_s * (beta * expm1_b - h_ms)
    exp_m = np.exp(-h_ms / tau_m) * np.ones_like(p32)
    singular = ~(np.isfinite(p32) & (p32 > 0)) | (h_ms <= 1e-7 * tau_m**2 / np.abs(tau_m - tau_s))
    p32 = np.where(singular, h_ms / c_m * exp_m, p32)
    p31 = np.where(singular, 0.5 * h_ms * h_ms / c_m * exp_m, p31)
    return p31, p32


@dataclass
class _Constants:
    """Per-neuron constants in the TF normalised units, float64 numpy."""

    vsc: np.ndarray  # (N,) mV
    E_L: np.ndarray  # (N,) mV
    decay: np.ndarray  # (N,) P33
    current_factor: np.ndarray  # (N,) P30 in mV/pA (equally: normalised v per normalised pA)
    v_reset: np.ndarray  # (N,) normalised
    t_ref: np.ndarray  # (N,) ms
    n_ref: np.ndarray  # (N,) steps
    n_ref_bmtk: np.ndarray  # (N,) steps, bmtk dpointnet's max(ceil(t_ref/dt), 1) in floating point
    asc_decay: np.ndarray  # (N, 2) exp(-k dt)
    asc_amps: np.ndarray  # (N, 2) normalised
    asc_stable: np.ndarray  # (N, 2) (1 - exp(-k h)) / (k h)
    asc_refr: np.ndarray  # (N, 2) r exp(-k t_ref)
    syn_decay: np.ndarray  # (N, R) P11 = P22
    psc_initial: np.ndarray  # (N, R) e / tau_syn
    p31: np.ndarray  # (N, R)
    p32: np.ndarray  # (N, R)
    v_init: np.ndarray  # (N,) normalised initial v a file states (cells.native_params "V_m"), NaN if none
    asc_r: np.ndarray  # (N, 2) r, the ASC fraction kept at a spike (asc="gif_same_step")


def _file_v_m(cells) -> np.ndarray:
    """Initial V_m (mV) per node type where a file states one (``native_params["V_m"]``), else NaN."""
    native = cells.native_params or ({},) * cells.n_types
    return np.array([p.get("V_m", np.nan) for p in native], dtype=float)


def _constants(spec: NetworkSpec, dt: float) -> _Constants:
    c = spec.cells
    t = spec.node_type
    vsc = c.vsc_mV[t]
    tau_m = c.tau_m_ms[t]
    C_m = c.C_m_pF[t]
    decay = np.exp(-dt / tau_m)
    k = c.asc_decay_per_ms[t]
    tau_syn = c.tau_syn_ms[t]
    p31, p32 = alpha_propagators(tau_syn, tau_m[:, None], C_m[:, None], dt)
    return _Constants(
        vsc=vsc,
        E_L=c.E_L_mV[t],
        decay=decay,
        current_factor=(1.0 - decay) * tau_m / C_m,
        v_reset=(c.V_reset_mV[t] - c.E_L_mV[t]) / vsc,
        v_init=(_file_v_m(c)[t] - c.E_L_mV[t]) / vsc,
        t_ref=c.t_ref_ms[t],
        n_ref=refractory_steps(c.t_ref_ms[t], dt).astype(float),
        n_ref_bmtk=refractory_steps_bmtk(c.t_ref_ms[t], dt).astype(float),
        asc_decay=np.exp(-k * dt),
        asc_amps=c.asc_amps_pA[t] / vsc[:, None],
        asc_stable=(1.0 / k / dt) * (1.0 - np.exp(-k * dt)),
        asc_refr=c.asc_r_or_ones[t] * np.exp(-k * c.t_ref_ms[t][:, None]),
        syn_decay=np.exp(-dt / tau_syn),
        psc_initial=np.e / tau_syn,
        p31=p31,
        p32=p32,
        asc_r=c.asc_r_or_ones[t],
    )


def _sparse_by_delay(pre, post, receptor, weight_norm, steps, n_post, n_receptors, n_pre_cols):
    """Sum duplicate (row, col) entries; rows = post*R + receptor, cols = pre + n_pre_cols*(steps-1)."""
    rows = post * n_receptors + receptor
    cols = pre + n_pre_cols * (steps - 1)
    key = rows * (n_pre_cols * int(steps.max(initial=1))) + cols
    uniq, inverse = np.unique(key, return_inverse=True)
    values = np.bincount(inverse, weights=weight_norm, minlength=uniq.size)
    width = n_pre_cols * int(steps.max(initial=1))
    return np.stack([uniq // width, uniq % width], axis=1).astype(np.int64), values


def _csr_by_column(indices: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-major view of (row, col) sparse indices: (perm, rows, col_ptr).

    ``perm`` orders the entries by column, rows ascending within a column (stable sort of the
    row-major entries), ``rows = indices[perm, 0]`` and column c owns ``perm[col_ptr[c]:col_ptr[c+1]]``.
    """
    perm = np.argsort(indices[:, 1], kind="stable").astype(np.int64)
    col_ptr = np.searchsorted(indices[perm, 1], np.arange(n_cols + 1)).astype(np.int64)
    return perm, indices[perm, 0].astype(np.int64), col_ptr


class TFGlif3Network:
    """A GLIF3 network in TensorFlow for one spec, dt, semantics and dtype.

    Weights live in ``rec_weights`` and ``input_weights`` (tf.Variables, TF normalised
    units: pA / vsc of the postsynaptic neuron) so the same object serves training.
    """

    def __init__(self, spec: NetworkSpec, dt_ms: float, semantics: Semantics, dtype: str = "float64"):
        import tensorflow as tf

        self.tf = tf
        self.spec, self.dt, self.sem = spec, float(dt_ms), semantics
        self.dtype = tf.float64 if dtype == "float64" else tf.float32
        self.N, self.R = spec.n_neurons, spec.n_receptors
        self.c = _constants(spec, self.dt)
        N, R = self.N, self.R
        vsc = self.c.vsc

        syn = spec.synapses
        rec_steps = delay_steps(syn.delay_ms, self.dt, semantics) if len(syn) else np.ones(0, np.int64)
        self.max_delay = int(rec_steps.max(initial=1))
        idx, val = _sparse_by_delay(syn.pre, syn.post, syn.receptor, syn.weight_pA / vsc[syn.post], rec_steps, N, R, N)
        self.rec_indices = idx
        self.rec_weights = tf.Variable(tf.constant(val, self.dtype), name="recurrent_weights")
        self.rec_shape = (N * R, N * self.max_delay)
        self.rec_csr = _csr_by_column(idx, N * self.max_delay)

        inp = spec.inputs
        if semantics.input_delay == "ignored":  # bmtk dpointnet: an input acts in the step it is given
            in_steps = np.full(len(inp), int(semantics.delay_offset_steps), np.int64)
        else:  # an input delay of 0 ms acts in the step it arrives (input_delay_steps)
            in_steps = input_delay_steps(inp.delay_ms, self.dt, semantics) if len(inp) else np.ones(0, np.int64)
        self.input_delays = np.unique(in_steps)
        self.input_groups = []
        self.input_weights = []
        self.input_csr = []
        S = max(spec.n_sources, 1)
        for d in self.input_delays:
            m = in_steps == d
            gi, gv = _sparse_by_delay(
                inp.pre[m],
                inp.post[m],
                inp.receptor[m],
                inp.weight_pA[m] / vsc[inp.post[m]],
                np.ones(m.sum(), np.int64),
                N,
                R,
                S,
            )
            self.input_groups.append((int(d), gi))
            self.input_csr.append(_csr_by_column(gi, S))
            self.input_weights.append(tf.Variable(tf.constant(gv, self.dtype), name=f"input_weights_d{d}"))

    # --- helpers --------------------------------------------------------------------------
    def _c(self, arr):
        """A per-neuron constant as an eager tensor (captured by a trace, not embedded: see _csr_tensors)."""
        with self.tf.init_scope():
            return self.tf.constant(np.asarray(arr, dtype=float), dtype=self.dtype)

    def external_drive(self, x):
        """Input arrivals per step, (B, T, N, R) normalised pA, from source amplitudes x (B, T, S)."""
        tf = self.tf
        B, T = tf.shape(x)[0], tf.shape(x)[1]
        total = tf.zeros((B, T, self.N * self.R), dtype=self.dtype)
        for (d, gi), w in zip(self.input_groups, self.input_weights, strict=True):
            W = tf.sparse.SparseTensor(gi, w, (self.N * self.R, max(self.spec.n_sources, 1)))
            # emitted at s -> arrives at s + d (d = 0: in the step it is emitted)
            x_shift = tf.pad(x, [[0, 0], [d, 0], [0, 0]])[:, : tf.shape(x)[1]]
            flat = tf.reshape(x_shift, (-1, tf.shape(x)[2]))
            drive = tf.sparse.sparse_dense_matmul(W, flat, adjoint_b=True)  # (N*R, B*T)
            total += tf.reshape(tf.transpose(drive), (B, T, self.N * self.R))
        return tf.reshape(total, (B, T, self.N, self.R))

    def _csr_tensors(self):
        """The CSR index arrays as eager tensors, made once and captured by the traced function.

        Created eagerly (not inside the trace) so that a tf.function captures them as inputs: a
        tf.constant made while tracing is embedded in the graph, and Grappler then copies and folds
        ~100 MB of constants at V1 size (measured: 8 s of CPU per run).
        """
        tf = self.tf
        if getattr(self, "_csr_cache", None) is None:
            with tf.init_scope():
                rec = tuple(tf.constant(a) for a in self.rec_csr)
                inp = [tuple(tf.constant(a) for a in csr) for csr in self.input_csr]
            self._csr_cache = (rec, inp)
        return self._csr_cache

    def _propagate(self, active, csr, values, n_out, amplitude=None):
        """Event-driven sparse product: sum of ``values`` of the columns in ``active`` per output row.

        ``active`` (K, 2) int64 [batch, column] of the nonzero entries of the presynaptic tensor (in
        row-major order, as tf.where gives them), ``csr`` from :func:`_csr_by_column`, ``values`` the
        weights already in column order, ``amplitude`` (K,) the entries' values (None: all 1). Returns
        (B * n_out,) sums. Each output receives its terms in ascending column order, starting from 0,
        exactly as ``sparse_dense_matmul`` adds them (the zero columns it also adds change no bit), so
        float64 results are identical to the dense-buffer product (checked in tests).
        """
        tf = self.tf
        _, rows, col_ptr = csr
        col = active[:, 1]
        starts = tf.gather(col_ptr, col)
        counts = tf.gather(col_ptr, col + 1) - starts
        pos = tf.ragged.range(starts, starts + counts).flat_values
        batch = tf.repeat(active[:, 0], counts)
        vals = tf.gather(values, pos)
        if amplitude is not None:
            vals = vals * tf.repeat(amplitude, counts)
        target = batch * n_out + tf.gather(rows, pos)
        return vals, target

    def use_event_driven(self) -> bool:
        """Event-driven propagation pays off on large networks only (see EVENT_DRIVEN_MIN_SYNAPSES)."""
        n_syn = len(self.rec_csr[0]) + sum(len(c[0]) for c in self.input_csr)
        return n_syn >= EVENT_DRIVEN_MIN_SYNAPSES

    def simulate(
        self,
        x,
        current_pA=None,
        record_ids=None,
        record=("V_m",),
        train: bool = False,
        event_driven: bool | None = None,
    ):
        """Run B trials of T steps.

        x: (B, T, S) source amplitudes (emissions). current_pA: (B, T, N) injected current in force
        after each arrival step, or None. Returns dict with "z" (B, T, N) spikes and the recorded
        variables (B, T, len(record_ids)), each the value that drove V in step k (NEST's recordables):
        "V_m" mV (end of step); "I_syn" pA, the summed PSC at the start of the step; "ASC" pA, the
        summed after-spike current of the last step in which V integrated (held while clamped).
        event_driven: propagate only each step's spikes and input events (None: for large networks
        outside training, :meth:`use_event_driven`); the numbers are the same either way.
        """
        tf = self.tf
        x = tf.convert_to_tensor(x, dtype=self.dtype)
        # training differentiates through the dense (B, T, N, R) drive and the recurrent matmul; a plain
        # run on a large network propagates only the events of each step (a few hundred spikes of 52k)
        if event_driven is None:
            event_driven = not train and self.use_event_driven()
        if event_driven and train:
            raise ValueError("training needs the dense formulation (event_driven=False)")
        drive = x if event_driven else self.external_drive(x)
        B, T = x.shape[0], x.shape[1]
        if current_pA is None:
            current = tf.zeros((B, T, self.N), dtype=self.dtype)
        else:
            current = tf.convert_to_tensor(current_pA, dtype=self.dtype) / self._c(self.c.vsc)
        rec_ids = np.arange(self.N) if record_ids is None else np.asarray(record_ids)
        return self._unroll(drive, current, tf.constant(rec_ids, tf.int32), tuple(record), train, event_driven)

    def _spike(self, v_scaled, train):
        tf = self.tf

        @tf.custom_gradient
        def heaviside(v):
            z = tf.cast(v > 0.0, self.dtype)

            def grad(dy):
                return dy * DAMPENING_FACTOR * tf.nn.relu(1.0 - tf.abs(v))

            return z, grad

        return heaviside(v_scaled) if train else tf.cast(v_scaled > 0.0, self.dtype)

    def _unroll(self, drive, current, rec_ids, record, train, event_driven):
        tf, c, sem = self.tf, self.c, self.sem
        N, R, D = self.N, self.R, self.max_delay
        B, T = drive.shape[0], drive.shape[1]
        if event_driven:
            # drive is the (B, T, S) source tensor; padded in front so step t - d >= -max_delay indexes zeros
            d_max = int(max([d for d, _ in self.input_groups], default=1))
            x_pad = tf.pad(drive, [[0, 0], [d_max, 0], [0, 0]])
            rec_csr, in_csr = self._csr_tensors()
            rec_vals = tf.gather(self.rec_weights, rec_csr[0])
            in_vals = [tf.gather(w, csr[0]) for w, csr in zip(self.input_weights, in_csr, strict=True)]
            n_out = tf.constant(N * R, tf.int64)

            def arrivals_at(z_buf, t):
                """(B, N, R) arrivals in step t from the spike buffer and the sources' events."""
                total = tf.zeros((B * N * R,), self.dtype)
                for (d, _), csr, vals in zip(self.input_groups, in_csr, in_vals, strict=True):
                    xs = x_pad[:, t + d_max - d]  # emitted at s = t - d -> arrives at t
                    active = tf.where(tf.not_equal(xs, 0.0))
                    v, target = self._propagate(active, csr, vals, n_out, tf.gather_nd(xs, active))
                    total += tf.math.unsorted_segment_sum(v, target, B * N * R)
                active = tf.where(z_buf > 0.5)
                v, target = self._propagate(active, rec_csr, rec_vals, n_out)
                rec = tf.math.unsorted_segment_sum(v, target, B * N * R)
                return tf.reshape(rec + total, (B, N, R))

        dt = tf.constant(self.dt, self.dtype)
        decay, cf = self._c(c.decay), self._c(c.current_factor)  # normalised v per normalised pA
        v_reset = self._c(c.v_reset)
        t_ref, n_ref = self._c(c.t_ref), self._c(c.n_ref)
        n_ref_steps = self._c(c.n_ref_bmtk)
        asc_decay, asc_amps = self._c(c.asc_decay), self._c(c.asc_amps)
        asc_stable, asc_refr = self._c(c.asc_stable), self._c(c.asc_refr)
        syn_decay, psc_init = self._c(c.syn_decay), self._c(c.psc_initial)
        # V's coupling to (y1, y2): exact alpha propagators, or TF's exponential Euler (P31=0, P32=P30)
        if sem.psc_to_v == "exact_alpha":
            p31, p32 = self._c(c.p31), self._c(c.p32)
        else:
            p31 = tf.zeros((N, R), self.dtype)
            p32 = tf.tile(cf[:, None], (1, R))
        vsc, e_l = self._c(c.vsc), self._c(c.E_L)
        rec_w = None if event_driven else tf.sparse.SparseTensor(self.rec_indices, self.rec_weights, self.rec_shape)
        v0 = v_reset if sem.initial_v == "v_reset" else tf.zeros(N, self.dtype)
        if np.any(np.isfinite(c.v_init)):  # an initial V_m the file states wins over the knob
            v0 = tf.where(np.isfinite(c.v_init), self._c(np.nan_to_num(c.v_init)), v0)
        zeros = tf.zeros((B, N), self.dtype)
        state0 = (
            tf.zeros((B, N * D), self.dtype),  # z_buf: z[t-1], ..., z[t-D]
            tf.tile(v0[None], (B, 1)),  # v (normalised)
            zeros,  # r: TF refractory time left (ms) or NEST refractory steps left
            tf.zeros((B, N, 2), self.dtype),  # asc (normalised)
            tf.zeros((B, N, R), self.dtype),  # y1 (rise)
            tf.zeros((B, N, R), self.dtype),  # y2 (psc)
            zeros,  # injected current in force (normalised)
            zeros,  # ASC drive of the last integrating step (normalised), for recording
        )
        subtract = sem.reset == "subtract_next_step"
        clamp = sem.refractory == "clamp"
        # bmtk dpointnet: integer countdown r (steps) that masks spikes; "hold_reset_steps" also holds V
        whole_steps = sem.refractory in ("mask_spikes_steps", "hold_reset_steps")
        hold_v = sem.refractory == "hold_reset_steps"
        nest_asc = sem.asc == "nest_exact"
        # BrainPy GifRef: jump in the spike step to r ASC + amps, decay every step (refractory too)
        gif_asc = sem.asc == "gif_same_step"
        asc_r = self._c(c.asc_r)

        def step(state, t):
            z_buf, v, r, asc, y1, y2, i_e, asc_drive = state
            z_prev = z_buf[:, :N]
            if event_driven:
                arrivals = arrivals_at(z_buf, t)
            else:
                rec = tf.sparse.sparse_dense_matmul(rec_w, z_buf, adjoint_b=True)  # (N*R, B)
                arrivals = tf.reshape(tf.transpose(rec), (B, N, R)) + drive[:, t]
            syn_v = tf.reduce_sum(p31 * y1 + p32 * y2, axis=-1)
            if nest_asc:
                asc_now = tf.reduce_sum(asc_stable * asc, axis=-1)
                asc_next = asc * asc_decay
            elif gif_asc:
                asc_now = tf.reduce_sum(asc, axis=-1)
                asc_next = asc * asc_decay
            else:
                asc_now = tf.reduce_sum(asc, axis=-1)
                asc_next = asc * asc_decay + z_prev[..., None] * asc_amps
            v_int = decay * v + syn_v + cf * asc_now + cf * i_e
            reset_term = z_prev * (v_reset - 1.0) if subtract else 0.0
            if clamp:
                refractory = r > 0.5
                v_new = tf.where(refractory, v + reset_term, v_int + reset_term)
                asc_new = asc_next if gif_asc else tf.where(refractory[..., None], asc, asc_next)
                asc_drive = tf.where(refractory, asc_drive, asc_now)
                r_new = tf.where(refractory, r - 1.0, r)
                allowed = tf.logical_not(refractory)
            elif whole_steps:
                r_new = tf.nn.relu(r + z_prev * n_ref_steps - 1.0)  # whole numbers: exact in float32 too
                v_new = v_int + reset_term
                if hold_v:
                    v_new = tf.where(r_new > 0.0, tf.broadcast_to(v_reset, v_new.shape), v_new)
                asc_new = asc_next
                asc_drive = asc_now
                allowed = r_new <= 0.0
            else:
                v_new = v_int + reset_term
                asc_new = asc_next
                asc_drive = asc_now
                r_new = tf.nn.relu(r + z_prev * t_ref - dt)
                allowed = r_new <= 0.0
            z = self._spike(v_new - 1.0, train) * tf.cast(allowed, self.dtype)
            if not subtract:
                v_new = tf.where(z > 0.5, tf.broadcast_to(v_reset, v_new.shape), v_new)
            if clamp:
                r_new = tf.where(z > 0.5, tf.broadcast_to(n_ref, r_new.shape), r_new)
            if nest_asc:
                asc_new = tf.where(z[..., None] > 0.5, asc_amps + asc_new * asc_refr, asc_new)
            if gif_asc:
                asc_new = tf.where(z[..., None] > 0.5, asc_amps + asc_new * asc_r, asc_new)
            y2_new = dt * syn_decay * y1 + syn_decay * y2
            y1_new = syn_decay * y1 + psc_init * arrivals
            new_buf = tf.concat([z, z_buf[:, : N * (D - 1)]], axis=1)
            new_state = (new_buf, v_new, r_new, asc_new, y1_new, y2_new, current[:, t], asc_drive)
            return new_state, z, v_new, asc_drive, tf.reduce_sum(y2, -1)

        z_ta = tf.TensorArray(self.dtype, size=T)
        tas = {name: tf.TensorArray(self.dtype, size=T) for name in record}

        def body(t, state, z_ta, tas):
            state, z, v, asc_drive, psc = step(state, t)
            z_ta = z_ta.write(t, z)
            out = {}
            for name, ta in tas.items():
                if name == "V_m":
                    val = tf.gather(v * vsc + e_l, rec_ids, axis=1)
                elif name == "ASC":
                    val = tf.gather(asc_drive * vsc, rec_ids, axis=1)
                else:  # I_syn
                    val = tf.gather(psc * vsc, rec_ids, axis=1)
                out[name] = ta.write(t, val)
            return t + 1, state, z_ta, out

        _, _, z_ta, tas = tf.while_loop(
            lambda t, *_: t < T, body, (tf.constant(0), state0, z_ta, tas), maximum_iterations=T
        )
        result = {"z": tf.transpose(z_ta.stack(), (1, 0, 2))}
        for name, ta in tas.items():
            result[name] = tf.transpose(ta.stack(), (1, 0, 2))
        return result


def _apply_threads(tf, threads: int) -> tuple[int, int]:
    """Set TF's intra- and inter-op thread pools to ``threads`` (tf.config.threading); return them.

    TF fixes its pools when its runtime starts, so a process can be set once: the runner keeps one
    worker per (adapter, threads), where this always takes effect. In a process that already runs
    TF with other pools (in-process runs) it warns, and provenance records the pools actually used.
    """
    for setter in (
        tf.config.threading.set_intra_op_parallelism_threads,
        tf.config.threading.set_inter_op_parallelism_threads,
    ):
        try:
            setter(threads)
        except RuntimeError:  # "cannot be modified after initialization": reported below
            pass
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    if (intra, inter) != (threads, threads):
        warnings.warn(
            f"tf: this process already runs TensorFlow with {intra} intra-op / {inter} inter-op threads "
            f"(0 = TF's choice), not the {threads} requested; run it through snnval.runner for a fresh process",
            RuntimeWarning,
            stacklevel=3,
        )
    return intra, inter


class TFReferenceAdapter(Adapter):
    name = "tf"
    package = "tensorflow-cpu"
    description = (
        "TensorFlow reference: GLIF3 (Billeh V1 training-code step; every GLIF3 profile) and the discrete-time LIF rule"
    )
    profiles = (
        "tf-billeh",
        "nest-glif-psc",
        "bmtk-dpointnet",
        "snn-discrete",
        "nest-psc-delta",
        "brainpy-gifref",
        "norse-lif-box",
    )

    def _import(self) -> None:
        import tensorflow  # noqa: F401

    def capabilities(self) -> Capabilities:
        return Capabilities(
            models=("glif3", "lif_discrete", "iaf_psc_delta"),
            max_receptors=16,
            recordables=("V_m", "ASC", "I_syn"),
            # every knob value except pyNN.brian2's refractory "clamp_from_spike_step" and pyNN.neuron's
            # psc_to_v "implicit_euler" (LIF_KNOB_VALUES; run by the Brian2 adapter, no TF model runs them)
            knobs={
                **ALL_KNOB_VALUES,
                "refractory": KNOB_VALUES["refractory"],
                "psc_to_v": KNOB_VALUES["psc_to_v"],
                "delay_offset_steps": ("any",),
            },
            dtypes=("float64", "float32"),
            event_amplitudes="real",
            # the GLIF3 step implements the section-4 resets and end-of-step arrivals only; the
            # discrete LIF (tf_discrete_lif.py) implements every reset and both input timings
            # (iaf_psc_delta: NEST's hard reset with V held for t_ref only)
            model_knobs={
                "glif3": {"reset": KNOB_VALUES["reset"], "input_timing": ("end_of_arrival_step",)},
                # iaf_psc_delta: every reset; refractory clamp (NEST) or mask_spikes (TF's float countdown:
                # no effect when t_ref <= dt, where it is the libraries' discrete rule)
                "iaf_psc_delta": {
                    "reset": ALL_KNOB_VALUES["reset"],
                    "refractory": ("clamp", "mask_spikes"),
                    "input_delay": ("edge",),
                    "asc": KNOB_VALUES["asc"],  # "gif_same_step" names a GLIF3 profile (brainpy-gifref)
                },
                "lif_discrete": {"input_delay": ("edge",), "asc": KNOB_VALUES["asc"]},
            },
        )

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        super().check(spec, stimulus, config)
        from snnval.adapters.tf_discrete_lif import DELTA_MODELS

        models = {spec.cells.models[t] for t in np.unique(spec.node_type)}
        if models != {"glif3"} and not models <= set(DELTA_MODELS):
            raise NotApplicable(f"the TF reference runs one model family per network, got {sorted(models)}")
        if models <= set(DELTA_MODELS) and set(config.record) - {"V_m"}:
            raise NotApplicable(f"{sorted(models)} have no {sorted(set(config.record) - {'V_m'})} (recordable: V_m)")

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # one trace per batch shape is expected: each run builds its own network
        intra, inter = _apply_threads(tf, int(config.threads))
        t0 = time.perf_counter()
        network_class = TFGlif3Network
        if spec.cells.models[int(spec.node_type[0])] != "glif3":
            from snnval.adapters.tf_discrete_lif import TFDiscreteLIFNetwork as network_class
        net = network_class(spec, stimulus.dt_ms, config.semantics, config.dtype)
        np_dtype = np.float64 if config.dtype == "float64" else np.float32
        rec_ids = config.recorded_ids(spec)
        # autograph off: the step uses tf.while_loop and Python branches on Python values only, and
        # transpiling the step's source cost ~1.7-4 s per run (measured on glif3_network, issue 11)
        run = tf.function(lambda x_, c_: net.simulate(x_, c_, rec_ids, config.record), autograph=False)
        t1 = time.perf_counter()
        # Trials run in batches so the per-step input drive (B, T, N, R) and the spike tensor (B, T, N)
        # stay bounded at any network size; trials are independent, so batching changes no number.
        per_trial = stimulus.n_steps * spec.n_neurons * (spec.n_receptors + 1)
        batch = int(max(1, min(stimulus.n_trials, MAX_BATCH_ELEMENTS // per_trial)))
        spikes, states = [], []
        for lo in range(0, stimulus.n_trials, batch):
            part = stimulus.trials(lo, min(lo + batch, stimulus.n_trials))
            x = part.events.dense(part.n_trials, part.n_steps, max(spec.n_sources, 1), np_dtype)
            current = None
            if len(part.currents):
                current = part.currents.dense_arrivals(part.n_trials, part.n_steps, spec.n_neurons).astype(np_dtype)
            out = {k: v.numpy() for k, v in run(x, current).items()}
            trial, step, neuron = np.nonzero(out.pop("z") > 0.5)
            spikes.append((trial + lo, step, neuron))
            states.append(out)
        t2 = time.perf_counter()
        trial, step, neuron = (np.concatenate(a) for a in zip(*spikes, strict=True))
        state = {k: np.concatenate([s[k] for s in states]).astype(np.float64) for k in config.record}
        sim_s = stimulus.n_steps * stimulus.dt_ms / 1000.0 * stimulus.n_trials
        prov = {
            "build_wall_s": t1 - t0,
            "run_wall_s": t2 - t1,
            "realtime_factor": (t2 - t1) / sim_s,
            "tensorflow_version": tf.__version__,
            "threads": config.threads,
            "tf_intra_op_threads": intra,
            "tf_inter_op_threads": inter,
            "trials_per_batch": batch,
        }
        return RunResult.from_spikes(
            stimulus.dt_ms, stimulus.n_steps, stimulus.n_trials, trial, step, neuron, rec_ids, state, prov
        )
