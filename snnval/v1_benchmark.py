"""A V1-sized GLIF3 benchmark network with realistic activity, and its frozen 600 ms stimulus.

Size (full scale, ``scale=1``): 51,978 GLIF3 neurons in the 17 populations of the Allen V1 model
(Billeh et al. 2020, Neuron 106(3):388: layer 1 Htr3a; layers 2/3, 4, 5 and 6 each with excitatory,
Pvalb, Sst and Htr3a cells), a fixed in-degree of 100 recurrent synapses per neuron (5,197,800 in
total), 17,400 LGN input fibres, plus background sources, 600 ms trials at dt = 1 ms. ``scale`` < 1
shrinks every population and the number of sources proportionally and keeps every in-degree, so the
mean input of a neuron (and so its rate) is the same at 1/8 and at full size.

What comes from where:

* neuron count 51,978, ~5 M recurrent synapses (~100 per neuron), 17,400 LGN fibres, 600 ms trials and
  the 17 populations: the V1 model of Billeh et al. 2020 as used by the TF training code (issue 11);
* population fractions (``LAYER_FRACTION``, ``CLASS_FRACTION``): a modelling choice giving ~85 %
  excitatory cells, inhibitory cells split Pvalb > Sst ~ Htr3a with more Sst in L5 and more Htr3a in
  L2/3, as in the layer/class composition Billeh et al. describe; the per-population numbers are not
  copied from the paper (not confirmed here);
* cell parameters: the suite ships six Allen GLIF3 sets (:mod:`snnval.allen_cells`), not one per
  class; the assignment in ``POPULATION_CELL`` is a modelling choice (Scnn1a/Rorb/Nr5a1 excitatory
  sets for E cells, PV1 for Pvalb, PV2 for Htr3a, the NEST default set for Sst);
* connectivity rules (``CLASS_AFFINITY``, ``SAME_LAYER_AFFINITY``): a modelling choice loosely
  following the inhibitory targeting of Pfeffer et al. 2013 (Nat. Neurosci. 16:1068): Pvalb cells
  inhibit E and Pvalb cells, Sst cells avoid Sst cells, Htr3a (VIP) cells prefer Sst cells;
* target rates (``TARGET_RATE_HZ``): a few Hz for excitatory cells (lowest in L2/3), tens of Hz for
  Pvalb, in between for Sst and Htr3a, the kind of ranges mouse V1 recordings report (Niell & Stryker
  2008, J. Neurosci., for excitatory vs fast-spiking cells; Billeh et al. 2020 compare their model with
  Neuropixels rates per class). The per-population numbers were not checked against those papers here:
  they are modelling choices;
* input: LGN fibres with spontaneous rates ~5 Hz and a drifting-grating-like modulation from 100 ms on
  (the rates are synthetic, a modelling choice), plus background sources that stand for the rest of
  the brain (Billeh et al.'s BKG input); the background weights per population are what was tuned so
  that the network fires at the target rates (measured with NEST at 1/8 size, then checked at full
  size: the numbers are in benchmarks/README.md).

Every random number is drawn from ``seed`` here (networks) and in :func:`v1_stimulus` (input events,
via :mod:`snnval.stimulus`); adapters draw none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnval.allen_cells import allen_cells
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import Events, FrozenStimulus, rate_to_probability, sample_bernoulli

#: Full V1 model size (Billeh et al. 2020 core; issue 11).
V1_N_NEURONS = 51_978
V1_N_LGN = 17_400
V1_IN_DEGREE = 100
TRIAL_MS = 600

LAYERS = ("L1", "L2/3", "L4", "L5", "L6")
CLASSES = ("E", "Pvalb", "Sst", "Htr3a")
INHIBITORY_CLASSES = ("Pvalb", "Sst", "Htr3a")

#: Fraction of all neurons per layer (modelling choice, see module docstring).
LAYER_FRACTION = {"L1": 0.015, "L2/3": 0.28, "L4": 0.22, "L5": 0.23, "L6": 0.255}
#: Fraction of a layer's neurons per class (L1 is Htr3a only; modelling choice).
CLASS_FRACTION = {
    "L1": {"Htr3a": 1.0},
    "L2/3": {"E": 0.85, "Pvalb": 0.055, "Sst": 0.035, "Htr3a": 0.06},
    "L4": {"E": 0.88, "Pvalb": 0.06, "Sst": 0.03, "Htr3a": 0.03},
    "L5": {"E": 0.82, "Pvalb": 0.08, "Sst": 0.07, "Htr3a": 0.03},
    "L6": {"E": 0.88, "Pvalb": 0.05, "Sst": 0.045, "Htr3a": 0.025},
}
#: Allen cell id (snnval.allen_cells) per population (modelling choice: the suite ships six sets).
POPULATION_CELL = {
    "L1_Htr3a": "487667205",
    "L2/3_E": "480124551",
    "L4_E": "593618144",
    "L5_E": "318808427",
    "L6_E": "480124551",
    "Pvalb": "478958894",
    "Sst": "490626718",
    "Htr3a": "487667205",
}
#: Relative connection preference pre class -> post class (multiplies the pre population's size).
CLASS_AFFINITY = {
    "E": {"E": 1.0, "Pvalb": 1.0, "Sst": 1.0, "Htr3a": 1.0},
    "Pvalb": {"E": 2.0, "Pvalb": 2.0, "Sst": 0.5, "Htr3a": 0.5},
    "Sst": {"E": 1.5, "Pvalb": 1.5, "Sst": 0.1, "Htr3a": 1.5},
    "Htr3a": {"E": 0.5, "Pvalb": 0.5, "Sst": 2.0, "Htr3a": 0.5},
}
#: Extra preference for a presynaptic partner in the same layer (local circuits dominate).
SAME_LAYER_AFFINITY = 3.0
#: LGN fibres per neuron by layer (thalamic input mainly to L4; modelling choice).
LGN_IN_DEGREE = {"L1": 5, "L2/3": 10, "L4": 30, "L5": 10, "L6": 10}
#: Background sources per neuron and their rate (Hz): 10 x 100 Hz ~ 1 kHz of background per neuron,
#: the rate of Billeh et al.'s single BKG source, spread over many sources so neurons share little.
BKG_IN_DEGREE = 10
BKG_RATE_HZ = 100.0
#: Background sources per neuron of the network (1,000 at full size).
BKG_SOURCES_PER_NEURON = 1000 / V1_N_NEURONS
#: Target mean rate per class and layer (Hz) during the trial (modelling choice within the published
#: ranges, see module docstring); the background weights were tuned to these with NEST.
TARGET_RATE_HZ = {
    "L1_Htr3a": 5.0,
    "L2/3_E": 1.5,
    "L4_E": 4.0,
    "L5_E": 5.0,
    "L6_E": 2.0,
    "Pvalb": 15.0,
    "Sst": 8.0,
    "Htr3a": 5.0,
}


def population_names() -> list[str]:
    """The 17 populations in neuron-id order: ``L1_Htr3a``, ``L2/3_E``, ``L2/3_Pvalb``, ..."""
    return [f"{layer}_{cls}" for layer in LAYERS for cls in CLASS_FRACTION[layer]]


def _layer_class(pop: str) -> tuple[str, str]:
    layer, cls = pop.split("_")
    return layer, cls


def _lookup(table: dict, pop: str):
    """Per-population value: the population's own key, else its class key."""
    return table[pop] if pop in table else table[_layer_class(pop)[1]]


def population_sizes(n_neurons: int) -> dict[str, int]:
    """Neurons per population summing exactly to ``n_neurons`` (largest-remainder rounding)."""
    pops = population_names()
    frac = np.array(
        [LAYER_FRACTION[_layer_class(p)[0]] * CLASS_FRACTION[_layer_class(p)[0]][_layer_class(p)[1]] for p in pops]
    )
    raw = frac / frac.sum() * n_neurons
    sizes = np.floor(raw).astype(np.int64)
    sizes[np.argsort(raw - sizes)[::-1][: n_neurons - sizes.sum()]] += 1
    return dict(zip(pops, (int(s) for s in sizes), strict=True))


@dataclass(frozen=True)
class V1BenchConfig:
    """Weights (pA, peak of the alpha PSC) and sizes; defaults are the tuned network (see module doc)."""

    scale: float = 1.0
    in_degree: int = V1_IN_DEGREE
    #: mean |weight| per receptor E->E, I->E, E->I, I->I (pA)
    w_rec_pA: tuple[float, float, float, float] = (3.0, 12.0, 4.0, 12.0)
    w_sigma: float = 0.5
    w_lgn_pA: float = 10.0
    #: background weight per population key of TARGET_RATE_HZ (pA); tuned
    w_bkg_pA: dict = field(
        default_factory=lambda: {
            "L1_Htr3a": 21.6,
            "L2/3_E": 13.7,
            "L4_E": 6.8,
            "L5_E": 10.9,
            "L6_E": 13.9,
            "Pvalb": 32.5,
            "Sst": 28.6,
            "Htr3a": 20.5,
        }
    )
    max_delay_ms: int = 5

    @property
    def n_neurons(self) -> int:
        return int(round(V1_N_NEURONS * self.scale))

    @property
    def n_lgn(self) -> int:
        return int(round(V1_N_LGN * self.scale))

    @property
    def n_bkg(self) -> int:
        return max(BKG_IN_DEGREE, int(round(BKG_SOURCES_PER_NEURON * self.n_neurons)))


def rate_key(pop: str) -> str:
    """The TARGET_RATE_HZ / w_bkg_pA key of a population (its own name, else its class)."""
    return pop if pop in TARGET_RATE_HZ else _layer_class(pop)[1]


def build_v1_benchmark(seed: int = 1, config: V1BenchConfig | None = None) -> NetworkSpec:
    """The V1-sized network (validated NetworkSpec); populations in ``spec.populations``.

    Sources: LGN fibres ``0 .. n_lgn-1``, then background sources. Node type = population (17 types).
    Delays are whole ms in 1..max_delay_ms, so every delay-rounding rule gives the same steps at dt 1 ms.
    """
    cfg = config or V1BenchConfig()
    rng = np.random.default_rng(seed)
    sizes = population_sizes(cfg.n_neurons)
    pops = list(sizes)
    size = np.array([sizes[p] for p in pops], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    n = int(size.sum())
    pop_of = np.repeat(np.arange(len(pops)), size)
    layer = [_layer_class(p)[0] for p in pops]
    cls = [_layer_class(p)[1] for p in pops]
    is_inh_pop = np.array([c in INHIBITORY_CLASSES for c in cls])
    is_inh = is_inh_pop[pop_of]

    cells = allen_cells(
        [_lookup(POPULATION_CELL, p) for p in pops], names=[f"{p}_{_lookup(POPULATION_CELL, p)}" for p in pops]
    )

    # recurrent: a fixed in-degree; each synapse's pre population drawn with probability proportional
    # to size x class affinity x same-layer preference, the pre neuron uniformly within it
    k = int(cfg.in_degree)
    post = np.repeat(np.arange(n, dtype=np.int64), k)
    pre = np.empty(n * k, dtype=np.int64)
    for q in range(len(pops)):  # 17 post populations: a loop over populations, not synapses
        pref = np.array(
            [
                size[p] * CLASS_AFFINITY[cls[p]][cls[q]] * (SAME_LAYER_AFFINITY if layer[p] == layer[q] else 1.0)
                for p in range(len(pops))
            ],
            dtype=float,
        )
        sl = slice(start[q] * k, (start[q] + size[q]) * k)
        m = size[q] * k
        src_pop = rng.choice(len(pops), size=m, p=pref / pref.sum())
        pre[sl] = start[src_pop] + (rng.random(m) * size[src_pop]).astype(np.int64)
    receptor = is_inh[pre].astype(np.int64) + 2 * is_inh[post].astype(np.int64)
    magnitude = np.asarray(cfg.w_rec_pA)[receptor] * rng.lognormal(-0.5 * cfg.w_sigma**2, cfg.w_sigma, pre.size)
    weight = np.where(is_inh[pre], -magnitude, magnitude)
    delay = rng.integers(1, cfg.max_delay_ms + 1, pre.size).astype(float)

    # inputs: LGN fibres by layer, background sources to every neuron; excitatory receptors only
    n_lgn, n_bkg = cfg.n_lgn, cfg.n_bkg
    lgn_k = np.array([LGN_IN_DEGREE[layer[p]] for p in range(len(pops))])[pop_of]
    lgn_post = np.repeat(np.arange(n, dtype=np.int64), lgn_k)
    lgn_pre = rng.integers(0, n_lgn, lgn_post.size)
    bkg_post = np.repeat(np.arange(n, dtype=np.int64), BKG_IN_DEGREE)
    bkg_pre = n_lgn + rng.integers(0, n_bkg, bkg_post.size)
    w_bkg = np.array([cfg.w_bkg_pA[rate_key(p)] for p in pops])[pop_of]
    in_post = np.concatenate([lgn_post, bkg_post])
    in_w = np.concatenate(
        [
            cfg.w_lgn_pA * rng.lognormal(-0.5 * cfg.w_sigma**2, cfg.w_sigma, lgn_post.size),
            w_bkg[bkg_post],
        ]
    )
    inputs = Synapses(
        pre=np.concatenate([lgn_pre, bkg_pre]).astype(np.int64),
        post=in_post,
        receptor=2 * is_inh[in_post].astype(np.int64),
        weight_pA=in_w,
        delay_ms=np.ones(in_post.size),
    )
    return NetworkSpec(
        name=f"v1_benchmark_scale{cfg.scale:g}_seed{seed}",
        cells=cells,
        node_type=pop_of.astype(np.int64),
        synapses=Synapses(pre, post, receptor, weight, delay),
        n_sources=n_lgn + n_bkg,
        inputs=inputs,
        populations={p: np.arange(start[i], start[i] + size[i], dtype=np.int64) for i, p in enumerate(pops)},
    ).validated()


def v1_stimulus(
    spec: NetworkSpec,
    seed: int = 2,
    n_trials: int = 1,
    n_steps: int = TRIAL_MS,
    dt_ms: float = 1.0,
    n_lgn: int | None = None,
) -> FrozenStimulus:
    """Frozen Bernoulli input events (amplitude 1) for :func:`build_v1_benchmark` networks.

    LGN fibre i: spontaneous rate r_i ~ lognormal with mean 5 Hz for the first 100 ms (gray screen),
    then 2 r_i (1 + 0.8 sin(2 pi 2 Hz t + phi_i)) (a drifting grating at 2 Hz; synthetic, a modelling
    choice). Background sources: BKG_RATE_HZ throughout. p = 1 - exp(-rate dt) per step.
    """
    rng = np.random.default_rng(seed)
    n_src = spec.n_sources
    if n_lgn is None:
        n_lgn = n_src - max(BKG_IN_DEGREE, int(round(BKG_SOURCES_PER_NEURON * spec.n_neurons)))
    t_s = (np.arange(n_steps) * dt_ms / 1000.0)[:, None]
    base = 5.0 * rng.lognormal(-0.5 * 0.5**2, 0.5, n_lgn)[None, :]
    phase = rng.uniform(0, 2 * np.pi, n_lgn)[None, :]
    grating = 2.0 * base * (1.0 + 0.8 * np.sin(2 * np.pi * 2.0 * t_s + phase))
    lgn_rate = np.where(t_s < 0.1, base, grating)
    rate = np.concatenate([lgn_rate, np.full((n_steps, n_src - n_lgn), BKG_RATE_HZ)], axis=1)
    p = rate_to_probability(rate, dt_ms)
    x = sample_bernoulli(np.broadcast_to(p, (n_trials, n_steps, n_src)), rng)
    return FrozenStimulus(dt_ms, n_steps, n_trials, events=Events.from_dense(x), seed=seed, description="v1_benchmark")


def population_rates_Hz(spec: NetworkSpec, spike_neuron: np.ndarray, duration_s: float, n_trials: int = 1) -> dict:
    """Mean rate (Hz) per population from spike neuron ids."""
    counts = np.bincount(spike_neuron, minlength=spec.n_neurons)
    return {
        p: float(counts[ids].sum() / max(ids.size, 1) / duration_s / n_trials) for p, ids in spec.populations.items()
    }
