"""Tests of the model loaders (snnval/loaders): each on small files written here in exactly its layout.

The network: 30 neurons of three node types (two GLIF3 types; for SONATA the third is NEST
``iaf_psc_alpha``), 4 receptors, delays 1-5 ms (with a 2.5 ms delay to exercise half-to-even rounding),
12 LGN sources and a background source. Units: mV, pF, nS, pA, ms; TF-normalised weights are w_pA / vsc_post.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np
import pytest

from snnval.errors import SnnvalError, SpecError
from snnval.loaders import LoadedModel, Readout, load_model_file, model_h5
from snnval.loaders.desplit_h5 import load_desplit
from snnval.loaders.model_h5 import load_model, save_model
from snnval.loaders.sonata import load_sonata
from snnval.loaders.tf_pickle import UntrustedPickle, load_tf_model
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.stimulus import Events, FrozenStimulus

pytestmark = pytest.mark.quick

N, N_LGN, R = 30, 12, 4

#: Three node types in network_dat.pkl naming and units (mV, nS, pF, ms, 1/ms, pA).
NODE_PARAMS = [
    dict(
        V_th=-40.9,
        g=3.94,
        E_L=-76.2,
        k=[0.003, 0.1],
        C_m=68.1,
        V_reset=-76.2,
        tau_syn=[5.5, 8.5, 2.8, 5.8],
        t_ref=2.4,
        asc_amps=[-13.0, -200.0],
    ),
    dict(
        V_th=-45.0,
        g=5.0,
        E_L=-70.0,
        k=[0.01, 0.2],
        C_m=80.0,
        V_reset=-72.0,
        tau_syn=[1.0, 2.0, 3.0, 4.0],
        t_ref=3.0,
        asc_amps=[-5.0, -50.0],
    ),
    dict(
        V_th=-50.0,
        g=7.0,
        E_L=-65.0,
        k=[0.02, 0.3],
        C_m=40.0,
        V_reset=-66.0,
        tau_syn=[2.0, 3.0, 4.0, 5.0],
        t_ref=1.5,
        asc_amps=[-1.0, -20.0],
    ),
]
VSC_OF_TYPE = np.array([p["V_th"] - p["E_L"] for p in NODE_PARAMS])
#: One delay per edge group (ms): 2.5 rounds to 2 under TF's half-to-even rule.
GROUP_DELAYS = [1.0, 2.0, 2.5, 3.0, 4.0, 5.0, 1.6, 3.4, 4.5]


# --- the shared small network --------------------------------------------------------------------------------


def _network(seed: int = 7) -> dict:
    """Node types, edge groups (bmtk ids, pA weights, ms delays), LGN and background, as plain arrays."""
    rng = np.random.default_rng(seed)
    node_type = rng.permutation(np.arange(N) % 3)  # ids interleaved across node types
    groups = []
    for g, (st, tt) in enumerate([(a, b) for a in range(3) for b in range(3)]):
        src_pool, tgt_pool = np.flatnonzero(node_type == st), np.flatnonzero(node_type == tt)
        pairs = [(s, t) for s in src_pool for t in tgt_pool if s != t and rng.random() < 0.4]
        src = np.array([p[0] for p in pairs], dtype=np.int64)
        tgt = np.array([p[1] for p in pairs], dtype=np.int64)
        receptor = (st % 2) + 2 * (tt % 2)  # 0-based, all 4 receptors used
        sign = -1.0 if st == 1 else 1.0
        groups.append(
            dict(
                source=src,
                target=tgt,
                receptor=receptor,
                weight=sign * rng.uniform(5.0, 50.0, src.size),
                delay=GROUP_DELAYS[g],
            )
        )
    lgn = []
    for r in (0, 2):
        tgt = rng.choice(N, 20)
        lgn.append(
            dict(
                source=rng.integers(0, N_LGN, 20), target=tgt, receptor=r, weight=rng.uniform(1.0, 30.0, 20), delay=1.7
            )
        )
    bkg_pA = np.zeros((N, R))
    bkg_pA[np.arange(N), np.where(node_type == 1, 1, 0)] = rng.uniform(0.5, 3.0, N)  # one receptor per neuron
    return dict(node_type=node_type, groups=groups, lgn=lgn, bkg_pA=bkg_pA)


def _pkl_edges(groups: list[dict]) -> list[dict]:
    return [
        dict(
            source=g["source"],
            target=g["target"],
            params=dict(receptor_type=g["receptor"] + 1, weight=g["weight"], delay=g["delay"]),
        )
        for g in groups
    ]


def _write_tf_pickles(tmp_path: Path, net: dict, mutate=None) -> tuple[Path, Path]:
    nodes = [
        dict(
            ids=np.flatnonzero(net["node_type"] == t),
            params={k: np.asarray(v) if isinstance(v, list) else v for k, v in p.items()},
        )
        for t, p in enumerate(NODE_PARAMS)
    ]
    network = dict(nodes=nodes, edges=_pkl_edges(net["groups"]))
    b_post, b_rec = np.nonzero(net["bkg_pA"])
    bkg_edges = [
        dict(
            source=np.zeros(int((b_rec == r).sum()), np.int64),
            target=b_post[b_rec == r],
            params=dict(receptor_type=r + 1, weight=net["bkg_pA"][b_post[b_rec == r], r], delay=1.0),
        )
        for r in np.unique(b_rec)
    ]
    inputs = [(dict(ids=np.arange(N_LGN), spikes=[]), _pkl_edges(net["lgn"])), (dict(ids=np.arange(1)), bkg_edges)]
    if mutate is not None:
        mutate(network, inputs)
    net_pkl, inp_pkl = tmp_path / "network_dat.pkl", tmp_path / "input_dat.pkl"
    net_pkl.write_bytes(pickle.dumps(network))
    inp_pkl.write_bytes(pickle.dumps(inputs))
    return net_pkl, inp_pkl


def _flat(groups: list[dict]) -> tuple[np.ndarray, ...]:
    """(src, tgt, receptor0, weight_pA, delay_ms) of edge groups, in file order."""
    src = np.concatenate([g["source"] for g in groups])
    tgt = np.concatenate([g["target"] for g in groups])
    rec = np.concatenate([np.full(g["source"].size, g["receptor"]) for g in groups])
    w = np.concatenate([g["weight"] for g in groups])
    d = np.concatenate([np.full(g["source"].size, g["delay"]) for g in groups])
    return src, tgt, rec, w, d


def _by_key(pre, post, rec, *values) -> tuple[np.ndarray, ...]:
    """Values sorted by (post, receptor, pre): compares synapse sets independent of order."""
    order = np.lexsort((pre, rec, post))
    return tuple(np.asarray(v)[order] for v in (pre, post, rec, *values))


def _tf_checkpoint(net: dict, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """Checkpoint variables as TF builds them, WITH its sort bug; also the TF step delays per sorted synapse.

    load_sparse: indices [R*tgt + r, src] and delays in edge order; indices and weights are sorted by
    q = row * max_ind + col, delays are not. BillehColumn: weights / vsc_post, delays clipped/rounded,
    col = src + N*(delay_steps - 1).
    """
    src, tgt, rec, w, d = _flat(net["groups"])
    rows = R * tgt + rec
    max_ind = max(rows.max(), src.max()) + 1
    order = np.argsort(rows * max_ind + src)
    rows_s, src_s, w_s = rows[order], src[order], w[order]
    max_delay = int(np.round(min(d.max(), 5.0)))
    steps_used = np.round(np.clip(d, 1.0, max_delay)).astype(np.int64)  # unsorted: the bug
    w_tf = w_s / VSC_OF_TYPE[net["node_type"][rows_s // R]] * rng.uniform(0.8, 1.2, w_s.size)  # "trained"
    l_src, l_tgt, l_rec, l_w, _ = _flat(net["lgn"])
    ck = dict(
        recurrent_indices=np.stack([rows_s, src_s + N * (steps_used - 1)], -1),
        recurrent_weights=w_tf.astype(np.float32),
        input_indices=np.stack([R * l_tgt + l_rec, l_src], -1),
        input_weights=(l_w / VSC_OF_TYPE[net["node_type"][l_tgt]]).astype(np.float32),
        rest_of_brain_weights=(net["bkg_pA"] / VSC_OF_TYPE[net["node_type"]][:, None] * 10).astype(np.float32),
    )
    intended = np.round(np.clip(d[order], 1.0, max_delay)).astype(np.int64)
    return ck, intended


# --- TF pickles --------------------------------------------------------------------------------------------


def test_tf_pickle_refused_without_trust(tmp_path):
    net_pkl, inp_pkl = _write_tf_pickles(tmp_path, _network())
    with pytest.raises(UntrustedPickle) as info:
        load_tf_model(net_pkl, inp_pkl)
    msg = str(info.value)
    # the message names the real way in (a Python argument), not a CLI flag that does not exist
    assert "arbitrary code" in msg and "trust_pickle=True" in msg and "--trust-pickle" not in msg
    assert isinstance(info.value, SnnvalError)
    # Refused before anything is opened: even a file that does not exist gives the trust error.
    with pytest.raises(UntrustedPickle):
        load_tf_model(tmp_path / "nope.pkl", tmp_path / "nope2.pkl")


def test_tf_pickle_numbers_survive(tmp_path):
    net = _network()
    loaded = load_tf_model(*_write_tf_pickles(tmp_path, net), trust_pickle=True)
    spec = loaded.spec
    assert isinstance(loaded, LoadedModel) and spec.n_neurons == N
    np.testing.assert_array_equal(spec.node_type, net["node_type"])
    for t, p in enumerate(NODE_PARAMS):
        assert spec.cells.V_th_mV[t] == p["V_th"] and spec.cells.E_L_mV[t] == p["E_L"]
        assert spec.cells.V_reset_mV[t] == p["V_reset"] and spec.cells.g_nS[t] == p["g"]
        assert spec.cells.C_m_pF[t] == p["C_m"] and spec.cells.t_ref_ms[t] == p["t_ref"]
        np.testing.assert_array_equal(spec.cells.asc_decay_per_ms[t], p["k"])
        np.testing.assert_array_equal(spec.cells.asc_amps_pA[t], p["asc_amps"])  # pkl holds pA
        np.testing.assert_array_equal(spec.cells.tau_syn_ms[t], p["tau_syn"])
    # Recurrent: pkl weights are pA (TF divides them by vsc itself), delays as in the pkl.
    src, tgt, rec, w, d = _flat(net["groups"])
    s = spec.synapses
    for a, b in zip(
        _by_key(s.pre, s.post, s.receptor, s.weight_pA, s.delay_ms), _by_key(src, tgt, rec, w, d), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # Inputs: LGN 0..11, then "bkg" = source 12 with the BKG weights (pA) on non-zero entries only.
    assert spec.n_sources == N_LGN + 1 and spec.source_names[-1] == "bkg" and spec.source_names[0] == "lgn_0"
    inp = spec.inputs
    lgn = inp.pre < N_LGN
    l_src, l_tgt, l_rec, l_w, _ = _flat(net["lgn"])
    for a, b in zip(
        _by_key(inp.pre[lgn], inp.post[lgn], inp.receptor[lgn], inp.weight_pA[lgn]),
        _by_key(l_src, l_tgt, l_rec, l_w),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    bkg = np.zeros((N, R))
    bkg[inp.post[~lgn], inp.receptor[~lgn]] = inp.weight_pA[~lgn]
    np.testing.assert_array_equal(bkg, net["bkg_pA"])
    assert np.count_nonzero(~lgn) == N  # zero-weight receptors are not connected
    np.testing.assert_array_equal(inp.delay_ms, 1.0)  # TF ignores input delays: one step
    assert loaded.report["delays_from"] == "pkl" and loaded.report["n_delays_differing_from_pkl"] is None


@pytest.mark.parametrize("form", ["dict", "npz", "h5"])
def test_tf_checkpoint_overrides_weights_and_delays(tmp_path, form):
    net = _network()
    rng = np.random.default_rng(3)
    ck, intended_steps = _tf_checkpoint(net, rng)
    if form == "npz":
        checkpoint = tmp_path / "ckpt.npz"
        np.savez(checkpoint, **ck)
    elif form == "h5":
        checkpoint = tmp_path / "ckpt.h5"
        with h5py.File(checkpoint, "w") as f:
            for k, v in ck.items():
                f[k] = v
    else:
        checkpoint = ck
    loaded = load_tf_model(*_write_tf_pickles(tmp_path, net), checkpoint, trust_pickle=True)
    s = loaded.spec.synapses
    idx = ck["recurrent_indices"]
    ck_post, ck_rec, ck_pre, ck_steps = idx[:, 0] // R, idx[:, 0] % R, idx[:, 1] % N, idx[:, 1] // N + 1
    vsc_post = VSC_OF_TYPE[net["node_type"][ck_post]]
    expected = _by_key(ck_pre, ck_post, ck_rec, ck["recurrent_weights"].astype(float) * vsc_post, ck_steps * 1.0)
    got = _by_key(s.pre, s.post, s.receptor, s.weight_pA, s.delay_ms)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    # The report counts synapses whose (checkpoint) delay differs from the pkl's own delay, in TF steps.
    n_diff = int(np.count_nonzero(ck_steps != intended_steps))
    assert n_diff > 0  # the sort bug does move delays in this network
    assert loaded.report["n_delays_differing_from_pkl"] == n_diff
    assert loaded.report["delays_from"] == "checkpoint" and loaded.report["weights_from"] == "checkpoint"
    assert loaded.report["delay_comparison"]["n_compared"] == len(s)
    assert any("sort bug" in note for note in loaded.report["notes"])
    # Input and background weights from the checkpoint: w_TF * vsc_post and rob * vsc / 10.
    inp = loaded.spec.inputs
    lgn = inp.pre < N_LGN
    vsc = VSC_OF_TYPE[net["node_type"]]
    iidx = ck["input_indices"]
    exp_in = _by_key(
        iidx[:, 1], iidx[:, 0] // R, iidx[:, 0] % R, ck["input_weights"].astype(float) * vsc[iidx[:, 0] // R]
    )
    for a, b in zip(_by_key(inp.pre[lgn], inp.post[lgn], inp.receptor[lgn], inp.weight_pA[lgn]), exp_in, strict=True):
        np.testing.assert_array_equal(a, b)
    rob = ck["rest_of_brain_weights"].astype(float)
    np.testing.assert_allclose(
        inp.weight_pA[~lgn], rob[inp.post[~lgn], inp.receptor[~lgn]] * vsc[inp.post[~lgn]] / 10, rtol=1e-15
    )


def test_tf_neuron_selection_keeps_ascending_bmtk_order(tmp_path):
    net = _network()
    kept = np.array([29, 3, 4, 10, 17, 22, 0, 8])
    loaded = load_tf_model(*_write_tf_pickles(tmp_path, net), trust_pickle=True, neuron_ids=kept)
    spec = loaded.spec
    order = np.sort(kept)
    assert spec.n_neurons == kept.size
    np.testing.assert_array_equal(spec.node_type, net["node_type"][order])
    src, tgt, rec, w, _ = _flat(net["groups"])
    keep = np.isin(src, kept) & np.isin(tgt, kept)
    tf_id = np.searchsorted(order, np.arange(N))
    exp = _by_key(tf_id[src[keep]], tf_id[tgt[keep]], rec[keep], w[keep])
    s = spec.synapses
    for a, b in zip(_by_key(s.pre, s.post, s.receptor, s.weight_pA), exp, strict=True):
        np.testing.assert_array_equal(a, b)


def _set(path: list, value):
    def mutate(network, inputs):
        obj = {"network": network, "inputs": inputs}
        for key in path[:-1]:
            obj = obj[key]
        if value is KeyError:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value(obj[path[-1]]) if callable(value) else value

    return mutate


@pytest.mark.parametrize(
    "mutate, file_name, field, expected",
    [
        (
            _set(["network", "nodes", 1, "params", "V_th"], KeyError),
            "network_dat.pkl",
            "nodes[1].params.V_th",
            "missing",
        ),
        (
            _set(["network", "nodes", 2, "params", "tau_syn"], [1.0, 2.0, 3.0]),
            "network_dat.pkl",
            "nodes[2].params.tau_syn",
            "shape (4,)",
        ),
        (
            _set(["network", "nodes", 0, "params", "k"], [0.1, 0.2, 0.3]),
            "network_dat.pkl",
            "nodes[0].params.k",
            "shape (2,)",
        ),
        (
            _set(["network", "edges", 3, "params", "weight"], lambda w: np.where(np.arange(w.size) == 1, np.nan, w)),
            "network_dat.pkl",
            "edges[3].params.weight",
            "finite",
        ),
        (
            _set(["network", "edges", 2, "params", "receptor_type"], 5),
            "network_dat.pkl",
            "edges[2].params.receptor_type",
            "[1, 4]",
        ),
        (
            _set(["network", "edges", 2, "params", "receptor_type"], 0),
            "network_dat.pkl",
            "edges[2].params.receptor_type",
            "[1, 4]",
        ),
        (_set(["network", "edges", 4, "target"], lambda t: t[:-1]), "network_dat.pkl", "edges[4].target", "shape"),
        (
            _set(["network", "edges", 4, "source"], lambda s: s + 100),
            "network_dat.pkl",
            "edges[4].source",
            "ids in [0, 29]",
        ),
        (_set(["network", "edges"], KeyError), "network_dat.pkl", "edges", "missing"),
        (
            _set(["inputs", 0, 1, 0, "params", "weight"], lambda w: w[:3]),
            "input_dat.pkl",
            "[0][1][0].params.weight",
            "shape",
        ),
        (
            _set(["inputs", 0, 1, 1, "source"], lambda s: s + N_LGN),
            "input_dat.pkl",
            "[0][1][1].source",
            "ids in [0, 11]",
        ),
    ],
)
def test_tf_pickle_malformed_fields(tmp_path, mutate, file_name, field, expected):
    paths = _write_tf_pickles(tmp_path, _network(), mutate)
    with pytest.raises(SpecError) as info:
        load_tf_model(*paths, trust_pickle=True)
    err = info.value
    assert err.source == str(tmp_path / file_name) and err.field == field and expected in err.expected, str(err)


@pytest.mark.parametrize(
    "change, field, expected",
    [
        (lambda ck: ck.pop("recurrent_weights"), "recurrent_weights", "present together"),
        (lambda ck: ck.update(rest_of_brain_weights=np.ones((N + 1, R))), "rest_of_brain_weights", "shape"),
        (
            lambda ck: ck.update(
                recurrent_weights=np.where(
                    np.arange(ck["recurrent_weights"].size) == 0, np.nan, ck["recurrent_weights"]
                )
            ),
            "recurrent_weights",
            "finite",
        ),
        (lambda ck: ck["recurrent_indices"].__setitem__((0, 0), R * N), "recurrent_indices[:, 0]", "neuron_ids"),
        (lambda ck: ck.update(recurrent_indices=ck["recurrent_indices"].astype(float)), "recurrent_indices", "integer"),
    ],
)
def test_tf_checkpoint_malformed(tmp_path, change, field, expected):
    net = _network()
    ck, _ = _tf_checkpoint(net, np.random.default_rng(0))
    change(ck)
    path = tmp_path / "ckpt.npz"
    np.savez(path, **ck)
    with pytest.raises(SpecError) as info:
        load_tf_model(*_write_tf_pickles(tmp_path, net), path, trust_pickle=True)
    assert info.value.source == str(path) and info.value.field == field and expected in info.value.expected


# --- desplit HDF5 ------------------------------------------------------------------------------------------


def _write_desplit(path: Path, net: dict, *, mutate=None, variant: str = "c2") -> dict:
    """A desplit file of the shared network: TF-normalised weights, (N, 4) bkg weights, 10 x 2 readout."""
    src, tgt, rec, w, d = _flat(net["groups"])
    vsc = VSC_OF_TYPE[net["node_type"]]
    l_src, l_tgt, l_rec, l_w, _ = _flat(net["lgn"])
    data = {
        "neurons/node_type_ids": net["node_type"].astype(np.int32),
        "recurrent/sources": src.astype(np.int32),
        "recurrent/targets": tgt.astype(np.int32),
        "recurrent/weights": (w / vsc[tgt]).astype(np.float32),
        "recurrent/receptor_types": rec.astype(np.int32),
        "recurrent/delays": d.astype(np.float32),
        "input/sources": l_src.astype(np.int32),
        "input/targets": l_tgt.astype(np.int32),
        "input/weights": (l_w / vsc[l_tgt]).astype(np.float32),
        "input/receptor_types": l_rec.astype(np.int32),
        "input/bkg_weights": (net["bkg_pA"] / vsc[:, None] * 10).astype(np.float32),
        "readout/neuron_ids": np.arange(20, dtype=np.int32)[::-1].copy(),
    }
    for key in ("V_th", "g", "E_L", "C_m", "V_reset", "t_ref", "k", "tau_syn", "asc_amps"):
        data[f"neurons/glif3_params/{key}"] = np.array([p[key] for p in NODE_PARAMS], dtype=np.float32)
    if variant == "c3":  # the later script's normalised per-neuron variables
        for key in list(data):
            if key.startswith("neurons/glif3_params/"):
                del data[key]
        data["neurons/glif3_params/v_th"] = np.ones(N, np.float32)
        data["neurons/glif3_params/syn_decay"] = np.ones((N, R), np.float32)
    if mutate is not None:
        mutate(data)
    with h5py.File(path, "w") as f:
        f.attrs["n_neurons"] = N
        f.attrs["n_input"] = N_LGN
        f.attrs["n_output"] = 10
        for key, value in data.items():
            f[key] = value
    return data


def test_desplit_numbers_survive(tmp_path):
    net = _network()
    path = tmp_path / "ckpt_desplit.h5"
    data = _write_desplit(path, net)
    loaded = load_desplit(path)
    spec = loaded.spec
    vsc32 = (
        np.float32(np.array([p["V_th"] for p in NODE_PARAMS], np.float32))
        - np.array([p["E_L"] for p in NODE_PARAMS], np.float32)
    ).astype(float)  # file params are float32
    vsc = vsc32[net["node_type"]]
    s = spec.synapses
    np.testing.assert_array_equal(s.pre, data["recurrent/sources"])
    np.testing.assert_array_equal(s.receptor, data["recurrent/receptor_types"])
    np.testing.assert_array_equal(s.weight_pA, data["recurrent/weights"].astype(float) * vsc[s.post])
    np.testing.assert_array_equal(s.delay_ms, data["recurrent/delays"].astype(float))
    inp = spec.inputs
    lgn = inp.pre < N_LGN
    np.testing.assert_array_equal(inp.weight_pA[lgn], data["input/weights"].astype(float) * vsc[inp.post[lgn]])
    bkg = data["input/bkg_weights"].astype(float)
    np.testing.assert_array_equal(
        inp.weight_pA[~lgn], bkg[inp.post[~lgn], inp.receptor[~lgn]] / 10 * vsc[inp.post[~lgn]]
    )
    np.testing.assert_allclose(inp.weight_pA[~lgn], net["bkg_pA"][inp.post[~lgn], inp.receptor[~lgn]], rtol=1e-6)
    assert spec.source_names[N_LGN] == "bkg" and spec.n_sources == N_LGN + 1
    assert loaded.readout.pool_neurons.shape == (10, 2)
    np.testing.assert_array_equal(loaded.readout.pool_neurons[0], [19, 18])  # class i = index // 2
    assert loaded.readout.window_ms == (150.0, 200.0)
    assert load_model_file(path).spec.content_hash() == spec.content_hash()


def _del(key):
    return lambda data: data.pop(key)


def _put(key, fn):
    return lambda data: data.__setitem__(key, fn(data[key]))


@pytest.mark.parametrize(
    "mutate, field, expected",
    [
        (_del("recurrent/delays"), "recurrent/delays", "missing"),
        (_del("neurons/glif3_params/C_m"), "neurons/glif3_params/C_m", "missing"),
        (_put("neurons/glif3_params/k", lambda k: np.ones((3, 3))), "neurons/glif3_params/k", "shape (3, 2)"),
        (_put("recurrent/targets", lambda t: t[:-2]), "recurrent/targets", "shape"),
        (
            _put("recurrent/weights", lambda w: np.where(np.arange(w.size) == 4, np.nan, w)),
            "recurrent/weights",
            "finite",
        ),
        (
            _put("recurrent/receptor_types", lambda r: np.where(np.arange(r.size) == 0, 4, r)),
            "recurrent/receptor_types",
            "[0, 3]",
        ),
        (_put("input/sources", lambda s: s + N_LGN), "input/sources", "ids in [0, 11]"),
        (_put("input/bkg_weights", lambda b: b[:, :3]), "input/bkg_weights", "shape"),
        (_put("neurons/node_type_ids", lambda t: t + 1), "neurons/node_type_ids", "node types in [0, 2]"),
        (_put("readout/neuron_ids", lambda r: r[:-1]), "readout/neuron_ids", "divisible"),
        (_put("recurrent/sources", lambda s: s.astype(np.float32)), "recurrent/sources", "integer"),
    ],
)
def test_desplit_malformed_fields(tmp_path, mutate, field, expected):
    path = tmp_path / "bad.h5"
    _write_desplit(path, _network(), mutate=mutate)
    with pytest.raises(SpecError) as info:
        load_desplit(path)
    assert info.value.source == str(path) and info.value.field == field and expected in info.value.expected, str(
        info.value
    )


def test_desplit_refuses_normalised_variant_and_decodes_encoded_sources(tmp_path):
    net = _network()
    path = tmp_path / "c3.h5"
    _write_desplit(path, net, variant="c3")
    with pytest.raises(SpecError, match="normalised per-neuron TF variables"):
        load_desplit(path)
    # c3.py stored the checkpoint column src + N*(steps-1) as recurrent/sources: decoded, delays from it.
    path2 = tmp_path / "encoded.h5"
    data = _write_desplit(path2, net, mutate=_put("recurrent/sources", lambda s: s + N * 2))
    loaded = load_desplit(path2)
    np.testing.assert_array_equal(loaded.spec.synapses.pre, data["recurrent/sources"] - 2 * N)
    np.testing.assert_array_equal(loaded.spec.synapses.delay_ms, 3.0)
    assert any("delay-encoded" in n for n in loaded.report["notes"])


# --- the project's model format ------------------------------------------------------------------------------


def _model_spec() -> tuple[NetworkSpec, Readout]:
    net = _network()
    src, tgt, rec, w, d = _flat(net["groups"])
    cells = GLIF3Cells.from_records([dict(p, asc_decay=p["k"]) for p in NODE_PARAMS], names=["e23", "i23", "iaf"])
    cells = GLIF3Cells(
        **{f.name: getattr(cells, f.name) for f in fields(GLIF3Cells) if f.name not in ("models", "native_params")},
        models=("glif3", "glif3", "iaf_psc_alpha"),
        native_params=({}, {}, {"C_m": 250.0, "tau_m": 10.0, "tau_syn_ex": np.float64(0.5)}),
    )
    l_src, l_tgt, l_rec, l_w, _ = _flat(net["lgn"])
    spec = NetworkSpec(
        "small",
        cells,
        net["node_type"],
        Synapses(src, tgt, rec, w, d),
        n_sources=N_LGN,
        inputs=Synapses(l_src, l_tgt, l_rec, l_w, np.full(l_src.size, 1.0)),
        source_names=tuple(f"lgn_{i}" for i in range(N_LGN)),
        populations={"e": np.flatnonzero(net["node_type"] == 0), "rest": np.flatnonzero(net["node_type"] > 0)},
    ).validated()
    readout = Readout(np.arange(20).reshape(10, 2), description="test pools")
    return spec, readout


def test_model_h5_round_trip_is_exact(tmp_path):
    spec, readout = _model_spec()
    meta = {"made_by": "test", "seed": 7, "training_accuracy": 0.83, "nested": {"a": [1, 2]}}
    path = save_model(tmp_path / "model.h5", spec, readout, meta)
    loaded = load_model(path)
    s = loaded.spec
    assert s.name == spec.name and s.n_sources == spec.n_sources and s.source_names == spec.source_names
    assert s.receptor_names == spec.receptor_names
    for f in fields(GLIF3Cells):
        a, b = getattr(s.cells, f.name), getattr(spec.cells, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        elif f.name == "native_params":
            assert a == ({}, {}, {"C_m": 250.0, "tau_m": 10.0, "tau_syn_ex": 0.5})
        else:
            assert a == b
    for group in ("synapses", "inputs"):
        for f in fields(Synapses):
            a, b = getattr(getattr(s, group), f.name), getattr(getattr(spec, group), f.name)
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(s.node_type, spec.node_type)
    assert s.populations.keys() == spec.populations.keys()
    for k in spec.populations:
        np.testing.assert_array_equal(s.populations[k], spec.populations[k])
    np.testing.assert_array_equal(loaded.readout.pool_neurons, readout.pool_neurons)
    assert loaded.readout.window_ms == (150.0, 200.0) and loaded.readout.description == "test pools"
    for k, v in meta.items():
        assert loaded.metadata[k] == v
    assert loaded.metadata["format_version"] == model_h5.FORMAT_VERSION
    assert loaded.report["spec_sha256_matches"]
    # Saving what was loaded gives the same content again (a second round trip changes nothing).
    again = load_model(save_model(tmp_path / "model2.h5", s, loaded.readout, meta))
    assert again.spec.content_hash() == s.content_hash()
    assert load_model_file(path).spec.content_hash() == s.content_hash()
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_model_h5_write_is_atomic(tmp_path, monkeypatch):
    spec, readout = _model_spec()
    path = save_model(tmp_path / "model.h5", spec, readout, {"version": "old"})
    before = path.read_bytes()
    calls = []

    def failing(group, syn, compression):
        calls.append(group.name)
        if len(calls) == 2:  # recurrent written, then fail while writing the inputs
            raise OSError("disk full (simulated)")
        real(group, syn, compression)

    real = model_h5._write_synapses
    monkeypatch.setattr(model_h5, "_write_synapses", failing)
    with pytest.raises(OSError, match="simulated"):
        save_model(path, spec, readout, {"version": "new"})
    assert path.read_bytes() == before  # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.h5"]  # no temporary file left behind
    assert load_model(path).metadata["version"] == "old"


def test_model_h5_refuses_invalid_spec_before_writing(tmp_path):
    spec, _ = _model_spec()
    bad = NetworkSpec(
        spec.name,
        spec.cells,
        spec.node_type,
        Synapses(
            spec.synapses.pre,
            spec.synapses.post,
            spec.synapses.receptor + 10,
            spec.synapses.weight_pA,
            spec.synapses.delay_ms,
        ),
    )
    with pytest.raises(SpecError):
        save_model(tmp_path / "x.h5", bad)
    assert not any(tmp_path.iterdir())
    with pytest.raises(SpecError, match="populations"):
        save_model(
            tmp_path / "x.h5",
            NetworkSpec(spec.name, spec.cells, spec.node_type, spec.synapses, populations={"a/b": np.arange(3)}),
        )


def test_model_h5_unknown_version_refused(tmp_path):
    spec, _ = _model_spec()
    path = save_model(tmp_path / "m.h5", spec)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(SpecError) as info:
        load_model(path)
    assert info.value.source == str(path) and info.value.field == "attrs['format_version']"
    assert "version 99 is unknown" in info.value.expected


@pytest.mark.parametrize(
    "edit, field, expected",
    [
        (lambda f: f.__delitem__("recurrent/weight_pA"), "recurrent/weight_pA", "missing"),
        (lambda f: f.__delitem__("cells/tau_syn_ms"), "cells/tau_syn_ms", "missing"),
        (lambda f: f.__delitem__("neurons"), "neurons", "missing"),
        (lambda f: _replace(f, "cells/asc_amps_pA", np.zeros((3, 3)), "pA"), "cells/asc_amps_pA", "shape (3, 2)"),
        (
            lambda f: _replace(f, "recurrent/delay_ms", lambda d: np.where(np.arange(d.size) == 3, np.nan, d), "ms"),
            "recurrent/delay_ms",
            "finite",
        ),
        (
            lambda f: _replace(f, "recurrent/receptor", lambda r: np.where(np.arange(r.size) == 0, 4, r)),
            "recurrent/receptor",
            "[0, 3]",
        ),
        (lambda f: _replace(f, "input/post", lambda p: p[:-1]), "input/post", "length"),
        (
            lambda f: f["recurrent/weight_pA"].attrs.__setitem__("unit", "nA"),
            "recurrent/weight_pA.attrs['unit']",
            "'pA'",
        ),
        (lambda f: f["cells"].attrs.__setitem__("models", '["glif3"]'), "cells.attrs['models']", "3 model names"),
        (lambda f: f["input"].attrs.update(n_sources=2, source_names="[]"), "input/pre", "ids in [0, 1]"),
        (lambda f: f["input"].attrs.__setitem__("n_sources", 2), "input.attrs['source_names']", "2 names"),
        (lambda f: _replace(f, "readout/pool_neurons", lambda p: p + N), "readout/pool_neurons", "ids in [0, 29]"),
        (lambda f: f.attrs.__delitem__("format"), "attrs['format']", "'snnval-model'"),
    ],
)
def test_model_h5_malformed_fields(tmp_path, edit, field, expected):
    spec, readout = _model_spec()
    path = save_model(tmp_path / "m.h5", spec, readout)
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(SpecError) as info:
        load_model(path)
    err = info.value
    assert err.source.startswith(str(path)) and err.field == field and expected in err.expected, str(err)


def test_model_h5_corruption_is_detected(tmp_path):
    """A flipped byte inside a dataset fails its Fletcher-32 checksum: an error, not wrong weights."""
    spec, _ = _model_spec()
    path = save_model(tmp_path / "m.h5", spec)
    with h5py.File(path, "r") as f:
        offset = f["recurrent/weight_pA"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SpecError) as info:
        load_model(path)
    assert info.value.field == "recurrent/weight_pA" and "readable" in info.value.expected


def _replace(f: h5py.File, name: str, value, unit: str | None = None) -> None:
    old = f[name][()]
    del f[name]
    f[name] = value(old) if callable(value) else value
    if unit is not None:
        f[name].attrs["unit"] = unit


# --- SONATA --------------------------------------------------------------------------------------------------

GLIF_E = dict(
    V_th=-40.9,
    g=3.94,
    E_L=-76.2,
    C_m=68.1,
    t_ref=2.4,
    V_reset=-76.2,
    asc_init=[0.0, 0.0],
    asc_decay=[0.003, 0.1],
    asc_amps=[-13.0, -200.0],
    tau_syn=[5.5, 8.5, 2.8, 5.8],
    after_spike_currents=True,
    spike_dependent_threshold=False,
    adapting_threshold=False,
)
GLIF_I = dict(
    GLIF_E, V_th=-45.0, E_L=-70.0, V_reset=-72.0, g=5.0, C_m=80.0, t_ref=3.0, asc_r=[0.5, 1.0], asc_amps=[-5.0, -50.0]
)
IAF = {
    "C_m": 200.0,
    "tau_m": 12.0,
    "tau_syn_ex": 1.5,
    "tau_syn_in": 3.0,
    "V_th": -54.0,
    "E_L": -65.0,
    "V_reset": -68.0,
    "t_ref": 2.0,
}
#: (source pop, target pop, receptor_type (NEST port), syn_weight pA, delay ms, nsyns)
SONATA_EDGES = [
    ("e", "e", 1, 30.0, 1.0, 1),
    ("i", "e", 2, -40.0, 2.0, 2),
    ("e", "i", 3, 25.0, 3.5, 1),
    ("i", "i", 4, -20.0, 5.0, 3),
    ("e", "x", None, 60.0, 4.0, 2),
    ("x", "e", 1, 15.0, 2.5, 1),
]


def _write_sonata(tmp_path: Path, e_params: dict | None = None, edge_extra=None) -> Path:
    """A bmtk-built SONATA network: 15 GLIF3 'e', 10 GLIF3 'i', 5 iaf_psc_alpha 'x', 8 virtual LGN fibres."""
    from bmtk.builder import NetworkBuilder

    comp = tmp_path / "components"
    (comp / "cell_models").mkdir(parents=True)
    (comp / "synaptic_models").mkdir()
    (comp / "cell_models" / "e.json").write_text(json.dumps(GLIF_E if e_params is None else e_params))
    (comp / "cell_models" / "i.json").write_text(json.dumps(GLIF_I))
    (comp / "synaptic_models" / "static.json").write_text("{}")
    rng = np.random.default_rng(11)
    v1 = NetworkBuilder("v1")
    v1.add_nodes(
        N=15, pop_name="e", model_type="point_neuron", model_template="nest:glif_psc", dynamics_params="e.json"
    )
    v1.add_nodes(
        N=10, pop_name="i", model_type="point_neuron", model_template="nest:glif_psc", dynamics_params="i.json"
    )
    v1.add_nodes(N=5, pop_name="x", model_type="point_neuron", model_template="nest:iaf_psc_alpha", dynamics_params=IAF)
    for s, t, port, w, d, nsyns in SONATA_EDGES:
        conn = rng.random((30, 30)) < 0.3

        def rule(src, trg, conn=conn, nsyns=nsyns):
            return nsyns if conn[src.node_id, trg.node_id] and src.node_id != trg.node_id else 0

        kwargs = dict(
            source={"pop_name": s},
            target={"pop_name": t},
            connection_rule=rule,
            syn_weight=w,
            delay=d,
            dynamics_params="static.json",
            model_template="static_synapse",
        )
        if port is not None:
            kwargs["receptor_type"] = port
        if edge_extra:
            kwargs.update(edge_extra(s, t))
        v1.add_edges(**kwargs)
    v1.build()
    v1.save(output_dir=str(tmp_path / "network"))
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=8, model_type="virtual", pop_name="lgn")
    lgn.add_edges(
        target=v1.nodes(pop_name="e"),
        connection_rule=lambda s, t: 1 if (s.node_id + t.node_id) % 3 else 0,
        syn_weight=400.0,
        delay=1.0,
        receptor_type=1,
        dynamics_params="static.json",
        model_template="static_synapse",
    )
    lgn.build()
    lgn.save(output_dir=str(tmp_path / "network"))
    config = {
        "manifest": {
            "$BASE_DIR": "${configdir}",
            "$NETWORK_DIR": "$BASE_DIR/network",
            "$COMPONENTS_DIR": "$BASE_DIR/components",
        },
        "components": {
            "point_neuron_models_dir": "$COMPONENTS_DIR/cell_models",
            "synaptic_models_dir": "$COMPONENTS_DIR/synaptic_models",
        },
        "networks": {
            "nodes": [
                {"nodes_file": f"$NETWORK_DIR/{p}_nodes.h5", "node_types_file": f"$NETWORK_DIR/{p}_node_types.csv"}
                for p in ("v1", "lgn")
            ],
            "edges": [
                {
                    "edges_file": f"$NETWORK_DIR/{a}_v1_edges.h5",
                    "edge_types_file": f"$NETWORK_DIR/{a}_v1_edge_types.csv",
                }
                for a in ("v1", "lgn")
            ],
        },
    }
    path = tmp_path / "circuit_config.json"
    path.write_text(json.dumps(config))
    return path


def _sonata_edges_h5(tmp_path: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(tmp_path / "network" / f"{name}_v1_edges.h5", "r") as f:
        g = f["edges"][f"{name}_to_v1"]
        return g["source_node_id"][()], g["target_node_id"][()], g["edge_type_id"][()], g["0/nsyns"][()]


@pytest.fixture(scope="module")
def sonata_model(tmp_path_factory) -> tuple[Path, LoadedModel]:
    tmp = tmp_path_factory.mktemp("sonata")
    config = _write_sonata(tmp)
    return tmp, load_sonata(config)


def test_sonata_loads_glif3_and_iaf_node_types(sonata_model):
    tmp, loaded = sonata_model
    spec = loaded.spec
    assert spec.n_neurons == 30 and spec.n_sources == 8 and spec.source_names[0] == "lgn_0"
    assert spec.cells.models == ("glif3", "glif3", "iaf_psc_alpha")
    assert spec.cells.native_params[2] == IAF and spec.cells.native_params[0] == {}
    c = spec.cells
    assert c.V_th_mV[0] == GLIF_E["V_th"] and c.g_nS[1] == GLIF_I["g"] and c.C_m_pF[0] == GLIF_E["C_m"]
    np.testing.assert_array_equal(c.asc_decay_per_ms[0], GLIF_E["asc_decay"])
    np.testing.assert_array_equal(c.asc_r[1], GLIF_I["asc_r"])
    np.testing.assert_array_equal(c.tau_syn_ms[1], GLIF_I["tau_syn"])
    # iaf placeholders come from its own parameters: g = C_m / tau_m, tau_syn = tau_syn_ex.
    assert c.C_m_pF[2] == 200.0 and c.g_nS[2] == 200.0 / 12.0 and np.all(c.tau_syn_ms[2] == 1.5)
    assert {k: v.tolist() for k, v in spec.populations.items()} == {
        "e": list(range(15)),
        "i": list(range(15, 25)),
        "x": list(range(25, 30)),
    }
    assert loaded.report["node_types_by_model"] == {"glif3": 2, "iaf_psc_alpha": 1}
    assert any("V_m" in n or "ignored" in n for n in loaded.report["notes"]) or loaded.report["notes"] == []


def test_sonata_edge_numbers_survive(sonata_model):
    tmp, loaded = sonata_model
    spec = loaded.spec
    sid, tid, etid, nsyns = _sonata_edges_h5(tmp, "v1")
    # bmtk numbers edge types from 100 in add_edges order.
    table = {100 + i: e for i, e in enumerate(SONATA_EDGES)}
    port = np.array([table[t][2] if table[t][2] is not None else 0 for t in etid])
    is_iaf_target = tid >= 25
    exp_receptor = np.where(is_iaf_target, 0, port - 1)
    exp_weight = np.array([table[t][3] for t in etid]) * nsyns  # syn_weight x nsyns
    exp_delay = np.array([table[t][4] for t in etid])
    s = spec.synapses
    assert len(s) == sid.size and np.all(nsyns > 0) and set(np.unique(nsyns)) == {1, 2, 3}
    for a, b in zip(
        _by_key(s.pre, s.post, s.receptor, s.weight_pA, s.delay_ms),
        _by_key(sid, tid, exp_receptor, exp_weight, exp_delay),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert set(np.unique(s.receptor[s.post < 25])) == {0, 1, 2, 3}
    l_sid, l_tid, _, l_nsyns = _sonata_edges_h5(tmp, "lgn")
    inp = spec.inputs
    for a, b in zip(
        _by_key(inp.pre, inp.post, inp.receptor, inp.weight_pA),
        _by_key(l_sid, l_tid, np.zeros(l_sid.size, int), 400.0 * l_nsyns),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_sonata_spec_round_trips_through_model_h5(sonata_model, tmp_path):
    _, loaded = sonata_model
    again = load_model(save_model(tmp_path / "sonata.h5", loaded.spec, metadata=loaded.metadata))
    assert again.spec.content_hash() == loaded.spec.content_hash()


def test_sonata_runs_in_nest(sonata_model):
    """The loaded network, with its iaf_psc_alpha node type, runs in NEST (adapters/nest_glif.py)."""
    from snnval.adapters.nest_glif import NestGlifAdapter
    from snnval.contract import RunConfig

    adapter = NestGlifAdapter()
    avail = adapter.availability()
    if not avail.available:
        pytest.skip(f"NEST adapter not available: {avail.reason}")
    _, loaded = sonata_model
    spec = loaded.spec
    steps = np.arange(0, 200, 2)
    events = Events(
        np.zeros(steps.size * 8, np.int64),
        np.repeat(steps, 8),
        np.tile(np.arange(8), steps.size),
        np.ones(steps.size * 8),
    )
    stim = FrozenStimulus(dt_ms=0.1, n_steps=2000, events=events, seed=1, description="LGN drive")
    result = adapter.run(spec, stim, RunConfig(record=("V_m",), record_neurons=np.array([0, 20, 27])))
    fired = np.unique(result.spike_neuron)
    assert np.any(fired < 15), "the LGN-driven GLIF3 'e' neurons should fire"
    assert np.any(fired >= 25), "the iaf_psc_alpha neurons, driven by 'e', should fire"
    v_iaf = result.state["V_m"][0, :, 2]
    assert v_iaf.max() > IAF["E_L"] + 1.0  # the native iaf node type received input


@pytest.mark.parametrize(
    "case, field, expected",
    [
        ("missing_flag", "node_type 100.after_spike_currents", "set the three mechanism flags"),
        ("receptor_out_of_range", "edges/v1_to_v1/receptor_type", "[1, 4]"),
        ("port_on_iaf", "edges/v1_to_v1/receptor_type", "absent or 0"),
        ("no_delay", "edge_type 101.delay", "missing"),
        ("nan_weight", "edge_type 101.syn_weight", "finite"),
        ("allen_config", "node_type 100.dynamics_params", "convert_aibs2nest"),
    ],
)
def test_sonata_malformed(tmp_path, case, field, expected):
    e_params, extra = None, None
    if case == "missing_flag":
        e_params = {k: v for k, v in GLIF_E.items() if k != "after_spike_currents"}
    elif case == "allen_config":
        e_params = {"type": "GLIF", "coeffs": {}, "El": -0.07}
    elif case == "receptor_out_of_range":

        def extra(s, t):
            return {"receptor_type": 5} if (s, t) == ("i", "i") else {}
    elif case == "port_on_iaf":

        def extra(s, t):
            return {"receptor_type": 2} if t == "x" else {}

    config = _write_sonata(tmp_path, e_params, extra)
    csv = tmp_path / "network" / "v1_v1_edge_types.csv"
    if case in ("no_delay", "nan_weight"):
        text = csv.read_text().splitlines()
        header = text[0].split(" ")
        col = header.index("delay" if case == "no_delay" else "syn_weight")
        rows = [r.split(" ") for r in text[1:]]
        rows[1][col] = "NULL" if case == "no_delay" else "nan"
        csv.write_text("\n".join([text[0], *(" ".join(r) for r in rows)]) + "\n")
    with pytest.raises(SpecError) as info:
        load_sonata(config)
    err = info.value
    assert field in err.field and expected in err.expected, str(err)
    assert err.source.endswith((".csv", ".h5", ".json")) or str(tmp_path) in err.source


def test_readout_window_matches_accuracy_module():
    from snnval import accuracy, loaders

    assert loaders.TF_READOUT_WINDOW_MS == accuracy.TF_READOUT_WINDOW_MS


def test_load_model_file_rejects_unknown_content(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(SpecError, match="snnval-model"):
        load_model_file(path)
    not_h5 = tmp_path / "y.bin"
    not_h5.write_bytes(os.urandom(64))
    with pytest.raises(SpecError, match="HDF5"):
        load_model_file(not_h5)


@pytest.mark.parametrize("damaged", ["v1_nodes.h5", "v1_v1_edges.h5"])
def test_sonata_with_a_truncated_h5_file_is_a_spec_error_naming_it(tmp_path, damaged):
    """Issue 10: a truncated SONATA file raised h5py's raw OSError; now SpecError names the file."""
    config = _write_sonata(tmp_path)
    path = tmp_path / "network" / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SpecError, match=rf"{damaged}.*complete HDF5"):
        load_sonata(config)
