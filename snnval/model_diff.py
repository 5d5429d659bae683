"""``snnval diff``: what differs between two model files, parameter by parameter and synapse by synapse.

A port's network is often not the trained one: weights scaled by the wrong unit, a missing background,
delays attached to the wrong synapses (GLIF3_SEMANTICS.md sections 1-2; :mod:`snnval.port_variants`).
This module loads two models in any format the loaders read, matches their synapses on
(pre, post, receptor) with one vectorised sort (multapses are matched in value order, so a mere
reordering of a file's rows is no difference), and classifies every differing field:

=================  ===================================================================================
kind               meaning
=================  ===================================================================================
``factor``         B = c * A for every element (c named when it matches a unit confusion, see
                   :data:`NAMED_FACTORS`), possibly times ``vsc_post`` or ``1 / vsc_post`` (the TF
                   normalisation, :mod:`snnval.units`)
``offset``         B = A + c (voltages: a value given relative to E_L, or in another reference)
``permutation``    the same multiset of values, attached to other elements (a sort order mismatch:
                   TF's ``load_sparse`` sorted weights but not delays)
``missing``        elements of A that B lacks (a whole group missing: e.g. the background)
``extra``          elements of B that A lacks
``scattered``      none of the above (trained vs untrained weights, noise, ...)
``structure``      counts that make element-wise comparison meaningless (neurons, sources)
``readout``        readout window or pools
=================  ===================================================================================

Findings are ranked worst first by :func:`_severity` (documented there). Values are equal when they
agree to ``rtol`` (default :data:`DEFAULT_RTOL`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snnval.errors import SpecError
from snnval.loaders import LoadedModel, Readout
from snnval.spec import NetworkSpec, Synapses

#: Two values are equal when |a - b| <= rtol * max(|a|, |b|). 1e-6 because formats that store float32
#: (the desplit h5, TF checkpoints) round to 2**-24 ~ 6e-8 relative, and a unit conversion on reading adds
#: one more rounding: 1e-6 leaves a margin of ~8 over two float32 roundings and still sees a 1-ppm change.
DEFAULT_RTOL = 1e-6

#: Constant factors and the unit confusion each matches (B = factor * A).
NAMED_FACTORS: dict[float, str] = {
    1000.0: "x1000: a value in nA/nF/uS/s/V read as pA/pF/nS/ms/mV (or converted twice)",
    1.0 / 1000.0: "/1000: a value in pA/pF/nS/ms/mV read as nA/nF/uS/s/V (or converted to nA and used as pA)",
    10.0: "x10: TF's rest_of_brain_weights factor 10 not removed (bkg_pA * 10)",
    0.1: "/10: TF's rest_of_brain_weights factor 10 removed twice",
    1e6: "x1e6: two unit steps (e.g. uA read as pA)",
    1e-6: "/1e6: two unit steps (e.g. pA read as uA)",
    -1.0: "x-1: sign flipped (inhibitory weights given as positive, or the sign applied twice)",
}

#: Causes of factors involving the target's voltage scale vsc = V_th - E_L (TF normalisation).
VSC_CAUSES: dict[tuple[int, float], str] = {
    (-1, 1.0): "/vsc_post: pA values TF-normalised (divided by V_th - E_L of the target) and used as pA",
    (1, 1.0): "x vsc_post: TF-normalised values multiplied by vsc_post twice (already pA)",
    (-1, 1.0 / 1000.0): (
        "/(1000 vsc_post): TF-normalised weights divided by 1000 instead of multiplied by vsc_post "
        "(the port mistake weights_div_1000)"
    ),
    (1, 1.0 / 1000.0): "x vsc_post / 1000: TF-normalised weights converted to nA (x vsc / 1000) and used as pA",
    (-1, 10.0): "x10 / vsc_post: TF rest_of_brain_weights (bkg_pA / vsc * 10) used as pA",
}

#: What a difference in each field is expected to do to a run (for people reading the table).
_EFFECTS: dict[str, str] = {
    "weight_pA": "synaptic drive scaled: rates and spike timing change from the first event",
    "delay_ms": "spikes arrive at other times: spike timing diverges within a few delays; rates change less",
    "V_th_mV": "distance to threshold changes: spike times and rates change",
    "E_L_mV": "resting potential and threshold distance change: V and rates change from step 0",
    "V_reset_mV": "post-spike voltage changes: interspike intervals change after the first spike",
    "g_nS": "membrane time constant and input resistance change: V responds differently to every input",
    "C_m_pF": "membrane time constant changes: V responds differently to every input",
    "t_ref_ms": "refractory period changes: maximal rates and bursts change after the first spike",
    "asc_decay_per_ms": "after-spike currents decay at another rate: adaptation changes after the first spike",
    "asc_amps_pA": "after-spike current size changes: adaptation changes after the first spike",
    "asc_r": "after-spike current reset changes: adaptation changes after the second spike",
    "tau_syn_ms": "PSC shape changes: every synaptic response changes",
    "node_model": "another neuron model runs: everything about these neurons changes",
}


@dataclass
class Finding:
    """One differing parameter or synapse field of one group.

    ``section``: ``cells``, ``recurrent``, ``input``, ``structure`` or ``readout``; ``group``: the node
    type name or the receptor (``input``: ``<source kind>/<receptor>``); ``field``: the parameter (with
    column index for 2-d ones, e.g. ``asc_amps_pA[0]``). ``factor`` is B / A for a factor, B - A for an
    offset. ``n_affected`` of ``n_total`` elements differ.
    """

    section: str
    group: str
    field: str
    kind: str
    n_affected: int
    n_total: int
    cause: str = ""
    factor: float | None = None
    detail: str = ""
    effect: str = ""
    severity: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ModelDiff:
    a: str
    b: str
    rtol: float
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] | None = None

    @property
    def identical(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "rtol": self.rtol,
            "identical": self.identical,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
            "run": self.run,
        }

    def table(self) -> str:
        """The findings as a table for people, worst first."""
        lines = [f"diff A = {self.a}", f"     B = {self.b}"]
        lines.append(
            "  "
            + ", ".join(
                f"{k}: {v[0]} vs {v[1]}" if isinstance(v, list) else f"{k}: {v}" for k, v in self.counts.items()
            )
        )
        if self.identical:
            lines.append(f"  no difference (values equal to rtol {self.rtol:g})")
        else:
            rows = [("#", "section", "group", "field", "kind", "affected", "factor", "cause")]
            for i, f in enumerate(self.findings, 1):
                factor = "" if f.factor is None else f"{f.factor:.6g}"
                if "vsc_post" in f.detail:  # B = c x vsc_post^(+-1) x A
                    factor += "/vsc" if "/ vsc_post" in f.detail else "*vsc"
                rows.append(
                    (
                        str(i),
                        f.section,
                        f.group,
                        f.field,
                        f.kind,
                        f"{f.n_affected}/{f.n_total}",
                        factor,
                        f.cause or f.detail,
                    )
                )
            widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
            for r in rows:
                lines.append("  " + "  ".join(r[c].ljust(widths[c]) for c in range(len(widths))) + "  " + r[-1])
            lines.append("  expected effect:")
            seen = set()
            for i, f in enumerate(self.findings, 1):
                if f.effect and (f.section, f.field, f.effect) not in seen:
                    seen.add((f.section, f.field, f.effect))
                    lines.append(f"    #{i} {f.field}: {f.effect}")
        if self.run is not None:
            r = self.run
            lines.append(
                f"  run on {r['scenario']} ({r['sim']}, dt {r['dt_ms']:g} ms): A {r['spikes_a']} spikes, "
                f"B {r['spikes_b']} spikes, {r['spikes_mismatched']} mismatched"
            )
            lines.append(f"  first divergence: {r['first_divergence_text']}")
        return "\n".join(lines)


# --- loading ---------------------------------------------------------------------------------------------


def load_any(path: str | Path, *, trust_pickle: bool = False) -> LoadedModel:
    """A model from a file any loader reads; TF pickles as a directory or ``network_dat.pkl``.

    TF: the directory holds ``network_dat.pkl`` and ``input_dat.pkl`` (and optionally ``checkpoint.npz``
    or ``checkpoint.h5``, the trained variables); or ``path`` is ``network_dat.pkl`` with ``input_dat.pkl``
    beside it. Pickles can run code: ``trust_pickle`` must be True
    (:class:`snnval.loaders.tf_pickle.UntrustedPickle` otherwise).
    """
    from snnval.loaders import load_model_file

    path = Path(path)
    if path.is_dir() and not (path / "network_dat.pkl").is_file():
        raise SpecError(str(path), "path", "a model file, or a directory holding network_dat.pkl + input_dat.pkl")
    net = path / "network_dat.pkl" if path.is_dir() else path
    if net.suffix == ".pkl":
        from snnval.loaders.tf_pickle import load_tf_model

        folder = net.parent
        checkpoint = next((folder / n for n in ("checkpoint.npz", "checkpoint.h5") if (folder / n).is_file()), None)
        return load_tf_model(net, folder / "input_dat.pkl", checkpoint, trust_pickle=trust_pickle)
    try:
        return load_model_file(path)
    except OSError as exc:  # h5py on a truncated or damaged file (load_model_file lets it through)
        raise SpecError(str(path), "content", f"a readable HDF5 model file ({exc})") from exc


# --- classification --------------------------------------------------------------------------------------


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> np.ndarray:
    return (a == b) | (np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)))


def _constant(x: np.ndarray, rtol: float) -> float | None:
    """The common value of ``x`` if all elements agree to ``rtol`` (x 4: a ratio of two rounded values)."""
    if x.size == 0:
        return None
    c = float(np.median(x))
    return c if bool(np.all(_close(x, np.full_like(x, c), 4 * rtol))) else None


def _named(c: float, rtol: float) -> tuple[float, str] | None:
    for value, name in NAMED_FACTORS.items():
        if abs(c - value) <= 4 * rtol * abs(value):
            return value, name
    return None


def _offset(a: np.ndarray, b: np.ndarray, rtol: float) -> tuple[str, int, float, str, str] | None:
    """("offset", ...) if B = A + c for one c (to rtol of the values' size), else None."""
    c = _constant(b - a, rtol * max(1.0, float(np.max(np.abs(a)))))
    if c is None or c == 0:
        return None
    n = int((~_close(a, b, rtol)).sum())
    return "offset", n, c, f"offset {c:+.6g}: another reference point (e.g. relative to E_L)", ""


def classify(
    a: np.ndarray, b: np.ndarray, rtol: float, vsc: np.ndarray | None = None, offsets: bool = False
) -> tuple[str, int, float | None, str, str] | None:
    """How ``b`` differs from ``a`` (same shape): (kind, n_affected, factor, cause, detail), or None if equal.

    ``vsc`` (one value per element, mV): the target's voltage scale, to recognise TF-normalisation factors.
    ``offsets``: also try B = A + c (voltages).
    """
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    same = _close(a, b, rtol)
    n = int((~same).sum())
    if n == 0:
        return None
    zero_a, zero_b = a == 0, b == 0
    if np.array_equal(zero_a, zero_b) and not zero_a.all():
        nz = ~zero_a
        ratio = b[nz] / a[nz]
        c = _constant(ratio, rtol)
        if c is not None:
            named = _named(c, rtol)
            if named is None and offsets:  # a voltage moved by a constant is an offset, not an odd factor
                off = _offset(a, b, rtol)
                if off is not None:
                    return off
            cause = named[1] if named else f"x{c:.6g}: constant factor matching no known unit confusion"
            return "factor", n, c, cause, ""
        if vsc is not None:
            v = np.asarray(vsc, float).ravel()[nz]
            for power in (-1, 1):
                c = _constant(ratio / v**power, rtol)
                if c is not None:
                    key = next((k for k in VSC_CAUSES if k[0] == power and abs(k[1] - c) <= 4 * rtol * abs(k[1])), None)
                    what = "x vsc_post" if power == 1 else "/ vsc_post"
                    cause = VSC_CAUSES[key] if key else f"x{c:.6g} {what}: a TF normalisation with an unnamed factor"
                    return "factor", n, c, cause, f"B = {c:.6g} {what} * A"
    if offsets:
        off = _offset(a, b, rtol)
        if off is not None:
            return off
    if n > 1 and bool(np.all(_close(np.sort(a), np.sort(b), rtol))):
        return "permutation", n, None, "same values attached to other elements (sorted differently)", ""
    rel = np.abs(b - a)[~same] / np.maximum(np.abs(a), np.abs(b))[~same]
    detail = f"median |rel diff| {np.median(rel):.3g}, max {rel.max():.3g}"
    return "scattered", n, None, "values differ without a common factor, offset or order", detail


def _severity(f: Finding) -> float:
    """Rank for the table (larger is worse): structure first (100), then the fraction of the group affected
    times the size of the change: |log10 factor| + 1 for factors (+1 for a sign flip), 2 for a whole missing
    or extra group, 1 for permutations, missing/extra elements and a readout change, min(1, 10 x median
    relative change) for scattered values. A x1000 on every weight (4) thus ranks above a missing
    background (2), a readout window (1) and permuted delays (< 1)."""
    frac = f.n_affected / max(f.n_total, 1)
    if f.kind == "structure":
        return 100.0
    if f.kind == "readout":
        return 1.0
    if f.kind in ("missing", "extra"):
        return frac * (2.0 if f.n_affected == f.n_total else 1.0)
    if f.kind == "factor" and f.factor:
        return frac * (1.0 + abs(np.log10(abs(f.factor))) + (f.factor < 0))
    if f.kind == "scattered":
        m = re.search(r"median \|rel diff\| ([0-9.e+-]+)", f.detail)
        return frac * min(1.0, 10.0 * float(m.group(1))) if m else frac
    return frac


# --- synapse matching ------------------------------------------------------------------------------------


def match_synapses(a: Synapses, b: Synapses, n_post: int, n_receptors: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ia, ib) of synapses of ``a`` and ``b`` with the same (pre, post, receptor), vectorised.

    Multapses (several synapses with one key) are matched in order of (weight, delay) within the key, so
    the result does not depend on the files' row order. Unmatched synapses are those not in ia / ib.
    """

    def keyed(s: Synapses) -> tuple[np.ndarray, np.ndarray]:
        key = (s.pre.astype(np.int64) * n_post + s.post) * n_receptors + s.receptor
        order = np.argsort(key)  # equal keys are re-sorted by value below: no need for a stable sort
        k = key[order]
        # multapses: re-sort only the runs of equal keys by (weight, delay), in place (runs stay contiguous)
        eq = k[1:] == k[:-1]
        if eq.any():
            run = np.zeros(k.size, bool)
            run[1:] |= eq
            run[:-1] |= eq
            pos = np.flatnonzero(run)
            sub = order[pos]
            order[pos] = sub[np.lexsort((s.delay_ms[sub], s.weight_pA[sub], key[sub]))]
        rank = np.arange(k.size) - np.searchsorted(k, k, side="left")
        return order, np.stack([k, rank], axis=1)

    oa, ka = keyed(a)
    ob, kb = keyed(b)
    if ka.size == 0 or kb.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    n_rank = int(max(ka[:, 1].max(), kb[:, 1].max())) + 1
    n_key = int(max(ka[:, 0].max(), kb[:, 0].max())) + 1
    if n_key * n_rank < 2**62:  # one int64 per synapse: sorting it is ~50x faster than rows (np.unique axis=0)
        ua, ub = ka[:, 0] * n_rank + ka[:, 1], kb[:, 0] * n_rank + kb[:, 1]
    else:
        _, inverse = np.unique(np.concatenate([ka, kb]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        ua, ub = inverse[: len(ka)], inverse[len(ka) :]
    # ua and ub are strictly increasing (keys sorted, ranks counting up within a key): merge by binary search
    pos = np.minimum(np.searchsorted(ub, ua), len(ub) - 1)
    hit = ub[pos] == ua
    return oa[np.flatnonzero(hit)], ob[pos[hit]]


def _effect(name: str, kind: str, va: np.ndarray, vb: np.ndarray) -> str:
    """The expected effect of a field's difference; for weight factors with the typical size of the change."""
    if name != "weight_pA" or kind != "factor":
        return _EFFECTS[name]
    nz = va != 0
    scale = float(np.median(np.abs(vb[nz] / va[nz])))
    if scale < 0.5:
        return f"synaptic drive x{scale:.3g} (median): much weaker, rates fall"
    if scale > 2:
        return f"synaptic drive x{scale:.3g} (median): much stronger, rates rise or the network runs away"
    return _EFFECTS[name]


def _rewired(sa: Synapses, sb: Synapses, ma: np.ndarray, mb: np.ndarray, rtol: float) -> bool:
    """True if the selected synapses of A and B agree on (post, receptor, weight, delay) as multisets."""

    def rows(s: Synapses, m: np.ndarray) -> np.ndarray:
        r = np.stack([s.post[m], s.receptor[m], s.weight_pA[m], s.delay_ms[m]], axis=1).astype(float)
        return r[np.lexsort(r.T[::-1])]

    ra, rb = rows(sa, ma), rows(sb, mb)
    return bool(np.all(_close(ra, rb, rtol)))


def _source_kinds(spec: NetworkSpec) -> np.ndarray:
    """A kind per external source: its name without trailing digits (lgn_on_3 -> lgn_on, bkg -> bkg)."""
    names = spec.source_names or tuple(f"src{i}" for i in range(spec.n_sources))
    return np.array([re.sub(r"[_\d]+$", "", n) or "src" for n in names])


def synapse_groups(a: NetworkSpec, b: NetworkSpec, section: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Group codes of A's and B's synapses and the group names they index.

    Recurrent groups are receptors; input groups are ``<source kind>/<receptor>``. Codes are computed from
    small per-source tables (no string operation per synapse), and mean the same group in A and B.
    """
    receptors = list(a.receptor_names)
    sa, sb = (a.synapses, b.synapses) if section == "recurrent" else (a.inputs, b.inputs)
    if section == "recurrent":
        return sa.receptor, sb.receptor, receptors
    ka, kb = _source_kinds(a), _source_kinds(b)
    kinds = sorted(set(ka.tolist()) | set(kb.tolist()))
    index = {k: i for i, k in enumerate(kinds)}
    code_a = np.array([index[k] for k in ka], np.int64)  # one entry per source, not per synapse
    code_b = np.array([index[k] for k in kb], np.int64)
    n_rec = len(receptors)
    names = [f"{k}/{r}" for k in kinds for r in receptors]
    return code_a[sa.pre] * n_rec + sa.receptor, code_b[sb.pre] * n_rec + sb.receptor, names


def _diff_synapses(a: NetworkSpec, b: NetworkSpec, section: str, rtol: float) -> list[Finding]:
    sa, sb = (a.synapses, b.synapses) if section == "recurrent" else (a.inputs, b.inputs)
    ia, ib = match_synapses(sa, sb, a.n_neurons, a.n_receptors)
    ga, gb, gnames = synapse_groups(a, b, section)
    vsc = a.per_neuron("vsc_mV")[sa.post[ia]]
    findings: list[Finding] = []
    groups = np.unique(np.concatenate([ga, gb])).tolist()
    missing = np.ones(len(sa), bool)
    missing[ia] = False
    extra = np.ones(len(sb), bool)
    extra[ib] = False
    gm = ga[ia]
    for g in groups:
        in_a, in_b = ga == g, gb == g
        n_miss, n_extra = int((missing & in_a).sum()), int((extra & in_b).sum())
        if n_miss and n_miss == n_extra and _rewired(sa, sb, missing & in_a, extra & in_b, rtol):
            findings.append(
                Finding(
                    section,
                    gnames[g],
                    "pre",
                    "permutation",
                    n_miss,
                    int(in_a.sum()),
                    "same targets, receptors and weights from other sources "
                    "(e.g. one common background source made independent per neuron)",
                    effect="input correlations change: synchrony and rates change",
                )
            )
            continue
        if n_miss:
            whole = n_miss == int(in_a.sum())
            cause = (
                f"the whole group {gnames[g]} is missing in B"
                if whole
                else f"{n_miss} synapses of {gnames[g]} missing in B"
            )
            findings.append(
                Finding(
                    section,
                    gnames[g],
                    "synapses",
                    "missing",
                    n_miss,
                    int(in_a.sum()),
                    cause,
                    effect="less drive from this group: rates fall"
                    if whole
                    else "connectivity differs: spike timing diverges",
                )
            )
        if n_extra:
            whole = n_extra == int(in_b.sum())
            cause = (
                f"the whole group {gnames[g]} exists only in B"
                if whole
                else f"{n_extra} synapses of {gnames[g]} only in B"
            )
            findings.append(
                Finding(
                    section,
                    gnames[g],
                    "synapses",
                    "extra",
                    n_extra,
                    int(in_b.sum()),
                    cause,
                    effect="drive A does not have: rates rise"
                    if whole
                    else "connectivity differs: spike timing diverges",
                )
            )
    for name in ("weight_pA", "delay_ms"):
        va, vb = getattr(sa, name)[ia], getattr(sb, name)[ib]
        whole = classify(va, vb, rtol, vsc=vsc if name == "weight_pA" else None)
        if whole is None:
            continue
        if whole[0] in ("factor", "permutation") and len(groups) > 1:
            # one cause across every group (a unit or sort mistake applies to the whole field)
            per = [classify(va[gm == g], vb[gm == g], rtol) for g in groups]
            if whole[0] == "permutation" or sum(p is not None for p in per) > 1:
                kind, n, c, cause, detail = whole
                if name == "delay_ms" and kind == "permutation":
                    cause = (
                        "delays attached to other synapses (TF load_sparse sorted weights but not delays: "
                        "delays from network_dat.pkl instead of the checkpoint)"
                    )
                effect = _effect(name, kind, va, vb)
                findings.append(Finding(section, "all", name, kind, n, len(va), cause, c, detail, effect))
                continue
        for g in groups:
            sel = gm == g
            vs = vsc[sel] if name == "weight_pA" else None
            res = classify(va[sel], vb[sel], rtol, vsc=vs)
            if res is not None:
                kind, n, c, cause, detail = res
                effect = _effect(name, kind, va[sel], vb[sel])
                findings.append(Finding(section, gnames[g], name, kind, n, int(sel.sum()), cause, c, detail, effect))
    return findings


# --- cells -----------------------------------------------------------------------------------------------

_CELL_FIELDS = (
    "V_th_mV",
    "E_L_mV",
    "V_reset_mV",
    "g_nS",
    "C_m_pF",
    "t_ref_ms",
    "asc_decay_per_ms",
    "asc_amps_pA",
    "asc_r",
    "tau_syn_ms",
)


def _diff_cells(a: NetworkSpec, b: NetworkSpec, rtol: float) -> list[Finding]:
    """Per-neuron parameters (so node types numbered differently in the two files still compare),
    reported per node type of A (or once for all types when one factor explains every type)."""
    findings = []
    type_names = np.asarray(a.cells.names)[a.node_type]
    ma = np.asarray(a.cells.models or ("glif3",) * a.cells.n_types)[a.node_type]  # unvalidated specs: all GLIF3
    mb = np.asarray(b.cells.models or ("glif3",) * b.cells.n_types)[b.node_type]
    if not np.array_equal(ma, mb):
        for t in np.unique(type_names[ma != mb]):
            sel = type_names == t
            findings.append(
                Finding(
                    "cells",
                    str(t),
                    "node_model",
                    "scattered",
                    int((ma != mb)[sel].sum()),
                    int(sel.sum()),
                    f"model {ma[sel][0]} vs {mb[sel][0]}",
                    effect=_EFFECTS["node_model"],
                )
            )
    glif = (ma == "glif3") & (mb == "glif3")
    vsc = a.per_neuron("vsc_mV")
    for name in _CELL_FIELDS:
        xa = a.cells.asc_r_or_ones if name == "asc_r" else getattr(a.cells, name)
        xb = b.cells.asc_r_or_ones if name == "asc_r" else getattr(b.cells, name)
        xa, xb = np.asarray(xa)[a.node_type][glif], np.asarray(xb)[b.node_type][glif]
        cols = [(name, xa, xb)] if xa.ndim == 1 else [(f"{name}[{j}]", xa[:, j], xb[:, j]) for j in range(xa.shape[1])]
        offsets = name.endswith("_mV")
        for label, ca, cb in cols:
            whole = classify(ca, cb, rtol, vsc=vsc[glif], offsets=offsets)
            if whole is None:
                continue
            names = type_names[glif]
            per = {
                t: classify(ca[names == t], cb[names == t], rtol, vsc=vsc[glif][names == t], offsets=offsets)
                for t in np.unique(names)
            }
            if whole[0] in ("factor", "offset") and all(p is not None for p in per.values()):
                kind, _, c, cause, detail = whole
                findings.append(
                    Finding(
                        "cells", "all node types", label, kind, len(per), len(per), cause, c, detail, _EFFECTS[name]
                    )
                )
                continue
            for t, res in per.items():
                if res is None:
                    continue
                kind, _, c, cause, detail = res
                # one row per node type: count affected node types, not neurons
                findings.append(Finding("cells", str(t), label, kind, 1, 1, cause, c, detail, _EFFECTS[name]))
    return findings


def _diff_readout(a: Readout | None, b: Readout | None) -> list[Finding]:
    if a is None and b is None:
        return []
    if a is None or b is None:
        which = "A" if a is None else "B"
        return [
            Finding(
                "readout",
                "readout",
                "readout",
                "missing",
                1,
                1,
                f"{which} has no readout",
                effect="no prediction can be made from it",
            )
        ]
    out = []
    if tuple(a.window_ms) != tuple(b.window_ms):
        out.append(
            Finding(
                "readout",
                "readout",
                "window_ms",
                "readout",
                1,
                1,
                f"window [{a.window_ms[0]:g}, {a.window_ms[1]:g}) vs [{b.window_ms[0]:g}, {b.window_ms[1]:g}) ms",
                effect="spikes counted in another window: predictions and accuracy change, spikes do not",
            )
        )
    if a.pool_neurons.shape != b.pool_neurons.shape or not np.array_equal(a.pool_neurons, b.pool_neurons):
        same_sets = a.pool_neurons.shape == b.pool_neurons.shape and np.array_equal(
            np.sort(a.pool_neurons, axis=1), np.sort(b.pool_neurons, axis=1)
        )
        kind = "permutation" if same_sets else "readout"
        out.append(
            Finding(
                "readout",
                "readout",
                "pool_neurons",
                kind,
                1,
                1,
                "same pools, other order (no effect)" if same_sets else "other neurons vote for the classes",
                effect="" if same_sets else "predictions change",
            )
        )
    return out


def diff_models(
    a: LoadedModel, b: LoadedModel, *, rtol: float = DEFAULT_RTOL, a_name: str = "A", b_name: str = "B"
) -> ModelDiff:
    """Every difference between ``a`` and ``b``, ranked worst first."""
    sa, sb = a.spec, b.spec
    result = ModelDiff(a_name, b_name, rtol)
    result.counts = {
        "neurons": [sa.n_neurons, sb.n_neurons],
        "node types": [sa.cells.n_types, sb.cells.n_types],
        "synapses": [len(sa.synapses), len(sb.synapses)],
        "input synapses": [len(sa.inputs), len(sb.inputs)],
        "sources": [sa.n_sources, sb.n_sources],
    }
    f = result.findings
    if sa.n_neurons != sb.n_neurons or sa.n_receptors != sb.n_receptors:
        f.append(
            Finding(
                "structure",
                "network",
                "n_neurons/n_receptors",
                "structure",
                1,
                1,
                f"{sa.n_neurons} neurons x {sa.n_receptors} receptors vs {sb.n_neurons} x {sb.n_receptors}: "
                "neuron ids cannot be matched",
                effect="another network",
            )
        )
    else:
        f += _diff_cells(sa, sb, rtol)
        f += _diff_synapses(sa, sb, "recurrent", rtol)
        if sa.n_sources != sb.n_sources and len(sb.inputs) and len(sa.inputs):
            f.append(
                Finding(
                    "structure",
                    "inputs",
                    "n_sources",
                    "structure",
                    1,
                    1,
                    f"{sa.n_sources} vs {sb.n_sources} external sources: input synapses matched by source id anyway",
                    effect="input drive differs",
                )
            )
        f += _diff_synapses(sa, sb, "input", rtol)
    f += _diff_readout(a.readout, b.readout)
    for x in f:
        x.severity = _severity(x)
    f.sort(key=lambda x: -x.severity)
    return result


def run_both(
    a: NetworkSpec,
    b: NetworkSpec,
    scenario: str,
    sim: str = "nest",
    profile: str = "nest-glif-psc",
    dt_ms: float | None = None,
) -> dict:
    """Run A and B on ``scenario``'s frozen stimulus (built for A) on ``sim``; the comparison as a dict."""
    from snnval.acceptance import same_semantics_tolerances
    from snnval.compare import compare
    from snnval.contract import RunConfig
    from snnval.runner import run_adapter
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile as get_profile

    sc = get_scenario(scenario)
    dt = sc.dts_ms[0] if dt_ms is None else dt_ms
    stim = sc.build_stimulus(a, dt)
    config = RunConfig(semantics=get_profile(profile), record=sc.record)
    ra = run_adapter(sim, a, stim.validated(a.n_sources, a.n_neurons), config)
    rb = run_adapter(sim, b, stim.validated(b.n_sources, b.n_neurons), config)
    tol = same_semantics_tolerances(ra, rb, models=a.neuron_models | b.neuron_models)
    cmp = compare(ra, rb, tolerances=tol, reference_name="A", candidate_name="B")
    fd = cmp.first_divergence
    return {
        "scenario": sc.name,
        "sim": sim,
        "profile": profile,
        "dt_ms": dt,
        "passed": cmp.passed,
        "spikes_a": ra.n_spikes,
        "spikes_b": rb.n_spikes,
        "spikes_mismatched": int(cmp.spikes.n_missing + cmp.spikes.n_extra),
        "first_divergence": fd.to_dict() if fd else None,
        "first_divergence_text": fd.describe() if fd else "none",
    }
