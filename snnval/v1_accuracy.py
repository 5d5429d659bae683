"""The accuracy tier at V1 size: a V1-sized digit model, its 17,400-input LGN encoding, and the TF/NEST check.

Model (:func:`v1_accuracy_model`): the V1 benchmark network of :mod:`snnval.v1_benchmark` (51,978 GLIF3
neurons, 17 populations, tuned to realistic rates) with a readout of 10 pools of 30 layer-5 excitatory
neurons (one per digit class, as the TF training code's readout pools), counting spikes in
[150, 200) ms (:data:`snnval.accuracy.TF_READOUT_WINDOW_MS`). It is NOT trained (training at this size is
out of reach on 2 cores): its accuracy is near chance, and what the tier checks is that the pipeline, the
prediction agreement between simulators and their real-time factors work at the size users port.

Input (:func:`v1_digit_stimulus`): the suite's LGN encoding of an 8x8 digit (:func:`snnval.lgn.lgn_rates`:
one ON and one OFF channel per pixel with the biphasic temporal filter) spread over the 17,400 LGN fibres:
fibre i carries channel ``i mod 128`` (so each channel drives ~136 fibres, as many LGN cells share a
receptive field), plus the spontaneous 5 Hz of the benchmark stimulus, sampled as Bernoulli events
(amplitude 1) from the stimulus seed; the background sources fire at their 100 Hz throughout. 600 ms
trials (Timeline(duration_ms=600): 50 ms blank, 100 ms image, blank).

The nightly calls :func:`v1_accuracy_check` (runs through :func:`snnval.runner.run_adapter`, each
simulator in its isolated worker) and puts its dict in the report.
"""

from __future__ import annotations

import time

import numpy as np

from snnval.accuracy import TF_READOUT_WINDOW_MS, prediction_agreement
from snnval.lgn import LGNParams, Timeline, lgn_rates
from snnval.loaders import Readout
from snnval.spec import NetworkSpec
from snnval.stimulus import Events, FrozenStimulus, rate_to_probability, sample_bernoulli
from snnval.v1_benchmark import BKG_RATE_HZ, V1BenchConfig, build_v1_benchmark

POOL_SIZE = 30
N_CLASSES = 10
SPONTANEOUS_HZ = 5.0
#: How the model was made, for the report (the module docstring has the details).
MODEL_DESCRIPTION = (
    "Untrained: the V1 benchmark network (snnval.v1_benchmark: 17 populations with published V1 sizes, "
    "in-degrees and E/I balance, weights tuned to realistic rates) with a readout of 10 pools of 30 layer-5 "
    "excitatory neurons (one per digit class, as the TF training code's readout), spike counts in "
    "[150, 200) ms; input: the suite's 128-channel LGN encoding of 8x8 digits spread over the 17,400 LGN "
    "fibres plus background sources. Accuracy is near chance by design (training at this size is out of "
    "reach on 2 cores); the check is the pipeline and the agreement between simulators at V1 size."
)


def v1_accuracy_model(seed: int = 1, scale: float = 1.0) -> tuple[NetworkSpec, Readout, int]:
    """(spec, readout, n_lgn): the V1 benchmark network with 10 pools of 30 L5 excitatory neurons."""
    cfg = V1BenchConfig(scale=scale)
    spec = build_v1_benchmark(seed, cfg)
    l5e = spec.populations["L5_E"]
    rng = np.random.default_rng(seed + 1_000)
    pools = np.sort(rng.choice(l5e, N_CLASSES * POOL_SIZE, replace=False).reshape(N_CLASSES, POOL_SIZE), axis=1)
    readout = Readout(
        pool_neurons=pools.astype(np.int64),
        window_ms=TF_READOUT_WINDOW_MS,
        description=f"{N_CLASSES} pools x {POOL_SIZE} L5 excitatory neurons (untrained V1-sized model)",
    ).validated(spec.n_neurons)
    return spec, readout, cfg.n_lgn


def v1_digit_stimulus(spec: NetworkSpec, images: np.ndarray, n_lgn: int, seed: int) -> FrozenStimulus:
    """One 600 ms trial per 8x8 image (values in [0, 1]) on the 17,400 LGN fibres + background sources."""
    timeline = Timeline(duration_ms=600.0)
    channel = lgn_rates(np.asarray(images, dtype=float), LGNParams(), timeline)  # (n, T, 128) Hz
    fibre_channel = np.arange(n_lgn) % channel.shape[2]
    n, steps = channel.shape[0], channel.shape[1]
    rng = np.random.default_rng(seed)
    x = np.zeros((n, steps, spec.n_sources))
    for i in range(n):  # one trial at a time bounds memory to one (steps, sources) array per trial
        rate = np.empty((steps, spec.n_sources))
        rate[:, :n_lgn] = SPONTANEOUS_HZ + channel[i][:, fibre_channel]
        rate[:, n_lgn:] = BKG_RATE_HZ
        x[i] = sample_bernoulli(rate_to_probability(rate, timeline.dt_ms), rng)
    return FrozenStimulus(timeline.dt_ms, steps, n, events=Events.from_dense(x), seed=seed, description="v1_digits")


def pool_counts(result, readout: Readout) -> np.ndarray:
    """Spike counts per (trial, pool) in the readout window."""
    start, stop = (int(round(t / result.dt_ms)) for t in readout.window_ms)
    pool_of = np.full(int(readout.pool_neurons.max()) + 1, -1, np.int64)
    for c, ids in enumerate(readout.pool_neurons):  # 10 pools, not a loop over spikes
        pool_of[ids] = c
    keep = (result.spike_step >= start) & (result.spike_step < stop) & (result.spike_neuron < pool_of.size)
    pool = pool_of[result.spike_neuron[keep]]
    ok = pool >= 0
    counts = np.zeros((result.n_trials, readout.n_classes), np.int64)
    np.add.at(counts, (result.spike_trial[keep][ok], pool[ok]), 1)
    return counts


def v1_accuracy_check(
    n_samples: int = 3,
    sims: tuple[str, ...] = ("tf", "nest"),
    scale: float = 1.0,
    threads: int = 2,
    seed: int = 1,
    stim_seed: int = 20_261_201,
    timeout_s: float | None = None,
    reuse: bool = True,
) -> dict:
    """Run held-out digits through each simulator on the V1-sized model; predictions, agreement, RT factors.

    Profile nest-glif-psc everywhere (the TF reference then reproduces NEST spike for spike on this
    network: benchmarks/README.md), float64. Each run is isolated (:func:`snnval.runner.run_adapter`)
    with ``timeout_s`` (None: the runner's size-derived default); ``reuse=False`` runs each in a fresh
    process that exits afterwards (the nightly: a V1-sized kernel is not kept alive in a worker).
    Returns a JSON-able dict for the nightly report.
    """
    from snnval.accuracy import predict_from_pool_counts
    from snnval.adapters import RunConfig
    from snnval.digits import load_sklearn_digits, split_indices
    from snnval.runner import run_adapter
    from snnval.semantics import profile

    images, labels = load_sklearn_digits()
    _, held_out = split_indices(len(labels))
    pick = held_out[:n_samples]
    spec, readout, n_lgn = v1_accuracy_model(seed, scale)
    stim = v1_digit_stimulus(spec, images[pick], n_lgn, stim_seed)
    config = RunConfig(
        semantics=profile("nest-glif-psc"), record=(), record_neurons=np.zeros(0, np.int64), threads=threads
    )
    out: dict = {
        "n_neurons": spec.n_neurons,
        "n_synapses": len(spec.synapses),
        "n_input_synapses": len(spec.inputs),
        "n_lgn": int(n_lgn),
        "n_sources": int(spec.n_sources),
        "n_samples": int(pick.size),
        "scale": float(scale),
        "profile": config.semantics.name,
        "held_out_indices": [int(i) for i in pick],
    }
    preds = {}
    for sim in sims:
        t0 = time.perf_counter()
        res = run_adapter(sim, spec, stim, config, timeout_s=timeout_s, reuse=reuse)
        counts = pool_counts(res, readout)
        preds[sim] = predict_from_pool_counts(counts)
        out[sim] = {
            "predictions": preds[sim].tolist(),
            "correct": int(np.count_nonzero(preds[sim] == labels[pick])),
            "n_spikes": res.n_spikes,
            "mean_rate_Hz": res.n_spikes / spec.n_neurons / (stim.duration_ms / 1000.0) / stim.n_trials,
            "realtime_factor": float(res.provenance["realtime_factor"]),
            "build_wall_s": float(res.provenance["build_wall_s"]),
            "wall_s": time.perf_counter() - t0,
            "spike_key": _spike_key(res),
        }
    if len(sims) >= 2:
        a, b = sims[0], sims[1]
        agree = prediction_agreement(preds[a], preds[b])
        out["agreement"] = {"pair": [a, b], "k": agree.k, "n": agree.n, "ci": list(agree.ci)}
        out["identical_spikes"] = out[a]["spike_key"] == out[b]["spike_key"]
    out["labels"] = labels[pick].tolist()
    return out


def _spike_key(res) -> str:
    import hashlib

    arr = np.stack([res.spike_trial, res.spike_step, res.spike_neuron]).astype(np.int64)
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]
