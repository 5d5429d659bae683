"""SONATA spike files: read input spike trains, write a run's spikes (HDF5 and CSV).

Layouts (SONATA specification, ``docs/SONATA_DEVELOPER_GUIDE.md`` "Spike file"; the layout bmtk's
``bmtk.utils.reports.spike_trains`` writes and reads):

* HDF5: ``/spikes/<population>/timestamps`` (float64, attribute ``units`` = ``"ms"``) and
  ``/spikes/<population>/node_ids`` (uint64), one pair per node population; the group attribute
  ``sorting`` says how rows are ordered (``by_time``). The pre-SONATA layout ``/spikes/timestamps`` +
  ``/spikes/gids`` (no population) is read as the population the caller names.
* CSV: space separated with the header ``timestamps population node_ids``; ``population`` may be absent
  (then the caller names it).

* NWB (``module: nwb``): the layout bmtk 1.2.0 reads (``spike_train_readers.NWBSTReader``; bmtk's own
  test files, ``spikes.onepop.v1.0.nwb``): ``/processing/<trial>/spike_train/<node_id>/data``, one float
  dataset of times per node; the trial group is named by the input's ``trial`` or is the only one. The
  file carries no population: bmtk feeds the trains, by node id, to the node set's virtual population.
  A pynwb ``/units`` table (what bmtk's ``SpikeTrains.to_nwb`` writes) is not that layout, and bmtk's
  pointnet cannot read it; it is refused with that reason.

Times are in ms. Written times are NEST's stamps (:func:`snnval.time_grid.spike_times_ms`), so reading a
file this module wrote gives back the same steps and offsets (a lossless round trip, tested).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from snnval.atomic import atomic_path
from snnval.errors import SpecError

_UNITS_TO_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0}


@dataclass(frozen=True)
class SpikeTable:
    """Spikes as three parallel arrays: population name, node id and time (ms)."""

    population: np.ndarray  # object (str)
    node_id: np.ndarray  # int64
    time_ms: np.ndarray  # float64

    def __len__(self) -> int:
        return int(self.node_id.shape[0])

    def by_time(self) -> SpikeTable:
        order = np.lexsort((self.node_id, self.population.astype(str), self.time_ms))
        return SpikeTable(self.population[order], self.node_id[order], self.time_ms[order])


def _finite_times(t: np.ndarray, source: str, field: str) -> np.ndarray:
    if not np.all(np.isfinite(t)):
        raise SpecError(source, field, "finite spike times in ms")
    return t


def read_spike_file(path: str | os.PathLike, default_population: str | None = None) -> SpikeTable:
    """Read a SONATA spike file (``.h5``/``.hdf5``/``.sonata`` or ``.csv``); errors name the file and field."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise SpecError(src, "path", "an existing SONATA spike file (.h5 or .csv)")
    if h5py.is_hdf5(path):
        return _read_h5(path, default_population)
    if path.suffix.lower() in (".csv", ".txt", ".dat"):
        return _read_csv(path, default_population)
    raise SpecError(src, "path", "a SONATA spike file: HDF5 (/spikes/<population>/...) or space-separated CSV")


def _read_h5(path: Path, default_population: str | None) -> SpikeTable:
    src = str(path)
    pops, ids, times = [], [], []
    with h5py.File(path, "r") as f:
        if "spikes" not in f or not isinstance(f["spikes"], h5py.Group):
            raise SpecError(src, "spikes", "a /spikes group (SONATA spike file)")
        root = f["spikes"]
        if "timestamps" in root and isinstance(root["timestamps"], h5py.Dataset):  # pre-SONATA layout
            if default_population is None:
                raise SpecError(src, "spikes/gids", "/spikes/<population>/ groups (no population named)")
            groups = {default_population: (root, "gids" if "gids" in root else "node_ids")}
        else:
            groups = {name: (root[name], "node_ids") for name in root if isinstance(root[name], h5py.Group)}
        for name, (g, id_key) in groups.items():
            where = f"spikes/{name}" if g is not root else "spikes"
            for key in ("timestamps", id_key):
                if key not in g:
                    raise SpecError(src, f"{where}/{key}", "a dataset (missing)")
            t = np.asarray(g["timestamps"][()], dtype=float).ravel()
            units = g["timestamps"].attrs.get("units", "ms")
            units = units.decode() if isinstance(units, bytes) else str(units)
            if units not in _UNITS_TO_MS:
                raise SpecError(
                    src, f"{where}/timestamps.attrs['units']", f"one of {sorted(_UNITS_TO_MS)}, got {units!r}"
                )
            raw = np.asarray(g[id_key][()]).ravel()
            if raw.dtype.kind not in "iu":
                raise SpecError(src, f"{where}/{id_key}", f"integer node ids, got {raw.dtype}")
            if raw.size != t.size:
                raise SpecError(src, f"{where}/{id_key}", f"one node id per timestamp ({t.size}), got {raw.size}")
            times.append(_finite_times(t * _UNITS_TO_MS[units], src, f"{where}/timestamps"))
            ids.append(raw.astype(np.int64))
            pops.append(np.full(t.size, name, dtype=object))
    if not times:
        return SpikeTable(np.zeros(0, object), np.zeros(0, np.int64), np.zeros(0))
    return SpikeTable(np.concatenate(pops), np.concatenate(ids), np.concatenate(times))


def _read_csv(path: Path, default_population: str | None) -> SpikeTable:
    src = str(path)
    try:
        df = pd.read_csv(path, sep=r"\s+", engine="python")
    except Exception as exc:
        raise SpecError(src, "content", f"a space-separated table 'timestamps population node_ids' ({exc})") from exc
    for col in ("timestamps", "node_ids"):
        if col not in df.columns:
            raise SpecError(src, col, "a column (header 'timestamps population node_ids')")
    if "population" in df.columns:
        pop = df["population"].astype(str).to_numpy(dtype=object)
    elif default_population is not None:
        pop = np.full(len(df), default_population, dtype=object)
    else:
        raise SpecError(src, "population", "a column naming each spike's node population")
    try:
        t = df["timestamps"].to_numpy(dtype=float)
        raw = df["node_ids"].to_numpy()
    except (TypeError, ValueError) as exc:
        raise SpecError(src, "timestamps", f"numbers ({exc})") from exc
    if raw.dtype.kind not in "iu":
        raise SpecError(src, "node_ids", "integer node ids")
    return SpikeTable(pop, raw.astype(np.int64), _finite_times(t, src, "timestamps"))


_NWB_MS_UNITS = ("ms", "millisecond", "milliseconds", "msec")


def read_nwb_spike_file(path: str | os.PathLike, population: str, trial: str | None = None) -> SpikeTable:
    """Read bmtk's NWB spike-train layout (module docstring) as spikes of ``population``.

    ``trial`` names the group under ``/processing``; without it the file must hold exactly one (as bmtk
    requires). Node ids are the names of the ``spike_train`` subgroups. Times are ms: a ``unit``
    attribute other than milliseconds is refused (bmtk would use the numbers as ms regardless).
    """
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise SpecError(src, "path", "an existing NWB spike file")
    if not h5py.is_hdf5(path):
        raise SpecError(src, "path", "an NWB (HDF5) file with /processing/<trial>/spike_train/<node_id>/data")
    pops, ids, times = [], [], []
    with h5py.File(path, "r") as f:
        if "processing" not in f:
            why = (
                " (this file has a pynwb /units table, which bmtk 1.2.0's pointnet does not read)"
                if "units" in f
                else ""
            )
            raise SpecError(src, "processing", f"bmtk's NWB layout /processing/<trial>/spike_train/<node_id>/data{why}")
        trials = sorted(f["processing"])
        if trial is None:
            if len(trials) != 1:
                raise SpecError(
                    src, "processing", f"exactly one trial group, or the input's 'trial' naming one of {trials}"
                )
            trial = trials[0]
        if trial not in f["processing"]:
            raise SpecError(src, f"processing/{trial}", f"a trial group; the file has {trials}")
        where = f"processing/{trial}/spike_train"
        if "spike_train" not in f["processing"][trial]:
            raise SpecError(src, where, "a group of per-node spike trains (missing)")
        for key, grp in f[where].items():
            try:
                nid = int(key)
            except ValueError:
                raise SpecError(src, f"{where}/{key}", "a node id (integer group name)") from None
            if not isinstance(grp, h5py.Group) or "data" not in grp:
                raise SpecError(src, f"{where}/{key}/data", "a dataset of spike times in ms (missing)")
            ds = grp["data"]
            unit = ds.attrs.get("unit", ds.attrs.get("units", "millisecond"))
            unit = unit.decode() if isinstance(unit, bytes) else str(unit)
            if unit.lower() not in _NWB_MS_UNITS:
                raise SpecError(src, f"{where}/{key}/data.attrs['unit']", f"milliseconds, got {unit!r}")
            t = np.asarray(ds[()], dtype=float).ravel()
            times.append(_finite_times(t, src, f"{where}/{key}/data"))
            ids.append(np.full(t.size, nid, dtype=np.int64))
            pops.append(np.full(t.size, population, dtype=object))
    if not times:
        return SpikeTable(np.zeros(0, object), np.zeros(0, np.int64), np.zeros(0))
    return SpikeTable(np.concatenate(pops), np.concatenate(ids), np.concatenate(times))


def write_spike_h5(path: str | os.PathLike, table: SpikeTable) -> Path:
    """Write ``table`` as a SONATA spike file (sorted by time), atomically."""
    path = Path(path)
    table = table.by_time()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)  # SONATA magic number
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        root = f.create_group("spikes")
        for pop in sorted({str(p) for p in table.population}) or []:
            m = table.population.astype(str) == pop
            g = root.create_group(pop)
            g.attrs["sorting"] = "by_time"
            ts = g.create_dataset("timestamps", data=table.time_ms[m].astype(np.float64))
            ts.attrs["units"] = "ms"
            g.create_dataset("node_ids", data=table.node_id[m].astype(np.uint64))
    return path


def write_spike_csv(path: str | os.PathLike, table: SpikeTable) -> Path:
    """Write ``table`` as space-separated ``timestamps population node_ids`` (times in full precision)."""
    path = Path(path)
    table = table.by_time()
    df = pd.DataFrame({"timestamps": table.time_ms, "population": table.population, "node_ids": table.node_id})
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep=" ", index=False, float_format="%.17g")
    return path


__all__ = ["SpikeTable", "read_nwb_spike_file", "read_spike_file", "write_spike_csv", "write_spike_h5"]
