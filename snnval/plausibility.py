"""Plausibility ranges of physical parameters, naming the likely unit mistake.

Every GLIF3 parameter, weight and delay of a :class:`~snnval.spec.NetworkSpec` is checked in the
spec's canonical units (mV, pF, nS, pA, ms, 1/ms) against two ranges:

* a *hard* range: outside it the value cannot describe a point neuron (a weight of 1e300 pA, a
  delay of 0 ms or of an hour); :func:`check_plausibility` raises SpecError;
* a *plausible* range: outside it the value is legal but most likely in another unit (a membrane
  potential in volts, a capacitance in nF, weights in nA, delays in seconds); a
  :class:`PlausibilityWarning` names the field, an example value and the likely mistake.

The plausible ranges are wide on purpose: they cover the Allen Cell Types GLIF fits (C_m 30-300 pF,
g 2-20 nS, tau_syn 1-10 ms, t_ref 1-5 ms; Teeter et al. 2018, Nat. Commun. 9:709), NEST's
default point neurons (C_m 250 pF, tau_syn 0.5-2 ms) and the Billeh V1 model's weights (up to
hundreds of pA) and delays (1-5 ms), with a factor of 10 or more to spare on each side, while a
factor-1000 unit mistake lands outside them. :func:`snnval.spec.NetworkSpec.validated` and
every model loader (through ``finish_spec``) call :func:`check_plausibility`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from snnval.errors import SpecError

#: Longest synaptic delay accepted (ms). Cortical conduction delays are at most tens of ms; 1 s
#: is a unit mistake, and every simulator keeps a ring buffer of delay/dt slots per neuron and
#: receptor, so absurd delays also cost absurd memory.
MAX_DELAY_MS = 1000.0


class PlausibilityWarning(UserWarning):
    """A parameter is legal but outside its plausible range: probably a unit mistake."""


@dataclass(frozen=True)
class Range:
    """Plausible and hard ranges of one quantity, on its value or (``magnitude``) its absolute value."""

    unit: str
    plausible: tuple[float, float]
    hard: tuple[float, float]
    below: str  # the likely mistake when values are below the plausible range
    above: str  # ... above it
    magnitude: bool = False  # compare |value| (weights, after-spike currents: either sign)


RANGES: dict[str, Range] = {
    "V_th_mV": Range("mV", (-150.0, 50.0), (-1e3, 1e3), "", "a voltage in uV (x1000)"),
    "E_L_mV": Range("mV", (-150.0, 50.0), (-1e3, 1e3), "", "a voltage in uV (x1000)"),
    "V_reset_mV": Range("mV", (-150.0, 50.0), (-1e3, 1e3), "", "a voltage in uV (x1000)"),
    "C_m_pF": Range("pF", (1.0, 1e4), (1e-6, 1e7), "C_m given in nF (1 nF = 1000 pF)", "C_m given in fF"),
    "g_nS": Range("nS", (0.05, 1e3), (1e-6, 1e6), "g given in uS (1 uS = 1000 nS)", "g given in pS"),
    "t_ref_ms": Range("ms", (0.05, 500.0), (1e-6, 1e5), "t_ref given in seconds (x1000 for ms)", "t_ref in us"),
    "tau_syn_ms": Range("ms", (0.05, 1e3), (1e-6, 1e5), "tau_syn given in seconds (x1000)", "tau_syn in us"),
    "asc_decay_per_ms": Range(
        "1/ms", (1e-5, 20.0), (1e-12, 1e6), "", "a rate given in 1/s (/1000 for 1/ms) or a time constant given"
    ),
    "asc_amps_pA": Range("pA", (0.0, 1e4), (0.0, 1e7), "", "after-spike currents given in fA", magnitude=True),
    "weight_pA": Range(
        "pA", (0.0, 1e4), (0.0, 1e7), "", "weights given in fA, or a scale factor applied twice", magnitude=True
    ),
    "delay_ms": Range(
        "ms", (0.05, 200.0), (0.0, MAX_DELAY_MS), "delays given in seconds (x1000 for ms)", "delays in us"
    ),
}
#: tau_m = C_m / g (ms): both in the wrong unit can still pass each range; their ratio cannot.
TAU_M_PLAUSIBLE_MS = (0.5, 1e3)
#: V values all within +-1 look like volts: no fitted neuron has E_L, V_th and V_reset all within 1 mV of 0.
VOLTS_LIMIT_MV = 1.0


def _example(arr: np.ndarray, mask: np.ndarray) -> str:
    i = int(np.flatnonzero(mask.ravel())[0])
    return f"{int(mask.sum())} of {mask.size} values, e.g. element {i} = {arr.ravel()[i]:g}"


def _abs_range(arr: np.ndarray) -> tuple[float, float]:
    """(min, max) of |arr| from arr's min and max (two reductions, no |arr| temporary)."""
    lo, hi = float(arr.min()), float(arr.max())
    if lo <= 0.0 <= hi:
        return 0.0, max(-lo, hi)
    return min(abs(lo), abs(hi)), max(abs(lo), abs(hi))


def _within(arr: np.ndarray, r: Range, name: str) -> bool:
    """True if every value is finite, inside the hard range and inside the plausible range: nothing to
    raise or warn (decided from min and max alone; any other case takes _check's element-wise path,
    which names the offending elements)."""
    lo_v, hi_v = float(arr.min()), float(arr.max())  # a NaN propagates into both
    if not (np.isfinite(lo_v) and np.isfinite(hi_v)):
        return False
    x_lo, x_hi = _abs_range(arr) if r.magnitude else (lo_v, hi_v)
    lo, hi = r.hard
    if x_hi > hi or (x_lo <= lo if name == "delay_ms" else x_lo < lo):
        return False
    plo, phi = r.plausible
    return x_hi <= phi and (r.magnitude or x_lo >= plo)


def _check(name: str, values, source: str, field_name: str, warn: list[str]) -> None:
    r = RANGES[name]
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return
    if _within(arr, r, name):  # the common case in two reductions (5.2 M weights at V1 size)
        return
    x = np.abs(arr) if r.magnitude else arr
    lo, hi = r.hard
    # delays: a zero or negative delay is refused (lower bound exclusive), the upper bound inclusive
    bad = ~np.isfinite(x) | (x > hi) | ((x <= lo) if name == "delay_ms" else (x < lo))
    if bad.any():
        hint = r.above if np.nanmax(np.where(np.isfinite(x), x, np.inf)) > hi and r.above else r.below
        low = "> " if name == "delay_ms" else ">= "
        expected = f"|values| <= {hi:g} {r.unit}" if r.magnitude else f"values {low}{lo:g} and <= {hi:g} {r.unit}"
        raise SpecError(source, field_name, f"{expected} ({_example(arr, bad)}{'; likely ' + hint if hint else ''})")
    plo, phi = r.plausible
    for mask, hint, side in ((x < plo, r.below, "below"), (x > phi, r.above, "above")):
        if r.magnitude and side == "below":
            continue
        if mask.any():
            warn.append(
                f"{source}: field '{field_name}': {_example(arr, mask)} {r.unit} {side} the plausible range "
                f"[{plo:g}, {phi:g}] {r.unit}" + (f": likely {hint}" if hint else "")
            )


def plausibility_warnings(spec, source: str | None = None) -> list[str]:
    """Check ``spec`` (a NetworkSpec with array fields); raise SpecError on hard violations.

    Returns the warnings (legal but implausible values, each naming the likely unit mistake).
    """
    src = source or f"spec '{spec.name}'"
    cells = spec.cells
    warn: list[str] = []
    for name in ("V_th_mV", "E_L_mV", "V_reset_mV", "C_m_pF", "g_nS", "t_ref_ms", "tau_syn_ms"):
        _check(name, getattr(cells, name), f"{src} cells", name, warn)
    _check("asc_decay_per_ms", cells.asc_decay_per_ms, f"{src} cells", "asc_decay_per_ms", warn)
    _check("asc_amps_pA", cells.asc_amps_pA, f"{src} cells", "asc_amps_pA", warn)
    glif = np.array([m == "glif3" for m in (cells.models or ("glif3",) * cells.n_types)])
    volts = np.stack([np.abs(np.asarray(getattr(cells, n), float)) for n in ("V_th_mV", "E_L_mV", "V_reset_mV")])
    in_volts = glif & np.all(volts < VOLTS_LIMIT_MV, axis=0) & np.any(volts > 0, axis=0)
    if in_volts.any():
        t = int(np.flatnonzero(in_volts)[0])
        warn.append(
            f"{src} cells: fields 'V_th_mV/E_L_mV/V_reset_mV': node type {t} has V_th {cells.V_th_mV[t]:g}, "
            f"E_L {cells.E_L_mV[t]:g}, V_reset {cells.V_reset_mV[t]:g}: likely given in volts (x1000 for mV)"
        )
    tau_m = np.asarray(cells.C_m_pF, float) / np.asarray(cells.g_nS, float)
    odd = glif & ((tau_m < TAU_M_PLAUSIBLE_MS[0]) | (tau_m > TAU_M_PLAUSIBLE_MS[1]))
    if odd.any():
        warn.append(
            f"{src} cells: fields 'C_m_pF/g_nS': tau_m = C_m/g = {_example(tau_m, odd)} ms outside "
            f"[{TAU_M_PLAUSIBLE_MS[0]:g}, {TAU_M_PLAUSIBLE_MS[1]:g}] ms: check the units of C_m (pF) and g (nS)"
        )
    for part in ("synapses", "inputs"):
        syn = getattr(spec, part)
        _check("weight_pA", syn.weight_pA, f"{src} {part}", "weight_pA", warn)
        delay = np.asarray(syn.delay_ms, float)
        if part == "inputs":  # an input delay of exactly 0 acts in the step it arrives (input_delay_steps)
            delay = delay[delay != 0.0]
        _check("delay_ms", delay, f"{src} {part}", "delay_ms", warn)
        w = np.asarray(syn.weight_pA, float)
        w_max = _abs_range(w)[1] if w.size else 0.0
        if w.size and 0 < w_max < 0.1:  # every weight below 0.1 pA: nA given as pA
            warn.append(
                f"{src} {part}: field 'weight_pA': every |weight| <= {w_max:g} pA: likely weights given in nA "
                "(x1000 for pA)"
            )
    return warn


def check_plausibility(spec, source: str | None = None) -> None:
    """Raise SpecError on hard violations, warn (PlausibilityWarning) on implausible values."""
    for message in plausibility_warnings(spec, source):
        warnings.warn(message, PlausibilityWarning, stacklevel=3)
