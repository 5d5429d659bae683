"""SONATA spike files: read input spike trains, write a run's spikes (HDF5 and CSV).

Layouts (SONATA specification, ``docs/SONATA_DEVELOPER_GUIDE.md`` "Spike file"; the layout bmtk's
``bmtk.utils.reports.spike_trains`` writes and reads):

* HDF5: ``/spikes/<population>/timestamps`` (float64, attribute ``units`` = ``"ms"``) and
  ``/spikes/<population>/node_ids`` (uint64), one pair per node population; the group attribute
  ``sorting`` says how rows are ordered (``by_time``). The pre-SONATA layout ``/spikes/timestamps`` +
  ``/spikes/gids`` (no population) is read as the population the caller names.
* CSV: space separated with the header ``timestamps population node_ids``; ``population`` may be absent
  (then the caller names it).

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


__all__ = ["SpikeTable", "read_spike_file", "write_spike_csv", "write_spike_h5"]
