"""The project's own HDF5 model format (``references/MODEL_FORMAT.md``): write atomically, read strictly.

One file holds a whole :class:`~snnval.spec.NetworkSpec` in canonical units (mV, pF, nS, pA, ms, 1/ms),
an optional classification :class:`~snnval.loaders.Readout`, and free provenance metadata. Every numeric
dataset carries its unit in ``attrs["unit"]`` and is checked against it on reading; datasets are stored
with HDF5's Fletcher-32 checksum so that a corrupted file fails loudly instead of loading wrong numbers.
Reading refuses anything missing, malformed or of a ``format_version`` it does not know, with a
:class:`~snnval.errors.SpecError` naming the file and the dataset or attribute.

Round trip is exact: arrays are stored as int64/float64 and come back bit for bit (tested).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import snnval
from snnval.atomic import atomic_path
from snnval.errors import SpecError
from snnval.loaders import (
    LoadedModel,
    Readout,
    check_group_connections,
    finish_spec,
    json_attr,
    open_h5,
    read_h5_array,
    require_hdf5_file,
)
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses

#: Value of the root attribute ``format``.
FORMAT_NAME = "snnval-model"
#: The version this code writes, and the versions it reads.
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)

#: GLIF3Cells column -> (unit, trailing shape: () per node type, (2,) for the two ASCs, ("R",) per receptor).
CELL_COLUMNS: dict[str, tuple[str, tuple]] = {
    "V_th_mV": ("mV", ()),
    "E_L_mV": ("mV", ()),
    "V_reset_mV": ("mV", ()),
    "g_nS": ("nS", ()),
    "C_m_pF": ("pF", ()),
    "t_ref_ms": ("ms", ()),
    "asc_decay_per_ms": ("1/ms", (2,)),
    "asc_amps_pA": ("pA", (2,)),
    "tau_syn_ms": ("ms", ("R",)),
    "asc_r": ("1", (2,)),  # optional: absent means None (NEST default 1.0)
}

#: Synapses field -> (kind, unit or None).
SYNAPSE_FIELDS: dict[str, tuple[str, str | None]] = {
    "pre": ("int", None),
    "post": ("int", None),
    "receptor": ("int", None),
    "weight_pA": ("float", "pA"),
    "delay_ms": ("float", "ms"),
}


# --- writing ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON ``default``: numpy scalars and arrays as plain Python numbers and lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_json(value: Any, source: str, field_name: str) -> str:
    # allow_nan=False: NaN/Infinity are not JSON, and other tools would refuse the file.
    try:
        return json.dumps(value, default=_plain, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise SpecError(source, field_name, f"JSON-serialisable data without NaN/inf ({exc})") from exc


def _dataset(group: h5py.Group, name: str, data: np.ndarray, unit: str | None, compression: str | None) -> None:
    # Fletcher-32 needs chunked storage, which HDF5 cannot create for an empty dataset.
    opts: dict[str, Any] = {}
    if data.size:
        opts = {"fletcher32": True, "chunks": True}
        if compression:
            opts.update(compression=compression, shuffle=True)
    ds = group.create_dataset(name, data=data, **opts)
    if unit is not None:
        ds.attrs["unit"] = unit


def _write_synapses(group: h5py.Group, syn: Synapses, compression: str | None) -> None:
    for name, (_kind, unit) in SYNAPSE_FIELDS.items():
        _dataset(group, name, np.asarray(getattr(syn, name)), unit, compression)


def _write(
    f: h5py.File, spec: NetworkSpec, readout: Readout | None, metadata: dict, compression: str | None, source: str
) -> None:
    f.attrs["format"] = FORMAT_NAME
    f.attrs["format_version"] = FORMAT_VERSION

    meta = f.create_group("metadata")
    meta.attrs["format_version"] = FORMAT_VERSION
    meta.attrs["name"] = spec.name
    meta.attrs["created_by"] = f"snnval {snnval.__version__}"
    meta.attrs["created_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta.attrs["spec_sha256"] = spec.content_hash()
    meta.attrs["json"] = _to_json(metadata, source, "metadata")

    cells = f.create_group("cells")
    c = spec.cells
    for col, (unit, _) in CELL_COLUMNS.items():
        value = getattr(c, col)
        if value is not None:
            _dataset(cells, col, np.asarray(value, dtype=np.float64), unit, compression)
    cells.attrs["names"] = _to_json(list(c.names), source, "cells.names")
    cells.attrs["models"] = _to_json(list(c.models), source, "cells.models")
    cells.attrs["native_params"] = _to_json(list(c.native_params), source, "cells.native_params")
    cells.attrs["receptor_names"] = _to_json(list(spec.receptor_names), source, "receptor_names")

    neurons = f.create_group("neurons")
    _dataset(neurons, "node_type", spec.node_type, None, compression)

    _write_synapses(f.create_group("recurrent"), spec.synapses, compression)
    inp = f.create_group("input")
    _write_synapses(inp, spec.inputs, compression)
    inp.attrs["n_sources"] = spec.n_sources
    inp.attrs["source_names"] = _to_json(list(spec.source_names), source, "source_names")

    pops = f.create_group("populations")
    for key, ids in spec.populations.items():
        if not key or "/" in key or key in (".", ".."):
            # '/' is HDF5's path separator: such a name would silently become nested groups.
            raise SpecError(source, f"populations[{key!r}]", "a population name without '/' (and not '', '.', '..')")
        _dataset(pops, key, ids, None, compression)

    if readout is not None:
        ro = f.create_group("readout")
        _dataset(ro, "pool_neurons", readout.pool_neurons, None, compression)
        _dataset(ro, "window_ms", np.asarray(readout.window_ms, dtype=np.float64), "ms", None)
        ro.attrs["rule"] = readout.rule
        ro.attrs["tie_break"] = "lowest_class"
        ro.attrs["window"] = "half-open [start, stop) in ms"
        ro.attrs["description"] = readout.description


def _json_normalised(spec: NetworkSpec, source: str) -> NetworkSpec:
    """The spec with native parameters exactly as they will read back from JSON (lists, plain numbers).

    The stored spec hash is computed on this form, so that it matches the spec :func:`load_model` returns.
    """
    native = json.loads(_to_json(list(spec.cells.native_params), source, "cells.native_params"))
    return replace(spec, cells=replace(spec.cells, native_params=tuple(native)))


def save_model(
    path: str | Path,
    spec: NetworkSpec,
    readout: Readout | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    compression: str | None = None,
) -> Path:
    """Write ``spec`` (+ readout + metadata) to ``path`` atomically; return the path.

    The spec is validated first (an invalid spec is never written). The file is written to a temporary
    file in the same directory, flushed to disk (fsync) and moved over ``path`` with ``os.replace``, so a
    reader sees either the old file or the complete new one, never a half-written file, and a failure
    midway leaves the old file untouched. ``metadata`` is a free JSON-serialisable dict (how the model
    was made, seed, training accuracy, ...). ``compression`` (e.g. ``"gzip"``) is lossless.
    """
    path = Path(path)
    source = str(path)
    spec = _json_normalised(finish_spec(spec, source), source)
    if readout is not None:
        readout = readout.validated(spec.n_neurons, source, prefix="readout/")
    metadata = dict(metadata or {})
    if not path.parent.is_dir():
        raise SpecError(source, "path", f"a file in an existing directory ({path.parent} does not exist)")

    # built in memory, written with plain I/O: HDF5 writing onto a full disk can crash the process
    # (see snnval.golden._write_atomically); a plain write raises OSError and keeps the old file
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _write(f, spec, readout, metadata, compression, source)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())
    return path


def _str_attr(obj: h5py.HLObject, name: str, source: str, expected: str) -> str:
    value = obj.attrs.get(name)
    full = f"{obj.name.rstrip('/')}.attrs['{name}']".lstrip("/")
    if value is None:
        raise SpecError(source, full, f"{expected} (missing)")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise SpecError(source, full, f"{expected}, got {type(value).__name__}")
    return value


def _int_attr(obj: h5py.HLObject, name: str, source: str, expected: str) -> int:
    value = obj.attrs.get(name)
    full = f"{obj.name.rstrip('/')}.attrs['{name}']".lstrip("/")
    if value is None:
        raise SpecError(source, full, f"{expected} (missing)")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise SpecError(source, full, f"{expected}, got {value!r}")
    return int(value)


def _json_list(obj: h5py.HLObject, name: str, source: str, n: int | None, item: str) -> list:
    """A JSON list attribute of ``n`` items (any length if ``n`` is None)."""
    full = f"{obj.name.rstrip('/')}.attrs['{name}']".lstrip("/")
    expected = f"a JSON list of {'' if n is None else f'{n} '}{item}"
    value = json_attr(_str_attr(obj, name, source, expected), source, full, expected)
    if not isinstance(value, list) or (n is not None and len(value) != n):
        got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
        raise SpecError(source, full, f"{expected}, got {got}")
    return value


def _group(f: h5py.File, name: str, source: str, what: str, required: bool = True) -> h5py.Group | None:
    obj = f.get(name)
    if obj is None:
        if required:
            raise SpecError(source, name, f"a group holding {what} (missing)")
        return None
    if not isinstance(obj, h5py.Group):
        raise SpecError(source, name, f"a group holding {what}, got a {type(obj).__name__}")
    return obj


def _read_cells(f: h5py.File, source: str) -> tuple[GLIF3Cells, tuple[str, ...]]:
    g = _group(f, "cells", source, "one dataset per GLIF3 parameter column")
    v_th = read_h5_array(g, "V_th_mV", source, shape=(None,), unit="mV")
    n = v_th.shape[0]
    tau = read_h5_array(g, "tau_syn_ms", source, shape=(n, None), unit="ms")
    n_rec = tau.shape[1]
    cols: dict[str, np.ndarray | None] = {}
    for col, (unit, trailing) in CELL_COLUMNS.items():
        shape = (n, *[n_rec if t == "R" else t for t in trailing])
        cols[col] = read_h5_array(g, col, source, shape=shape, unit=unit, required=col != "asc_r")
    names = tuple(str(x) for x in _json_list(g, "names", source, n, "node-type names"))
    models = tuple(str(x) for x in _json_list(g, "models", source, n, "model names"))
    native = _json_list(g, "native_params", source, n, "parameter dicts")
    if not all(isinstance(p, dict) for p in native):
        raise SpecError(source, "cells.attrs['native_params']", f"a JSON list of {n} objects (dicts)")
    receptor_names = tuple(str(x) for x in _json_list(g, "receptor_names", source, n_rec, "receptor names"))
    cells = GLIF3Cells(**cols, names=names, models=models, native_params=tuple(native))
    return cells, receptor_names


def _read_synapses(g: h5py.Group, source: str) -> Synapses:
    arrays = {
        name: read_h5_array(g, name, source, kind=kind, shape=(None,), unit=unit)
        for name, (kind, unit) in SYNAPSE_FIELDS.items()
    }
    n = arrays["pre"].shape[0]
    for name, arr in arrays.items():
        if arr.shape != (n,):
            raise SpecError(source, f"{g.name.lstrip('/')}/{name}", f"length {n} (same as pre), got {arr.shape[0]}")
    return Synapses(**arrays)


def _read_format_version(f: h5py.File, source: str) -> int:
    """The root ``format`` (must be :data:`FORMAT_NAME`) and ``format_version`` (one this code reads)."""
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT_NAME:
        raise SpecError(source, "attrs['format']", f"{FORMAT_NAME!r}, got {fmt!r}")
    version = _int_attr(f, "format_version", source, "an integer format version")
    if version not in READABLE_VERSIONS:
        raise SpecError(
            source,
            "attrs['format_version']",
            f"one of {list(READABLE_VERSIONS)} (this is snnval {snnval.__version__}; "
            f"version {version} is unknown to it: a newer file needs a newer snnval)",
        )
    return version


def _read_metadata(f: h5py.File, source: str, version: int) -> tuple[str, dict[str, Any], str]:
    """(network name, metadata dict with the provenance attributes folded in, stored spec hash)."""
    meta_g = _group(f, "metadata", source, "provenance attributes")
    name = _str_attr(meta_g, "name", source, "the network's name")
    metadata = json_attr(
        _str_attr(meta_g, "json", source, "a JSON object"), source, "metadata.attrs['json']", "a JSON object"
    )
    if not isinstance(metadata, dict):
        raise SpecError(source, "metadata.attrs['json']", "a JSON object (dict)")
    stored_hash = _str_attr(meta_g, "spec_sha256", source, "the SHA-256 of the network")
    for key in ("created_by", "created_utc"):
        if key in meta_g.attrs:
            metadata[key] = _str_attr(meta_g, key, source, "a string")
    metadata.update(name=name, spec_sha256=stored_hash, format_version=version)
    return name, metadata, stored_hash


def _read_inputs(f: h5py.File, source: str) -> tuple[Synapses, int, list]:
    """The input synapses, the number of external sources and their names (empty or one per source)."""
    inp_g = _group(f, "input", source, "the input synapses")
    inputs = _read_synapses(inp_g, source)
    n_sources = _int_attr(inp_g, "n_sources", source, "the number of external sources (int >= 0)")
    if n_sources < 0:
        raise SpecError(source, "input.attrs['n_sources']", f"an integer >= 0, got {n_sources}")
    source_names = _json_list(inp_g, "source_names", source, None, "source names")
    if source_names and len(source_names) != n_sources:
        raise SpecError(source, "input.attrs['source_names']", f"an empty list or {n_sources} names")
    return inputs, n_sources, source_names


def _read_populations(f: h5py.File, source: str) -> dict[str, np.ndarray]:
    """Population name -> neuron ids."""
    pops_g = _group(f, "populations", source, "one id dataset per population")
    return {key: read_h5_array(pops_g, key, source, kind="int", shape=(None,)) for key in pops_g}


def _read_readout(f: h5py.File, source: str, n: int) -> Readout | None:
    """The optional readout group as a checked :class:`Readout` (window in ms)."""
    ro_g = _group(f, "readout", source, "pool_neurons and window_ms", required=False)
    if ro_g is None:
        return None
    pools = read_h5_array(ro_g, "pool_neurons", source, kind="int", shape=(None, None))
    window = read_h5_array(ro_g, "window_ms", source, shape=(2,), unit="ms")
    rule = _str_attr(ro_g, "rule", source, "the prediction rule")
    description = str(ro_g.attrs.get("description", ""))
    return Readout(pools, (float(window[0]), float(window[1])), rule, description).validated(
        n, source, prefix="readout/"
    )


def _check_synapse_ids(synapses: Synapses, inputs: Synapses, n: int, n_sources: int, n_rec: int, source: str) -> None:
    """Recurrent and input ids and receptors in range, errors naming the datasets."""
    for syn, n_pre, group in ((synapses, n, "recurrent"), (inputs, n_sources, "input")):
        check_group_connections(
            syn, n_pre=n_pre, n_post=n, n_receptors=n_rec, source=source, group=group, names=("pre", "post", "receptor")
        )


def load_model(path: str | Path) -> LoadedModel:
    """Read a model file written by :func:`save_model` (any version in :data:`READABLE_VERSIONS`).

    Returns the validated spec, the readout (or None) and the metadata dict (the free dict plus
    ``name``, ``created_by``, ``created_utc``, ``spec_sha256`` and ``format_version``). The report says
    whether the stored spec hash matches the spec's :meth:`~snnval.spec.NetworkSpec.content_hash`; a
    mismatch is not an error (the hash function may change between versions; corruption is caught by
    the datasets' checksums), but whoever pins a golden trace to the hash should look at it.
    Every value is stored in the spec's canonical units (checked against each dataset's unit attribute),
    so there is nothing to classify: the phases are read, check (ids and receptors), build.
    """
    path = Path(path)
    source = str(path)
    require_hdf5_file(path, "an existing snnval model file", "an HDF5 file (references/MODEL_FORMAT.md)")
    with open_h5(path) as f:
        version = _read_format_version(f, source)
        name, metadata, stored_hash = _read_metadata(f, source, version)
        cells, receptor_names = _read_cells(f, source)
        node_type = read_h5_array(
            _group(f, "neurons", source, "node_type"), "node_type", source, kind="int", shape=(None,)
        )
        n = node_type.shape[0]
        synapses = _read_synapses(_group(f, "recurrent", source, "the recurrent synapses"), source)
        inputs, n_sources, source_names = _read_inputs(f, source)
        _check_synapse_ids(synapses, inputs, n, n_sources, cells.tau_syn_ms.shape[1], source)
        populations = _read_populations(f, source)
        readout = _read_readout(f, source, n)

    spec = NetworkSpec(
        name=name,
        cells=cells,
        node_type=node_type,
        synapses=synapses,
        n_sources=n_sources,
        inputs=inputs,
        source_names=tuple(str(s) for s in source_names),
        populations=populations,
        receptor_names=receptor_names,
    )
    spec = finish_spec(spec, source)
    report = {
        "format_version": version,
        "n_neurons": spec.n_neurons,
        "n_synapses": len(spec.synapses),
        "n_inputs": len(spec.inputs),
        "spec_sha256_matches": spec.content_hash() == stored_hash,
    }
    return LoadedModel(spec, readout, metadata, report)


__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "READABLE_VERSIONS", "load_model", "save_model"]
