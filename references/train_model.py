"""Train the shipped V1-like GLIF3 digit classifier (``references/v1_digits.h5``) reproducibly.

    TF_CPP_MIN_LOG_LEVEL=2 python references/train_model.py --seed 1 --out references/v1_digits.h5

What it does (``references/MODEL_README.md`` has the numbers of the shipped run):

1. builds the untrained network :func:`snnval.v1_model.build_v1_spec` (seed ``--seed``);
2. splits the 1797 sklearn digits with the fixed rule of :func:`snnval.digits.split_indices`
   (1397 train / 400 held-out);
3. trains the recurrent and input weights with BPTT through the TF reference's pseudo-derivative
   (:class:`adapters.tf_reference.TFGlif3Network`, profile ``tf-billeh``, float32, dt = 1 ms):
   softmax cross-entropy on the readout pools' spike counts in [150, 200) ms plus a firing-rate
   regulariser, Adam; after every update the weights are clipped to their sign (E >= 0, I <= 0, input >= 0);
   every batch draws fresh background counts (training noise) from the run's seeded generator;
4. writes the trained weights back into the spec in pA (w_pA = w_TF * vsc_post) and evaluates train and
   held-out accuracy with the TF adapter in float64, profile ``tf-billeh`` (frozen stimuli, seeds in the
   metadata), optionally also TF ``nest-glif-psc`` and NEST;
5. saves spec + readout + metadata with :func:`snnval.loaders.model_h5.save_model`.

Reproducibility: numpy generators seeded from ``--seed``, TF op determinism on, ``--threads`` intra-op
threads and ONE inter-op thread (with two, two runs differed by ~1e-6 pA after two batches; with one they
are bitwise identical), so a rerun on the same machine and library versions writes the same weights (the
wall time and creation time differ). Shipped run: 8 epochs, 19.8 min of training on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYNEST_QUIET", "1")

import numpy as np  # noqa: E402

from snnval.digits import load_sklearn_digits, split_indices  # noqa: E402
from snnval.lgn import LGNParams, Timeline, background_counts, lgn_dense_input  # noqa: E402
from snnval.spec import NetworkSpec, Synapses  # noqa: E402
from snnval.v1_model import V1Config, build_v1_spec, predict, run_predictions  # noqa: E402

#: Stimulus seeds of the float64 evaluation runs (background counts); stored in the metadata.
HELD_OUT_STIMULUS_SEED = 777
TRAIN_EVAL_STIMULUS_SEED = 778


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 8
    batch: int = 64
    lr: float = 1e-2  # Adam, cosine-decayed to lr_final_fraction * lr over the run
    lr_final_fraction: float = 0.1
    readout_scale: float = 3.0  # logits = scale * (mean spike count per pool neuron in the window)
    rate_target_Hz: float = 10.0
    rate_weight: float = 1e-4  # per Hz^2 of (neuron rate - target), averaged over neurons
    grad_clip: float = 1.0  # global-norm clip of the gradient, against rare BPTT blow-ups
    threads: int = 2


def _entry_keys(pre, post, receptor, steps, n_post: int, n_receptors: int, n_pre_cols: int) -> np.ndarray:
    """(row, col) of each connection in TFGlif3Network's sparse layout, as one int64 key."""
    rows = post * n_receptors + receptor
    cols = pre + n_pre_cols * (steps - 1)
    return rows * (1 << 32) + cols


def _match(keys: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Position in ``indices`` (rows, cols of a TF variable) of each key; every key must occur once."""
    var_keys = indices[:, 0].astype(np.int64) * (1 << 32) + indices[:, 1]
    order = np.argsort(var_keys)
    pos = np.searchsorted(var_keys[order], keys)
    pos = np.clip(pos, 0, var_keys.size - 1)
    found = var_keys[order][pos] == keys
    if not found.all() or np.unique(keys).size != keys.size or keys.size != var_keys.size:
        raise RuntimeError("spec synapses do not map one-to-one onto the TF weight entries (duplicate synapses?)")
    return order[pos]


class TrainableV1:
    """A float32 TFGlif3Network (profile tf-billeh) plus the maps between its variables and the spec."""

    def __init__(self, spec: NetworkSpec, dtype: str = "float32"):
        from snnval.adapters.tf_reference import TFGlif3Network
        from snnval.semantics import delay_steps, profile

        self.spec = spec
        self.sem = profile("tf-billeh")
        self.net = TFGlif3Network(spec, 1.0, self.sem, dtype)
        N, R, S = spec.n_neurons, spec.n_receptors, spec.n_sources
        vsc = spec.cells.vsc_mV[spec.node_type]
        self.vsc = vsc
        syn = spec.synapses
        steps = delay_steps(syn.delay_ms, 1.0, self.sem)
        self.rec_pos = _match(_entry_keys(syn.pre, syn.post, syn.receptor, steps, N, R, N), self.net.rec_indices)
        if len(self.net.input_groups) != 1:
            raise RuntimeError("expected one input delay group (all input delays 1 ms)")
        inp = spec.inputs
        ones = np.ones(len(inp), np.int64)
        self.in_pos = _match(_entry_keys(inp.pre, inp.post, inp.receptor, ones, N, R, S), self.net.input_groups[0][1])
        # sign of each variable entry: +1 (>= 0) or -1 (<= 0), from the presynaptic class
        rec_sign = np.empty(len(syn))
        rec_sign[self.rec_pos] = np.sign(syn.weight_pA)
        if np.any(rec_sign == 0):
            raise RuntimeError("a recurrent weight is exactly 0: its sign (E or I) is unknown")
        self.rec_sign = rec_sign
        self.variables = [self.net.rec_weights, self.net.input_weights[0]]

    def clip_signs(self) -> None:
        """Keep Dale's law: excitatory and input weights >= 0, inhibitory weights <= 0."""
        tf = self.net.tf
        w = self.net.rec_weights
        s = tf.constant(self.rec_sign, w.dtype)
        w.assign(s * tf.nn.relu(s * w))
        wi = self.net.input_weights[0]
        wi.assign(tf.nn.relu(wi))

    def trained_spec(self) -> NetworkSpec:
        """The spec with the current weights, converted back to pA (w_pA = w_TF * vsc_post)."""
        syn, inp = self.spec.synapses, self.spec.inputs
        w_rec = self.net.rec_weights.numpy().astype(np.float64)[self.rec_pos] * self.vsc[syn.post]
        w_in = self.net.input_weights[0].numpy().astype(np.float64)[self.in_pos] * self.vsc[inp.post]
        return dataclasses.replace(
            self.spec,
            synapses=Synapses(syn.pre, syn.post, syn.receptor, w_rec, syn.delay_ms),
            inputs=Synapses(inp.pre, inp.post, inp.receptor, w_in, inp.delay_ms),
        ).validated()


def make_train_step(model: TrainableV1, pools: np.ndarray, window: tuple[int, int], cfg: TrainConfig, total_steps: int):
    """A tf.function: one Adam update on a batch; returns (loss, cross-entropy, pool counts, mean rate Hz)."""
    import tensorflow as tf

    net = model.net
    schedule = tf.keras.optimizers.schedules.CosineDecay(cfg.lr, total_steps, alpha=cfg.lr_final_fraction)
    opt = tf.keras.optimizers.Adam(schedule)
    pool_ids = tf.constant(pools.ravel(), tf.int32)
    n_classes, pool_size = pools.shape
    start, stop = window
    no_record = np.zeros(0, np.int64)

    @tf.function
    def step(x, labels):
        with tf.GradientTape() as tape:
            z = net.simulate(x, None, no_record, (), train=True)["z"]  # (B, T, N)
            counts = tf.reduce_sum(tf.gather(z[:, start:stop], pool_ids, axis=2), axis=1)
            counts = tf.reduce_sum(tf.reshape(counts, (-1, n_classes, pool_size)), axis=2)  # (B, classes)
            logits = cfg.readout_scale * counts / pool_size
            ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            rate_Hz = tf.reduce_mean(z, axis=(0, 1)) * 1000.0  # per neuron, dt = 1 ms
            loss = ce + cfg.rate_weight * tf.reduce_mean((rate_Hz - cfg.rate_target_Hz) ** 2)
        grads = tape.gradient(loss, model.variables)
        grads, _ = tf.clip_by_global_norm(grads, cfg.grad_clip)
        opt.apply_gradients(zip(grads, model.variables, strict=True))
        return loss, ce, counts, tf.reduce_mean(rate_Hz)

    return step


def evaluate(spec, readout, images, labels, seed, semantics="tf-billeh", simulator="tf", batch=100):
    t0 = time.perf_counter()
    counts, pred = run_predictions(spec, readout, images, seed, simulator=simulator, semantics=semantics, batch=batch)
    acc = float(np.mean(pred == labels))
    return {
        "accuracy": acc,
        "correct": int(np.sum(pred == labels)),
        "n": int(labels.size),
        "wall_s": round(time.perf_counter() - t0, 1),
        "silent_trials": int(np.sum(counts.sum(axis=1) == 0)),
    }, pred


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seed", type=int, default=1, help="network, batch order and training-noise seed")
    p.add_argument("--out", type=Path, default=Path("references/v1_digits.h5"))
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--batch", type=int, default=TrainConfig.batch)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--readout-scale", type=float, default=TrainConfig.readout_scale)
    p.add_argument("--rate-weight", type=float, default=TrainConfig.rate_weight)
    p.add_argument("--n-exc", type=int, default=V1Config.n_exc)
    p.add_argument("--n-inh", type=int, default=V1Config.n_inh)
    p.add_argument("--threads", type=int, default=TrainConfig.threads)
    p.add_argument("--max-train", type=int, default=0, help="use only the first N training images (smoke tests)")
    p.add_argument("--nest", action="store_true", help="also score held-out in NEST and TF(nest-glif-psc)")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args(argv)
    t_start = time.perf_counter()

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)  # ops in a fixed order: reproducible sums
    tf.config.experimental.enable_op_determinism()

    cfg = TrainConfig(
        epochs=args.epochs,
        batch=args.batch,
        lr=args.lr,
        readout_scale=args.readout_scale,
        rate_weight=args.rate_weight,
        threads=args.threads,
    )
    v1cfg = dataclasses.replace(V1Config(), n_exc=args.n_exc, n_inh=args.n_inh)
    lgn, timeline = LGNParams(), Timeline()
    images, labels = load_sklearn_digits()
    train_idx, test_idx = split_indices(len(images))
    if args.max_train:
        train_idx = train_idx[: args.max_train]
    spec0, readout = build_v1_spec(args.seed, config=v1cfg)
    print(
        f"network {spec0.name}: {spec0.n_neurons} neurons, {len(spec0.synapses)} recurrent and "
        f"{len(spec0.inputs)} input synapses; train {train_idx.size}, held-out {test_idx.size}",
        flush=True,
    )

    model = TrainableV1(spec0)
    window = tuple(int(round(t / timeline.dt_ms)) for t in readout.window_ms)
    n_batches = train_idx.size // cfg.batch  # fixed batch shape (one trace); the remainder rotates by shuffling
    step = make_train_step(model, readout.pool_neurons, window, cfg, cfg.epochs * n_batches)
    x_lgn = lgn_dense_input(images[train_idx], None, lgn, timeline, background=False, dtype=np.float32)
    y_train = labels[train_idx]
    rng = np.random.default_rng([args.seed, 1])  # batch order and training background noise
    history = []
    t_train = time.perf_counter()
    for epoch in range(cfg.epochs):
        t_ep = time.perf_counter()
        order = rng.permutation(train_idx.size)
        sums = np.zeros(3)
        correct = 0
        for b in range(n_batches):
            idx = order[b * cfg.batch : (b + 1) * cfg.batch]
            bkg = background_counts(cfg.batch, timeline.n_steps, rng).astype(np.float32)
            x = np.concatenate([x_lgn[idx], bkg], axis=2)
            loss, ce, counts, rate = step(tf.constant(x), tf.constant(y_train[idx]))
            model.clip_signs()
            sums += [float(loss), float(ce), float(rate)]
            correct += int(np.sum(predict(counts.numpy()) == y_train[idx]))
        m = sums / n_batches
        rec = {
            "epoch": epoch + 1,
            "loss": round(m[0], 4),
            "cross_entropy": round(m[1], 4),
            "train_acc_running": round(correct / (n_batches * cfg.batch), 4),
            "mean_rate_Hz": round(m[2], 2),
            "wall_s": round(time.perf_counter() - t_ep, 1),
        }
        history.append(rec)
        print(
            f"epoch {rec['epoch']:2d}/{cfg.epochs}: loss {rec['loss']:.4f} (CE {rec['cross_entropy']:.4f}), "
            f"running train acc {rec['train_acc_running']:.3f}, mean rate {rec['mean_rate_Hz']:.1f} Hz, "
            f"{rec['wall_s']:.0f} s",
            flush=True,
        )
    train_wall = time.perf_counter() - t_train

    spec = model.trained_spec()
    spec = dataclasses.replace(spec, name=f"v1_digits_seed{args.seed}")
    held, pred_held = evaluate(spec, readout, images[test_idx], labels[test_idx], HELD_OUT_STIMULUS_SEED)
    print(f"held-out accuracy, TF tf-billeh float64: {held['accuracy']:.4f} ({held}) ", flush=True)
    train_eval, _ = evaluate(spec, readout, images[train_idx], labels[train_idx], TRAIN_EVAL_STIMULUS_SEED)
    print(f"train accuracy, TF tf-billeh float64: {train_eval['accuracy']:.4f} ({train_eval})", flush=True)
    extra = {}
    if args.nest:
        for sim, sem in (("tf", "nest-glif-psc"), ("nest", "nest-glif-psc")):
            res, pred = evaluate(
                spec, readout, images[test_idx], labels[test_idx], HELD_OUT_STIMULUS_SEED, semantics=sem, simulator=sim
            )
            res["predictions"] = pred.tolist()
            extra[f"{sim}:{sem}"] = res
            print(f"held-out accuracy, {sim} {sem}: {res['accuracy']:.4f}", flush=True)
    total_wall = time.perf_counter() - t_start
    print(f"training wall time {train_wall:.0f} s; total {total_wall:.0f} s", flush=True)

    w_exc = spec.synapses.weight_pA[np.isin(spec.synapses.pre, spec.populations["exc"])]
    w_inh = spec.synapses.weight_pA[np.isin(spec.synapses.pre, spec.populations["inh"])]
    metadata = {
        "description": "V1-like GLIF3 digit classifier (sklearn 8x8 digits) trained with BPTT in the TF reference",
        "seed": args.seed,
        "command": " ".join(["python", "references/train_model.py"] + [shlex.quote(a) for a in (argv or sys.argv[1:])]),
        "dataset": "sklearn.datasets.load_digits (1797 images, 8x8, values/16)",
        "split": {
            "rule": "perm = np.random.default_rng(20260101).permutation(1797); held_out = sorted(perm[:400]); "
            "train = sorted(perm[400:])  (snnval.digits.split_indices)",
            "train_indices": train_idx.tolist(),
            "held_out_indices": test_idx.tolist(),
        },
        "network": dataclasses.asdict(v1cfg),
        "lgn": dataclasses.asdict(lgn),
        "timeline": dataclasses.asdict(timeline),
        "training": {
            **dataclasses.asdict(cfg),
            "optimizer": "Adam, cosine-decayed learning rate",
            "profile": "tf-billeh",
            "dtype": "float32",
            "dt_ms": 1.0,
            "history": history,
            "wall_s": round(train_wall, 1),
        },
        "evaluation_stimulus_seeds": {"held_out": HELD_OUT_STIMULUS_SEED, "train": TRAIN_EVAL_STIMULUS_SEED},
        "accuracy": {
            "tf:tf-billeh:float64": {"held_out": held, "train": train_eval},
            **{k: {"held_out": {kk: vv for kk, vv in v.items() if kk != "predictions"}} for k, v in extra.items()},
        },
        "held_out_predictions": {
            "tf:tf-billeh:float64": pred_held.tolist(),
            **{k: v["predictions"] for k, v in extra.items()},
        },
        "held_out_labels": labels[test_idx].tolist(),
        "weights_pA": {
            "exc_min": float(w_exc.min()),
            "inh_max": float(w_inh.max()),
            "input_min": float(spec.inputs.weight_pA.min()),
        },
        "wall_time_s": {"training": round(train_wall, 1), "total": round(total_wall, 1)},
        "machine": {"cpus_used": args.threads, "platform": platform.platform(), "python": platform.python_version()},
        "versions": {"tensorflow": tf.__version__, "numpy": np.__version__},
    }
    if not args.no_save:
        from snnval.loaders.model_h5 import save_model

        path = save_model(args.out, spec, readout, metadata, compression="gzip")
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
