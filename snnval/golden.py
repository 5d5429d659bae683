"""Golden traces: one HDF5 file per scenario, ``references/<scenario>.h5`` (DESIGN.md core idea 7).

Layout (``h5ls -r`` readable)::

    /                         attrs: format, format_version, suite_version, git_revision, spec_hash,
                                     created_utc, simulator_versions (JSON), dt_ms (JSON list),
                                     seeds (JSON list), provenance (JSON), empty_allowed_reason
    /results/<quoted key>     attrs: key, dt_ms, n_steps, n_trials, simulator, simulator_version,
                                     seed, provenance (JSON)
        spikes/trial|step|neuron   int64, sorted by (trial, step, neuron)
        recorded_neurons           int64
        state/<var>                float64 (trials, steps, recorded neurons), gzip, attr ``units``
    every dataset               attr ``sha256``: SHA-256 of its dtype, shape and values, checked on
                                read (an edited value is a CorruptGolden, not a regression)

A key such as ``tf/nest-glif-psc/dt1.0/float64`` names one run; it is percent-quoted into a
single group name so keys never nest into each other.

Updates of one references directory are serialised by :func:`golden_lock` (an exclusive
``fcntl.flock`` on the directory), so two concurrent ``golden update`` runs cannot lose each
other's runs. Writing is atomic (temporary file in the same directory, fsync, ``os.replace``): a crash leaves
the previous golden untouched. Reading validates every field and names the file and field on
error. A golden records the hash of the spec it was made from; :func:`check_fresh` refuses a
golden whose spec has moved on, saying how to regenerate it.

Why not pytest-regressions' ``.npz``: spike trains are ragged, and provenance must travel with
the data (ANCHORS.md).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import io
import json
import os
import subprocess
import time
import urllib.parse
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

import snnval
from snnval.atomic import atomic_path
from snnval.contract import RECORDABLE_UNITS, RunResult
from snnval.errors import SnnvalError, SpecError, StaleGolden

FORMAT = "snnval-golden"
FORMAT_VERSION = 1
_ROOT_ATTRS = ("format", "format_version", "suite_version", "git_revision", "spec_hash", "created_utc")
_SPIKE_FIELDS = ("trial", "step", "neuron")
#: gzip level: goldens are written rarely and read in every CI run; 4 is near the size optimum at low cost.
_GZIP = 4


# --------------------------------------------------------------------------------------------
# Provenance helpers
# --------------------------------------------------------------------------------------------


def git_revision(repo_dir: str | os.PathLike | None = None) -> str:
    """``git rev-parse HEAD`` of the suite's checkout (``-dirty`` if tracked files changed), else "unknown".

    The revision is taken where the snnval package lives, not in the current directory, so it
    names the code that made the golden.
    """
    cwd = Path(repo_dir) if repo_dir is not None else Path(snnval.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else (head or "unknown")


def _jsonable(obj):
    """Provenance as plain JSON types (numpy scalars and arrays become numbers and lists)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def _dumps(obj) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True)


#: dataset attribute holding the SHA-256 of the stored values (see :func:`array_checksum`)
CHECKSUM_ATTR = "sha256"


def array_checksum(data: np.ndarray) -> str:
    """SHA-256 over an array's dtype, shape and bytes (C order): any edited value changes it."""
    a = np.ascontiguousarray(data)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


class CorruptGolden(SpecError):
    """A stored array does not match its checksum: the golden was edited or damaged, not a regression."""

    def __init__(self, source: str, field: str):
        super().__init__(
            source,
            field,
            "values matching their stored SHA-256 checksum; they do not, so the golden file was edited or "
            "damaged after it was written (this is not a simulator regression): restore it from git or "
            "regenerate it with `snnval golden update`",
        )

    def __reduce__(self):
        return (type(self), (self.source, self.field))


def _group_name(key: str) -> str:
    return urllib.parse.quote(key, safe="")


# --------------------------------------------------------------------------------------------
# The golden file in memory
# --------------------------------------------------------------------------------------------


@dataclass
class GoldenFile:
    """A golden file read back: its provenance and one RunResult per key."""

    path: Path
    spec_hash: str
    suite_version: str
    git_revision: str
    created_utc: str
    results: dict[str, RunResult]
    simulator_versions: dict[str, str] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    empty_allowed_reason: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def scenario(self) -> str:
        return self.path.stem


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _check_result(key: str, r: RunResult) -> None:
    src = f"golden result '{key}'"
    if not isinstance(r, RunResult):
        raise SpecError(src, "value", f"a RunResult, got {type(r).__name__}")
    n = np.asarray(r.spike_step).shape
    for name in ("spike_trial", "spike_step", "spike_neuron"):
        arr = np.asarray(getattr(r, name))
        if arr.ndim != 1 or arr.shape != n or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise SpecError(src, name, "1-d integer arrays of one length")
    shape = (int(r.n_trials), int(r.n_steps), np.asarray(r.recorded_neurons).shape[0])
    for var, arr in r.state.items():
        if np.asarray(arr).shape != shape:
            raise SpecError(src, f"state['{var}']", f"shape (trials, steps, recorded) = {shape}")


def _is_empty(r: RunResult) -> bool:
    """No spikes and no recorded trace that ever changes: nothing a regression could catch."""
    if r.n_spikes:
        return False
    for arr in r.state.values():
        arr = np.asarray(arr)
        if arr.size and np.any(arr != arr[:, :1, :]):
            return False
    return True


def _write_result(group: h5py.Group, key: str, r: RunResult) -> None:
    prov = r.provenance if isinstance(r.provenance, Mapping) else {}
    group.attrs.update(
        {
            "key": key,
            "dt_ms": float(r.dt_ms),
            "n_steps": int(r.n_steps),
            "n_trials": int(r.n_trials),
            "simulator": str(prov.get("simulator", "unknown")),
            "simulator_version": str(prov.get("simulator_version", "unknown")),
            "seed": _dumps(prov.get("stimulus_seed", prov.get("seed"))),
            "provenance": _dumps(prov),
        }
    )
    spikes = group.create_group("spikes")
    for name in _SPIKE_FIELDS:
        data = np.asarray(getattr(r, f"spike_{name}"), dtype=np.int64)
        # gzip needs chunks, and chunks cannot be empty: compress only non-empty arrays.
        ds = spikes.create_dataset(
            name, data=data, compression="gzip" if data.size else None, compression_opts=_GZIP if data.size else None
        )
        ds.attrs[CHECKSUM_ATTR] = array_checksum(data)
    recorded = np.asarray(r.recorded_neurons, dtype=np.int64)
    group.create_dataset("recorded_neurons", data=recorded).attrs[CHECKSUM_ATTR] = array_checksum(recorded)
    state = group.create_group("state")
    for var, arr in r.state.items():
        data = np.asarray(arr, dtype=np.float64)
        ds = state.create_dataset(
            var,
            data=data,
            compression="gzip" if data.size else None,
            compression_opts=_GZIP if data.size else None,
            shuffle=bool(data.size),
        )
        ds.attrs["units"] = RECORDABLE_UNITS.get(var, "unknown")
        ds.attrs[CHECKSUM_ATTR] = array_checksum(data)


def write_golden(
    path: str | os.PathLike,
    results: Mapping[str, RunResult],
    spec_hash: str,
    provenance: Mapping | None = None,
    allow_empty_reason: str | None = None,
) -> Path:
    """Write (or replace) a golden file atomically.

    Parameters
    ----------
    path : path-like
        ``references/<scenario>.h5``; the directory must exist.
    results : mapping of str to RunResult
        One run per key, e.g. ``"tf/nest-glif-psc/dt1.0/float64"``. State is stored as float64.
    spec_hash : str
        ``NetworkSpec.content_hash()`` of the spec the runs were made from. A run whose own
        provenance names a different ``spec_hash`` is refused.
    provenance : mapping, optional
        Free-form provenance of the whole file (scenario, command line, notes); stored as JSON.
    allow_empty_reason : str, optional
        A run with no spikes and no moving trace catches no regression, so it is refused unless
        a reason is given here (stored in the file).

    Returns
    -------
    Path
        The written path.
    """
    path = Path(path)
    results = dict(results)
    if not results:
        raise SpecError(str(path), "results", "at least one run to store")
    if not isinstance(spec_hash, str) or not spec_hash:
        raise SpecError(str(path), "spec_hash", "a non-empty spec hash string")
    for key, r in results.items():
        if not isinstance(key, str) or not key:
            raise SpecError(str(path), "results", f"non-empty string keys, got {key!r}")
        _check_result(key, r)
        run_hash = r.provenance.get("spec_hash") if isinstance(r.provenance, Mapping) else None
        if run_hash is not None and run_hash != spec_hash:
            raise SpecError(f"golden result '{key}'", "provenance['spec_hash']", f"the file's spec hash {spec_hash}")
    empty = sorted(k for k, r in results.items() if _is_empty(r))
    if empty and not (allow_empty_reason and allow_empty_reason.strip()):
        raise SpecError(
            str(path),
            "results",
            f"runs with spikes or moving traces; {empty} have neither and would make a golden that "
            "catches nothing (pass allow_empty_reason='...' if that is intended)",
        )
    _write_atomically(path, results, spec_hash, dict(provenance or {}), (allow_empty_reason or "") if empty else "")
    return path


def _root_attrs(results: Mapping[str, RunResult], spec_hash: str, provenance: dict, empty_reason: str) -> dict:
    provs = {k: (r.provenance if isinstance(r.provenance, Mapping) else {}) for k, r in results.items()}
    versions = {str(p.get("simulator", "unknown")): str(p.get("simulator_version", "unknown")) for p in provs.values()}
    seeds = sorted({_dumps(p.get("stimulus_seed", p.get("seed"))) for p in provs.values()})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "suite_version": snnval.__version__,
        "git_revision": git_revision(),
        "spec_hash": spec_hash,
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "simulator_versions": _dumps(versions),
        "dt_ms": _dumps(sorted({float(r.dt_ms) for r in results.values()})),
        "seeds": "[" + ", ".join(seeds) + "]",
        "provenance": _dumps(provenance),
        "empty_allowed_reason": empty_reason,
    }


def _write_atomically(path: Path, results, spec_hash: str, provenance: dict, empty_reason: str) -> None:
    # The HDF5 image is built in memory and written with plain file I/O: HDF5 writing straight onto
    # a full disk crashed the process (SIGSEGV with h5py 3.14.0 / HDF5 1.14.6, found by
    # tests/test_faults.py), while a plain write raises OSError(ENOSPC) and atomic_path keeps the old file.
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs.update(_root_attrs(results, spec_hash, provenance, empty_reason))
        group = f.create_group("results")
        for key, r in results.items():
            _write_result(group.create_group(_group_name(key)), key, r)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


@contextlib.contextmanager
def golden_lock(path: str | os.PathLike, timeout_s: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the directory of golden file ``path`` (``fcntl.flock``).

    Every read-modify-write of a golden (``golden update``) holds it, so concurrent updates run one
    after the other and each sees the other's result. The lock is on the directory itself: no lock
    file is left behind, and the kernel releases it when the holder dies. ``timeout_s=None`` waits.
    """
    import fcntl

    directory = Path(path).parent if str(Path(path).parent) else Path(".")
    fd = os.open(directory, os.O_RDONLY)
    try:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SnnvalError(
                        f"{directory}: another `golden update` holds the lock for {timeout_s:g} s; try again later"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _attr(node, name: str, src: str, where: str):
    if name not in node.attrs:
        raise SpecError(src, f"{where}attribute '{name}'", "present (the file is not a complete snnval golden)")
    value = node.attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def _json_attr(node, name: str, src: str, where: str):
    text = _attr(node, name, src, where)
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SpecError(src, f"{where}attribute '{name}'", f"JSON text ({exc})") from None


def _dataset(group: h5py.Group, name: str, src: str, where: str, kind: str) -> np.ndarray:
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise SpecError(src, f"{where}{name}", f"a {kind} dataset")
    arr = obj[()]
    stored = obj.attrs.get(CHECKSUM_ATTR)
    if stored is None:
        _MISSING_CHECKSUMS.add(src)
    else:
        stored = stored.decode() if isinstance(stored, bytes) else str(stored)
        if stored != array_checksum(arr):
            raise CorruptGolden(src, f"{where}{name}")
    if kind == "integer" and not np.issubdtype(arr.dtype, np.integer):
        raise SpecError(src, f"{where}{name}", f"an integer dataset, got {arr.dtype}")
    if kind == "float" and not np.issubdtype(arr.dtype, np.floating):
        raise SpecError(src, f"{where}{name}", f"a float dataset, got {arr.dtype}")
    return arr


#: files read in this call that had datasets without checksums (warned about once per read)
_MISSING_CHECKSUMS: set[str] = set()


def _read_result(group: h5py.Group, src: str) -> tuple[str, RunResult]:
    where = f"{group.name}/"
    key = str(_attr(group, "key", src, where))
    dt = float(_attr(group, "dt_ms", src, where))
    n_steps, n_trials = int(_attr(group, "n_steps", src, where)), int(_attr(group, "n_trials", src, where))
    spikes = group.get("spikes")
    if not isinstance(spikes, h5py.Group):
        raise SpecError(src, f"{where}spikes", "a group with trial, step and neuron datasets")
    trial, step, neuron = (_dataset(spikes, n, src, f"{where}spikes/", "integer") for n in _SPIKE_FIELDS)
    if not (trial.ndim == step.ndim == neuron.ndim == 1 and trial.shape == step.shape == neuron.shape):
        raise SpecError(src, f"{where}spikes", "1-d trial, step and neuron datasets of one length")
    if step.size and (step.min() < 0 or step.max() >= n_steps or trial.min() < 0 or trial.max() >= n_trials):
        raise SpecError(src, f"{where}spikes", f"steps in [0, {n_steps}) and trials in [0, {n_trials})")
    recorded = _dataset(group, "recorded_neurons", src, where, "integer")
    state_group = group.get("state")
    if not isinstance(state_group, h5py.Group):
        raise SpecError(src, f"{where}state", "a group of state datasets (may be empty)")
    state = {}
    for var in state_group:
        arr = _dataset(state_group, var, src, f"{where}state/", "float")
        if arr.shape != (n_trials, n_steps, recorded.shape[0]):
            raise SpecError(
                src, f"{where}state/{var}", f"shape {(n_trials, n_steps, recorded.shape[0])}, got {arr.shape}"
            )
        state[var] = arr
    provenance = _json_attr(group, "provenance", src, where)
    result = RunResult(dt, n_steps, n_trials, trial, step, neuron, recorded, state, provenance)
    return key, result


def read_golden(path: str | os.PathLike) -> GoldenFile:
    """Read and validate a golden file.

    Raises
    ------
    SpecError
        Naming the file and the missing or malformed field (missing file, not HDF5, truncated,
        wrong format version, missing attribute or dataset, wrong shape or type).
    CorruptGolden
        A stored array does not match its SHA-256 checksum (edited or damaged after writing).
        Files without checksums (written before they were added) are read with a UserWarning.
    """
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise SpecError(src, "file", "an existing golden file (make one with `pytest --golden=update`)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SpecError(src, "file", f"a readable HDF5 file (h5py: {exc})") from None
    _MISSING_CHECKSUMS.discard(src)
    try:
        with f:
            golden = _read_open_file(f, path, src)
    except SnnvalError:
        raise
    except Exception as exc:  # h5py raises assorted types on damaged files
        # Truncated files can open and then fail on a dataset read.
        raise SpecError(src, "file", f"a complete HDF5 golden file (reading failed: {exc})") from None
    if src in _MISSING_CHECKSUMS:
        _MISSING_CHECKSUMS.discard(src)
        warnings.warn(
            f"{src}: golden written without SHA-256 checksums (older snnval); edited values cannot be told "
            "from regressions until it is regenerated (`snnval golden update`)",
            UserWarning,
            stacklevel=2,
        )
    return golden


def _read_open_file(f: h5py.File, path: Path, src: str) -> GoldenFile:
    fmt = _attr(f, "format", src, "")
    if fmt != FORMAT:
        raise SpecError(src, "attribute 'format'", f"'{FORMAT}', got {fmt!r}")
    version = int(_attr(f, "format_version", src, ""))
    if version != FORMAT_VERSION:
        raise SpecError(src, "attribute 'format_version'", f"{FORMAT_VERSION}, got {version} (regenerate the golden)")
    attrs = {name: str(_attr(f, name, src, "")) for name in _ROOT_ATTRS if name not in ("format", "format_version")}
    group = f.get("results")
    if not isinstance(group, h5py.Group) or len(group) == 0:
        raise SpecError(src, "/results", "a group holding at least one run")
    results = dict(_read_result(group[name], src) for name in group)
    empty_reason = f.attrs.get("empty_allowed_reason", "")
    return GoldenFile(
        path=path,
        spec_hash=attrs["spec_hash"],
        suite_version=attrs["suite_version"],
        git_revision=attrs["git_revision"],
        created_utc=attrs["created_utc"],
        results=results,
        simulator_versions=_json_attr(f, "simulator_versions", src, ""),
        provenance=_json_attr(f, "provenance", src, ""),
        empty_allowed_reason=empty_reason.decode() if isinstance(empty_reason, bytes) else str(empty_reason),
        format_version=version,
    )


# --------------------------------------------------------------------------------------------
# Freshness and the regen workflow
# --------------------------------------------------------------------------------------------


def regenerate_hint(scenario: str) -> str:
    return (
        f"regenerate it with `pytest --golden=update` (or `snnval golden update {scenario}`), "
        "review the printed diff and commit the new file"
    )


def check_fresh(golden: GoldenFile, spec_hash: str) -> None:
    """Raise :class:`StaleGolden` if the golden was made from another spec than ``spec_hash``."""
    if golden.spec_hash != spec_hash:
        raise StaleGolden(
            f"{golden.path}: golden is stale: made from spec {golden.spec_hash[:16]} "
            f"(suite {golden.suite_version}, git {golden.git_revision[:12]}, {golden.created_utc}) but the "
            f"spec hash is now {spec_hash[:16]}; {regenerate_hint(golden.scenario)}"
        )


def _describe_change(key: str, old: RunResult, new: RunResult) -> list[str]:
    # Imported here: golden reading and writing do not need the comparison machinery.
    from snnval.compare import compare_spikes

    grid_old = (float(old.dt_ms), int(old.n_steps), int(old.n_trials))
    grid_new = (float(new.dt_ms), int(new.n_steps), int(new.n_trials))
    if grid_old != grid_new:
        return [
            f"  ~ {key}: spikes {old.n_spikes} -> {new.n_spikes}",
            f"      grid changed (dt, steps, trials): {grid_old} -> {grid_new}",
        ]
    sc = compare_spikes(old, new, 0)
    first = sc.first_divergence
    head = f"  ~ {key}: spikes {old.n_spikes} -> {new.n_spikes} ({sc.n_missing} gone, {sc.n_extra} new"
    head += f"; first at {first.describe()})" if first else ")"
    details, changed = [], sc.n_missing + sc.n_extra > 0
    same_rec = np.array_equal(np.asarray(old.recorded_neurons), np.asarray(new.recorded_neurons))
    for var in sorted(set(old.state) | set(new.state)):
        if var not in old.state or var not in new.state:
            details.append(f"      {var}: {'added' if var in new.state else 'removed'}")
            changed = True
        elif not same_rec or np.shape(old.state[var]) != np.shape(new.state[var]):
            details.append(f"      {var}: recorded neurons changed, values not comparable")
            changed = True
        else:
            a, b = np.asarray(old.state[var], float), np.asarray(new.state[var], float)
            both_nan = np.isnan(a) & np.isnan(b)
            d = np.where(both_nan, 0.0, np.abs(b - a))
            worst = float(np.max(d)) if d.size else 0.0  # nan on one side only shows as nan
            changed = changed or not worst == 0.0
            details.append(f"      max |d{var}| = {worst:.6g} {RECORDABLE_UNITS.get(var, '')}".rstrip())
    if not changed:
        return [f"  = {key}: unchanged ({old.n_spikes} spikes)"]
    return [head, *details]


def diff_summary(old: GoldenFile | None, new: GoldenFile | Mapping[str, RunResult]) -> str:
    """What changed between a golden and its regeneration, per key: spike counts, max |dV|.

    ``old`` may be None (a new file); ``new`` may be a GoldenFile or the dict of runs about to be
    written. Printed by the regen workflow so a reviewer sees what a new golden changes.
    """
    new_results = new.results if isinstance(new, GoldenFile) else dict(new)
    old_results = old.results if old is not None else {}
    lines = []
    if old is not None and isinstance(new, GoldenFile) and old.spec_hash != new.spec_hash:
        lines.append(f"spec hash {old.spec_hash[:16]} -> {new.spec_hash[:16]}")
    for key in sorted(set(old_results) | set(new_results)):
        if key not in old_results:
            lines.append(f"  + {key}: new, {new_results[key].n_spikes} spikes")
        elif key not in new_results:
            lines.append(f"  - {key}: removed (had {old_results[key].n_spikes} spikes)")
        else:
            lines.extend(_describe_change(key, old_results[key], new_results[key]))
    return "\n".join(lines) if lines else "no changes"
