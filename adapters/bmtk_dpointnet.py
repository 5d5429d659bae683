"""bmtk's own Keras GLIF3 cell (``bmtk.simulator.dpointnet``, class ``GLIF3Cell``): a second TF GLIF3.

The cell is bmtk's (``bmtk/simulator/dpointnet/cell_models/glif3_cell.py``, bmtk 1.2), built from
the suite's spec and driven step by step with the frozen stimulus; this module only translates.
Its step (GLIF3_SEMANTICS.md section 2, read from that file) is the TF training step with these
rules, each a knob value of the profile ``bmtk-dpointnet`` (:mod:`snnval.semantics`):

* refractoriness: an integer countdown of max(ceil(t_ref/dt), 1) steps masks spikes
  (``refractory="mask_spikes_steps"``); the cell's ``hard_reset=True`` also holds v at 0 while
  it runs (``"hold_reset_steps"``);
* v starts at 0 and resets by subtracting the previous spike (v -= z[t-1]): it assumes
  V_reset = E_L (``initial_v="e_l"``; a spec with V_reset != E_L is not applicable);
* inputs have no delays: an input acts in the step it is given (``input_delay="ignored"``);
* synapses drive "basis" PSCs with time constants shared by every neuron, mixed per synapse type
  (``synaptic_basis_weights``). The spec's per-cell-type receptor time constants map exactly onto
  one basis per distinct tau_syn, each synapse one-hot on its receptor's tau;
* the spike buffer holds round(min(max delay ms, 5)) slots but is indexed with delay/dt steps: only
  specs whose delays fit (in practice dt = 1 ms) are applicable; there the delays equal the TF
  rule ``tf_clip_half_even``.

Inputs use the cell's ``"current"`` input type (I = W x per step), so stimulus events carry real
amplitudes. The cell has no current injection and records no state but v; the adapter reads the
summed PSC and ASC that drive each step from the cell's own state tuple.
"""

from __future__ import annotations

import os
import time

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.adapters.tf_reference import MAX_BATCH_ELEMENTS
from snnval.errors import NotApplicable
from snnval.semantics import TF_MAX_DELAY_MS, delay_steps, profile
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

# as in the TF reference: oneDNN kernels may reorder float additions from run to run (not deterministic)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

#: GLIF3Cell's ``max_delay`` argument (ms): the TF training code's 5 ms flag, as bmtk's default.
BMTK_MAX_DELAY_MS = TF_MAX_DELAY_MS


def _bmtk_delay_layout(delay_ms: np.ndarray, dt_ms: float) -> tuple[int, np.ndarray]:
    """(buffer slots, delay steps) exactly as GLIF3Cell.__init__ computes them."""
    network_max = float(np.max(delay_ms))
    slots = int(np.round(min(network_max, BMTK_MAX_DELAY_MS)))
    steps = np.round(np.clip(delay_ms, dt_ms, slots) / dt_ms).astype(np.int64)
    return slots, steps


def _recurrent(spec: NetworkSpec, dt_ms: float):
    """Recurrent synapses in bmtk's layout; a spec without any gets one zero-weight synapse.

    GLIF3Cell cannot be built without recurrent synapses (``np.max`` of an empty delay array);
    a synapse of weight 0 adds exactly 0 to every PSC, so it changes no number.
    """
    syn = spec.synapses
    if len(syn):
        return syn.pre, syn.post, syn.receptor, syn.weight_pA, syn.delay_ms
    one = np.zeros(1, np.int64)
    return one, one, one, np.zeros(1), np.full(1, max(dt_ms, 1.0))


class BmtkDPointNetAdapter(Adapter):
    name = "bmtk-dpointnet"
    package = "bmtk"
    description = "bmtk dpointnet GLIF3Cell (Keras/TensorFlow), an independent TF GLIF3"
    profiles = ("bmtk-dpointnet",)

    def _import(self) -> None:
        from bmtk.simulator.dpointnet.cell_models.glif3_cell import GLIF3Cell  # noqa: F401

    def capabilities(self) -> Capabilities:
        return Capabilities(
            models=("glif3",),
            max_receptors=16,
            recordables=("V_m", "I_syn", "ASC"),
            knobs={
                "reset": ("subtract_next_step",),
                "refractory": ("mask_spikes_steps", "hold_reset_steps"),  # hard_reset False / True
                "asc": ("tf_late_jump",),
                "psc_to_v": ("euler_lag",),
                "delay_rounding": ("tf_clip_half_even",),
                "initial_v": ("e_l",),
                "input_delay": ("ignored",),
                # the GLIF3 step of the TF reference: an arrival enters the PSC at the end of its step
                "input_timing": ("end_of_arrival_step",),
                "delay_offset_steps": (0,),
            },
            dtypes=("float64", "float32"),
            event_amplitudes="real",
            current_inputs=False,
        )

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        super().check(spec, stimulus, config)
        c = spec.cells
        used = np.unique(spec.node_type)
        if np.any(c.V_reset_mV[used] != c.E_L_mV[used]):
            raise NotApplicable("GLIF3Cell resets to v = 0, i.e. assumes V_reset = E_L; this spec has V_reset != E_L")
        k = c.asc_decay_per_ms[used]
        if np.any((k <= 0.0) | (k >= 1.0)):
            raise NotApplicable("GLIF3Cell stores asc_decay k through logit(k): it needs 0 < k < 1 per ms")
        if c.asc_r is not None and np.any(c.asc_r[used] != 1.0):
            raise NotApplicable("GLIF3Cell has no ASC reset factor r (asc_r must be 1)")
        dt = stimulus.dt_ms
        delay_ms = _recurrent(spec, dt)[4]
        slots, steps = _bmtk_delay_layout(delay_ms, dt)
        if steps.min() < 1 or steps.max() > slots:
            raise NotApplicable(
                f"GLIF3Cell sizes its spike buffer in ms (round(max delay) = {slots} slots) but indexes it in "
                f"steps of dt = {dt:g} ms: delays up to {steps.max()} steps do not fit"
            )
        expected = delay_steps(delay_ms, dt, profile("tf-billeh"))
        if not np.array_equal(steps, expected):
            raise NotApplicable("GLIF3Cell's delay clip at round(max delay) ms changes delays (not tf_clip_half_even)")

    # --- build -----------------------------------------------------------------------------------

    @staticmethod
    def _basis(spec: NetworkSpec) -> tuple[np.ndarray, np.ndarray]:
        """(tau_basis (n_basis,), basis index per (cell type, receptor)): one basis per distinct tau_syn."""
        tau = spec.cells.tau_syn_ms
        tau_basis, index = np.unique(tau, return_inverse=True)
        return tau_basis, index.reshape(tau.shape)

    def _build_cell(self, spec: NetworkSpec, dt: float, hard_reset: bool):
        from bmtk.simulator.dpointnet.cell_models.glif3_cell import GLIF3Cell

        c = spec.cells
        tau_basis, basis_of = self._basis(spec)
        node_params = {
            "V_th": c.V_th_mV,
            "E_L": c.E_L_mV,
            "C_m": c.C_m_pF,
            "g": c.g_nS,
            "t_ref": c.t_ref_ms,
            "k": c.asc_decay_per_ms,
            "asc_amps": c.asc_amps_pA,
        }
        pre, post, receptor, weight, delay = _recurrent(spec, dt)
        network = {
            "node_params": node_params,
            "node_type_ids": spec.node_type,
            "n_nodes": spec.n_neurons,
            "synapses": {
                "indices": np.stack([post, pre], axis=1).astype(np.int64),  # bmtk's [target, source]
                "weights": np.asarray(weight, float),  # pA: the cell divides by vsc of the target
                "dense_shape": (spec.n_neurons, spec.n_neurons),
                "syn_ids": basis_of[spec.node_type[post], receptor],
                "delays": np.asarray(delay, float),
            },
        }
        inp = spec.inputs
        n_sources = max(spec.n_sources, 1)
        if len(inp):
            in_post, in_pre, in_rec, in_w = inp.post, inp.pre, inp.receptor, np.asarray(inp.weight_pA, float)
        else:  # the cell sums its inputs with tf.add_n, which needs one; weight 0 adds exactly 0
            in_post = in_pre = in_rec = np.zeros(1, np.int64)
            in_w = np.zeros(1)
        inputs = {
            "stimulus": {
                "n_inputs": n_sources,
                "indices": np.stack([in_post, in_pre], axis=1).astype(np.int64),
                "weights": in_w,
                "syn_ids": basis_of[spec.node_type[in_post], in_rec],
                "input_type": "current",  # I = W x: real event amplitudes, no delay (bmtk has none)
            }
        }
        return GLIF3Cell(
            network,
            inputs,
            dt=dt,
            max_delay=BMTK_MAX_DELAY_MS,
            hard_reset=hard_reset,
            tau_basis=tau_basis,
            synaptic_basis_weights=np.eye(tau_basis.size),
        )

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        import keras
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        t0 = time.perf_counter()
        # the cell takes its compute dtype from Keras' global dtype policy (cached after first use,
        # so setting floatx alone is not enough): set it for the build, then restore it
        floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
        keras.config.set_floatx(config.dtype)
        keras.config.set_dtype_policy(config.dtype)
        try:
            cell = self._build_cell(spec, stimulus.dt_ms, config.semantics.refractory == "hold_reset_steps")
        finally:
            keras.config.set_floatx(floatx)
            keras.config.set_dtype_policy(policy)
        if cell.compute_dtype != config.dtype:
            raise RuntimeError(f"GLIF3Cell computes in {cell.compute_dtype}, asked for {config.dtype}")
        dtype = tf.as_dtype(config.dtype)
        N, B_ = spec.n_neurons, cell._n_syn_basis
        rec_ids = config.recorded_ids(spec)
        rec_tf = tf.constant(rec_ids, tf.int32)
        record = tuple(config.record)

        @tf.function
        def unroll(x):
            n_trials, n_steps = tf.shape(x)[0], tf.shape(x)[1]
            state = cell.zero_state(n_trials, dtype)
            out = {k: tf.TensorArray(dtype, size=n_steps) for k in ("z",) + record}

            def body(t, state, out):
                drove = {  # normalised, the values that drive v in step t (RECORDABLES timing)
                    "I_syn": tf.reduce_sum(tf.reshape(state[5], (n_trials, N, B_)), -1),
                    "ASC": tf.reduce_sum(tf.reshape(state[3], (n_trials, N, 2)), -1),
                }
                outputs, state = cell.call(x[:, t], state)
                new = {"z": outputs[:, :N], "V_m": outputs[:, N:], **drove}
                out = {k: out[k].write(t, new[k] if k == "z" else tf.gather(new[k], rec_tf, axis=1)) for k in out}
                return t + 1, state, out

            _, _, out = tf.while_loop(lambda t, *_: t < n_steps, body, (tf.constant(0), state, out))
            return {k: tf.transpose(ta.stack(), (1, 0, 2)) for k, ta in out.items()}

        t1 = time.perf_counter()
        np_dtype = np.float64 if config.dtype == "float64" else np.float32
        # trials run in bounded batches (as in the TF reference): trials are independent
        per_trial = stimulus.n_steps * (spec.n_neurons + len(record) * rec_ids.size + max(spec.n_sources, 1))
        batch = int(max(1, min(stimulus.n_trials, MAX_BATCH_ELEMENTS // per_trial)))
        spikes, parts = [], []
        for lo in range(0, stimulus.n_trials, batch):
            part = stimulus.trials(lo, min(lo + batch, stimulus.n_trials))
            x = part.events.dense(part.n_trials, part.n_steps, max(spec.n_sources, 1), np_dtype)
            res = {k: v.numpy() for k, v in unroll(x).items()}
            trial, step, neuron = np.nonzero(res.pop("z") > 0.5)
            spikes.append((trial + lo, step, neuron))
            parts.append(res)
        t2 = time.perf_counter()
        trial, step, neuron = (np.concatenate(a) for a in zip(*spikes, strict=True))
        vsc = spec.cells.vsc_mV[spec.node_type][rec_ids]
        offset = {"V_m": spec.cells.E_L_mV[spec.node_type][rec_ids], "I_syn": 0.0, "ASC": 0.0}
        state = {var: np.concatenate([p[var] for p in parts]).astype(np.float64) * vsc + offset[var] for var in record}
        sim_s = stimulus.n_steps * stimulus.dt_ms / 1000.0 * stimulus.n_trials
        import bmtk

        prov = {
            "build_wall_s": t1 - t0,
            "run_wall_s": t2 - t1,
            "realtime_factor": (t2 - t1) / sim_s,
            "tensorflow_version": tf.__version__,
            "bmtk_version": bmtk.__version__,
            "n_synaptic_basis": int(B_),
            "hard_reset": bool(cell._hard_reset),
            "trials_per_batch": batch,
        }
        return RunResult.from_spikes(
            stimulus.dt_ms, stimulus.n_steps, stimulus.n_trials, trial, step, neuron, rec_ids, state, prov
        )
