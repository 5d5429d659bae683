"""Named semantic choices ("knobs") of a GLIF3 step, and profiles that bundle them.

Each knob is one documented difference between the TensorFlow reference
(Billeh et al. 2020 training code, class ``BillehColumn``) and NEST ``glif_psc``
(``models/glif_psc.cpp``), as catalogued in GLIF3_SEMANTICS.md section 4.
The TF reference adapter implements every value of every knob; other adapters
declare which values they support.

The LIF family adds ``LIF_KNOB_VALUES`` (kept apart from that table): the resets
``hard_next_step`` and ``subtract_same_step`` and the knob ``input_timing``, which
the discrete-time LIF rule of deep-learning SNN libraries needs (profile
``snn-discrete``; the TF reference runs it as model ``lif_discrete``), and the rules
of the PyNN backends' LIF cells (``refractory="clamp_from_spike_step"`` / ``"clamp_nearest"``,
``psc_to_v="implicit_euler"`` / ``"brian2_exact_or_euler"``; profiles ``pynn-brian2``,
``pynn-neuron``), which the Brian2 adapter runs for NEST's iaf_* models (not the TF reference).

Step conventions shared by every adapter (integer time, see DESIGN.md):

* step ``k`` covers ``(k*dt, (k+1)*dt]``; a recorded state at step ``k`` is
  the state at the end of step ``k`` (NEST stamps it ``(k+1)*dt``);
* a spike emitted in step ``s`` with a delay of ``d`` steps *arrives* in step
  ``s + d``: it jumps the PSC rise variable at the end of that step;
* a stimulus event (input source spike, background count, step-current change)
  at step ``s`` is emitted in step ``s`` like a spike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from snnval.errors import SpecError

#: TF flag ``max_delay`` of the training code (ms): longer delays are clipped.
TF_MAX_DELAY_MS = 5.0

#: NEST's default time base: 1000 tics per ms. Time rounding is done in integer tics.
NEST_TICS_PER_MS = 1000

KNOB_VALUES: dict[str, tuple] = {
    # 1: TF subtracts (V_th - V_reset) one step after the spike; NEST sets V = V_reset in the spike step.
    "reset": ("subtract_next_step", "hard_same_step"),
    # 2: TF masks spikes for ceil(t_ref/dt) steps while V integrates (float countdown r);
    #    NEST holds V and freezes the ASCs for ceil(t_ref/dt) whole steps, so the next spike
    #    comes one step later than in TF.
    #    bmtk dpointnet GLIF3Cell (GLIF3_SEMANTICS.md section 2) masks spikes with an integer countdown
    #    of max(ceil(t_ref/dt), 1) steps computed in floating point ("mask_spikes_steps"); with its
    #    hard_reset flag it also holds V at V_reset while that countdown is > 0 ("hold_reset_steps").
    "refractory": ("mask_spikes", "clamp", "mask_spikes_steps", "hold_reset_steps"),
    # 3: TF adds asc_amps one step after the spike, ASCs decay while refractory, V sees the
    #    start-of-step ASC; NEST jumps ASC to asc_amps + r*ASC*exp(-k t_ref) in the spike step
    #    and V sees the exact step mean (1 - exp(-k h)) / (k h) * ASC.
    "asc": ("tf_late_jump", "nest_exact"),
    # 4: TF: v += (1-exp(-h/tau))*tau/C * I_psc(t-1) (exponential Euler, V sees PSC one step late);
    #    NEST: exact alpha-kernel propagators P31, P32.
    "psc_to_v": ("euler_lag", "exact_alpha"),
    # 6: TF clips delays to [dt, 5 ms] and rounds half to even (numpy); NEST rounds half up.
    "delay_rounding": ("tf_clip_half_even", "nest_half_up"),
    # 9: TF starts at V_reset, NEST at E_L.
    "initial_v": ("v_reset", "e_l"),
    # Input edges: TF and NEST delay a stimulus event by its input edge's delay ("edge"); bmtk
    # dpointnet's GLIF3Cell has no input delays: an input acts in the step it is given ("ignored").
    "input_delay": ("edge", "ignored"),
}

#: Knob values beyond GLIF3_SEMANTICS.md section 4, for the LIF family and the discrete-time LIF rule
#: of deep-learning SNN libraries (u[t] = beta u[t-1] (1 - s[t-1]) + sum_j w_j s_j[t]). Kept apart from
#: ``KNOB_VALUES`` so that table stays exactly the GLIF3 TF-vs-NEST catalogue.
LIF_KNOB_VALUES: dict[str, tuple] = {
    # "hard_next_step": the step after a spike starts from V_reset instead of V (deep-learning "zero"
    #     reset: u[t] = beta * u_reset + input[t]); the spike step itself keeps its supra-threshold V.
    # "subtract_same_step": V -= (V_th - V_reset) in the spike step (Brian2 "v -= theta", soft reset).
    # (The subtractive discrete rule u[t] = beta u[t-1] + input[t] - s[t-1] theta is "subtract_next_step".)
    "reset": ("hard_next_step", "subtract_same_step"),
    # When an input spike arriving in step a (emitted in step s with delay d: a = s + d) acts (injected
    # currents keep the convention of snnval.stimulus.CurrentSteps for every value):
    # "end_of_arrival_step": it enters the synaptic state at the end of step a, so V first feels it in
    #     step a + 1 or later (GLIF3 and NEST iaf_*; default of every GLIF3 profile);
    # "in_arrival_step": it adds to V in step a itself, before step a's threshold test (the discrete
    #     rule's sum_j w_j s_j[t]; NEST iaf_psc_delta's rule).
    "input_timing": ("end_of_arrival_step", "in_arrival_step"),
    # "clamp_from_spike_step": the refractory countdown starts in the spike step itself and counts Brian2's
    #     m = timestep(t_ref, dt) = floor(t_ref/dt + 1e-3) steps (refractory_steps_brian2), so V is held in
    #     steps s+1 .. s+m-1 and integrates again in step s+m; NEST's "clamp" holds s+1 .. s+n with
    #     n = ceil(t_ref/dt) and frees s+n+1: one step later where t_ref is a multiple of dt, two where it
    #     is not (t_ref 2.5 ms at dt 1 ms: free in s+2 vs s+4). pyNN.brian2 (PyNN 0.13, Brian2 2.9): Brian2
    #     stamps a spike of step s at s*dt and holds while timestep(t - lastspike, dt) < timestep(t_ref, dt)
    #     (brian2/groups/neurongroup.py), measured on IF_curr_exp, IF_curr_alpha and IF_cond_exp at dt 0.1
    #     and 1 ms (tests/test_pynn_adapter.py, tests/test_lif_pairs.py).
    # "clamp_nearest": V held for round(t_ref/dt) steps after the spike step (NEST's "clamp" holds
    #     ceil(t_ref/dt)). pyNN.neuron (PyNN 0.13, NEURON 9.0.2, fixed step): its ResetRefrac mechanism ends
    #     the clamp with a self-event at t_spike + t_ref, and NEURON's fixed step delivers an event at the step
    #     boundary t where te <= t + dt/2, i.e. at the nearest boundary. An exact half (t_ref/dt = k + 1/2)
    #     goes either way with the rounding of (t + 1e-12) + (t_ref - 1e-12) (measured: t_ref 2.5 ms at dt
    #     1 ms holds 2 or 3 steps by spike), so the pyNN.neuron adapter refuses such specs; this value
    #     rounds halves up. Measured at dt 1, 0.25 and 0.1 ms with t_ref 0.5-2.7 ms (tests/test_lif_pairs.py).
    "refractory": ("clamp_from_spike_step", "clamp_nearest"),
    # "implicit_euler": V advanced by one backward (implicit) Euler step from the input current at the start
    #     of the step, U' = (U + h/C I) / (1 + h/tau_m) with U = V - E_L (conductance cells: the conductances
    #     at the start of the step, V' = (V + h/C (g_L E_L + g_ex E_ex + g_in E_in + I)) / (1 + h/C (g_L + g_ex
    #     + g_in))), where NEST applies the exact propagator ("exact_alpha"). pyNN.neuron (PyNN 0.13, NEURON
    #     9.0.2, fixed step): measured to 2e-12 mV on IF_curr_exp under DC and after an input spike.
    # "brian2_exact_or_euler": Brian2's default state updater, method=('exact', 'euler', 'heun'), which
    #     pyNN.brian2 (PyNN 0.13) uses: the exact solution for linear (current-based) cells, NEST's propagators
    #     again, and one forward Euler step of V and the conductances for conductance-based cells (V g is not
    #     linear): V' = V + h/C (g_L (E_L - V) + g_ex (E_ex - V) + g_in (E_in - V) + I), g' = g (1 - h/tau_syn).
    #     Its equations are pyNN.brian2's too: IF_curr_alpha's inhibitory alpha PSC decays with tau_syn_E, not
    #     tau_syn_I (PyNN 0.13 pyNN/brian2/standardmodels/receptors.py, current_based_alpha_synapses, lines
    #     47-48 write dii/dt and dyi/dt over tau_syn_e); its kernel is NEST's otherwise (a spike adds w to y,
    #     di/dt = (e y - i)/tau, so the PSC peaks at w after tau; exact update, arrival after the step's
    #     update). Measured on the alpha cells of tests/lif_networks.py (tests/test_lif_pairs.py).
    "psc_to_v": ("implicit_euler", "brian2_exact_or_euler"),
}

#: Every knob and every value a Semantics may take (GLIF3 section 4 plus the LIF additions).
ALL_KNOB_VALUES: dict[str, tuple] = {
    knob: tuple(KNOB_VALUES.get(knob, ()))
    + tuple(v for v in LIF_KNOB_VALUES.get(knob, ()) if v not in KNOB_VALUES.get(knob, ()))
    for knob in (*KNOB_VALUES, *(k for k in LIF_KNOB_VALUES if k not in KNOB_VALUES))
}

#: Knob values of BrainPy 2.8.2's generalized integrate-and-fire neuron ``brainpy.dyn.GifRef``
#: (``brainpy/dyn/neurons/lif.py``, classes GifLTC / GifRefLTC, non-training ``update``), kept apart from
#: ``KNOB_VALUES`` like the LIF additions. Its step: the after-spike currents I_j, V and V_th are integrated
#: together (exponential Euler, each equation with the others at their start-of-step values, so V sees the
#: start-of-step I_j and I_j decays by exp(-k_j dt) every step, refractory or not); V is put back to its old
#: value while the neuron is refractory; spike if V >= V_th; in the spike step V = V_reset,
#: I_j = R_j I_j + A_j (the decayed I_j) and V_th = max(V_th_reset, V_th).
GIF_KNOB_VALUES: dict[str, tuple] = {
    # "gif_same_step": ASC_j jumps to asc_r_j * ASC_j + asc_amps_j in the spike step (no exp(-k t_ref)
    #     factor: the ASCs keep decaying while refractory, also under refractory=clamp), and V sees the
    #     start-of-step ASC (no step mean). TF's "tf_late_jump" jumps one step later; NEST's "nest_exact"
    #     freezes the ASCs while refractory and feeds V their step mean.
    "asc": ("gif_same_step",),
}
for _knob, _values in GIF_KNOB_VALUES.items():
    ALL_KNOB_VALUES[_knob] = ALL_KNOB_VALUES[_knob] + tuple(v for v in _values if v not in ALL_KNOB_VALUES[_knob])

#: 5 (latency): with ``psc_to_v='euler_lag'`` a spike emitted at step s with delay d first moves V
#: at s+d+2, with ``exact_alpha`` at s+d+1. ``delay_offset_steps`` is the compensation a port
#: applies (e.g. NEST delay = d_TF + 1 step); it is added to every recurrent and input delay.
INT_KNOBS = ("delay_offset_steps",)

#: Knob declarations of an adapter that performs NEST glif_psc's neuron step (NEST itself, Brian2 in NEST's
#: step, bmtk pointnet, pyNN.nest): the step knobs at NEST's values, an input delayed by its edge and entering
#: the synaptic state at the end of its arrival step; the mapping knobs (delay rounding, initial V, delay
#: offset) are the adapter's own choice when it builds the network, so it supports every value.
NEST_STEP_KNOBS: dict[str, tuple] = {
    "reset": ("hard_same_step",),
    "refractory": ("clamp",),
    "asc": ("nest_exact",),
    "psc_to_v": ("exact_alpha",),
    "delay_rounding": KNOB_VALUES["delay_rounding"],
    "initial_v": KNOB_VALUES["initial_v"],
    "input_delay": ("edge",),
    "input_timing": ("end_of_arrival_step",),
    "delay_offset_steps": ("any",),
}


@dataclass(frozen=True)
class Semantics:
    """One value per knob; ``name`` is the profile it came from (or a description)."""

    reset: str
    refractory: str
    asc: str
    psc_to_v: str
    delay_rounding: str
    initial_v: str
    delay_offset_steps: int = 0
    name: str = "custom"
    #: defaulted (and after ``name``) so profiles written before these knobs existed keep their meaning
    input_delay: str = "edge"
    input_timing: str = "end_of_arrival_step"

    def __post_init__(self):
        for knob, allowed in ALL_KNOB_VALUES.items():
            value = getattr(self, knob)
            if value not in allowed:
                raise SpecError(f"semantics '{self.name}'", knob, f"one of {allowed}, got {value!r}")
        offset = self.delay_offset_steps
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or offset < 0:
            raise SpecError(f"semantics '{self.name}'", "delay_offset_steps", "an integer >= 0")

    def with_knobs(self, **changes) -> Semantics:
        """A copy with some knobs changed, named after the profile and the change."""
        unknown = set(changes) - set(ALL_KNOB_VALUES) - set(INT_KNOBS)
        if unknown:
            raise SpecError(
                f"semantics '{self.name}'",
                sorted(unknown)[0],
                f"a knob name, one of {sorted(ALL_KNOB_VALUES) + list(INT_KNOBS)}",
            )
        label = ",".join(f"{k}={v}" for k, v in sorted(changes.items()))
        return replace(self, **changes, name=f"{self.name}+{label}" if label else self.name)

    def knobs(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "name"}

    def differing_knobs(self, other: Semantics) -> dict[str, tuple]:
        """Knobs whose values differ: {knob: (self value, other value)}."""
        return {
            f.name: (getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if f.name != "name" and getattr(self, f.name) != getattr(other, f.name)
        }


_NEST = Semantics(
    reset="hard_same_step",
    refractory="clamp",
    asc="nest_exact",
    psc_to_v="exact_alpha",
    delay_rounding="nest_half_up",
    initial_v="e_l",
    name="nest-glif-psc",
)

_SNN_DISCRETE = Semantics(
    reset="hard_next_step",
    refractory="mask_spikes",
    asc="tf_late_jump",
    psc_to_v="euler_lag",
    delay_rounding="nest_half_up",
    initial_v="e_l",
    input_timing="in_arrival_step",
    name="snn-discrete",
)

PROFILES: dict[str, Semantics] = {
    "tf-billeh": Semantics(
        reset="subtract_next_step",
        refractory="mask_spikes",
        asc="tf_late_jump",
        psc_to_v="euler_lag",
        delay_rounding="tf_clip_half_even",
        initial_v="v_reset",
        name="tf-billeh",
    ),
    "nest-glif-psc": _NEST,
    # bmtk >= 1.2 bmtk/simulator/dpointnet/cell_models/glif3_cell.py, class GLIF3Cell: the TF
    # training step (Billeh) with an integer refractory countdown, v starting at 0 (= E_L; the cell
    # assumes V_reset = E_L) and inputs without delays.
    "bmtk-dpointnet": Semantics(
        reset="subtract_next_step",
        refractory="mask_spikes_steps",
        asc="tf_late_jump",
        psc_to_v="euler_lag",
        delay_rounding="tf_clip_half_even",
        initial_v="e_l",
        input_delay="ignored",
        name="bmtk-dpointnet",
    ),
    # NEST's delta-synapse LIF (iaf_psc_delta): hard reset in the spike step, V held for t_ref, and an
    # arriving spike added to V in its arrival step; the TF reference runs the same rule (model
    # iaf_psc_delta), so the two are a same-semantics pair. The GLIF3 knobs keep NEST's values.
    "nest-psc-delta": replace(_NEST, input_timing="in_arrival_step", name="nest-psc-delta"),
    # pyNN.brian2's LIF cells (IF_curr_exp, IF_curr_alpha, IF_cond_exp): NEST's step except that the refractory
    # countdown starts in the spike step (refractory="clamp_from_spike_step"), conductance cells take a forward
    # Euler step and IF_curr_alpha's inhibitory PSC uses tau_syn_E (psc_to_v="brian2_exact_or_euler"); the
    # Brian2 adapter runs NEST's LIF models under it and reproduces pyNN.brian2 spike for spike.
    "pynn-brian2": replace(
        _NEST, refractory="clamp_from_spike_step", psc_to_v="brian2_exact_or_euler", name="pynn-brian2"
    ),
    # pyNN.neuron's LIF cells (NEURON's fixed step): V by implicit Euler (psc_to_v="implicit_euler"), and the
    # spike step's recorded V still above threshold, V_reset from the next step on (reset="hard_next_step"),
    # held for round(t_ref/dt) steps after the spike step (refractory="clamp_nearest"; NEST holds ceil).
    "pynn-neuron": replace(
        _NEST, reset="hard_next_step", refractory="clamp_nearest", psc_to_v="implicit_euler", name="pynn-neuron"
    ),
    # The discrete-time LIF rule of deep-learning SNN libraries (snnTorch ``Leaky`` with
    # reset_mechanism="zero", Norse/SpikingJelly discrete LIF): u[t] = beta u[t-1] (1 - s[t-1]) +
    # sum_j w_j s_j[t]. Only models that define a discrete rule (``lif_discrete``) run it; the GLIF3
    # knobs are set to the values that leave such a model unchanged (no refractoriness to clamp).
    "snn-discrete": _SNN_DISCRETE,
    # Norse 1.1 LIFBoxCell (norse/torch/functional/lif_box.py): the discrete rule with the reset in the spike
    # step (reset_value: v = v_reset at once; reset_subtract is subtract_same_step), input in its arrival step.
    "norse-lif-box": replace(_SNN_DISCRETE, reset="hard_same_step", name="norse-lif-box"),
    # BrainPy 2.8.2 GifRef on a GLIF3 cell (threshold adaptation off: a = 0, V_th_reset = V_th_inf = V_th,
    # R_j = asc_r, A_j = asc_amps): NEST's hard reset in the spike step and V held for ceil(t_ref/dt)
    # steps (the BrainPy adapter counts refractoriness in whole steps), the GifRef ASC rule above, the
    # exponential-Euler V step with the start-of-step input. GifRef's threshold test is V >= V_th where TF
    # and NEST test V > V_th: the two part only when V lands exactly on V_th (no knob; a measure-zero event).
    "brainpy-gifref": replace(_NEST, asc="gif_same_step", psc_to_v="euler_lag", name="brainpy-gifref"),
}


def profile(name_or_semantics: str | Semantics) -> Semantics:
    if isinstance(name_or_semantics, Semantics):
        return name_or_semantics
    try:
        return PROFILES[name_or_semantics]
    except KeyError:
        raise SpecError("--profile", "profile", f"one of {sorted(PROFILES)}, got {name_or_semantics!r}") from None


def _tics(ms: np.ndarray | float) -> np.ndarray:
    return np.rint(np.asarray(ms, dtype=float) * NEST_TICS_PER_MS).astype(np.int64)


def delay_steps(delay_ms: np.ndarray, dt_ms: float, semantics: Semantics) -> np.ndarray:
    """Synaptic delays in whole steps (>= 1), by the profile's rounding rule plus its offset.

    ``nest_half_up``: NEST rounds ``delay / h`` half up, in integer tics.
    ``tf_clip_half_even``: the TF training code clips to [dt, 5 ms] and applies
    ``np.round`` (half to even) to ``delay / dt``.
    """
    delay_ms = np.asarray(delay_ms, dtype=float)
    # min and max are finite exactly when every delay is (two reductions, no temporary at 5.2 M synapses)
    if delay_ms.size and not (np.isfinite(delay_ms.min()) and np.isfinite(delay_ms.max())):
        bad = np.flatnonzero(~np.isfinite(delay_ms.ravel()))[0]
        raise SpecError("synapses", "delay_ms", f"finite delays (element {bad} is {delay_ms.ravel()[bad]})")
    if semantics.delay_rounding == "nest_half_up":
        # NEST: floor(delay / h + 0.5) on the delay as given (not first rounded to tics)
        steps_per_ms = NEST_TICS_PER_MS / float(_tics(dt_ms))
        x = np.multiply(delay_ms, steps_per_ms, out=np.empty_like(delay_ms))  # an array even for 0-d input
        x += 0.5  # in place: the same float operations as floor(delay * k + 0.5), one temporary fewer
        steps = np.floor(x, out=x).astype(np.int64)
    else:
        clipped = np.clip(delay_ms, dt_ms, TF_MAX_DELAY_MS)
        n_clipped = int(np.count_nonzero(clipped != delay_ms))
        if n_clipped:  # the profile's rule, but never silently: the model's delays are changed
            import warnings

            warnings.warn(
                f"synapses: field 'delay_ms': {n_clipped} of {delay_ms.size} delays outside [dt = {dt_ms:g}, "
                f"{TF_MAX_DELAY_MS:g}] ms are clipped into it by the tf_clip_half_even delay rule",
                RuntimeWarning,
                stacklevel=2,
            )
        steps = np.round(clipped / dt_ms).astype(np.int64)
    if steps.size and steps.min() < 1:
        bad = np.flatnonzero(steps.ravel() < 1)[0]
        raise SpecError(
            "synapses", "delay_ms", f"delays >= dt = {dt_ms} ms (element {bad} is {delay_ms.ravel()[bad]} ms)"
        )
    offset = int(semantics.delay_offset_steps)
    return steps + offset if offset else steps


def input_delay_steps(delay_ms: np.ndarray, dt_ms: float, semantics: Semantics) -> np.ndarray:
    """Delays of *input* synapses in steps: like :func:`delay_steps`, except that a delay of exactly 0 ms
    is 0 steps: the input acts in the step it arrives (bmtk dpointnet's inputs, ``x[t]`` enters the
    PSC in step t). Only adapters that say so run such inputs (NEST's minimum delay is one step).
    """
    delay_ms = np.asarray(delay_ms, dtype=float)
    zero = delay_ms == 0.0
    steps = np.zeros(delay_ms.shape, dtype=np.int64)
    if np.any(~zero):
        steps[~zero] = delay_steps(delay_ms[~zero], dt_ms, semantics)
    steps[zero] = int(semantics.delay_offset_steps)
    return steps


def refractory_steps(t_ref_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """NEST's RefractoryCounts: t_ref in whole steps, rounded up (computed in integer tics)."""
    step_tics = int(_tics(dt_ms))
    return -(-_tics(t_ref_ms) // step_tics)


def refractory_steps_nearest(t_ref_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """t_ref in whole steps, rounded to the nearest, halves up (in integer tics; knob
    ``refractory="clamp_nearest"``, NEURON's fixed-step event delivery)."""
    step_tics = int(_tics(dt_ms))
    return (2 * _tics(t_ref_ms) + step_tics) // (2 * step_tics)


def refractory_half_step_ties(t_ref_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """Where t_ref is an odd number of half steps (t_ref/dt = k + 1/2, in tics): NEURON may round it either way."""
    step_tics = int(_tics(dt_ms))
    return (2 * _tics(t_ref_ms)) % (2 * step_tics) == step_tics


def refractory_steps_brian2(t_ref_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """Brian2's ``timestep(t_ref, dt)``: t_ref in whole steps, rounded down after a shift of 1e-3 dt, in
    seconds as Brian2 computes it (brian2/core/functions.py); the steps of ``refractory`` counted from the
    spike step itself (knob ``refractory="clamp_from_spike_step"``)."""
    t_ref_s = np.asarray(t_ref_ms, dtype=float) * 1e-3
    dt_s = float(dt_ms) * 1e-3
    return np.asarray((t_ref_s + 1e-3 * dt_s) / dt_s, dtype=np.int64)


def refractory_steps_bmtk(t_ref_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """bmtk dpointnet's refractory countdown: max(ceil(t_ref / dt), 1) steps, the division in float64.

    Unlike :func:`refractory_steps` (NEST, integer tics) the quotient is a float, so e.g.
    t_ref = 2.1 ms at dt = 0.3 ms gives ceil(7.000000000000001) = 8 steps where NEST counts 7
    (bmtk GLIF3Cell.__init__).
    """
    steps = np.ceil(np.asarray(t_ref_ms, dtype=float) / float(dt_ms))
    return np.maximum(steps, 1.0).astype(np.int64)
