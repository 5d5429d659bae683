"""Simulator-neutral network specification in canonical units.

Canonical units: mV, pF, nS, pA, ms, 1/ms. Every adapter reads this spec and
translates it into its own units (see :mod:`snnval.units`).

Neurons are grouped into *node types* (as in the Allen V1 model and SONATA):
``NetworkSpec.node_type`` maps each neuron to a row of ``NetworkSpec.cells``.
Synapses and external inputs are flat arrays, one element per connection, so
that builds stay vectorised at V1 scale (millions of synapses).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

import numpy as np

from snnval.errors import SpecError

#: Receptor order used by the Allen V1 model: E->E, I->E, E->I, I->I.
V1_RECEPTORS = ("e_to_e", "i_to_e", "e_to_i", "i_to_i")


def _as_array(value, dtype, name: str, source: str) -> np.ndarray:
    raw = np.asarray(value)
    if np.issubdtype(np.dtype(dtype), np.integer) and raw.dtype.kind == "f":
        # a float id such as 1.9 must not silently become neuron 1
        if not (np.all(np.isfinite(raw)) and np.all(raw == np.round(raw))):
            raise SpecError(source, name, "integer ids (got non-integral floats)")
    try:
        # no copy when the array already has the dtype and layout: at V1 size copying every synapse
        # array cost 0.8 s and 0.3 GB per run (issue 11); validated specs never write to their arrays
        return np.ascontiguousarray(raw.astype(dtype, copy=False))
    except (TypeError, ValueError) as exc:
        raise SpecError(source, name, f"an array of {np.dtype(dtype).name}") from exc


def _require_finite(arr: np.ndarray, name: str, source: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))[0]
        raise SpecError(source, name, f"finite numbers (element {bad} is {arr.ravel()[bad]})")


def _require_positive(arr: np.ndarray, name: str, source: str) -> None:
    _require_finite(arr, name, source)
    if np.any(arr <= 0):
        bad = np.flatnonzero(arr.ravel() <= 0)[0]
        raise SpecError(source, name, f"values > 0 (element {bad} is {arr.ravel()[bad]})")


@dataclass(frozen=True)
class GLIF3Cells:
    """GLIF3 parameter table, one row per node type (NEST glif_psc units).

    ``asc_r`` is NEST's after-spike-current reset fraction (1.0 for the V1 model).
    """

    V_th_mV: np.ndarray
    E_L_mV: np.ndarray
    V_reset_mV: np.ndarray
    g_nS: np.ndarray
    C_m_pF: np.ndarray
    t_ref_ms: np.ndarray
    asc_decay_per_ms: np.ndarray  # (n_types, 2)
    asc_amps_pA: np.ndarray  # (n_types, 2)
    tau_syn_ms: np.ndarray  # (n_types, n_receptors)
    asc_r: np.ndarray | None = None  # (n_types, 2)
    names: tuple[str, ...] = ()
    #: Neuron model per node type: "glif3" (the columns above apply) or a NEST model name such as
    #: "iaf_psc_alpha" whose parameters (NEST units) are in ``native_params``; only adapters that
    #: list the model in Capabilities.models run such node types. GLIF3 columns of other models are
    #: placeholders (E_L, V_th, V_reset, C_m and tau_syn[0] should still be filled in for reference).
    #: A "V_m" entry (mV) in ``native_params`` of any node type, GLIF3 included, is its initial membrane
    #: potential as a file states it (SONATA dynamics_params); adapters honour it over the initial_v knob.
    models: tuple[str, ...] = ()
    native_params: tuple[dict, ...] = ()

    @property
    def n_types(self) -> int:
        return int(self.V_th_mV.shape[0])

    @property
    def n_receptors(self) -> int:
        return int(self.tau_syn_ms.shape[1])

    @property
    def vsc_mV(self) -> np.ndarray:
        """Voltage scale V_th - E_L (mV) that the TF reference normalises by."""
        return self.V_th_mV - self.E_L_mV

    @property
    def tau_m_ms(self) -> np.ndarray:
        return self.C_m_pF / self.g_nS

    @classmethod
    def from_records(cls, records: list[dict], names: list[str] | None = None) -> GLIF3Cells:
        """Build from dicts in NEST glif_psc naming (V_th, E_L, ..., asc_amps, tau_syn)."""

        def col(key):
            return np.array([r[key] for r in records], dtype=float)

        return cls(
            V_th_mV=col("V_th"),
            E_L_mV=col("E_L"),
            V_reset_mV=col("V_reset"),
            g_nS=col("g"),
            C_m_pF=col("C_m"),
            t_ref_ms=col("t_ref"),
            asc_decay_per_ms=col("asc_decay"),
            asc_amps_pA=col("asc_amps"),
            tau_syn_ms=col("tau_syn"),
            asc_r=np.array([r.get("asc_r", [1.0, 1.0]) for r in records], dtype=float),
            names=tuple(names or [str(i) for i in range(len(records))]),
        )

    def nest_params(self, i: int) -> dict:
        """Parameters of node type ``i`` as a NEST glif_psc (GLIF3) status dict."""
        return {
            "V_th": float(self.V_th_mV[i]),
            "E_L": float(self.E_L_mV[i]),
            "V_reset": float(self.V_reset_mV[i]),
            "g": float(self.g_nS[i]),
            "C_m": float(self.C_m_pF[i]),
            "t_ref": float(self.t_ref_ms[i]),
            "asc_init": [0.0, 0.0],
            "asc_decay": [float(x) for x in self.asc_decay_per_ms[i]],
            "asc_amps": [float(x) for x in self.asc_amps_pA[i]],
            "asc_r": [float(x) for x in self.asc_r_or_ones[i]],
            "tau_syn": [float(x) for x in self.tau_syn_ms[i]],
            "after_spike_currents": True,
            "spike_dependent_threshold": False,
            "adapting_threshold": False,
        }

    @property
    def asc_r_or_ones(self) -> np.ndarray:
        return np.ones_like(self.asc_amps_pA) if self.asc_r is None else self.asc_r

    def validated(self, source: str = "cells") -> GLIF3Cells:
        arrays = {}
        for f in fields(self):
            if f.name in ("names", "models", "native_params"):
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            arrays[f.name] = _as_array(value, float, f"{source}.{f.name}", source)
        n = arrays["V_th_mV"].shape[0]
        if n == 0:
            raise SpecError(source, "V_th_mV", "at least one node type")
        for name, arr in arrays.items():
            if arr.shape[0] != n:
                raise SpecError(source, name, f"length {n} (one row per node type), got {arr.shape[0]}")
            _require_finite(arr, name, source)
        for name in ("V_th_mV", "E_L_mV", "V_reset_mV", "g_nS", "C_m_pF", "t_ref_ms"):
            if arrays[name].ndim != 1:
                raise SpecError(source, name, f"a 1-d array (one value per node type), got shape {arrays[name].shape}")
        for name in ("asc_decay_per_ms", "asc_amps_pA", "asc_r"):
            if name in arrays and arrays[name].shape != (n, 2):
                raise SpecError(source, name, f"shape ({n}, 2), got {arrays[name].shape}")
        if arrays["tau_syn_ms"].ndim != 2:
            raise SpecError(source, "tau_syn_ms", f"shape ({n}, n_receptors)")
        for name in ("g_nS", "C_m_pF", "t_ref_ms", "asc_decay_per_ms", "tau_syn_ms"):
            _require_positive(arrays[name], name, source)
        if "asc_r" in arrays and np.any((arrays["asc_r"] < 0) | (arrays["asc_r"] > 1)):
            raise SpecError(source, "asc_r", "values in [0, 1]")
        bad = np.flatnonzero(arrays["V_th_mV"] <= arrays["E_L_mV"])
        if bad.size:
            i = bad[0]
            raise SpecError(source, "V_th_mV", f"V_th > E_L (node type {i}): the TF reference normalises by V_th - E_L")
        bad = np.flatnonzero(arrays["V_reset_mV"] >= arrays["V_th_mV"])
        if bad.size:
            i = bad[0]
            raise SpecError(
                source,
                "V_reset_mV",
                f"V_reset < V_th (node type {i}: V_reset {arrays['V_reset_mV'][i]} mV >= "
                f"V_th {arrays['V_th_mV'][i]} mV)",
            )
        names = tuple(self.names) if self.names else tuple(str(i) for i in range(n))
        if len(names) != n:
            raise SpecError(source, "names", f"{n} names")
        models = tuple(self.models) if self.models else ("glif3",) * n
        native = tuple(self.native_params) if self.native_params else ({},) * n
        if len(models) != n or len(native) != n:
            raise SpecError(source, "models/native_params", f"{n} entries (one per node type)")
        return GLIF3Cells(**arrays, names=names, models=models, native_params=native)


@dataclass(frozen=True)
class Synapses:
    """Flat connection arrays: one element per synapse.

    ``receptor`` is 0-based (NEST port = receptor + 1). ``weight_pA`` is the
    peak of the alpha-shaped PSC (NEST glif_psc convention).
    """

    pre: np.ndarray
    post: np.ndarray
    receptor: np.ndarray
    weight_pA: np.ndarray
    delay_ms: np.ndarray

    @classmethod
    def empty(cls) -> Synapses:
        return cls(*(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.int64, float, float)))

    def __len__(self) -> int:
        return int(self.pre.shape[0])

    @classmethod
    def from_basis(
        cls, pre, post, basis_weight_pA, delay_ms, source: str = "synapses", field: str = "basis_weight_pA"
    ) -> Synapses:
        """Synapses whose weight is a mixture over the receptor basis (one weight per tau_syn column).

        bmtk's dpointnet GLIF3 cell and the V1 model give each connection weights onto a set of basis
        time constants; with exact per-receptor PSCs that is the same as one synapse per nonzero basis
        weight on that receptor (PSCs add linearly), which is how the spec stores it: every adapter that
        runs the receptors runs the mixture. ``basis_weight_pA``: (n_synapses, n_receptors), pA.
        """
        w = np.asarray(basis_weight_pA, dtype=float)
        pre, post = np.asarray(pre), np.asarray(post)
        delay = np.asarray(delay_ms, dtype=float)
        if w.ndim != 2 or w.shape[0] != pre.shape[0]:
            raise SpecError(source, field, f"an (n_synapses, n_receptors) array with n_synapses = {pre.shape[0]}")
        if post.shape != pre.shape or delay.shape != pre.shape:
            raise SpecError(source, "post/delay_ms", f"one value per synapse ({pre.shape[0]})")
        _require_finite(w, field, source)
        syn, rec = np.nonzero(w)  # zero basis weights carry no PSC
        return cls(pre[syn], post[syn], rec.astype(np.int64), w[syn, rec], delay[syn])

    def validated(self, n_pre: int, n_post: int, n_receptors: int, source: str) -> Synapses:
        pre = _as_array(self.pre, np.int64, "pre", source)
        post = _as_array(self.post, np.int64, "post", source)
        receptor = _as_array(self.receptor, np.int64, "receptor", source)
        weight = _as_array(self.weight_pA, float, "weight_pA", source)
        delay = _as_array(self.delay_ms, float, "delay_ms", source)
        n = pre.shape[0]
        for name, arr in (("post", post), ("receptor", receptor), ("weight_pA", weight), ("delay_ms", delay)):
            if arr.ndim != 1 or arr.shape[0] != n:
                raise SpecError(source, name, f"a 1-d array of length {n} (same as pre), got shape {arr.shape}")
        for name, arr, hi in (("pre", pre, n_pre), ("post", post, n_post)):
            if n and (arr.min() < 0 or arr.max() >= hi):
                raise SpecError(source, name, f"ids in [0, {hi - 1}], got range [{arr.min()}, {arr.max()}]")
        if n and (receptor.min() < 0 or receptor.max() >= n_receptors):
            raise SpecError(
                source,
                "receptor",
                f"0-based receptor indices in [0, {n_receptors - 1}], got [{receptor.min()}, {receptor.max()}]",
            )
        _require_finite(weight, "weight_pA", source)
        _require_finite(delay, "delay_ms", source)
        return Synapses(pre, post, receptor, weight, delay)


@dataclass(frozen=True)
class NetworkSpec:
    """A GLIF3 network plus its external input sources, in canonical units.

    ``inputs`` connect external sources (LGN fibres, a background source, ...)
    to neurons; the events those sources emit are not part of the spec but of
    the frozen stimulus (:mod:`snnval.stimulus`), so one network can be driven
    by many stimuli.
    """

    name: str
    cells: GLIF3Cells
    node_type: np.ndarray  # (n_neurons,) index into cells
    synapses: Synapses
    n_sources: int = 0
    inputs: Synapses = field(default_factory=Synapses.empty)
    source_names: tuple[str, ...] = ()
    populations: dict[str, np.ndarray] = field(default_factory=dict)
    receptor_names: tuple[str, ...] = V1_RECEPTORS

    @property
    def n_neurons(self) -> int:
        return int(self.node_type.shape[0])

    @property
    def n_receptors(self) -> int:
        return self.cells.n_receptors

    @property
    def neuron_models(self) -> frozenset[str]:
        """The neuron models of the node types some neuron uses (no models listed: every type is GLIF3)."""
        models = self.cells.models or ("glif3",) * self.cells.n_types
        return frozenset(models[t] for t in np.unique(self.node_type).tolist())

    def per_neuron(self, name: str) -> np.ndarray:
        """A GLIF3Cells attribute expanded to one row per neuron."""
        return np.asarray(getattr(self.cells, name))[self.node_type]

    def validated(self) -> NetworkSpec:
        """Return a checked spec with arrays coerced (shared, not copied, where dtype and layout already fit).

        Raise SpecError naming the field.
        """
        src = f"spec '{self.name}'"
        cells = self.cells.validated(f"{src} cells")
        node_type = _as_array(self.node_type, np.int64, "node_type", src)
        if node_type.ndim != 1 or node_type.size == 0:
            raise SpecError(src, "node_type", "a non-empty 1-d array of node-type indices")
        if node_type.min() < 0 or node_type.max() >= cells.n_types:
            raise SpecError(src, "node_type", f"indices in [0, {cells.n_types - 1}]")
        n = node_type.shape[0]
        synapses = self.synapses.validated(n, n, cells.n_receptors, f"{src} synapses")
        if int(self.n_sources) < 0:
            raise SpecError(src, "n_sources", "an integer >= 0")
        inputs = self.inputs.validated(int(self.n_sources), n, cells.n_receptors, f"{src} inputs")
        if len(self.receptor_names) != cells.n_receptors:
            raise SpecError(src, "receptor_names", f"{cells.n_receptors} names (one per tau_syn column)")
        populations = {}
        for key, ids in self.populations.items():
            arr = _as_array(ids, np.int64, f"populations[{key}]", src)
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise SpecError(src, f"populations[{key}]", f"neuron ids in [0, {n - 1}]")
            populations[key] = arr
        if self.source_names and len(self.source_names) != self.n_sources:
            raise SpecError(src, "source_names", f"{self.n_sources} names")
        out = NetworkSpec(
            name=self.name,
            cells=cells,
            node_type=node_type,
            synapses=synapses,
            n_sources=int(self.n_sources),
            inputs=inputs,
            source_names=tuple(self.source_names),
            populations=populations,
            receptor_names=tuple(self.receptor_names),
        )
        # physical ranges: absurd values (delay <= 0 or > 1 s, a weight of 1e300 pA) are refused here,
        # implausible ones (volts, nF, nA, seconds) warned about with the likely unit mistake
        from snnval.plausibility import check_plausibility

        check_plausibility(out, src)
        return out

    def content_hash(self) -> str:
        """SHA-256 over every array and name: changes whenever the network changes."""
        h = hashlib.sha256()
        h.update(
            json.dumps(
                [
                    self.name,
                    list(self.cells.names),
                    list(self.source_names),
                    list(self.receptor_names),
                    self.n_sources,
                    sorted(self.populations),
                ]
            ).encode()
        )
        h.update(
            json.dumps([list(self.cells.models), list(self.cells.native_params)], sort_keys=True, default=str).encode()
        )
        arrays = [
            getattr(self.cells, f.name)
            for f in fields(self.cells)
            if f.name not in ("names", "models", "native_params")
        ]
        arrays += [self.node_type]
        arrays += [getattr(self.synapses, f.name) for f in fields(Synapses)]
        arrays += [getattr(self.inputs, f.name) for f in fields(Synapses)]
        arrays += [self.populations[k] for k in sorted(self.populations)]
        for arr in arrays:
            if arr is None:
                h.update(b"none")
                continue
            a = np.ascontiguousarray(arr)
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.reshape(-1).view(np.uint8))  # the bytes of tobytes(), not copied (0.6 s at V1 size)
        return h.hexdigest()
