"""Digit loading (sklearn, MNIST IDX), LGN encoding and timeline, readout rule, and the shipped model file."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from snnval.digits import (
    load_mnist_idx,
    load_sklearn_digits,
    mnist_to_8x8,
    read_idx,
    split_indices,
)
from snnval.errors import SpecError
from snnval.lgn import (
    LGNParams,
    Timeline,
    lgn_dense_input,
    lgn_rates,
    lgn_stimulus,
    temporal_kernel,
    temporal_response,
)
from snnval.stimulus import TF_INPUT_SCALE
from snnval.v1_model import SHIPPED_MODEL, V1Config, build_v1_spec, digits_stimulus, pool_counts, predict

pytestmark = pytest.mark.quick


# --- IDX ---------------------------------------------------------------------------------------------------


def _write_idx(path: Path, arr: np.ndarray, magic: int | None = None, gz: bool = False, extra: bytes = b"") -> Path:
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 + arr.ndim
    raw = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes() + extra
    if gz:
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 7], dtype=np.uint8)
    ip = _write_idx(tmp_path / "img.idx", images, gz=gz)
    lp = _write_idx(tmp_path / "lab.idx", labels, gz=gz)
    assert ip.read_bytes()[:4] == (b"\x1f\x8b\x08\x00" if gz else b"\x00\x00\x08\x03") or gz
    np.testing.assert_array_equal(read_idx(ip), images)
    np.testing.assert_array_equal(read_idx(lp), labels)
    x, y = load_mnist_idx(ip, lp)
    assert x.dtype == np.float64 and x.shape == (5, 28, 28)
    np.testing.assert_array_equal(x, images / 255.0)
    assert x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(y, labels.astype(np.int64))


def test_idx_magic_numbers(tmp_path: Path) -> None:
    images = np.zeros((2, 4, 4), np.uint8)
    labels = np.zeros(2, np.uint8)
    assert struct.unpack(">I", _write_idx(tmp_path / "i", images).read_bytes()[:4])[0] == 2051
    assert struct.unpack(">I", _write_idx(tmp_path / "l", labels).read_bytes()[:4])[0] == 2049
    # images and labels swapped: refused by magic
    with pytest.raises(SpecError, match="magic"):
        load_mnist_idx(tmp_path / "l", tmp_path / "i")


def test_idx_rejects_bad_files(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    with pytest.raises(SpecError, match="data"):
        read_idx(_write_idx(tmp_path / "trail", arr, extra=b"\x00"))
    raw = _write_idx(tmp_path / "ok", arr).read_bytes()
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(SpecError, match="data"):
        read_idx(tmp_path / "short")
    with pytest.raises(SpecError, match="magic"):
        read_idx(_write_idx(tmp_path / "float", arr, magic=0x0D02))  # type 0x0D = float32
    (tmp_path / "junk").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(SpecError, match="magic"):
        read_idx(tmp_path / "junk")
    with pytest.raises(SpecError, match="path"):
        read_idx(tmp_path / "missing")
    # label count differs from image count
    _write_idx(tmp_path / "img", np.zeros((3, 2, 2), np.uint8))
    _write_idx(tmp_path / "lab", np.zeros(2, np.uint8))
    with pytest.raises(SpecError, match="dims"):
        load_mnist_idx(tmp_path / "img", tmp_path / "lab")


def test_mnist_to_8x8_block_mean() -> None:
    img = np.zeros((1, 28, 28))
    img[0, 2:6, 2:6] = 1.0  # padded by 2 -> rows/cols 4..7 of 32 -> block (1, 1)
    out = mnist_to_8x8(img)
    assert out.shape == (1, 8, 8)
    assert out[0, 1, 1] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)


def test_sklearn_digits_and_split() -> None:
    x, y = load_sklearn_digits()
    assert x.shape == (1797, 8, 8) and y.shape == (1797,)
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    tr, te = split_indices(len(x))
    assert tr.size == 1397 and te.size == 400
    assert np.intersect1d(tr, te).size == 0 and np.union1d(tr, te).size == 1797
    tr2, te2 = split_indices(len(x))
    np.testing.assert_array_equal(te, te2)


# --- LGN encoding and timeline -------------------------------------------------------------------------------


def test_temporal_filter_shape() -> None:
    params = LGNParams()
    h = temporal_kernel(params, 1.0)
    assert h.size == 150 and h.sum() == pytest.approx(1 - params.slow_weight)
    g = temporal_response(params, Timeline(duration_ms=600))
    assert g.max() == pytest.approx(1.0)
    assert np.all(g[:50] == 0) and g[50] > 0  # nothing before onset, ON response from the onset step
    assert np.all(g[50:150] > 0)  # ON during the image
    assert np.all(g[154:200] < 0)  # OFF rebound throughout the readout window
    nz = np.flatnonzero(g)
    assert nz[-1] == 150 + 150 - 2  # last nonzero: offset + kernel - 2 (finite impulse response)
    np.testing.assert_array_equal(g[:200], temporal_response(params, Timeline()))  # duration only cuts


def test_lgn_rates_on_off() -> None:
    img = np.zeros((1, 8, 8))
    img[0, 2, 3] = 1.0
    img[0, 5, 5] = 0.5
    rates = lgn_rates(img)
    assert rates.shape == (1, 200, 128)
    active = np.flatnonzero(rates[0].sum(axis=0))
    np.testing.assert_array_equal(active, [19, 45, 64 + 19, 64 + 45])  # ON then OFF, row-major pixels
    assert rates[0, :, 19].max() == pytest.approx(LGNParams().peak_rate_Hz)
    np.testing.assert_allclose(rates[0, :, 45], 0.5 * rates[0, :, 19])  # linear in intensity
    # ON and OFF never fire together
    assert not np.any((rates[0, :, :64] > 0) & (rates[0, :, 64:] > 0))
    with pytest.raises(SpecError):
        lgn_rates(img * 2)


def test_stimulus_timeline_and_amplitudes() -> None:
    x, _ = load_sklearn_digits()
    images = x[:6]
    stim = lgn_stimulus(images, seed=3)
    assert stim.n_trials == 6 and stim.n_steps == 200 and stim.dt_ms == 1.0
    ev = stim.events
    lgn = ev.source < 128
    bkg = ev.source == 128
    assert ev.source.max() == 128
    # LGN events only from image onset on (no spontaneous LGN rate); background throughout
    assert ev.step[lgn].min() == 50
    assert ev.step[bkg].min() < 50
    # ON units: onset to just after offset (the ON response decays within a few ms); OFF units: after offset
    on = lgn & (ev.source < 64)
    off = lgn & (ev.source >= 64)
    assert ev.step[on].max() < 155 and ev.step[off].min() >= 150
    # amplitudes are the TF deterministic input 1.3 p with p = 1 - exp(-rate/1000)
    rates = lgn_rates(images)
    expected = TF_INPUT_SCALE * (1 - np.exp(-rates / 1000.0))
    dense = ev.dense(6, 200, 129)
    np.testing.assert_allclose(dense[:, :, :128], expected, rtol=1e-12)
    counts = dense[:, :, 128]
    assert np.all(counts == np.round(counts)) and counts.max() <= 10
    assert abs(counts.mean() - 1.0) < 0.1  # Binomial(10, 0.1): mean 1 per step
    # full 600 ms trial: no LGN event after offset + kernel
    long = lgn_stimulus(images[:2], seed=3, timeline=Timeline(duration_ms=600))
    assert long.n_steps == 600
    assert long.events.step[long.events.source < 128].max() <= 298


def test_stimulus_deterministic_for_seed() -> None:
    x, _ = load_sklearn_digits()
    a = digits_stimulus(x[:4], seed=11)
    b = digits_stimulus(x[:4], seed=11)
    c = digits_stimulus(x[:4], seed=12)
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != c.content_hash()
    # the LGN part does not depend on the seed, only the background does
    da, dc = a.events.dense(4, 200, 129), c.events.dense(4, 200, 129)
    np.testing.assert_array_equal(da[:, :, :128], dc[:, :, :128])
    # dense helper and stimulus agree
    np.testing.assert_array_equal(lgn_dense_input(x[:4], 11), da)


# --- network and readout ----------------------------------------------------------------------------------------


def test_build_v1_spec_deterministic_and_signed() -> None:
    spec, readout = build_v1_spec(5)
    spec2, readout2 = build_v1_spec(5)
    assert spec.content_hash() == spec2.content_hash()
    np.testing.assert_array_equal(readout.pool_neurons, readout2.pool_neurons)
    _check_model(spec, readout)
    assert build_v1_spec(6)[0].content_hash() != spec.content_hash()


def _check_model(spec, readout) -> None:
    assert spec.n_neurons >= 500
    exc, inh = spec.populations["exc"], spec.populations["inh"]
    syn = spec.synapses
    assert np.all(syn.weight_pA[np.isin(syn.pre, exc)] >= 0)
    assert np.all(syn.weight_pA[np.isin(syn.pre, inh)] <= 0)
    assert np.all(spec.inputs.weight_pA >= 0)
    # receptor follows (pre class, post class): 0 E->E, 1 I->E, 2 E->I, 3 I->I
    is_inh = np.isin(np.arange(spec.n_neurons), inh)
    np.testing.assert_array_equal(syn.receptor, is_inh[syn.pre] + 2 * is_inh[syn.post])
    assert np.all(syn.delay_ms == np.round(syn.delay_ms)) and syn.delay_ms.min() >= 1 and syn.delay_ms.max() <= 5
    assert len(np.unique(syn.pre * spec.n_neurons + syn.post)) == len(syn)  # sparse, one synapse per pair
    assert len(syn) < 0.3 * spec.n_neurons**2
    np.testing.assert_allclose(spec.cells.tau_syn_ms, np.tile([5.5, 8.5, 2.8, 5.8], (spec.cells.n_types, 1)))
    assert readout.pool_neurons.shape[0] == 10 and readout.pool_neurons.shape[1] >= 15
    assert np.unique(readout.pool_neurons).size == readout.pool_neurons.size  # disjoint pools
    assert np.all(np.isin(readout.pool_neurons, exc))
    assert tuple(readout.window_ms) == (150.0, 200.0)
    assert spec.source_names[-1] == "bkg" and spec.n_sources == 129
    bkg_targets = spec.inputs.post[spec.inputs.pre == 128]
    np.testing.assert_array_equal(np.sort(bkg_targets), np.arange(spec.n_neurons))


def test_readout_window_and_ties_to_class_zero() -> None:
    _, readout = build_v1_spec(5)
    pools = readout.pool_neurons
    # trial 0: pool 3 fires twice in the window, pool 7 fires 5 times outside it
    # trial 1: pools 2 and 6 tie -> class 2; trial 2: silent -> class 0
    trial = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 0])
    step = np.array([150, 199, 10, 149, 200, 120, 130, 160, 170, 180])
    outsider = np.setdiff1d(np.arange(600), pools.ravel())[0]  # not a readout neuron: ignored
    neuron = np.array([pools[3, 0], pools[3, 1], *[pools[7, 0]] * 5, pools[6, 2], pools[2, 1], outsider])
    counts = pool_counts(trial, step, neuron, 3, readout)
    assert counts[0, 3] == 2 and counts[0, 7] == 0 and counts[0].sum() == 2
    np.testing.assert_array_equal(predict(counts), [3, 2, 0])
    np.testing.assert_array_equal(predict(np.array([[1, 4, 4, 0, 0, 0, 0, 0, 0, 4]])), [1])


# --- the shipped model ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="references/v1_digits.h5 not built yet")
def test_shipped_model_loads_and_is_nontrivial() -> None:
    from snnval.v1_model import load_shipped_model

    spec, readout, meta = load_shipped_model()
    _check_model(spec, readout)
    assert SHIPPED_MODEL.stat().st_size < 20e6
    acc = meta["accuracy"]["tf:tf-billeh:float64"]
    assert acc["held_out"]["accuracy"] >= 0.85
    assert len(meta["held_out_predictions"]["tf:tf-billeh:float64"]) == len(meta["split"]["held_out_indices"]) == 400
    # trained: the weights differ from the untrained network of the same seed
    untrained, _ = build_v1_spec(meta["seed"], config=V1Config(**meta["network"]))
    np.testing.assert_array_equal(untrained.synapses.pre, spec.synapses.pre)
    assert not np.allclose(untrained.synapses.weight_pA, spec.synapses.weight_pA)
    assert not np.allclose(untrained.inputs.weight_pA, spec.inputs.weight_pA)
