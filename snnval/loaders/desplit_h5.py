"""The public TF -> NEST port's "desplit" HDF5 layout -> NetworkSpec.

Layout (GLIF3_SEMANTICS.md "Network files"; written by the port's conversion script ``c2.py`` from the
TF training code's ``load_billeh`` network and the trained checkpoint, and read by its ``nest_glif.py``):

=====================================  ====================================================================
``neurons/node_type_ids`` (N,)         node type of each neuron (TF id order)
``neurons/glif3_params/<key>``         one array per parameter, one row per node type, **NEST units**:
                                       ``V_th``, ``E_L``, ``V_reset`` (mV), ``g`` (nS), ``C_m`` (pF),
                                       ``t_ref`` (ms), ``k`` (T, 2) ASC decay (1/ms), ``asc_amps`` (T, 2)
                                       (pA), ``tau_syn`` (T, R) (ms)
``recurrent/sources, targets``         neuron ids
``recurrent/weights``                  TF-normalised: ``w_pA / vsc_post``
``recurrent/receptor_types``           0-based
``recurrent/delays``                   ms
``input/sources, targets, weights,     LGN synapses, same conventions (no delays: TF ignores them)
receptor_types``
``input/bkg_weights`` (N, R)           ``bkg_pA / vsc * 10`` (TF ``rest_of_brain_weights``)
``readout/neuron_ids`` (C*k,)          the readout pools concatenated: neuron ``i`` votes for class ``i // k``
root attributes                        ``n_neurons``, ``n_input``, ``n_output`` (optional)
=====================================  ====================================================================

Where the fact sheet is silent, these assumptions were taken from the port's public scripts:

* ``glif3_params`` keys and units: ``c2.py`` stores ``load_billeh``'s ``node_params`` unchanged, i.e. the
  keys and units of ``network_dat.pkl`` (``k`` is the ASC decay, ``asc_amps`` in pA), before
  ``BillehColumn`` normalises them. A later variant (``c3.py``) stored the *normalised per-neuron* TF
  variables instead (``v_th``, ``syn_decay``, ``voltage_scale``, ...; or ``V_th`` = 1 and ``E_L`` = 0);
  such files are refused with an explanation rather than misread.
* ``recurrent/delays`` are ``load_sparse``'s delays paired with its *sorted* indices, i.e. the delays TF
  actually ran (its sort bug included), in ms before TF's clip/round.
* The ``c3.py`` variant wrote the checkpoint's raw column ``src + N*(delay_steps-1)`` as
  ``recurrent/sources`` (values >= N). Such sources (all below ``N * 5 ms / dt``, TF's largest delay)
  are decoded (``src = col % N``, delay ``(col // N + 1) * dt``) and the report says so; the ``delays``
  dataset is then ignored. Larger values are refused as bad source ids.
* Background weights also appear as ``background/weights`` (``c3.py``), (N, R) or flat (N*R,).
* ``readout/neuron_ids`` is flat, C pools of k neurons (``n_output`` attribute, else 10 classes).
* Input and background delays: one step (``dt_ms``), as for :mod:`snnval.loaders.tf_pickle`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snnval.errors import SpecError
from snnval.loaders import (
    LoadedModel,
    Readout,
    check_connections,
    check_ids,
    finish_spec,
    open_h5,
    read_h5_array,
    receptor_names,
)
from snnval.loaders.tf_pickle import tf_input_synapses
from snnval.semantics import TF_MAX_DELAY_MS
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.units import bkg_tf_to_pA, weight_tf_to_pA

#: glif3_params key -> (GLIF3Cells field, trailing shape).
PARAM_KEYS: dict[str, tuple[str, tuple]] = {
    "V_th": ("V_th_mV", ()),
    "E_L": ("E_L_mV", ()),
    "V_reset": ("V_reset_mV", ()),
    "g": ("g_nS", ()),
    "C_m": ("C_m_pF", ()),
    "t_ref": ("t_ref_ms", ()),
    "k": ("asc_decay_per_ms", (2,)),
    "asc_amps": ("asc_amps_pA", (2,)),
    "tau_syn": ("tau_syn_ms", (None,)),
}

#: Keys of the c3.py variant (normalised per-neuron TF variables), recognised only to refuse them clearly.
_NORMALISED_KEYS = {"v_th", "e_l", "v_reset", "syn_decay", "psc_initial", "voltage_scale", "param_g", "decay"}

#: Default number of readout classes (MNIST) when the file has no ``n_output`` attribute.
DEFAULT_N_CLASSES = 10


def _root_int(f: h5py.File, key: str) -> int | None:
    value = f.attrs.get(key)
    if value is None:
        return None
    value = np.asarray(value)
    if value.shape != () or not np.issubdtype(value.dtype, np.integer):
        raise SpecError(f.filename, f"attrs['{key}']", f"an integer, got {value!r}")
    return int(value)


def _read_cells(f: h5py.File, source: str) -> GLIF3Cells:
    grp = f["neurons/glif3_params"]
    if not isinstance(grp, h5py.Group):
        raise SpecError(source, "neurons/glif3_params", "a group with one dataset per GLIF3 parameter")
    keys = set(grp.keys())
    if keys & _NORMALISED_KEYS and "V_th" not in keys:
        raise SpecError(
            source,
            "neurons/glif3_params",
            f"per-node-type parameters in NEST units ({', '.join(PARAM_KEYS)}); this file holds the "
            f"normalised per-neuron TF variables ({', '.join(sorted(keys & _NORMALISED_KEYS))}) of a later "
            "conversion script, which cannot be turned back into NEST units reliably (tau_syn was stored as "
            "exp(-dt/tau_syn), C_m is missing): regenerate it with the node_params of network_dat.pkl",
        )
    v_th = read_h5_array(grp, "V_th", source, shape=(None,))
    n_types = v_th.shape[0]
    cols: dict[str, np.ndarray] = {}
    for key, (col, trailing) in PARAM_KEYS.items():
        cols[col] = read_h5_array(grp, key, source, shape=(n_types, *trailing))
    if np.all(cols["V_th_mV"] == 1.0) and np.all(cols["E_L_mV"] == 0.0):
        raise SpecError(
            source,
            "neurons/glif3_params/V_th",
            "membrane parameters in mV; V_th = 1 and E_L = 0 everywhere are TF-normalised values",
        )
    return GLIF3Cells(**cols, names=tuple(str(i) for i in range(n_types)))


def _bkg_weights(f: h5py.File, source: str, n: int, n_rec: int) -> tuple[np.ndarray | None, str | None]:
    for where in ("input/bkg_weights", "background/weights"):
        if where in f:
            group, name = where.split("/")
            arr = read_h5_array(f[group], name, source)
            if arr.shape not in ((n, n_rec), (n * n_rec,)):
                raise SpecError(source, where, f"shape ({n}, {n_rec}) or ({n * n_rec},), got {arr.shape}")
            return arr.reshape(n, n_rec), where
    return None, None


def load_desplit(
    path: str | Path, *, dt_ms: float = 1.0, n_classes: int | None = None, name: str | None = None
) -> LoadedModel:
    """Load a desplit HDF5 file (layout and assumptions in the module docstring).

    Weights come out in pA (``w_TF * vsc_post``; background ``bkg_TF * vsc / 10``), delays in ms.
    Sources: ``lgn_<i>`` for ``0..n_input-1``, then ``"bkg"`` when background weights are present (one
    source to every neuron and receptor with a non-zero weight; the stimulus supplies its counts, see
    :mod:`snnval.loaders.tf_pickle` for the arithmetic). ``n_classes`` overrides the readout's class count.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise SpecError(source, "path", "an existing desplit HDF5 file")
    if not h5py.is_hdf5(path):
        raise SpecError(source, "format", "an HDF5 file in the desplit layout")
    if not (dt_ms > 0 and np.isfinite(dt_ms)):
        raise SpecError("load_desplit", "dt_ms", "a finite number > 0")
    notes: list[str] = []
    with open_h5(path) as f:
        for group in ("neurons", "neurons/glif3_params", "recurrent", "input"):
            if group not in f:
                raise SpecError(source, group, "a group of the desplit layout (missing)")
        node_type = read_h5_array(f["neurons"], "node_type_ids", source, kind="int", shape=(None,))
        n = node_type.shape[0]
        if n == 0:
            raise SpecError(source, "neurons/node_type_ids", "at least one neuron")
        cells = _read_cells(f, source)
        n_rec = cells.tau_syn_ms.shape[1]
        if node_type.min() < 0 or node_type.max() >= cells.n_types:
            raise SpecError(
                source,
                "neurons/node_type_ids",
                f"node types in [0, {cells.n_types - 1}] "
                f"(one row of glif3_params each), got [{node_type.min()}, {node_type.max()}]",
            )
        vsc = cells.vsc_mV[node_type]
        if np.any(~(vsc > 0)):
            raise SpecError(source, "neurons/glif3_params/V_th", "V_th > E_L for every node type")

        rg = f["recurrent"]
        pre = read_h5_array(rg, "sources", source, kind="int", shape=(None,))
        m = pre.shape[0]
        post = read_h5_array(rg, "targets", source, kind="int", shape=(m,))
        rec = read_h5_array(rg, "receptor_types", source, kind="int", shape=(m,))
        w_tf = read_h5_array(rg, "weights", source, shape=(m,))
        delay = read_h5_array(rg, "delays", source, shape=(m,))
        max_steps = int(np.round(TF_MAX_DELAY_MS / dt_ms))
        if m and pre.min() >= 0 and n <= pre.max() < n * max_steps:
            # c3.py wrote the checkpoint column src + N*(delay_steps-1); decode it (see module docstring).
            # Columns beyond TF's largest delay cannot come from it and are left to be refused as bad ids.
            n_enc = int(np.count_nonzero(pre >= n))
            delay = (pre // n + 1) * dt_ms
            pre = pre % n
            notes.append(
                f"recurrent/sources hold TF's delay-encoded columns ({n_enc} values >= N = {n}): "
                "decoded to source ids and delays (recurrent/delays ignored)"
            )
        check_connections(
            pre,
            post,
            rec,
            n_pre=n,
            n_post=n,
            n_receptors=n_rec,
            source=source,
            fields=("recurrent/sources", "recurrent/targets", "recurrent/receptor_types"),
        )
        if np.any(delay < 0):
            raise SpecError(source, "recurrent/delays", "delays >= 0 ms")

        ig = f["input"]
        in_pre = read_h5_array(ig, "sources", source, kind="int", shape=(None,))
        k = in_pre.shape[0]
        in_post = read_h5_array(ig, "targets", source, kind="int", shape=(k,))
        in_rec = read_h5_array(ig, "receptor_types", source, kind="int", shape=(k,))
        in_w_tf = read_h5_array(ig, "weights", source, shape=(k,))
        n_lgn = _root_int(f, "n_input")
        if n_lgn is None:
            n_lgn = int(in_pre.max()) + 1 if k else 0
            notes.append(f"no n_input attribute: {n_lgn} LGN sources (largest source id + 1)")
        check_connections(
            in_pre,
            in_post,
            in_rec,
            n_pre=n_lgn,
            n_post=n,
            n_receptors=n_rec,
            source=source,
            fields=("input/sources", "input/targets", "input/receptor_types"),
        )
        bkg_tf, bkg_where = _bkg_weights(f, source, n, n_rec)

        readout = None
        if "readout" in f:
            ids = read_h5_array(f["readout"], "neuron_ids", source, kind="int")
            c = n_classes or _root_int(f, "n_output") or DEFAULT_N_CLASSES
            if ids.ndim == 1:
                if ids.size % c:
                    raise SpecError(
                        source,
                        "readout/neuron_ids",
                        f"{c} pools of equal size (length divisible by {c}), got {ids.size} ids",
                    )
                ids = ids.reshape(c, ids.size // c)
            check_ids(ids, n, source, "readout/neuron_ids")
            readout = Readout(ids, description=f"{c} pools from readout/neuron_ids (TF localized readout)")
        file_n = _root_int(f, "n_neurons")
        if file_n is not None and file_n != n:
            raise SpecError(source, "attrs['n_neurons']", f"{n} (the length of neurons/node_type_ids), got {file_n}")

    w_pA = weight_tf_to_pA(w_tf, vsc[post])
    in_w = weight_tf_to_pA(in_w_tf, vsc[in_post])
    bkg_pA = None if bkg_tf is None else bkg_tf_to_pA(bkg_tf, vsc[:, None])
    inputs, source_names, n_bkg = tf_input_synapses(in_pre, in_post, in_rec, in_w, n_lgn, bkg_pA, dt_ms)
    if bkg_tf is not None:
        notes.append(f"background weights from {bkg_where}: one source 'bkg', {n_bkg} non-zero synapses")
    notes.append(f"input and background delays set to one step ({dt_ms} ms): TF ignores input delays")

    spec = NetworkSpec(
        name=name or path.stem,
        cells=cells,
        node_type=node_type,
        synapses=Synapses(pre, post, rec, w_pA, delay),
        n_sources=len(source_names),
        inputs=inputs,
        source_names=source_names,
        receptor_names=receptor_names(n_rec),
    )
    spec = finish_spec(spec, source)
    report: dict[str, Any] = {
        "n_neurons": n,
        "n_node_types": cells.n_types,
        "n_synapses": m,
        "n_lgn_sources": n_lgn,
        "n_input_synapses": k,
        "n_background_synapses": n_bkg,
        "notes": notes,
    }
    metadata = {"loader": "desplit_h5", "file": source, "dt_ms": dt_ms}
    return LoadedModel(spec, readout, metadata, report)


__all__ = ["PARAM_KEYS", "load_desplit"]
