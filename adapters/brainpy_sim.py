"""BrainPy adapter: NEST's delta-synapse LIF (iaf_psc_delta) on BrainPy ``LifRef`` neurons (JAX, CPU or GPU).

BrainPy 2.8 ``brainpy.dyn.LifRef`` (``brainpy/dyn/neurons/lif.py``, non-training mode) does, in step t:
V = integral(V, I) + delta inputs (exponential Euler of tau dV/dt = -(V - V_rest) + R I, exact for a
constant I: beta = exp(-dt/tau), R = 1/g); V is held at its old value while (t - t_last_spike) <= tau_ref
(delta inputs dropped); spike if V >= V_th; then V = V_reset in the spike step. That is iaf_psc_delta as
NEST and the TF reference run it under profile ``nest-psc-delta`` (hard_same_step, clamp,
in_arrival_step), provided the hold lasts ceil(t_ref/dt) steps like NEST's: with t in ms BrainPy's test
holds floor(t_ref/dt) steps (and float rounding of t can change it), so t_ref must be a whole number of
steps (else not applicable) and the test runs on the step index (``t`` in steps, ``tau_ref`` = t_ref / dt).

Mapping: one LifRef population holds every neuron. Recurrent synapses use BrainPy's own delay buffers:
one ``brainpy.dyn.FullProjDelta`` per distinct delay of d steps and a dense ``brainpy.dnn.Linear``
(mV jumps), run before the neuron update in each step. BrainPy's delay of D ms delivers one step early
(BrainPy#709: after D/dt - 1 steps; :data:`DELAY_SHORTFALL_STEPS`), so the adapter passes
D = (d + 1) dt and a spike of step s arrives in step s + d, the suite's convention. Input spikes (the
frozen stimulus) are delta inputs placed in their arrival step. Injected current follows the suite's
convention (:class:`snnval.stimulus.CurrentSteps`). BrainPy runs float32 unless x64 is enabled: the
run's dtype sets it (``brainpy.math.enable_x64`` / ``disable_x64``, process-wide).
"""

from __future__ import annotations

import time

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.adapters.devices import GPU_NAMES, check_device, jax_devices
from snnval.adapters.discrete_inputs import current_in_force, input_jumps
from snnval.errors import NotApplicable
from snnval.semantics import ALL_KNOB_VALUES, KNOB_VALUES, delay_steps, input_delay_steps
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus

#: knobs honoured for iaf_psc_delta; a delta-synapse LIF has no ASC and no PSC, so asc and psc_to_v act
#: on nothing (as in the TF reference's iaf_psc_delta). GLIF3 (GifRef, current input only) narrows them in
#: :data:`MODEL_KNOBS`.
KNOBS: dict[str, tuple] = {
    "reset": ("hard_same_step",),
    "refractory": ("clamp",),
    "asc": ALL_KNOB_VALUES["asc"],
    "psc_to_v": KNOB_VALUES["psc_to_v"],
    "delay_rounding": KNOB_VALUES["delay_rounding"],
    "initial_v": KNOB_VALUES["initial_v"],
    "input_timing": ("in_arrival_step", "end_of_arrival_step"),
    "input_delay": ("edge",),
    "delay_offset_steps": ("any",),  # added to every delay before it is mapped (delay_steps)
}

#: Per model: iaf_psc_delta adds an arriving spike to V in its arrival step (LifRef's delta inputs); GLIF3 runs
#: as GifRef, whose after-spike-current rule is "gif_same_step" (semantics.GIF_KNOB_VALUES). A GLIF3 network
#: here has no synapses (:func:`gif_not_applicable`), so its input timing and PSC coupling act on nothing;
#: they are declared at the GLIF3 profiles' values.
MODEL_KNOBS: dict[str, dict[str, tuple]] = {
    "iaf_psc_delta": {"input_timing": ("in_arrival_step",)},
    "glif3": {"asc": ("gif_same_step",), "input_timing": ("end_of_arrival_step",)},
}


def gif_not_applicable(spec: NetworkSpec) -> str:
    """Why this adapter does not run this GLIF3 network on GifRef ("" when it does): synapses are not mapped.

    GLIF3's PSC is an alpha kernel whose rise variable y1 feeds the PSC y2 by the exact propagator
    y2 += dt e^(-dt/tau) y1 (TF and NEST alike). BrainPy 2.8.2's ``Alpha`` synapse (``dyn/synapses/
    abstract_models.py``) integrates dg = (-g + h)/tau with exp_auto, i.e. g += (1 - e^(-dt/tau)) h, with the
    same timing: measured (one event, 60 steps), its PSC is the exact kernel times (1 - e^(-x)) / (x e^(-x)),
    x = dt/tau, at every step (1.0091 at dt 0.1 ms, tau 5.5 ms; 1.0967 at dt 1 ms). GifRef itself could
    carry GLIF3's four receptors with that factor divided out of the weights (a mapping choice, like the
    delay compensation of BrainPy#709), but the order in which BrainPy's projections update the PSC
    against the neuron (which decides whether V sees the start- or end-of-step PSC, knob ``psc_to_v``)
    has not been measured here, so networks with synapses stay not applicable, with this reason.
    """
    if len(spec.synapses) or len(spec.inputs):
        return (
            "BrainPy GifRef runs GLIF3 with injected current only: BrainPy's Alpha synapse advances the PSC by "
            "(1 - exp(-dt/tau)) h where GLIF3's alpha kernel uses dt/tau exp(-dt/tau) h (exact), and its update "
            "order against the neuron is not mapped (see brainpy_sim.gif_not_applicable); the network has "
            f"{len(spec.synapses)} recurrent and {len(spec.inputs)} input synapses"
        )
    return ""


#: BrainPy 2.8.2's delay buffers (``FullProjDelta``/``FullProjAlignPost``, ``delay=D`` ms) deliver a spike of
#: step s in step s + D/dt - 1 (D >= 2 dt; D = dt acts as the shortest delay the update order allows),
#: one step earlier than the suite's convention (arrival in step s + d): BrainPy#709, measured in
#: tests/test_brainpy_adapter.py. The adapter passes D = (d + this) * dt.
DELAY_SHORTFALL_STEPS = 1


def jax_setup(config: RunConfig, stimulus: FrozenStimulus):
    """(numpy dtype, dt in ms, JAX device) of a run; sets BrainPy's x64 mode and dt (both process-wide)."""
    import brainpy.math as bm
    import jax

    bm.enable_x64() if config.dtype == "float64" else bm.disable_x64()
    dt = float(stimulus.dt_ms)
    bm.set_dt(dt)
    device = jax.devices("gpu")[0] if config.device in GPU_NAMES else jax.devices("cpu")[0]
    return (np.float64 if config.dtype == "float64" else np.float32), dt, device


def jax_provenance(config: RunConfig, device, build_s: float, run_s: float, model: str) -> dict:
    """Provenance of a BrainPy run: wall times (s), library versions, the JAX device and precision."""
    import brainpy as bp
    import jax

    return {
        "build_wall_s": build_s,
        "run_wall_s": run_s,
        "brainpy_version": bp.__version__,
        "jax_version": jax.__version__,
        "jax_device": str(device),
        "jax_x64": config.dtype == "float64",
        "brainpy_model": model,
        "threads": config.threads,
    }


class BrainPyAdapter(Adapter):
    name = "brainpy"
    package = "brainpy"
    description = "BrainPy LifRef (iaf_psc_delta rule) and GifRef (GLIF3, current input); JAX, device cpu or gpu"
    profiles = ("nest-psc-delta", "brainpy-gifref")

    def _import(self) -> None:
        import brainpy  # noqa: F401
        import jax  # noqa: F401

    def capabilities(self) -> Capabilities:
        devices, _ = jax_devices()
        return Capabilities(
            models=("iaf_psc_delta", "glif3"),
            max_receptors=16,
            recordables=("V_m", "ASC"),  # ASC: GifRef's I1 + I2 (GLIF3 only)
            knobs=dict(KNOBS),
            model_knobs={m: dict(k) for m, k in MODEL_KNOBS.items()},
            dtypes=("float32", "float64"),
            event_amplitudes="real",
            devices=devices,
        )

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        check_device(config.device, *jax_devices())
        glif3 = [spec.cells.models[t] == "glif3" for t in np.unique(spec.node_type)]
        if any(glif3) and gif_not_applicable(spec):  # the model's own reason before any capability detail
            raise NotApplicable(gif_not_applicable(spec))
        super().check(spec, stimulus, config)
        dt = stimulus.dt_ms
        models = {spec.cells.models[t] for t in np.unique(spec.node_type)}
        if len(models) > 1:
            raise NotApplicable(f"the BrainPy adapter runs one model per network, got {sorted(models)}")
        if models == {"iaf_psc_delta"} and "ASC" in config.record:
            raise NotApplicable("iaf_psc_delta has no after-spike currents to record (recordable: V_m)")
        ratio = spec.cells.t_ref_ms / dt
        if np.any(np.abs(ratio - np.round(ratio)) > 1e-9):
            raise NotApplicable(
                f"BrainPy's LifRef and GifRef hold V for floor(t_ref/dt) steps, NEST for ceil(t_ref/dt): t_ref "
                f"{spec.cells.t_ref_ms.tolist()} ms is not a whole number of steps of {dt:g} ms"
            )

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        if spec.cells.models[int(spec.node_type[0])] == "glif3":
            from snnval.adapters.brainpy_gif import run_gifref

            return run_gifref(spec, stimulus, config)
        import brainpy as bp
        import brainpy.math as bm
        import jax

        t0 = time.perf_counter()
        np_dtype, dt, device = jax_setup(config, stimulus)
        c, t = spec.cells, spec.node_type
        N, B, T = spec.n_neurons, stimulus.n_trials, stimulus.n_steps
        v0 = c.E_L_mV[t] if config.semantics.initial_v == "e_l" else c.V_reset_mV[t]
        # input jumps (mV) in their arrival step s + d; current in force (suite convention)
        in_steps = input_delay_steps(spec.inputs.delay_ms, dt, config.semantics) if len(spec.inputs) else None
        jumps = input_jumps(spec, stimulus, in_steps)
        current = current_in_force(spec, stimulus)
        syn = spec.synapses
        rec_steps = delay_steps(syn.delay_ms, dt, config.semantics) if len(syn) else np.zeros(0, np.int64)
        rec_ids = config.recorded_ids(spec)
        n_ref = np.round(c.t_ref_ms[t] / dt)  # whole steps (check())
        spikes, volts = [], []
        with jax.default_device(device):
            lif = bp.dyn.LifRef(
                N,
                V_rest=c.E_L_mV[t],
                V_reset=c.V_reset_mV[t],
                V_th=c.V_th_mV[t],
                R=1.0 / c.g_nS[t],  # GOhm: mV per pA
                tau=c.tau_m_ms[t],
                tau_ref=n_ref,  # in steps: t is the step index below
                V_initializer=bp.init.Constant(bm.asarray(v0.astype(np_dtype))),
                method="exp_auto",
            )
            jump = bm.Variable(bm.zeros(N, dtype=np_dtype))
            lif.add_inp_fun("snnval_inputs", lambda: jump.value, category="delta")
            projections = []
            for d in np.unique(rec_steps):  # BrainPy's delay buffer, one projection per delay
                m = rec_steps == d
                w = np.zeros((N, N))  # (pre, post): Linear computes spikes @ W
                np.add.at(w, (syn.pre[m], syn.post[m]), syn.weight_pA[m])
                comm = bp.dnn.Linear(N, N, W_initializer=bm.asarray(w.astype(np_dtype)), b_initializer=None)
                delay_ms = float(d + DELAY_SHORTFALL_STEPS) * dt  # BrainPy's delay D delivers after D/dt - 1 steps
                projections.append(bp.dyn.FullProjDelta(lif, delay_ms, comm, lif))

            group = bp.DynSysGroup(lif, *projections)

            def step(i, cur, ext):
                bp.share.save(t=i * 1.0, dt=dt, i=i)  # t in steps (refractory test), dt in ms (integration)
                jump.value = ext
                for proj in projections:  # before the neuron: the buffer's newest entry is step i - 1
                    proj()
                return lif(cur), lif.V.value

            t1 = time.perf_counter()
            for b in range(B):  # trials are independent; each starts from the initial state
                bp.reset_state(group)  # V, refractory clocks and every delay buffer
                jump.value = bm.zeros(N, dtype=np_dtype)
                spk, v = bm.for_loop(
                    step, (bm.arange(T), bm.asarray(current[b].astype(np_dtype)), bm.asarray(jumps[b].astype(np_dtype)))
                )
                spikes.append(np.asarray(spk))
                volts.append(np.asarray(v)[:, rec_ids])
        t2 = time.perf_counter()
        trial, step_idx, neuron = np.nonzero(np.stack(spikes))
        state = {"V_m": np.stack(volts).astype(np.float64)} if "V_m" in config.record else {}
        prov = jax_provenance(config, device, t1 - t0, t2 - t1, "LifRef")
        return RunResult.from_spikes(dt, T, B, trial, step_idx, neuron, rec_ids, state, prov)
