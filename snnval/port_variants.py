"""The classic mistakes of porting the TF V1 model to NEST, as named, selectable mapping variants.

Each mistake transforms the faithful mapping (spec, frozen stimulus, readout, semantics) the way a
real port got it wrong (GLIF3_SEMANTICS.md sections 1, 2 and 4; the public port's notes). The
faithful NEST mapping keeps NEST's own neuron dynamics but matches every *mapping* choice of the TF
model: weights in pA = w_TF * vsc_post, the deterministic 1.3 p input, the common background source,
initial V = V_reset, TF's delay rounding and the [150, 200) ms readout window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from snnval.loaders import Readout
from snnval.semantics import Semantics, profile
from snnval.spec import NetworkSpec
from snnval.stimulus import Events, FrozenStimulus, common_background_counts, sample_ported_clip

#: The mapping a faithful NEST port uses: NEST dynamics, TF's mapping choices.
FAITHFUL_NEST = profile("nest-glif-psc").with_knobs(initial_v="v_reset", delay_rounding="tf_clip_half_even")


@dataclass(frozen=True)
class Mistake:
    name: str
    description: str


MISTAKES: dict[str, Mistake] = {
    m.name: m
    for m in (
        Mistake("weights_div_1000", "weights divided by 1000 (as if nA) instead of multiplied by vsc_post"),
        Mistake(
            "clip_sampling",
            "input spikes sampled with probability clip(x / 1.3, 0, 1) instead of the deterministic input x = 1.3 p",
        ),
        Mistake("window_50_100", "readout window 50-100 ms instead of [150, 200) ms"),
        Mistake("window_50_200", "readout window 50-200 ms instead of [150, 200) ms"),
        Mistake("no_background", "background input missing"),
        Mistake("independent_background", "background drawn independently per neuron instead of one common source"),
        Mistake("initial_v_e_l", "initial V at E_L (NEST's default) instead of V_reset"),
        Mistake(
            "delays_sort_bug",
            "delays from network_dat.pkl (TF's load_sparse re-sorted weights but not "
            "delays) instead of the checkpoint's",
        ),
    )
}

#: The order in which the ladder fixes a fully broken port, one mistake at a time (windows are
#: alternatives: the broken port used 50-100 ms).
LADDER = ("weights_div_1000", "clip_sampling", "window_50_100", "no_background", "initial_v_e_l", "delays_sort_bug")


@dataclass(frozen=True)
class Mapping:
    spec: NetworkSpec
    stimulus: FrozenStimulus
    readout: Readout
    semantics: Semantics


def _bkg_source(spec: NetworkSpec) -> int:
    if "bkg" not in spec.source_names:
        raise ValueError(f"spec '{spec.name}' has no source named 'bkg'")
    return spec.source_names.index("bkg")


def _weights_div_1000(m: Mapping, rng) -> Mapping:
    vsc = m.spec.per_neuron("vsc_mV")
    s, i = m.spec.synapses, m.spec.inputs
    syn = replace(s, weight_pA=s.weight_pA / vsc[s.post] / 1000.0)
    inp = replace(i, weight_pA=i.weight_pA / vsc[i.post] / 1000.0)
    return replace(m, spec=replace(m.spec, synapses=syn, inputs=inp))


def _clip_sampling(m: Mapping, rng) -> Mapping:
    ev, bkg = m.stimulus.events, _bkg_source(m.spec)
    lgn = ev.source != bkg
    spikes = sample_ported_clip(ev.amplitude[lgn], rng)
    keep = spikes > 0
    events = Events(ev.trial[lgn][keep], ev.step[lgn][keep], ev.source[lgn][keep], spikes[keep]).concat(
        Events(ev.trial[~lgn], ev.step[~lgn], ev.source[~lgn], ev.amplitude[~lgn])
    )
    return replace(m, stimulus=replace(m.stimulus, events=events))


def _window(start: float, stop: float):
    def apply(m: Mapping, rng) -> Mapping:
        return replace(m, readout=replace(m.readout, window_ms=(start, stop)))

    return apply


def _no_background(m: Mapping, rng) -> Mapping:
    ev, bkg = m.stimulus.events, _bkg_source(m.spec)
    keep = ev.source != bkg
    events = Events(ev.trial[keep], ev.step[keep], ev.source[keep], ev.amplitude[keep])
    return replace(m, stimulus=replace(m.stimulus, events=events))


def _independent_background(m: Mapping, rng) -> Mapping:
    """One background source per neuron, each with its own Binomial(10, 0.1) counts (same mean drive)."""
    spec, stim, bkg = m.spec, m.stimulus, _bkg_source(m.spec)
    inp = spec.inputs
    is_bkg = inp.pre == bkg
    n_old = spec.n_sources
    # the bkg synapses of neuron j now come from source n_old + j
    new_pre = np.where(is_bkg, n_old + inp.post, inp.pre)
    inputs = replace(inp, pre=new_pre)
    names = tuple(spec.source_names) + tuple(f"bkg{j}" for j in range(spec.n_neurons))
    spec2 = replace(spec, inputs=inputs, n_sources=n_old + spec.n_neurons, source_names=names)
    ev = stim.events
    keep = ev.source != bkg
    counts = np.concatenate(
        [common_background_counts(stim.n_trials, stim.n_steps, rng) for _ in range(spec.n_neurons)], axis=2
    )
    dense = Events.from_dense(counts)
    events = Events(ev.trial[keep], ev.step[keep], ev.source[keep], ev.amplitude[keep]).concat(
        Events(dense.trial, dense.step, dense.source + n_old, dense.amplitude)
    )
    return replace(m, spec=spec2, stimulus=replace(stim, events=events))


def _initial_v_e_l(m: Mapping, rng) -> Mapping:
    return replace(m, semantics=m.semantics.with_knobs(initial_v="e_l"))


def _delays_sort_bug(m: Mapping, rng) -> Mapping:
    s = m.spec.synapses
    return replace(m, spec=replace(m.spec, synapses=replace(s, delay_ms=rng.permutation(s.delay_ms))))


_APPLY = {
    "weights_div_1000": _weights_div_1000,
    "clip_sampling": _clip_sampling,
    "window_50_100": _window(50.0, 100.0),
    "window_50_200": _window(50.0, 200.0),
    "no_background": _no_background,
    "independent_background": _independent_background,
    "initial_v_e_l": _initial_v_e_l,
    "delays_sort_bug": _delays_sort_bug,
}


def apply_mistakes(
    spec: NetworkSpec, stimulus: FrozenStimulus, readout: Readout, mistakes: tuple[str, ...], seed: int
) -> Mapping:
    """The faithful NEST mapping with ``mistakes`` applied in a fixed order, randomness from ``seed``."""
    unknown = set(mistakes) - set(MISTAKES)
    if unknown:
        from snnval.errors import SpecError

        raise SpecError("port variant", "mistakes", f"names from {sorted(MISTAKES)}, got {sorted(unknown)}")
    m = Mapping(spec, stimulus, readout, FAITHFUL_NEST)
    for i, name in enumerate(MISTAKES):  # fixed order, one seeded stream per mistake
        if name in mistakes:
            m = _APPLY[name](m, np.random.default_rng([seed, i]))
    return Mapping(m.spec.validated(), m.stimulus.validated(m.spec.n_sources, m.spec.n_neurons), m.readout, m.semantics)


def variant_plan() -> list[tuple[str, str, tuple[str, ...]]]:
    """(variant name, description, mistakes): the faithful port, each mistake alone, and the ladder
    from the fully broken port to the faithful one, fixing one mistake per rung (names "ladder k: ...")."""
    plan = [("faithful", "NEST dynamics with every mapping choice as in the TF model", ())]
    plan += [(name, m.description, (name,)) for name, m in MISTAKES.items()]
    plan.append(("ladder 0: broken port", f"all {len(LADDER)} ladder mistakes at once", LADDER))
    for k in range(1, len(LADDER)):
        plan.append((f"ladder {k}: + fixed {LADDER[k - 1]}", f"ladder: fixed {', '.join(LADDER[:k])}", LADDER[k:]))
    return plan
