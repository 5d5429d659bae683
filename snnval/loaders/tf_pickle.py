"""The TF training code's network files (+ optional checkpoint variables) -> NetworkSpec.

Layouts, as read by ``load_sparse.py`` and ``models.py`` (class ``BillehColumn``) of the TF training code
(``ifgovh/Training-data-driven-V1-model``; GLIF3_SEMANTICS.md sections 1-2):

``network_dat.pkl`` = ``{"nodes": [...], "edges": [...]}``

* ``nodes[i]`` = ``{"ids": int array (bmtk node ids), "params": {...}}``, one entry per node type; params in
  NEST ``glif_psc`` units: ``V_th``, ``E_L``, ``V_reset`` (mV), ``g`` (nS), ``C_m`` (pF), ``t_ref`` (ms),
  ``k`` (2,) (the ASC decay rates, 1/ms), ``asc_amps`` (2,) (pA), ``tau_syn`` (R,) (ms; R = 4 in V1).
  The TF code divides ``asc_amps`` by vsc itself (``BillehColumn.__init__``), so the file holds pA.
* ``edges[j]`` = ``{"source": int array, "target": int array, "params": {"receptor_type": int (1-based),
  "weight": array (one per edge), "delay": float ms (scalar or one per edge)}}``.
  **Weights are in pA**: ``BillehColumn`` divides them by ``voltage_scale`` of the target's node type when
  it builds the trainable variable, so the file is *not* TF-normalised (only the checkpoint is).

``input_dat.pkl`` = ``[LGN, BKG]``, each population a pair ``(nodes, edges)`` as indexed by
``load_sparse.load_input``: ``nodes["ids"]`` are the source ids (LGN: 0..n-1), ``edges`` in the format
above with ``source`` indexing the population and ``target`` bmtk node ids. Weights in pA. BKG edges give
the background weight of each (target, receptor); ``load_billeh`` assigns them into a dense ``4N`` vector
(a later duplicate overwrites an earlier one; so does this loader).

Checkpoint variables (a dict of arrays, ``.npz`` or HDF5 with these top-level datasets), TF-normalised:

* ``recurrent_indices`` (M, 2): row ``R*target + receptor0``, column ``src + N*(delay_steps - 1)``;
  ``recurrent_weights`` (M,): ``w_pA / vsc_post``;
* ``input_indices`` (K, 2): row ``R*target + receptor0``, column = LGN source; ``input_weights`` (K,);
* ``rest_of_brain_weights`` (N, R) or (N*R,): ``bkg_pA / vsc * 10``.

Delays: with checkpoint indices the delay of every synapse is taken from ``recurrent_indices``
(``delay_steps = col // N + 1``, ``src = col % N``): ``load_sparse.load_network`` re-sorts indices and
weights but not delays, so TF ran each synapse with another edge's delay, and the checkpoint holds the
delays TF actually used. The report counts how many synapses' delays differ from the pkl's (compared in
steps after TF's own clip to [dt, max_delay] and half-to-even rounding).

Background (TF "rest of brain", common-source mode, ``models.SparseLayer``): every step one count
``n ~ Binomial(10, 0.1)`` is drawn for all neurons and the input current (TF units) is
``rest_of_brain_weights * n / 10``. With ``rest_of_brain_weights = bkg_pA / vsc * 10`` this is
``(bkg_pA / vsc) * n``: exactly what a source emitting amplitude ``n`` through a synapse of ``bkg_pA``
delivers, because every input weight is divided by vsc_post on its way in. So the loader adds one source
``"bkg"`` with, per neuron and receptor, ``weight_pA = rest_of_brain_weights * vsc / 10`` (= the pkl's BKG
weight in pA), and the stimulus supplies the counts (:func:`snnval.stimulus.common_background_counts`).
Zero weights (3 of the 4 receptors of each V1 neuron) are not connected: they change nothing and would
quadruple the background events an adapter must deliver. Note that the trained V1 model ran with
``use_decoded_noise=True``, where these weights have no effect at all (GLIF3_SEMANTICS.md section 2).

Input delays: the TF code ignores the delays of input edges (an input ``x[t]`` enters the step ``t``
itself). The spec's smallest delay is one step, so every input and background synapse gets ``dt_ms``;
a scenario that reproduces TF input timing exactly emits its events one step earlier.

Node selection: V1's 51,978 neurons are a subset of the pkl's nodes (TF ``core_only`` /
``connected_selection``); pass their bmtk ids as ``neuron_ids``. TF numbers kept neurons in ascending
bmtk id order (``tf_id_to_bmtk_id = arange(n)[sel]``), as does this loader.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnval.errors import SnnvalError, SpecError
from snnval.loaders import (
    GLIF3_NEST_SCALARS,
    LoadedModel,
    check_array,
    check_connections,
    check_step_ms,
    finish_spec,
    open_h5,
    receptor_names,
)
from snnval.loaders.tf_layout import (
    background_matrix,
    decode_tf_columns,
    input_delay_note,
    split_tf_rows,
    tf_input_synapses,
)
from snnval.semantics import TF_MAX_DELAY_MS
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.units import bkg_tf_to_pA, weight_tf_to_pA

CHECKPOINT_KEYS = ("recurrent_indices", "recurrent_weights", "input_indices", "input_weights", "rest_of_brain_weights")

#: Per-edge arrays of a list of pkl edge groups: (source, target, receptor0, weight_pA, delay_ms).
EdgeArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class UntrustedPickle(SnnvalError):
    """A pickle file was to be loaded without ``trust_pickle=True``."""


@dataclass
class _Recurrent:
    """Recurrent synapses in TF ids: pre, post, 0-based receptor, weight (pA), delay (ms)."""

    pre: np.ndarray
    post: np.ndarray
    receptor: np.ndarray
    weight_pA: np.ndarray
    delay_ms: np.ndarray


@dataclass
class _Inputs:
    """LGN synapses in TF ids (weights pA), the LGN source count and the background weights (N, R) in pA."""

    pre: np.ndarray
    post: np.ndarray
    receptor: np.ndarray
    weight_pA: np.ndarray
    n_lgn: int
    bkg_pA: np.ndarray | None


@dataclass
class _Selection:
    """Which bmtk nodes TF kept: ``tf_of_bmtk[b]`` is the TF id of bmtk id b (-1: not kept)."""

    node_type: np.ndarray  # per TF neuron
    tf_of_bmtk: np.ndarray
    vsc_mV: np.ndarray  # per TF neuron


@dataclass
class _Report:
    """What the loader decided (where weights and delays came from, the delay comparison, notes)."""

    entries: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- read: files -> Python objects and checked arrays ---------------------------------------------------------


def _check_trust(trust_pickle: Any, paths: list[Path]) -> None:
    """Only the boolean True unlocks unpickling: a truthy string such as "false" (from a config file or
    an environment variable) must not run pickled code."""
    if trust_pickle is not True:
        if trust_pickle is not False:
            raise SpecError(
                "load_tf_model",
                "trust_pickle",
                f"the boolean True or False, got {trust_pickle!r} ({type(trust_pickle).__name__}); "
                "no pickle was opened",
            )
        raise UntrustedPickle(_untrusted_message(paths))


def _untrusted_message(paths: list[Path]) -> str:
    names = ", ".join(str(p) for p in paths)
    return (
        f"refusing to load {names}: Python pickle files can execute arbitrary code while they are being "
        "loaded, so a tampered network_dat.pkl/input_dat.pkl could run anything with your permissions. "
        "Load them only if you trust where they came from, by passing trust_pickle=True (the boolean) to "
        "snnval.loaders.tf_pickle.load_tf_model from Python; the command line never loads pickles. Better "
        "still, convert them once to the project's model format (snnval.loaders.model_h5.save_model), which "
        "cannot run code, and give the CLI that file."
    )


def _unpickle(path: Path) -> Any:
    if not path.is_file():
        raise SpecError(str(path), "path", "an existing pickle file")
    with open(path, "rb") as fh:
        try:
            return pickle.load(fh)
        except UnicodeDecodeError:
            # Python 2 era pickles hold byte strings; latin1 maps them 1:1 (the numpy-recommended fallback).
            fh.seek(0)
            return pickle.load(fh, encoding="latin1")
        except Exception as exc:
            raise SpecError(str(path), "content", f"a readable pickle ({type(exc).__name__}: {exc})") from exc


def _get(mapping: Any, key: str, source: str, where: str, expected: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise SpecError(source, where or "<top level>", f"a dict with key {key!r}, got {type(mapping).__name__}")
    if key not in mapping:
        raise SpecError(source, f"{where}.{key}" if where else key, f"{expected} (missing)")
    return mapping[key]


def _list(value: Any, source: str, where: str, expected: str) -> list:
    if not isinstance(value, list | tuple):
        raise SpecError(source, where, f"{expected}, got {type(value).__name__}")
    return list(value)


# --- network_dat.pkl ----------------------------------------------------------------------------------------


def _read_node_type(node: Any, i: int, source: str, n_rec: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """bmtk ids and GLIF3 parameters (NEST units) of ``nodes[i]``; ``n_rec``: receptors of earlier types."""
    where = f"nodes[{i}]"
    ids = check_array(
        _get(node, "ids", source, where, "an int array of bmtk node ids"),
        source,
        f"{where}.ids",
        kind="int",
        shape=(None,),
    )
    params = _get(node, "params", source, where, "a dict of GLIF3 parameters")
    row: dict[str, Any] = {}
    for key, col in GLIF3_NEST_SCALARS.items():
        value = check_array(
            _get(params, key, source, f"{where}.params", "a number"), source, f"{where}.params.{key}", shape=()
        )
        row[col] = float(value)
    for key, col in (("k", "asc_decay_per_ms"), ("asc_amps", "asc_amps_pA")):
        row[col] = check_array(
            _get(params, key, source, f"{where}.params", "2 numbers"),
            source,
            f"{where}.params.{key}",
            shape=(2,),
        )
    row["tau_syn_ms"] = check_array(
        _get(params, "tau_syn", source, f"{where}.params", "one time constant per receptor"),
        source,
        f"{where}.params.tau_syn",
        shape=(n_rec,) if n_rec else (None,),
    )
    return ids, row


def _read_nodes(nodes: list, source: str) -> tuple[GLIF3Cells, np.ndarray]:
    """GLIF3 table (one row per pkl node type) and the node type of every bmtk id 0..n-1."""
    if not nodes:
        raise SpecError(source, "nodes", "a non-empty list of node types")
    ids_per_type, rows = [], []
    n_rec = None
    for i, node in enumerate(nodes):
        ids, row = _read_node_type(node, i, source, n_rec)
        n_rec = row["tau_syn_ms"].shape[0]
        ids_per_type.append(ids)
        rows.append(row)
    node_type = _node_type_of_bmtk_ids(ids_per_type, source)
    cells = GLIF3Cells(
        **{col: np.array([r[col] for r in rows], dtype=np.float64) for col in rows[0]},
        names=tuple(str(i) for i in range(len(nodes))),
    )
    return cells, node_type


def _node_type_of_bmtk_ids(ids_per_type: list[np.ndarray], source: str) -> np.ndarray:
    """Node type of every bmtk id; TF indexes neurons by bmtk id, so the ids must be exactly 0..n-1, once each."""
    all_ids = np.concatenate(ids_per_type)
    n_nodes = all_ids.size
    if all_ids.size and (all_ids.min() < 0 or all_ids.max() >= n_nodes or np.unique(all_ids).size != n_nodes):
        raise SpecError(source, "nodes[*].ids", f"the ids 0..{n_nodes - 1}, each in exactly one node type")
    node_type = np.empty(n_nodes, dtype=np.int64)
    for i, ids in enumerate(ids_per_type):
        node_type[ids] = i
    return node_type


def _read_edge_group(e: Any, source: str, w: str, *, n_src: int, n_tgt: int, n_rec: int) -> EdgeArrays:
    """One pkl edge group (file ids, 0-based receptor, pA, ms), ids and receptor checked."""
    src = check_array(_get(e, "source", source, w, "an int array"), source, f"{w}.source", kind="int", shape=(None,))
    n = src.shape[0]
    tgt = check_array(_get(e, "target", source, w, "an int array"), source, f"{w}.target", kind="int", shape=(n,))
    params = _get(e, "params", source, w, "a dict with receptor_type, weight, delay")
    r = check_array(
        _get(params, "receptor_type", source, f"{w}.params", "an int (1-based)"),
        source,
        f"{w}.params.receptor_type",
        kind="int",
        shape=(),
    )
    weight = check_array(
        _get(params, "weight", source, f"{w}.params", "one weight (pA) per edge"),
        source,
        f"{w}.params.weight",
        shape=(n,),
    )
    delay = check_array(_get(params, "delay", source, f"{w}.params", "a delay in ms"), source, f"{w}.params.delay")
    if delay.shape not in ((), (n,)):
        raise SpecError(source, f"{w}.params.delay", f"a number or an array of length {n}, got {delay.shape}")
    if np.any(delay < 0):
        raise SpecError(source, f"{w}.params.delay", "delays >= 0 ms")
    receptor = np.full(n, int(r) - 1, dtype=np.int64)
    check_connections(
        src,
        tgt,
        receptor,
        n_pre=n_src,
        n_post=n_tgt,
        n_receptors=n_rec,
        source=source,
        fields=(f"{w}.source", f"{w}.target", f"{w}.params.receptor_type"),
        receptor_base=1,
    )
    return src, tgt, receptor, weight, np.broadcast_to(delay, (n,))


def _read_edges(edges: list, source: str, where: str, *, n_src: int, n_tgt: int, n_rec: int) -> EdgeArrays:
    """Concatenated (src, tgt, receptor0, weight, delay_ms) of a list of pkl edge groups (file ids)."""
    parts = [
        _read_edge_group(e, source, f"{where}[{j}]", n_src=n_src, n_tgt=n_tgt, n_rec=n_rec) for j, e in enumerate(edges)
    ]
    if not parts:
        return tuple(np.zeros(0, t) for t in (np.int64, np.int64, np.int64, float, float))
    return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))


def _read_input_populations(inp: Any, source: str, *, n_tgt: int, n_rec: int) -> list[tuple[int, EdgeArrays]]:
    """``input_dat.pkl``: [LGN] or [LGN, BKG], each (source count, edge arrays in file ids)."""
    pops = _list(inp, source, "<top level>", "a list [LGN, BKG] of (nodes, edges) populations")
    if not 1 <= len(pops) <= 2:
        raise SpecError(source, "<top level>", f"a list [LGN] or [LGN, BKG] of populations, got {len(pops)} entries")
    parsed = []
    for p, pop in enumerate(pops):
        pair = _list(pop, source, f"[{p}]", "a (nodes, edges) pair")
        if len(pair) != 2:
            raise SpecError(source, f"[{p}]", f"a (nodes, edges) pair, got {len(pair)} items")
        ids = check_array(
            _get(pair[0], "ids", source, f"[{p}][0]", "the source ids"),
            source,
            f"[{p}][0].ids",
            kind="int",
            shape=(None,),
        )
        e = _list(pair[1], source, f"[{p}][1]", "a list of edge groups")
        parsed.append((ids.size, _read_edges(e, source, f"[{p}][1]", n_src=ids.size, n_tgt=n_tgt, n_rec=n_rec)))
    return parsed


# --- classify: which neurons TF kept -------------------------------------------------------------------------


def _select_neurons(
    neuron_ids: np.ndarray | None, type_of_bmtk: np.ndarray, cells: GLIF3Cells, source: str
) -> _Selection:
    """bmtk id -> TF id (-1: not kept), TF ids in ascending bmtk id order as in load_sparse.load_network."""
    n_bmtk = type_of_bmtk.size
    if neuron_ids is None:
        kept = np.arange(n_bmtk)
    else:
        kept = np.unique(check_array(neuron_ids, "load_tf_model", "neuron_ids", kind="int", shape=(None,)))
        if kept.size == 0 or kept[0] < 0 or kept[-1] >= n_bmtk:
            raise SpecError("load_tf_model", "neuron_ids", f"a non-empty set of bmtk ids in [0, {n_bmtk - 1}]")
    tf_of_bmtk = np.full(n_bmtk, -1, dtype=np.int64)
    tf_of_bmtk[kept] = np.arange(kept.size)
    node_type = type_of_bmtk[kept]
    vsc = cells.vsc_mV[node_type]  # per TF neuron, mV
    if np.any(~(vsc > 0)):
        t = int(node_type[np.flatnonzero(~(vsc > 0))[0]])
        raise SpecError(source, f"nodes[{t}].params.V_th", "V_th > E_L (vsc = V_th - E_L normalises every weight)")
    return _Selection(node_type, tf_of_bmtk, vsc)


def _kept_recurrent(edges: EdgeArrays, sel: _Selection) -> _Recurrent:
    """The pkl's recurrent synapses between kept neurons, in TF ids."""
    src_b, tgt_b, rec, w_pA, delay = edges
    tf = sel.tf_of_bmtk
    keep = (tf[src_b] >= 0) & (tf[tgt_b] >= 0)
    return _Recurrent(tf[src_b[keep]], tf[tgt_b[keep]], rec[keep], w_pA[keep], delay[keep])


def _kept_inputs(parsed: list[tuple[int, EdgeArrays]], sel: _Selection, n_rec: int) -> _Inputs:
    """LGN synapses onto kept neurons (TF ids) and the dense (N, R) background weights in pA."""
    tf = sel.tf_of_bmtk
    n_lgn, (l_src, l_tgt_b, l_rec, l_w, _l_delay) = parsed[0]
    keep = tf[l_tgt_b] >= 0
    bkg_pA = None
    if len(parsed) == 2:
        _n_bkg, (_s, b_tgt_b, b_rec, b_w, _d) = parsed[1]
        keep_b = tf[b_tgt_b] >= 0
        bkg_pA = np.zeros((sel.node_type.size, n_rec))
        bkg_pA[tf[b_tgt_b[keep_b]], b_rec[keep_b]] = b_w[keep_b]  # assignment: a later duplicate wins, as in TF
    return _Inputs(l_src[keep], tf[l_tgt_b[keep]], l_rec[keep], l_w[keep], n_lgn, bkg_pA)


# --- checkpoint ---------------------------------------------------------------------------------------------


def _read_checkpoint(checkpoint: Mapping[str, Any] | str | Path) -> tuple[dict[str, np.ndarray], str]:
    """The checkpoint variables this loader uses, from a dict, an ``.npz`` or an HDF5 file (top level)."""
    if isinstance(checkpoint, Mapping):
        return {k: np.asarray(checkpoint[k]) for k in CHECKPOINT_KEYS if k in checkpoint}, "checkpoint"
    path = Path(checkpoint)
    source = str(path)
    if not path.is_file():
        raise SpecError(source, "path", "an existing checkpoint file (.npz or HDF5)")
    import h5py

    if h5py.is_hdf5(path):
        out = {}
        with open_h5(path) as f:
            for k in CHECKPOINT_KEYS:
                if k in f:
                    if not isinstance(f[k], h5py.Dataset):
                        raise SpecError(source, k, "a dataset at the top level of the file")
                    out[k] = f[k][()]
        return out, source
    try:
        # allow_pickle=False: an npz can carry pickled object arrays, which is the same code-execution risk.
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in CHECKPOINT_KEYS if k in z.files}, source
    except ValueError as exc:
        raise SpecError(source, "content", f"an .npz of plain numeric arrays, no pickled objects ({exc})") from exc
    except Exception as exc:
        raise SpecError(source, "format", f"an .npz or HDF5 file ({type(exc).__name__}: {exc})") from exc


def _pairs(ck: dict[str, np.ndarray], source: str, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    ik, wk = f"{prefix}_indices", f"{prefix}_weights"
    if (ik in ck) != (wk in ck):
        missing = wk if ik in ck else ik
        raise SpecError(source, missing, f"present together with {ik if missing == wk else wk}")
    if ik not in ck:
        return None
    idx = check_array(ck[ik], source, ik, kind="int", shape=(None, 2))
    w = check_array(ck[wk], source, wk, shape=(idx.shape[0],))
    return idx, w


def _tf_delay_steps(delay_ms: np.ndarray, dt_ms: float, max_delay_ms: float) -> np.ndarray:
    """Delays in steps as ``BillehColumn`` computes them: clip to [dt, max_delay], numpy round (half to even).

    TF's ``max_delay`` is ``round(min(max(delays), flag))``, in ms (the code assumes dt = 1 ms).
    """
    if delay_ms.size == 0:
        return np.zeros(0, np.int64)
    upper = float(np.round(min(float(delay_ms.max()), max_delay_ms)))
    return np.round(np.clip(delay_ms, dt_ms, upper) / dt_ms).astype(np.int64)


def _count_delay_differences(
    pkl_key: np.ndarray, pkl_steps: np.ndarray, ck_key: np.ndarray, ck_steps: np.ndarray
) -> dict[str, int]:
    """Compare per-synapse delays of the same (post, receptor, pre) between pkl and checkpoint.

    Both sides are sorted by (key, steps); when the connectivity is identical (the normal case) the sorted
    arrays pair synapse for synapse. Otherwise only keys present on both sides are compared (first
    occurrence of each) and the rest is counted as connectivity differences.
    """
    po = np.lexsort((pkl_steps, pkl_key))
    co = np.lexsort((ck_steps, ck_key))
    pk, ps, ckk, cs = pkl_key[po], pkl_steps[po], ck_key[co], ck_steps[co]
    if np.array_equal(pk, ckk):
        return {
            "n_compared": int(pk.size),
            "n_differing": int(np.count_nonzero(ps != cs)),
            "n_only_in_checkpoint": 0,
            "n_only_in_pkl": 0,
        }
    common, ip, ic = np.intersect1d(pk, ckk, return_indices=True)
    return {
        "n_compared": int(common.size),
        "n_differing": int(np.count_nonzero(ps[ip] != cs[ic])),
        "n_only_in_checkpoint": int(np.isin(ckk, common, invert=True).sum()),
        "n_only_in_pkl": int(np.isin(pk, common, invert=True).sum()),
    }


def _checkpoint_recurrent(
    idx: np.ndarray,
    w_tf: np.ndarray,
    pkl: _Recurrent,
    sel: _Selection,
    n_rec: int,
    dt_ms: float,
    max_delay_ms: float,
    ck_src: str,
    report: _Report,
) -> _Recurrent:
    """The recurrent synapses as the checkpoint holds them (TF ids, pA, the delays TF ran), compared with the pkl's."""
    n = sel.node_type.size
    rows, cols = idx[:, 0], idx[:, 1]
    if rows.size and (rows.min() < 0 or rows.max() >= n_rec * n):
        raise SpecError(
            ck_src,
            "recurrent_indices[:, 0]",
            f"rows R*target + receptor in [0, {n_rec * n - 1}] for N = {n} neurons "
            "(a larger N means the pkl holds more nodes than TF kept: pass neuron_ids)",
        )
    if cols.size and cols.min() < 0:
        raise SpecError(ck_src, "recurrent_indices[:, 1]", "columns src + N*(delay_steps-1) >= 0")
    ck_post, ck_rec = split_tf_rows(rows, n_rec)
    ck_pre, ck_steps = decode_tf_columns(cols, n)
    pkl_steps = _tf_delay_steps(pkl.delay_ms, dt_ms, max_delay_ms)
    cmp = _count_delay_differences(
        (pkl.post * n_rec + pkl.receptor) * n + pkl.pre, pkl_steps, (ck_post * n_rec + ck_rec) * n + ck_pre, ck_steps
    )
    report.entries["delay_comparison"] = cmp
    report.entries["n_delays_differing_from_pkl"] = cmp["n_differing"]
    if cmp["n_only_in_checkpoint"] or cmp["n_only_in_pkl"]:
        report.notes.append(
            f"checkpoint connectivity differs from the pkl's: {cmp['n_only_in_checkpoint']} "
            f"synapses only in the checkpoint, {cmp['n_only_in_pkl']} only in the pkl"
        )
    report.notes.append(
        f"recurrent delays from checkpoint recurrent_indices: {cmp['n_differing']} of "
        f"{cmp['n_compared']} synapses differ from the pkl's delays (TF load_sparse sort bug)"
    )
    report.entries.update(weights_from="checkpoint", delays_from="checkpoint")
    return _Recurrent(ck_pre, ck_post, ck_rec, weight_tf_to_pA(w_tf, sel.vsc_mV[ck_post]), ck_steps * dt_ms)


def _checkpoint_inputs(
    idx: np.ndarray, w_tf: np.ndarray, inputs: _Inputs, sel: _Selection, n_rec: int, ck_src: str
) -> _Inputs:
    """The LGN synapses as the checkpoint holds them (TF ids, pA); background unchanged."""
    n = sel.node_type.size
    rows = idx[:, 0]
    if rows.size and (rows.min() < 0 or rows.max() >= n_rec * n):
        raise SpecError(ck_src, "input_indices[:, 0]", f"rows R*target + receptor in [0, {n_rec * n - 1}]")
    in_post, in_rec = split_tf_rows(rows, n_rec)
    in_pre = idx[:, 1]
    check_connections(
        in_pre,
        in_post,
        in_rec,
        n_pre=inputs.n_lgn,
        n_post=n,
        n_receptors=n_rec,
        source=ck_src,
        fields=("input_indices[:, 1]", "input_indices[:, 0]", "input_indices[:, 0]"),
    )
    w_pA = weight_tf_to_pA(w_tf, sel.vsc_mV[in_post])
    return _Inputs(in_pre, in_post, in_rec, w_pA, inputs.n_lgn, inputs.bkg_pA)


def _apply_checkpoint(
    checkpoint: Mapping[str, Any] | str | Path,
    rec: _Recurrent,
    inputs: _Inputs,
    sel: _Selection,
    n_rec: int,
    dt_ms: float,
    max_delay_ms: float,
    report: _Report,
) -> tuple[_Recurrent, _Inputs]:
    """Trained weights, the connectivity TF used, its delays and background weights, where the checkpoint has them."""
    ck, ck_src = _read_checkpoint(checkpoint)
    unused = sorted(set(CHECKPOINT_KEYS) - set(ck))
    if unused:
        report.notes.append(f"checkpoint has no {', '.join(unused)}: taken from the pkl files where available")
    rec_pair = _pairs(ck, ck_src, "recurrent")
    if rec_pair is not None:
        rec = _checkpoint_recurrent(*rec_pair, rec, sel, n_rec, dt_ms, max_delay_ms, ck_src, report)
    in_pair = _pairs(ck, ck_src, "input")
    if in_pair is not None:
        inputs = _checkpoint_inputs(*in_pair, inputs, sel, n_rec, ck_src)
        report.entries["input_weights_from"] = "checkpoint"
    if "rest_of_brain_weights" in ck:
        n = sel.node_type.size
        rob = background_matrix(
            check_array(ck["rest_of_brain_weights"], ck_src, "rest_of_brain_weights"),
            n,
            n_rec,
            ck_src,
            "rest_of_brain_weights",
        )
        bkg_pA = bkg_tf_to_pA(rob, sel.vsc_mV[:, None])
        inputs = _Inputs(inputs.pre, inputs.post, inputs.receptor, inputs.weight_pA, inputs.n_lgn, bkg_pA)
        report.entries["background_from"] = "checkpoint"
    return rec, inputs


# --- build ----------------------------------------------------------------------------------------------------


def _build_spec(
    cells: GLIF3Cells,
    sel: _Selection,
    rec: _Recurrent,
    inputs: _Inputs,
    n_rec: int,
    dt_ms: float,
    name: str,
    report: _Report,
) -> tuple[NetworkSpec, int]:
    """The spec (TF ids, pA, ms; inputs and background one step late) and its background synapse count."""
    syn, source_names, n_bkg_syn = tf_input_synapses(
        inputs.pre, inputs.post, inputs.receptor, inputs.weight_pA, inputs.n_lgn, inputs.bkg_pA, dt_ms
    )
    report.notes.append(input_delay_note(dt_ms))
    spec = NetworkSpec(
        name=name,
        cells=cells,
        node_type=sel.node_type,
        synapses=Synapses(rec.pre, rec.post, rec.receptor, rec.weight_pA, rec.delay_ms),
        n_sources=len(source_names),
        inputs=syn,
        source_names=source_names,
        receptor_names=receptor_names(n_rec),
    )
    return spec, n_bkg_syn


# --- the loader ---------------------------------------------------------------------------------------------


def load_tf_model(
    network_pkl: str | Path,
    input_pkl: str | Path,
    checkpoint: Mapping[str, Any] | str | Path | None = None,
    *,
    trust_pickle: bool = False,
    neuron_ids: np.ndarray | None = None,
    dt_ms: float = 1.0,
    max_delay_ms: float = TF_MAX_DELAY_MS,
    name: str = "tf_v1",
) -> LoadedModel:
    """Load the TF training code's ``network_dat.pkl`` + ``input_dat.pkl`` (+ checkpoint) as a NetworkSpec.

    ``trust_pickle`` must be the boolean True: unpickling can execute arbitrary code
    (:class:`UntrustedPickle` for False, SpecError for anything that is not a bool such as the
    string "false", both raised before either file is opened). ``checkpoint``: trained variables (see the module
    docstring) as a dict of arrays, an ``.npz`` or an HDF5 file; what it holds replaces the pkl's
    weights, connectivity and delays. ``neuron_ids``: the bmtk ids of the neurons TF kept (all if None).
    ``dt_ms``/``max_delay_ms``: the TF run's step and ``max_delay`` flag, used to read checkpoint delays
    (``steps * dt_ms``) and to compare them with the pkl's.

    Units out: weights pA (``w_pA = w_TF * vsc_post`` for checkpoint weights, pkl weights as they are),
    delays ms. Sources: LGN ``0..n_lgn-1`` named ``lgn_<i>``, then ``"bkg"`` if there is a background.
    The report holds counts, where weights and delays came from, and the delay comparison.
    Phases: read (the two pickles, then the checkpoint), classify (the neurons TF kept), check (ids,
    receptors, delays, vsc, checkpoint rows), build (TF ids, pA, then :func:`finish_spec`).
    """
    network_pkl, input_pkl = Path(network_pkl), Path(input_pkl)
    _check_trust(trust_pickle, [network_pkl, input_pkl])
    check_step_ms(dt_ms, "load_tf_model")
    net_src, inp_src = str(network_pkl), str(input_pkl)
    net = _unpickle(network_pkl)
    inp = _unpickle(input_pkl)
    report = _Report()

    nodes = _list(_get(net, "nodes", net_src, "", "a list of node types"), net_src, "nodes", "a list of node types")
    cells, type_of_bmtk = _read_nodes(nodes, net_src)
    n_rec = cells.tau_syn_ms.shape[1]
    n_bmtk = type_of_bmtk.size
    sel = _select_neurons(neuron_ids, type_of_bmtk, cells, net_src)
    edges = _list(_get(net, "edges", net_src, "", "a list of edge groups"), net_src, "edges", "a list of edge groups")
    rec = _kept_recurrent(_read_edges(edges, net_src, "edges", n_src=n_bmtk, n_tgt=n_bmtk, n_rec=n_rec), sel)
    inputs = _kept_inputs(_read_input_populations(inp, inp_src, n_tgt=n_bmtk, n_rec=n_rec), sel, n_rec)
    report.entries.update(
        weights_from="pkl",
        delays_from="pkl",
        n_delays_differing_from_pkl=None,
        background_from="pkl" if inputs.bkg_pA is not None else None,
    )
    if checkpoint is not None:
        rec, inputs = _apply_checkpoint(checkpoint, rec, inputs, sel, n_rec, dt_ms, max_delay_ms, report)

    spec, n_bkg_syn = _build_spec(cells, sel, rec, inputs, n_rec, dt_ms, name, report)
    spec = finish_spec(spec, net_src)
    report.entries.update(
        n_neurons=sel.node_type.size,
        n_node_types=cells.n_types,
        n_synapses=len(spec.synapses),
        n_lgn_sources=inputs.n_lgn,
        n_input_synapses=len(spec.inputs) - n_bkg_syn,
        n_background_synapses=n_bkg_syn,
        notes=report.notes,
    )
    ck_name = None if checkpoint is None else "<dict>" if isinstance(checkpoint, Mapping) else str(checkpoint)
    metadata = {
        "loader": "tf_pickle",
        "network_pkl": net_src,
        "input_pkl": inp_src,
        "checkpoint": ck_name,
        "dt_ms": dt_ms,
        "neuron_ids_given": neuron_ids is not None,
    }
    return LoadedModel(spec, None, metadata, report.entries)


__all__ = ["CHECKPOINT_KEYS", "UntrustedPickle", "load_tf_model", "tf_input_synapses"]
