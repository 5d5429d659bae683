"""A small V1-like GLIF3 network that classifies digits: spec builder, stimulus, readout, shipped model.

Architecture (defaults; ``references/MODEL_README.md`` documents the shipped model):

* neurons: ``n_exc`` excitatory and ``n_inh`` inhibitory GLIF3 cells, each given one of the real Allen
  parameter sets of :mod:`snnval.allen_cells` (EXCITATORY / INHIBITORY ids) at random; the four V1
  receptors E->E, I->E, E->I, I->I (tau_syn 5.5, 8.5, 2.8, 5.8 ms);
* recurrent synapses: independent Bernoulli draws per ordered pair (no autapses, at most one synapse per
  pair), probability by pre/post class; E weights > 0, I weights < 0 (pA, peak of the alpha PSC);
  delays uniform in whole ms 1..5, so the TF (half-even) and NEST (half-up) rounding rules agree at
  dt = 1 ms and dt = 0.1 ms;
* input: 2 x 64 LGN units (ON/OFF per pixel of an 8x8 digit, :mod:`snnval.lgn`), each connected to a
  random fraction of the neurons, plus one ``bkg`` source connected to every neuron; all input weights
  > 0 (receptor E->E on excitatory targets, E->I on inhibitory ones), delay 1 ms;
* readout: 10 disjoint pools of excitatory neurons; prediction = argmax over pools of the spike count in
  [150, 200) ms, ties to class 0 (:func:`snnval.accuracy.predict_from_pool_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnval.accuracy import TF_READOUT_WINDOW_MS, predict_from_pool_counts
from snnval.allen_cells import EXCITATORY, INHIBITORY, allen_cells
from snnval.errors import SpecError
from snnval.lgn import LGNParams, Timeline, lgn_stimulus, source_names
from snnval.loaders import Readout
from snnval.spec import NetworkSpec, Synapses
from snnval.stimulus import FrozenStimulus

#: The shipped trained model (written by ``references/train_model.py``).
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "references" / "v1_digits.h5"

N_PIXELS = 64
N_CLASSES = 10

#: Receptor index by (pre is inhibitory, post is inhibitory): V1 order E->E, I->E, E->I, I->I.
RECEPTOR = {(False, False): 0, (True, False): 1, (False, True): 2, (True, True): 3}


@dataclass(frozen=True)
class V1Config:
    """Sizes, connection probabilities and initial weights (pA; magnitude, sign set by the pre class)."""

    n_exc: int = 480
    n_inh: int = 120
    pool_size: int = 20
    # recurrent connection probability and mean |weight| (pA) per receptor E->E, I->E, E->I, I->I
    p_rec: tuple[float, float, float, float] = (0.10, 0.20, 0.20, 0.20)
    w_rec_pA: tuple[float, float, float, float] = (8.0, 25.0, 15.0, 25.0)
    w_sigma: float = 0.5  # lognormal spread of the initial weights (sigma of log w)
    p_lgn: float = 0.4  # probability that an LGN unit projects to a given neuron
    w_lgn_pA: float = 6.0
    w_bkg_pA: float = 8.0
    max_delay_ms: int = 5

    @property
    def n_neurons(self) -> int:
        return self.n_exc + self.n_inh


def _lognormal(rng: np.random.Generator, mean: float, sigma: float, n: int) -> np.ndarray:
    """Positive weights with the given mean (pA) and lognormal spread."""
    return mean * rng.lognormal(-0.5 * sigma**2, sigma, n)


def build_v1_spec(
    seed: int,
    n_exc: int | None = None,
    n_inh: int | None = None,
    config: V1Config | None = None,
    n_pixels: int = N_PIXELS,
) -> tuple[NetworkSpec, Readout]:
    """The untrained network and its readout, every random number from ``seed``.

    ``n_exc`` / ``n_inh`` override the config's sizes. Neurons 0 .. n_exc-1 are excitatory, the rest
    inhibitory. Sources: ``lgn_on_*`` (n_pixels), ``lgn_off_*`` (n_pixels), ``bkg`` (see :mod:`snnval.lgn`).
    """
    cfg = config or V1Config()
    n_exc = cfg.n_exc if n_exc is None else int(n_exc)
    n_inh = cfg.n_inh if n_inh is None else int(n_inh)
    if n_exc < N_CLASSES * cfg.pool_size or n_inh < 1:
        raise SpecError("build_v1_spec", "n_exc/n_inh", f"n_exc >= {N_CLASSES * cfg.pool_size} and n_inh >= 1")
    rng = np.random.default_rng(seed)
    n = n_exc + n_inh
    cell_ids = list(EXCITATORY) + list(INHIBITORY)
    cells = allen_cells(cell_ids)
    node_type = np.concatenate(
        [rng.integers(0, len(EXCITATORY), n_exc), rng.integers(len(EXCITATORY), len(cell_ids), n_inh)]
    ).astype(np.int64)
    is_inh = np.arange(n) >= n_exc

    # recurrent: one Bernoulli draw per ordered pair with the probability of its receptor class
    receptor_of_pair = is_inh[:, None].astype(np.int64) + 2 * is_inh[None, :].astype(np.int64)  # [pre, post]
    p_pair = np.asarray(cfg.p_rec)[receptor_of_pair]
    np.fill_diagonal(p_pair, 0.0)  # no autapses
    pre, post = np.nonzero(rng.random((n, n)) < p_pair)
    receptor = receptor_of_pair[pre, post]
    magnitude = np.asarray(cfg.w_rec_pA)[receptor] * rng.lognormal(-0.5 * cfg.w_sigma**2, cfg.w_sigma, pre.size)
    weight = np.where(is_inh[pre], -magnitude, magnitude)
    delay = rng.integers(1, cfg.max_delay_ms + 1, pre.size).astype(float)  # whole ms: rounding is unambiguous

    # input: LGN units to a random fraction of the neurons, bkg to all; excitatory receptors only
    n_lgn = 2 * n_pixels
    lgn_pre, lgn_post = np.nonzero(rng.random((n_lgn, n)) < cfg.p_lgn)
    lgn_w = _lognormal(rng, cfg.w_lgn_pA, cfg.w_sigma, lgn_pre.size)
    bkg_post = np.arange(n)
    in_pre = np.concatenate([lgn_pre, np.full(n, n_lgn)])
    in_post = np.concatenate([lgn_post, bkg_post])
    inputs = Synapses(
        pre=in_pre.astype(np.int64),
        post=in_post.astype(np.int64),
        receptor=2 * is_inh[in_post].astype(np.int64),
        weight_pA=np.concatenate([lgn_w, np.full(n, cfg.w_bkg_pA)]),
        delay_ms=np.ones(in_pre.size),
    )

    # readout: 10 disjoint pools of excitatory neurons drawn at random
    pools = np.sort(rng.permutation(n_exc)[: N_CLASSES * cfg.pool_size].reshape(N_CLASSES, cfg.pool_size), axis=1)
    spec = NetworkSpec(
        name=f"v1_digits_{n_exc}e{n_inh}i_seed{seed}",
        cells=cells,
        node_type=node_type,
        synapses=Synapses(pre.astype(np.int64), post.astype(np.int64), receptor.astype(np.int64), weight, delay),
        n_sources=n_lgn + 1,
        inputs=inputs,
        source_names=source_names(n_pixels),
        populations={
            "exc": np.flatnonzero(~is_inh),
            "inh": np.flatnonzero(is_inh),
            "readout": np.sort(pools.ravel()),
        },
    ).validated()
    readout = Readout(
        pool_neurons=pools.astype(np.int64),
        window_ms=TF_READOUT_WINDOW_MS,
        description=f"{N_CLASSES} pools x {cfg.pool_size} excitatory neurons; argmax of spike counts in "
        "[150, 200) ms, ties to class 0",
    ).validated(spec.n_neurons)
    return spec, readout


def digits_stimulus(
    images: np.ndarray,
    seed: int,
    params: LGNParams | None = None,
    timeline: Timeline | None = None,
) -> FrozenStimulus:
    """One trial per image for :func:`build_v1_spec` networks (LGN ON/OFF + ``bkg``; see :mod:`snnval.lgn`).

    Defaults: :class:`~snnval.lgn.LGNParams` and the 200 ms :class:`~snnval.lgn.Timeline` the model was
    trained with.
    """
    return lgn_stimulus(images, seed, params or LGNParams(), timeline or Timeline(), background=True)


def pool_counts(
    spike_trial: np.ndarray,
    spike_step: np.ndarray,
    spike_neuron: np.ndarray,
    n_trials: int,
    readout: Readout,
    dt_ms: float = 1.0,
) -> np.ndarray:
    """Spike counts per (trial, pool) in the readout window ``[start, stop)`` ms, on the step grid."""
    start, stop = (int(round(t / dt_ms)) for t in readout.window_ms)
    in_window = (spike_step >= start) & (spike_step < stop)
    pool_of = np.full(int(max(readout.pool_neurons.max(), spike_neuron.max(initial=0))) + 1, -1, np.int64)
    for c, ids in enumerate(readout.pool_neurons):  # 10 pools: a loop over classes, not over spikes
        pool_of[ids] = c
    pool = pool_of[spike_neuron]
    keep = in_window & (pool >= 0)
    counts = np.zeros((n_trials, readout.n_classes), dtype=np.int64)
    np.add.at(counts, (spike_trial[keep], pool[keep]), 1)
    return counts


def predict(counts: np.ndarray) -> np.ndarray:
    """Class per trial: argmax over pools, ties (and silence) to the lowest class."""
    return predict_from_pool_counts(counts)


def run_predictions(
    spec: NetworkSpec,
    readout: Readout,
    images: np.ndarray,
    seed: int,
    simulator: str = "tf",
    semantics: str = "tf-billeh",
    dtype: str = "float64",
    batch: int = 100,
    timeline: Timeline | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``images`` through an adapter in batches; return (pool counts (n, 10), predictions (n,)).

    The stimulus of all images is frozen from ``seed`` at once (so batching does not change it) and
    split into trials of at most ``batch`` images per adapter call to bound memory.
    """
    from snnval.adapters import RunConfig, get_adapter
    from snnval.semantics import profile

    stim = digits_stimulus(images, seed, timeline=timeline)
    adapter = get_adapter(simulator)
    config = RunConfig(semantics=profile(semantics), record=(), record_neurons=np.zeros(0, np.int64), dtype=dtype)
    counts = np.zeros((stim.n_trials, readout.n_classes), dtype=np.int64)
    for lo in range(0, stim.n_trials, batch):
        hi = min(lo + batch, stim.n_trials)
        part = stim.trials(lo, hi)
        res = adapter.run(spec, part, config)
        counts[lo:hi] = pool_counts(res.spike_trial, res.spike_step, res.spike_neuron, hi - lo, readout, res.dt_ms)
    return counts, predict(counts)


def load_shipped_model(path: str | Path | None = None) -> tuple[NetworkSpec, Readout, dict]:
    """The trained model shipped in ``references/`` (or ``path``): (spec, readout, metadata)."""
    from snnval.loaders.model_h5 import load_model

    loaded = load_model(SHIPPED_MODEL if path is None else path)
    if loaded.readout is None:
        raise SpecError(str(path or SHIPPED_MODEL), "readout", "a readout group (10 pools)")
    return loaded.spec, loaded.readout, loaded.metadata
