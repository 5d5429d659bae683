"""Model loaders: turn the files users have into a validated :class:`~snnval.spec.NetworkSpec`.

Every loader returns a :class:`LoadedModel` (spec, optional readout, free metadata, and a report of what
the loader decided or found) and refuses bad input with a :class:`~snnval.errors.SpecError` that names
the file, the field and the expected form.

==================  ========================================================================================
module              reads
==================  ========================================================================================
``model_h5``        the project's own HDF5 model format (``references/MODEL_FORMAT.md``); also writes it
``tf_pickle``       the TF training code's ``network_dat.pkl`` + ``input_dat.pkl`` (+ checkpoint variables)
``desplit_h5``      the public TF -> NEST port's "desplit" HDF5 layout
``sonata``          SONATA networks (as written by bmtk), GLIF3 and NEST-native node types
``tf_layout``       (no loader) the TF code's array conventions shared by ``tf_pickle`` and ``desplit_h5``
==================  ========================================================================================

:func:`load_model_file` picks the loader from the file's content.
Every loader runs in phases, each a small function: **read** (files -> arrays and dicts, errors naming the
file and the field), **classify** (which node model, unit convention, file variant, populations),
**check** (ids, receptors, delays, counts consistent across fields) and **build** (canonical units ->
:class:`~snnval.spec.NetworkSpec`, then :func:`finish_spec`). The helpers here (array checks that name file
and field, the GLIF3 parameter names, file and step checks) are shared by the loader modules.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnval.errors import SpecError
from snnval.spec import V1_RECEPTORS, NetworkSpec, Synapses

__all__ = [
    "GLIF3_NEST_SCALARS",
    "LoadedModel",
    "Readout",
    "READOUT_RULE",
    "TF_READOUT_WINDOW_MS",
    "check_array",
    "check_connections",
    "check_group_connections",
    "check_ids",
    "check_step_ms",
    "concat_synapses",
    "finish_spec",
    "load_model_file",
    "read_h5_array",
    "receptor_names",
    "require_hdf5_file",
]

#: Readout window of the TF Billeh MNIST model, [start, stop) ms. Same value as
#: :data:`snnval.accuracy.TF_READOUT_WINDOW_MS` (a test keeps them equal); not imported from there because
#: that module pulls in scipy.stats (~1.5 s), which every loader import would then pay.
TF_READOUT_WINDOW_MS = (150.0, 200.0)

#: The one prediction rule the suite knows: the class whose pool fired most spikes in the window,
#: ties to the lowest class (:func:`snnval.accuracy.predict_from_pool_counts`).
READOUT_RULE = "argmax_pool_spike_count"


@dataclass(frozen=True)
class Readout:
    """Classification readout: ``pool_neurons[c]`` are the neuron ids whose spikes vote for class ``c``.

    ``window_ms`` is the half-open counting window ``[start, stop)`` in ms (TF Billeh MNIST model:
    ``[150, 200)``, :data:`snnval.accuracy.TF_READOUT_WINDOW_MS`). ``rule`` names the prediction rule
    (:data:`READOUT_RULE`, applied by :func:`snnval.accuracy.predict_from_pool_counts`).
    """

    pool_neurons: np.ndarray  # (n_classes, k) int64
    window_ms: tuple[float, float] = TF_READOUT_WINDOW_MS
    rule: str = READOUT_RULE
    description: str = ""

    @property
    def n_classes(self) -> int:
        return int(self.pool_neurons.shape[0])

    def validated(self, n_neurons: int, source: str = "readout", prefix: str = "") -> Readout:
        """Checked copy; ``prefix`` is put before the field names in errors (e.g. ``"readout/"``)."""
        pools = check_array(self.pool_neurons, source, f"{prefix}pool_neurons", kind="int", shape=(None, None))
        if pools.shape[0] < 1 or pools.shape[1] < 1:
            raise SpecError(
                source, f"{prefix}pool_neurons", f"a non-empty (n_classes, k) array, got shape {pools.shape}"
            )
        check_ids(pools, n_neurons, source, f"{prefix}pool_neurons")
        window = check_array(np.asarray(self.window_ms, dtype=float), source, f"{prefix}window_ms", shape=(2,))
        if not (0 <= window[0] < window[1]):
            raise SpecError(
                source, f"{prefix}window_ms", f"[start, stop) with 0 <= start < stop ms, got {window.tolist()}"
            )
        if self.rule != READOUT_RULE:
            raise SpecError(source, f"{prefix}rule", f"{READOUT_RULE!r}, got {self.rule!r}")
        return Readout(pools, (float(window[0]), float(window[1])), self.rule, str(self.description))


@dataclass(frozen=True)
class LoadedModel:
    """What a loader returns.

    ``metadata``: free provenance (how the model was made, seed, training accuracy, source files).
    ``report``: what the loader found or decided (counts, conversions applied, delays overridden, ...),
    JSON-serialisable, so that a CLI can print it and a test can assert on it.
    """

    spec: NetworkSpec
    readout: Readout | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


# --- shared checks ---------------------------------------------------------------------------------------


def _shape_text(shape: Sequence[int | None]) -> str:
    names = iter("nkmpq")
    parts = [str(s) if s is not None else next(names) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def check_array(
    value: Any,
    source: str,
    field_name: str,
    *,
    kind: str = "float",
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
) -> np.ndarray:
    """``value`` as a float64 (``kind="float"``) or int64 (``kind="int"``) array, or a SpecError.

    ``shape`` gives the expected shape, ``None`` for a free axis. Integer fields must hold an integer
    dtype: a float array of ids is refused rather than truncated (a stray 2.5 would silently become 2).
    Float fields must be finite unless ``finite=False``.
    """
    expected = f"{'an integer' if kind == 'int' else 'a numeric'} array"
    if shape is not None:
        expected += f" of shape {_shape_text(shape)}"
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise SpecError(source, field_name, f"{expected} ({type(exc).__name__}: {exc})") from exc
    if kind == "int":
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
            raise SpecError(source, field_name, f"{expected}, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
    else:
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.number) or arr.size == 0):
            raise SpecError(source, field_name, f"{expected}, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise SpecError(source, field_name, f"{expected} of real numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float64, copy=False)
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape, strict=False))
        if not ok:
            raise SpecError(source, field_name, f"{expected}, got shape {arr.shape}")
    if finite and kind == "float" and not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise SpecError(source, field_name, f"finite numbers (element {i} is {arr.ravel()[i]})")
    # ascontiguousarray would turn a 0-d value into shape (1,)
    return np.ascontiguousarray(arr) if arr.ndim else arr


def check_ids(ids: np.ndarray, n: int, source: str, field_name: str) -> None:
    """Refuse ids outside ``[0, n)``."""
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids.ravel()[(ids.ravel() < 0) | (ids.ravel() >= n)][0]
        raise SpecError(source, field_name, f"ids in [0, {n - 1}] (found {bad})")


def check_connections(
    pre: np.ndarray,
    post: np.ndarray,
    receptor: np.ndarray,
    *,
    n_pre: int,
    n_post: int,
    n_receptors: int,
    source: str,
    fields: tuple[str, str, str],
    receptor_base: int = 0,
) -> None:
    """Refuse connection arrays of unequal length or with ids/receptors out of range.

    ``fields`` are the names of the three fields *in the file* (so the error points at what the user
    can open); ``receptor_base`` is 1 for formats that count receptors from 1 (the message then shows
    the range as the file spells it).
    """
    n = pre.shape[0]
    for name, arr in zip(fields[1:], (post, receptor), strict=True):
        if arr.shape != (n,):
            raise SpecError(source, name, f"a 1-d array of length {n} (same as {fields[0]}), got shape {arr.shape}")
    check_ids(pre, n_pre, source, fields[0])
    check_ids(post, n_post, source, fields[1])
    if n and (receptor.min() < 0 or receptor.max() >= n_receptors):
        bad = receptor[(receptor < 0) | (receptor >= n_receptors)][0] + receptor_base
        raise SpecError(
            source,
            fields[2],
            f"receptor indices in [{receptor_base}, {n_receptors - 1 + receptor_base}] (found {bad})",
        )


#: Scalar GLIF3 parameters in NEST ``glif_psc`` naming (the names of ``network_dat.pkl``, desplit
#: ``glif3_params`` and SONATA ``dynamics_params``) -> :class:`~snnval.spec.GLIF3Cells` field (mV, nS, pF, ms).
GLIF3_NEST_SCALARS: dict[str, str] = {
    "V_th": "V_th_mV",
    "E_L": "E_L_mV",
    "V_reset": "V_reset_mV",
    "g": "g_nS",
    "C_m": "C_m_pF",
    "t_ref": "t_ref_ms",
}


def check_step_ms(dt_ms: float, caller: str) -> None:
    """Refuse a simulation step that is not a finite number > 0 (ms); ``caller`` names the function."""
    if not (dt_ms > 0 and np.isfinite(dt_ms)):
        raise SpecError(caller, "dt_ms", "a finite number > 0")


def require_hdf5_file(path: Path, existing: str, layout: str) -> None:
    """Refuse a path that is not an existing file (``existing``: what it should be) or not HDF5 (``layout``)."""
    import h5py

    if not path.is_file():
        raise SpecError(str(path), "path", existing)
    if not h5py.is_hdf5(path):
        raise SpecError(str(path), "format", layout)


def concat_synapses(parts: Sequence[tuple[np.ndarray, ...]]) -> Synapses:
    """One :class:`~snnval.spec.Synapses` from (pre, post, receptor, weight_pA, delay_ms) parts; empty if none."""
    if not parts:
        return Synapses.empty()
    return Synapses(*(np.concatenate(c) for c in zip(*parts, strict=True)))


def check_group_connections(
    syn: Any, *, n_pre: int, n_post: int, n_receptors: int, source: str, group: str, names: tuple[str, str, str]
) -> None:
    """:func:`check_connections` on ``syn.pre``, ``syn.post``, ``syn.receptor`` (0-based), read from the
    datasets ``group/<name>`` of one file group (the error names them)."""
    fields = (f"{group}/{names[0]}", f"{group}/{names[1]}", f"{group}/{names[2]}")
    check_connections(
        syn.pre,
        syn.post,
        syn.receptor,
        n_pre=n_pre,
        n_post=n_post,
        n_receptors=n_receptors,
        source=source,
        fields=fields,
    )


def receptor_names(n_receptors: int) -> tuple[str, ...]:
    """The V1 receptor names (E->E, I->E, E->I, I->I) for 4 receptors, else ``r0, r1, ...``."""
    if n_receptors == len(V1_RECEPTORS):
        return V1_RECEPTORS
    return tuple(f"r{i}" for i in range(n_receptors))


def finish_spec(spec: NetworkSpec, source: str) -> NetworkSpec:
    """``spec.validated()`` (with its plausibility check), errors and warnings naming the file it came from."""
    import warnings

    from snnval.plausibility import PlausibilityWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PlausibilityWarning)
            out = spec.validated()
    except SpecError as exc:
        raise SpecError(f"{source} ({exc.source})", exc.field, exc.expected) from exc
    for w in caught:  # re-issued with the file's name; other warnings pass through unchanged
        message = f"{source}: {w.message}" if issubclass(w.category, PlausibilityWarning) else w.message
        warnings.warn(message, w.category, stacklevel=2)
    return out


def read_h5_array(
    group: Any,
    name: str,
    source: str,
    *,
    kind: str = "float",
    shape: Sequence[int | None] | None = None,
    unit: str | None = None,
    finite: bool = True,
    required: bool = True,
) -> np.ndarray | None:
    """Read dataset ``name`` of an open h5py group, checked like :func:`check_array`.

    The field in errors is the dataset's full path in the file (``group.name`` + ``name``). If ``unit``
    is given the dataset must carry ``attrs["unit"] == unit``: a file written in other units is refused,
    not silently misread. A read error (e.g. a failed Fletcher-32 checksum) becomes a SpecError too.
    """
    import h5py

    full = f"{group.name.rstrip('/')}/{name}".lstrip("/")
    obj = group.get(name)
    if obj is None:
        if not required:
            return None
        what = f"a dataset{'' if shape is None else ' of shape ' + _shape_text(shape)}"
        raise SpecError(source, full, what + (f" in {unit}" if unit else "") + " (missing)")
    if not isinstance(obj, h5py.Dataset):
        raise SpecError(source, full, f"a dataset, got a {type(obj).__name__}")
    if unit is not None:
        got = obj.attrs.get("unit")
        if isinstance(got, bytes):
            got = got.decode()
        if got != unit:
            raise SpecError(source, f"{full}.attrs['unit']", f"{unit!r}, got {got!r}")
    try:
        value = obj[()]
    except OSError as exc:
        raise SpecError(source, full, f"a readable dataset ({exc})") from exc
    return check_array(value, source, full, kind=kind, shape=shape, finite=finite)


@contextlib.contextmanager
def open_h5(path: str | Path, source: str | None = None) -> Iterator[Any]:
    """Open an HDF5 file for reading; every h5py failure becomes a SpecError naming the file.

    Truncated or damaged files fail in h5py with OSError, KeyError, ValueError or RuntimeError, at
    open or only when a dataset is read; a loader must report them as bad input, not crash.
    """
    import h5py

    src = str(path) if source is None else source
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise SpecError(src, "file", f"a readable, complete HDF5 file (h5py: {exc})") from None
    try:
        with f:
            yield f
    except SpecError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise SpecError(src, "file", f"a complete HDF5 file (reading failed: {type(exc).__name__}: {exc})") from None


def json_attr(text: Any, source: str, field_name: str, expected: str) -> Any:
    """Decode a JSON string attribute (bytes or str), or raise SpecError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise SpecError(source, field_name, f"{expected} as a JSON string, got {type(text).__name__}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(source, field_name, f"{expected} as valid JSON ({exc})") from exc


def load_model_file(path: str | Path, **kwargs: Any) -> LoadedModel:
    """Load any model file whose kind can be told from its content.

    * HDF5 with root attribute ``format = "snnval-model"``: :func:`snnval.loaders.model_h5.load_model`;
    * HDF5 with ``neurons/glif3_params``: :func:`snnval.loaders.desplit_h5.load_desplit`;
    * a ``.json`` SONATA circuit or simulation config: :func:`snnval.loaders.sonata.load_sonata`.

    The TF pickles are not detected: they need two files and an explicit ``trust_pickle``
    (:func:`snnval.loaders.tf_pickle.load_tf_model`). ``kwargs`` go to the chosen loader.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(str(path), "path", "an existing model file")
    if path.suffix.lower() == ".json":
        from snnval.loaders.sonata import load_sonata

        return load_sonata(path, **kwargs)
    import h5py

    if not h5py.is_hdf5(path):
        raise SpecError(str(path), "format", "an HDF5 model file (snnval or desplit layout) or a SONATA .json config")
    with open_h5(path) as f:
        fmt = f.attrs.get("format")
        is_desplit = "neurons/glif3_params" in f
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt == "snnval-model":
        from snnval.loaders.model_h5 import load_model

        return load_model(path, **kwargs)
    if is_desplit:
        from snnval.loaders.desplit_h5 import load_desplit

        return load_desplit(path, **kwargs)
    raise SpecError(
        str(path),
        "format",
        "root attribute format='snnval-model' (references/MODEL_FORMAT.md) or the desplit group neurons/glif3_params",
    )
