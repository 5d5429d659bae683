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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snnval.errors import SpecError
from snnval.loaders import (
    GLIF3_NEST_SCALARS,
    LoadedModel,
    Readout,
    check_group_connections,
    check_ids,
    check_step_ms,
    finish_spec,
    open_h5,
    read_h5_array,
    receptor_names,
    require_hdf5_file,
)
from snnval.loaders.tf_layout import background_matrix, decode_tf_columns, input_delay_note, tf_input_synapses
from snnval.semantics import TF_MAX_DELAY_MS
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses
from snnval.units import bkg_tf_to_pA, weight_tf_to_pA

#: glif3_params key -> (GLIF3Cells field, trailing shape).
PARAM_KEYS: dict[str, tuple[str, tuple]] = {
    **{key: (col, ()) for key, col in GLIF3_NEST_SCALARS.items()},
    "k": ("asc_decay_per_ms", (2,)),
    "asc_amps": ("asc_amps_pA", (2,)),
    "tau_syn": ("tau_syn_ms", (None,)),
}

#: Keys of the c3.py variant (normalised per-neuron TF variables), recognised only to refuse them clearly.
_NORMALISED_KEYS = {"v_th", "e_l", "v_reset", "syn_decay", "psc_initial", "voltage_scale", "param_g", "decay"}

#: Default number of readout classes (MNIST) when the file has no ``n_output`` attribute.
DEFAULT_N_CLASSES = 10

#: The groups every desplit file has.
_REQUIRED_GROUPS = ("neurons", "neurons/glif3_params", "recurrent", "input")


@dataclass
class _Connections:
    """Connection arrays as the file stores them: ids, 0-based receptors, TF-normalised weights, delays (ms)."""

    pre: np.ndarray
    post: np.ndarray
    receptor: np.ndarray
    weight_tf: np.ndarray
    delay_ms: np.ndarray | None = None


@dataclass
class _DesplitFile:
    """Everything read from a desplit file, in the file's units (read phase)."""

    node_type: np.ndarray
    cells: GLIF3Cells
    recurrent: _Connections
    inputs: _Connections
    n_lgn: int | None  # the n_input attribute
    bkg_tf: np.ndarray | None  # (N, R), TF units
    bkg_where: str | None
    readout_ids: np.ndarray | None
    n_output: int | None
    n_neurons_attr: int | None


# --- read: file -> arrays (errors name the file and the dataset) --------------------------------------------


def _root_int(f: h5py.File, key: str) -> int | None:
    """An integer root attribute, or None when absent."""
    value = f.attrs.get(key)
    if value is None:
        return None
    value = np.asarray(value)
    if value.shape != () or not np.issubdtype(value.dtype, np.integer):
        raise SpecError(f.filename, f"attrs['{key}']", f"an integer, got {value!r}")
    return int(value)


def _read_cells(f: h5py.File, source: str) -> GLIF3Cells:
    """The per-node-type GLIF3 table (NEST units), refusing the normalised c3.py variant by name."""
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
    cols = {
        col: read_h5_array(grp, key, source, shape=(n_types, *trailing)) for key, (col, trailing) in PARAM_KEYS.items()
    }
    if np.all(cols["V_th_mV"] == 1.0) and np.all(cols["E_L_mV"] == 0.0):
        raise SpecError(
            source,
            "neurons/glif3_params/V_th",
            "membrane parameters in mV; V_th = 1 and E_L = 0 everywhere are TF-normalised values",
        )
    return GLIF3Cells(**cols, names=tuple(str(i) for i in range(n_types)))


def _read_connections(group: h5py.Group, source: str, *, with_delays: bool) -> _Connections:
    """sources, targets, receptor_types, weights (and delays) of one desplit group, equal lengths."""
    pre = read_h5_array(group, "sources", source, kind="int", shape=(None,))
    m = pre.shape[0]
    post = read_h5_array(group, "targets", source, kind="int", shape=(m,))
    receptor = read_h5_array(group, "receptor_types", source, kind="int", shape=(m,))
    weight = read_h5_array(group, "weights", source, shape=(m,))
    delay = read_h5_array(group, "delays", source, shape=(m,)) if with_delays else None
    return _Connections(pre, post, receptor, weight, delay)


def _read_background(f: h5py.File, source: str, n: int, n_rec: int) -> tuple[np.ndarray | None, str | None]:
    """Background weights (TF units, (N, R)) and where they were found, or (None, None)."""
    for where in ("input/bkg_weights", "background/weights"):
        if where in f:
            group, name = where.split("/")
            return background_matrix(read_h5_array(f[group], name, source), n, n_rec, source, where), where
    return None, None


def _read_file(f: h5py.File, source: str, n_classes: int | None) -> _DesplitFile:
    """Read every dataset and attribute the loader uses; shapes checked, consistency not yet.

    ``n_output`` is read only when it decides the readout's class count (a readout, no ``n_classes``).
    """
    for group in _REQUIRED_GROUPS:
        if group not in f:
            raise SpecError(source, group, "a group of the desplit layout (missing)")
    node_type = read_h5_array(f["neurons"], "node_type_ids", source, kind="int", shape=(None,))
    if node_type.shape[0] == 0:
        raise SpecError(source, "neurons/node_type_ids", "at least one neuron")
    cells = _read_cells(f, source)
    _check_node_types(node_type, cells, source)
    recurrent = _read_connections(f["recurrent"], source, with_delays=True)
    inputs = _read_connections(f["input"], source, with_delays=False)
    n_rec = cells.tau_syn_ms.shape[1]
    bkg_tf, bkg_where = _read_background(f, source, node_type.shape[0], n_rec)
    readout_ids = read_h5_array(f["readout"], "neuron_ids", source, kind="int") if "readout" in f else None
    return _DesplitFile(
        node_type=node_type,
        cells=cells,
        recurrent=recurrent,
        inputs=inputs,
        n_lgn=_root_int(f, "n_input"),
        bkg_tf=bkg_tf,
        bkg_where=bkg_where,
        readout_ids=readout_ids,
        n_output=_root_int(f, "n_output") if readout_ids is not None and not n_classes else None,
        n_neurons_attr=_root_int(f, "n_neurons"),
    )


# --- classify: which variant wrote the file --------------------------------------------------------------------


def _decode_encoded_sources(rec: _Connections, n: int, dt_ms: float, notes: list[str]) -> _Connections:
    """The c3.py variant's ``recurrent/sources`` (TF columns ``src + N*(delay_steps-1)``) decoded, else as is.

    Columns beyond TF's largest delay cannot come from TF and are left to be refused as bad ids.
    """
    max_steps = int(np.round(TF_MAX_DELAY_MS / dt_ms))
    pre = rec.pre
    if not (pre.size and pre.min() >= 0 and n <= pre.max() < n * max_steps):
        return rec
    n_enc = int(np.count_nonzero(pre >= n))
    src, steps = decode_tf_columns(pre, n)
    notes.append(
        f"recurrent/sources hold TF's delay-encoded columns ({n_enc} values >= N = {n}): "
        "decoded to source ids and delays (recurrent/delays ignored)"
    )
    return _Connections(src, rec.post, rec.receptor, rec.weight_tf, steps * dt_ms)


def _n_lgn_sources(raw: _DesplitFile, notes: list[str]) -> int:
    """LGN source count: the n_input attribute, else the largest input source id + 1 (noted)."""
    if raw.n_lgn is not None:
        return raw.n_lgn
    pre = raw.inputs.pre
    n_lgn = int(pre.max()) + 1 if pre.size else 0
    notes.append(f"no n_input attribute: {n_lgn} LGN sources (largest source id + 1)")
    return n_lgn


def _readout_pools(ids: np.ndarray, n_classes: int, n: int, source: str) -> Readout:
    """``readout/neuron_ids`` (flat: C pools of k, or already (C, k)) as a checked :class:`Readout`."""
    if ids.ndim == 1:
        if ids.size % n_classes:
            raise SpecError(
                source,
                "readout/neuron_ids",
                f"{n_classes} pools of equal size (length divisible by {n_classes}), got {ids.size} ids",
            )
        ids = ids.reshape(n_classes, ids.size // n_classes)
    check_ids(ids, n, source, "readout/neuron_ids")
    return Readout(ids, description=f"{n_classes} pools from readout/neuron_ids (TF localized readout)")


# --- check: consistency across datasets --------------------------------------------------------------------------


def _check_node_types(node_type: np.ndarray, cells: GLIF3Cells, source: str) -> None:
    """Every neuron's node type has a row of glif3_params, and every used type has V_th > E_L."""
    if node_type.min() < 0 or node_type.max() >= cells.n_types:
        raise SpecError(
            source,
            "neurons/node_type_ids",
            f"node types in [0, {cells.n_types - 1}] "
            f"(one row of glif3_params each), got [{node_type.min()}, {node_type.max()}]",
        )
    if np.any(~(cells.vsc_mV[node_type] > 0)):
        raise SpecError(source, "neurons/glif3_params/V_th", "V_th > E_L for every node type")


def _check_connections(c: _Connections, *, n_pre: int, n: int, n_rec: int, source: str, group: str) -> None:
    """Ids and receptors in range (fields named as in the file), delays >= 0."""
    check_group_connections(
        c,
        n_pre=n_pre,
        n_post=n,
        n_receptors=n_rec,
        source=source,
        group=group,
        names=("sources", "targets", "receptor_types"),
    )
    if c.delay_ms is not None and np.any(c.delay_ms < 0):
        raise SpecError(source, f"{group}/delays", "delays >= 0 ms")


def _check_neuron_count(raw: _DesplitFile, source: str) -> None:
    """The optional n_neurons attribute agrees with neurons/node_type_ids."""
    n = raw.node_type.shape[0]
    if raw.n_neurons_attr is not None and raw.n_neurons_attr != n:
        raise SpecError(
            source, "attrs['n_neurons']", f"{n} (the length of neurons/node_type_ids), got {raw.n_neurons_attr}"
        )


# --- build: canonical units -> NetworkSpec ----------------------------------------------------------------------


def _build_spec(
    raw: _DesplitFile, rec: _Connections, n_lgn: int, dt_ms: float, name: str, notes: list[str]
) -> tuple[NetworkSpec, int]:
    """The spec (weights in pA: ``w_TF * vsc_post``, background ``bkg_TF * vsc / 10``) and its bkg synapse count."""
    vsc = raw.cells.vsc_mV[raw.node_type]
    inp = raw.inputs
    w_pA = weight_tf_to_pA(rec.weight_tf, vsc[rec.post])
    in_w = weight_tf_to_pA(inp.weight_tf, vsc[inp.post])
    bkg_pA = None if raw.bkg_tf is None else bkg_tf_to_pA(raw.bkg_tf, vsc[:, None])
    inputs, source_names, n_bkg = tf_input_synapses(inp.pre, inp.post, inp.receptor, in_w, n_lgn, bkg_pA, dt_ms)
    if raw.bkg_tf is not None:
        notes.append(f"background weights from {raw.bkg_where}: one source 'bkg', {n_bkg} non-zero synapses")
    notes.append(input_delay_note(dt_ms))
    spec = NetworkSpec(
        name=name,
        cells=raw.cells,
        node_type=raw.node_type,
        synapses=Synapses(rec.pre, rec.post, rec.receptor, w_pA, rec.delay_ms),
        n_sources=len(source_names),
        inputs=inputs,
        source_names=source_names,
        receptor_names=receptor_names(raw.cells.tau_syn_ms.shape[1]),
    )
    return spec, n_bkg


def load_desplit(
    path: str | Path, *, dt_ms: float = 1.0, n_classes: int | None = None, name: str | None = None
) -> LoadedModel:
    """Load a desplit HDF5 file (layout and assumptions in the module docstring).

    Weights come out in pA (``w_TF * vsc_post``; background ``bkg_TF * vsc / 10``), delays in ms.
    Sources: ``lgn_<i>`` for ``0..n_input-1``, then ``"bkg"`` when background weights are present (one
    source to every neuron and receptor with a non-zero weight; the stimulus supplies its counts, see
    :mod:`snnval.loaders.tf_pickle` for the arithmetic). ``n_classes`` overrides the readout's class count.
    Phases: read (:func:`_read_file`), classify (delay-encoded sources, LGN count, readout pools),
    check (ids, receptors, delays, counts), build (:func:`_build_spec`, then :func:`finish_spec`).
    """
    path = Path(path)
    source = str(path)
    require_hdf5_file(path, "an existing desplit HDF5 file", "an HDF5 file in the desplit layout")
    check_step_ms(dt_ms, "load_desplit")
    notes: list[str] = []
    with open_h5(path) as f:
        raw = _read_file(f, source, n_classes)
    n = raw.node_type.shape[0]
    n_rec = raw.cells.tau_syn_ms.shape[1]
    rec = _decode_encoded_sources(raw.recurrent, n, dt_ms, notes)
    _check_connections(rec, n_pre=n, n=n, n_rec=n_rec, source=source, group="recurrent")
    n_lgn = _n_lgn_sources(raw, notes)
    _check_connections(raw.inputs, n_pre=n_lgn, n=n, n_rec=n_rec, source=source, group="input")
    readout = None
    if raw.readout_ids is not None:
        readout = _readout_pools(raw.readout_ids, n_classes or raw.n_output or DEFAULT_N_CLASSES, n, source)
    _check_neuron_count(raw, source)

    spec, n_bkg = _build_spec(raw, rec, n_lgn, dt_ms, name or path.stem, notes)
    spec = finish_spec(spec, source)
    report: dict[str, Any] = {
        "n_neurons": n,
        "n_node_types": raw.cells.n_types,
        "n_synapses": rec.pre.shape[0],
        "n_lgn_sources": n_lgn,
        "n_input_synapses": raw.inputs.pre.shape[0],
        "n_background_synapses": n_bkg,
        "notes": notes,
    }
    metadata = {"loader": "desplit_h5", "file": source, "dt_ms": dt_ms}
    return LoadedModel(spec, readout, metadata, report)


__all__ = ["PARAM_KEYS", "load_desplit"]
