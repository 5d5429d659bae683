"""Nightly report: render a results dict to ``index.html`` + ``results.json`` + PNG figures, keep a history.

``build_report(results, out_dir, history_path)`` writes::

    out_dir/index.html     one self-contained page (inline CSS, no external URLs, no JS framework)
    out_dir/results.json   the validated results dict, regressions filled in (written atomically)
    out_dir/img/*.png      figures (matplotlib Agg, no pyplot global state)

and appends one JSON line (a compact summary, :func:`history_record`) to ``history_path``. The history
file is append-only: it is never rewritten, and a malformed line stops the build with an error naming the
file and line, because silently skipping it would hide the nights it describes from the trend chart and
from regression detection.

Results schema, ``schema_version`` 1
------------------------------------
Produced by the code that runs the simulations (not by this module). Every field is required unless it
says *optional*; ``X|null`` means the key must be present and may be ``null``. Numbers must be finite
(JSON has no NaN; use ``null`` for "not measured"). Unknown extra keys are allowed and kept.

.. code-block:: text

    schema_version  1
    date            "YYYY-MM-DD"                 night the results belong to
    created         ISO 8601 time                when the results were produced
    suite_version   str                          snnval version
    git_revision    str                          git revision of the suite
    quick           bool                         quick tier (true) or full nightly tier (false)
    synthetic       bool, optional (false)       true: made-up input (tests, demos); the page says so in red
    machine         {"platform": str, "cpu": str, "cores": int}
    command         str                          command line that produced the results
    simulators      [{"name": str, "available": bool, "version": str|null, "reason": str}]
    scenarios       [{"scenario": str, "simulator": str, "reference": str, "dt_ms": float > 0,
                      "status": "pass"|"fail"|"not_applicable"|"error", "reason": str,
                      "figures": {"max_abs_dV_mV": float|null, "mean_abs_dV_mV": float|null,
                                  "spikes_matched": int, "spikes_missing": int, "spikes_extra": int,
                                  "first_divergence": {"step": int, "neuron": int, "variable": str}|null}
                                 | null (allowed: a not-applicable or crashed cell has no figures),
                      "realtime_factor": float|null}]     wall time / simulated time
                    one entry per cell; (scenario, simulator, reference) must be unique
    accuracy        [{"runner": str (unique), "simulator": str, "profile": str, "n": int >= 1,
                      "correct": int, "accuracy": float (= correct / n), "ci95": [lo, hi] (lo <= accuracy <= hi),
                      "agreement_with_reference": float|null,
                      "mcnemar": {"b": int, "c": int, "p": float}|null   exact test vs the reference runner:
                                 b = reference right and this runner wrong, c = the reverse,
                      "confusion": k x k ints, rows = true label, columns = prediction, sum = n, trace = correct,
                      "realtime_factor": float|null}]
    port_variants   [{"variant": str (unique; "faithful" is the reference port), "description": str,
                      "changes": [str], "accuracy": float, "ci95": [lo, hi], "delta_vs_faithful": float}]
    sample          {"index": int, "label": int, "dt_ms": float > 0, "neuron": int,
                     "voltage_mV": {runner: [float]},                 first runner is the reference
                     "raster": {runner: {"step": [int], "neuron": [int]}}}   equal-length lists
                    | null (no sample recorded)
    regressions     [str]                        found by the producer; the builder adds its own

Regressions found by :func:`detect_regressions` against the latest earlier night of the same tier in the
history are appended to ``regressions`` (no duplicates) in the written ``results.json`` and the page.
"""

from __future__ import annotations

import copy
import html.parser
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date as _date
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from snnval.atomic import atomic_path, write_text_atomically
from snnval.errors import SnnvalError, SpecError

SCHEMA_VERSION = 1
HISTORY_RECORD_VERSION = 1
STATUSES = ("pass", "fail", "not_applicable", "error")

#: Where the Jinja2 template and CSS live in a source checkout. ``reports/`` is not package data, so an
#: installed (non-editable) snnval must pass ``template_dir`` explicitly.
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "reports" / "template"

#: Trend charts show at most this many nights, so the x axis stays readable after a year of nights.
MAX_TREND_POINTS = 60

_STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "not_applicable": "N/A", "error": "ERROR"}
_STATUS_SYMBOL = {"pass": "\u2713", "fail": "\u2717", "not_applicable": "\u2013", "error": "!"}
_STATUS_COLOUR = {"pass": "#1a7f37", "fail": "#cf222e", "not_applicable": "#8c959f", "error": "#9a6700"}


class ResultsSchemaError(SpecError):
    """The results dict does not follow the schema; ``field`` is a path such as ``scenarios[2].status``."""

    def __init__(self, field: str, expected: str):
        super().__init__("results dict", field, expected)


class HistoryError(SnnvalError, ValueError):
    """The history file has a malformed line; the message names the file and the 1-based line number."""


# ============================================================================================== validation


class _Check:
    """One node of a tiny schema language; ``check`` raises ResultsSchemaError naming ``path``."""

    desc = "a value"

    def check(self, value: Any, path: str) -> None:
        raise NotImplementedError

    def fail(self, path: str, value: Any, extra: str = "") -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ResultsSchemaError(path, f"{self.desc}{extra}, got {shown} ({type(value).__name__})")


class _Str(_Check):
    def __init__(self, nonempty: bool = False):
        self.nonempty = nonempty
        self.desc = "a non-empty string" if nonempty else "a string"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or (self.nonempty and not value.strip()):
            self.fail(path, value)


class _Bool(_Check):
    desc = "true or false"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.fail(path, value)


class _Int(_Check):
    def __init__(self, minimum: int | None = None):
        self.minimum = minimum
        self.desc = "an integer" if minimum is None else f"an integer >= {minimum}"

    def check(self, value: Any, path: str) -> None:
        # bool is an int subclass in Python; a JSON true where a count belongs is a producer bug.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, value)
        if self.minimum is not None and value < self.minimum:
            self.fail(path, value)


class _Num(_Check):
    def __init__(self, lo: float | None = None, hi: float | None = None, positive: bool = False):
        self.lo, self.hi, self.positive = lo, hi, positive
        if positive:
            self.desc = "a finite number > 0"
        elif lo is not None and hi is not None:
            self.desc = f"a number in [{lo:g}, {hi:g}]"
        elif lo is not None:
            self.desc = f"a finite number >= {lo:g}"
        else:
            self.desc = "a finite number"

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(path, value)
        if (
            (self.positive and value <= 0)
            or (self.lo is not None and value < self.lo)
            or (self.hi is not None and value > self.hi)
        ):
            self.fail(path, value)


class _Opt(_Check):
    def __init__(self, inner: _Check):
        self.inner = inner
        self.desc = f"{inner.desc} or null"

    def check(self, value: Any, path: str) -> None:
        if value is not None:
            self.inner.check(value, path)


class _Enum(_Check):
    def __init__(self, values: Iterable[str]):
        self.values = tuple(values)
        self.desc = "one of " + ", ".join(f'"{v}"' for v in self.values)

    def check(self, value: Any, path: str) -> None:
        if value not in self.values:
            self.fail(path, value)


class _Date(_Check):
    desc = 'a date "YYYY-MM-DD"'

    def check(self, value: Any, path: str) -> None:
        try:
            ok = isinstance(value, str) and len(value) == 10 and _date.fromisoformat(value).isoformat() == value
        except ValueError:
            ok = False
        if not ok:
            self.fail(path, value)


class _IsoTime(_Check):
    desc = "an ISO 8601 time such as 2026-11-23T02:15:00+00:00"

    def check(self, value: Any, path: str) -> None:
        try:
            ok = isinstance(value, str) and bool(datetime.fromisoformat(value))
        except ValueError:
            ok = False
        if not ok:
            self.fail(path, value)


class _List(_Check):
    def __init__(self, inner: _Check, length: int | None = None):
        self.inner, self.length = inner, length
        self.desc = f"a list of {length} items" if length is not None else "a list"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or (self.length is not None and len(value) != self.length):
            self.fail(path, value)
        for i, item in enumerate(value):
            self.inner.check(item, f"{path}[{i}]")


class _Map(_Check):
    desc = "an object (mapping of names to values)"

    def __init__(self, inner: _Check):
        self.inner = inner

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(path, value)
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ResultsSchemaError(path, f"non-empty string keys, got {key!r}")
            self.inner.check(item, f"{path}[{key!r}]")


class _Rec(_Check):
    desc = "an object"

    def __init__(self, fields: dict[str, _Check], optional: dict[str, _Check] | None = None):
        self.fields, self.optional = fields, optional or {}

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(path, value)
        for name, spec in self.fields.items():
            sub = f"{path}.{name}" if path else name
            if name not in value:
                raise ResultsSchemaError(sub, f"{spec.desc} (the field is missing)")
            spec.check(value[name], sub)
        for name, spec in self.optional.items():
            if name in value:
                spec.check(value[name], f"{path}.{name}" if path else name)


_PROB = _Num(0.0, 1.0)
_CI = _List(_PROB, length=2)
_FIGURES = _Rec(
    {
        "max_abs_dV_mV": _Opt(_Num(lo=0.0)),
        "mean_abs_dV_mV": _Opt(_Num(lo=0.0)),
        "spikes_matched": _Int(0),
        "spikes_missing": _Int(0),
        "spikes_extra": _Int(0),
        "first_divergence": _Opt(_Rec({"step": _Int(0), "neuron": _Int(0), "variable": _Str(nonempty=True)})),
    }
)
_SCENARIO = _Rec(
    {
        "scenario": _Str(nonempty=True),
        "simulator": _Str(nonempty=True),
        "reference": _Str(nonempty=True),
        "dt_ms": _Num(positive=True),
        "status": _Enum(STATUSES),
        "reason": _Str(),
        "figures": _Opt(_FIGURES),
        "realtime_factor": _Opt(_Num(lo=0.0)),
    }
)
_ACCURACY = _Rec(
    {
        "runner": _Str(nonempty=True),
        "simulator": _Str(nonempty=True),
        "profile": _Str(),
        "n": _Int(1),
        "correct": _Int(0),
        "accuracy": _PROB,
        "ci95": _CI,
        "agreement_with_reference": _Opt(_PROB),
        "mcnemar": _Opt(_Rec({"b": _Int(0), "c": _Int(0), "p": _PROB})),
        "confusion": _List(_List(_Int(0))),
        "realtime_factor": _Opt(_Num(lo=0.0)),
    }
)
_PORT_VARIANT = _Rec(
    {
        "variant": _Str(nonempty=True),
        "description": _Str(),
        "changes": _List(_Str()),
        "accuracy": _PROB,
        "ci95": _CI,
        "delta_vs_faithful": _Num(-1.0, 1.0),
    }
)
_SAMPLE = _Rec(
    {
        "index": _Int(0),
        "label": _Int(0),
        "dt_ms": _Num(positive=True),
        "neuron": _Int(0),
        "voltage_mV": _Map(_List(_Num())),
        "raster": _Map(_Rec({"step": _List(_Int(0)), "neuron": _List(_Int(0))})),
    }
)
_RESULTS = _Rec(
    {
        "schema_version": _Int(),
        "date": _Date(),
        "created": _IsoTime(),
        "suite_version": _Str(),
        "git_revision": _Str(),
        "quick": _Bool(),
        "machine": _Rec({"platform": _Str(), "cpu": _Str(), "cores": _Int(1)}),
        "command": _Str(),
        "simulators": _List(
            _Rec({"name": _Str(nonempty=True), "available": _Bool(), "version": _Opt(_Str()), "reason": _Str()})
        ),
        "scenarios": _List(_SCENARIO),
        "accuracy": _List(_ACCURACY),
        "port_variants": _List(_PORT_VARIANT),
        "sample": _Opt(_SAMPLE),
        "regressions": _List(_Str()),
    },
    optional={"synthetic": _Bool()},
)


def validate_results(results: Any) -> None:
    """Check ``results`` against schema version 1; raise :class:`ResultsSchemaError` naming the bad field.

    Beyond types, checks the cross-field facts the page relies on (accuracy = correct / n inside its CI,
    confusion sums to n with trace = correct, unique cells and runners), because an inconsistent page is
    worse than no page.
    """
    if not isinstance(results, dict):
        raise ResultsSchemaError("(top level)", f"a dict, got {type(results).__name__}")
    # Version first: a newer producer's dict should say "unsupported version", not "field X missing".
    if "schema_version" not in results:
        raise ResultsSchemaError("schema_version", f"{SCHEMA_VERSION} (the field is missing)")
    if results["schema_version"] != SCHEMA_VERSION or isinstance(results["schema_version"], bool):
        raise ResultsSchemaError(
            "schema_version",
            f"{SCHEMA_VERSION} (this renderer reads version {SCHEMA_VERSION} only), got {results['schema_version']!r}",
        )
    _RESULTS.check(results, "")

    seen: dict[tuple[str, str, str], int] = {}
    for i, cell in enumerate(results["scenarios"]):
        key = (cell["scenario"], cell["simulator"], cell["reference"])
        if key in seen:
            raise ResultsSchemaError(
                f"scenarios[{i}]",
                f"a unique (scenario, simulator, reference), but {key} repeats scenarios[{seen[key]}]",
            )
        seen[key] = i

    runners: set[str] = set()
    for i, acc in enumerate(results["accuracy"]):
        where = f"accuracy[{i}]"
        if acc["runner"] in runners:
            raise ResultsSchemaError(f"{where}.runner", f"a unique runner name, got a repeated {acc['runner']!r}")
        runners.add(acc["runner"])
        n, correct = acc["n"], acc["correct"]
        if correct > n:
            raise ResultsSchemaError(f"{where}.correct", f"<= n = {n}, got {correct}")
        if abs(acc["accuracy"] - correct / n) > 1e-9:
            raise ResultsSchemaError(f"{where}.accuracy", f"correct / n = {correct / n!r}, got {acc['accuracy']!r}")
        _check_ci(acc["ci95"], acc["accuracy"], f"{where}.ci95")
        k = len(acc["confusion"])
        if k == 0 or any(len(row) != k for row in acc["confusion"]):
            raise ResultsSchemaError(f"{where}.confusion", "a non-empty square matrix (k x k list of lists)")
        cm = np.asarray(acc["confusion"], dtype=np.int64)
        if int(cm.sum()) != n or int(np.trace(cm)) != correct:
            raise ResultsSchemaError(
                f"{where}.confusion",
                f"counts summing to n = {n} with trace = correct = {correct}, got sum {int(cm.sum())}, "
                f"trace {int(np.trace(cm))}",
            )

    variants: set[str] = set()
    for i, pv in enumerate(results["port_variants"]):
        if pv["variant"] in variants:
            raise ResultsSchemaError(f"port_variants[{i}].variant", f"a unique name, got a repeated {pv['variant']!r}")
        variants.add(pv["variant"])
        _check_ci(pv["ci95"], pv["accuracy"], f"port_variants[{i}].ci95")

    sample = results["sample"]
    if sample is not None:
        for runner, raster in sample["raster"].items():
            if len(raster["step"]) != len(raster["neuron"]):
                raise ResultsSchemaError(
                    f"sample.raster[{runner!r}]",
                    f"equal-length step and neuron lists, got {len(raster['step'])} and {len(raster['neuron'])}",
                )


def _check_ci(ci: list[float], value: float, path: str) -> None:
    lo, hi = ci
    # A hair of tolerance: producers may round the bounds for display before writing them.
    if not (lo <= hi and lo - 1e-9 <= value <= hi + 1e-9):
        raise ResultsSchemaError(path, f"[lo, hi] with lo <= accuracy ({value}) <= hi, got {ci}")


# ================================================================================== history and regressions


def history_record(results: Mapping[str, Any]) -> dict:
    """The compact one-line summary of a (validated) results dict that goes into the history file.

    It holds what trends and :func:`detect_regressions` need: cell statuses, simulator availability,
    accuracies with CIs, port-variant accuracies, status counts and provenance.
    """
    counts = {s: 0 for s in STATUSES}
    for cell in results["scenarios"]:
        counts[cell["status"]] += 1
    return {
        "record_version": HISTORY_RECORD_VERSION,
        "date": results["date"],
        "created": results["created"],
        "suite_version": results["suite_version"],
        "git_revision": results["git_revision"],
        "quick": results["quick"],
        "synthetic": bool(results.get("synthetic", False)),
        "counts": counts,
        "cells": [[c["scenario"], c["simulator"], c["reference"], c["status"]] for c in results["scenarios"]],
        "simulators": {s["name"]: s["available"] for s in results["simulators"]},
        "accuracy": {
            a["runner"]: {"accuracy": a["accuracy"], "ci95": list(a["ci95"]), "n": a["n"]} for a in results["accuracy"]
        },
        "port_variants": {
            p["variant"]: {"accuracy": p["accuracy"], "ci95": list(p["ci95"])} for p in results["port_variants"]
        },
        "regressions": list(results["regressions"]),
    }


_RECORD_KEYS = ("date", "quick", "counts", "cells", "simulators", "accuracy", "port_variants")


def load_history(path: Path | str) -> list[dict]:
    """Read the JSON-lines history; a missing file is an empty history. Blank lines are ignored.

    Raises :class:`HistoryError` naming the file and line for a line that is not a JSON object, has an
    unknown ``record_version`` or lacks a field this module reads.
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HistoryError(
                    f"{path}, line {lineno}: malformed history line (not JSON: {exc.msg} at column {exc.colno}); "
                    "the history is append-only, so fix or remove that line by hand"
                ) from None
            if not isinstance(rec, dict):
                raise HistoryError(f"{path}, line {lineno}: malformed history line (expected a JSON object)")
            if rec.get("record_version") != HISTORY_RECORD_VERSION:
                raise HistoryError(
                    f"{path}, line {lineno}: unsupported record_version {rec.get('record_version')!r} "
                    f"(this snnval reads {HISTORY_RECORD_VERSION})"
                )
            missing = [k for k in _RECORD_KEYS if k not in rec]
            if missing:
                raise HistoryError(f"{path}, line {lineno}: malformed history line (missing {', '.join(missing)})")
            records.append(rec)
    return records


def detect_regressions(results: Mapping[str, Any], previous_results: Mapping[str, Any] | None) -> list[str]:
    """Describe what got worse since ``previous_results``; ``[]`` when nothing did or there is no previous.

    Both arguments may be full results dicts or history records (:func:`history_record`). Rules:

    * a score-matrix cell that passed before and now fails, errors or is not applicable (losing coverage
      silently is a regression too); a passing cell that is gone entirely, when both runs are the same tier;
    * a simulator that was available and is not any more;
    * a runner's (or port variant's) accuracy that dropped by more than the larger of the two CI
      half-widths. The larger one is used because quick and full nights have different n, and a drop
      inside the noise of either night is not evidence of anything.
    """
    if previous_results is None:
        return []
    cur, prev = _as_record(results), _as_record(previous_results)
    since = prev["date"]
    found: list[str] = []

    cur_cells = {(s, m, r): st for s, m, r, st in cur["cells"]}
    # History records keep no reasons (to stay one short line); a full results dict can say why a cell broke.
    reasons = {(c["scenario"], c["simulator"], c["reference"]): c["reason"] for c in results.get("scenarios", [])}
    same_tier = cur["quick"] == prev["quick"]
    for s, m, r, st in prev["cells"]:
        if st != "pass":
            continue
        now = cur_cells.get((s, m, r))
        if now is None:
            if same_tier:
                found.append(f"{s} on {m} vs {r}: passed on {since}, not run now")
        elif now != "pass":
            why = reasons.get((s, m, r), "").strip()
            found.append(
                f"{s} on {m} vs {r}: passed on {since}, {_STATUS_TEXT[now]} now" + (f" ({why})" if why else "")
            )

    for name, was_available in prev["simulators"].items():
        if was_available and cur["simulators"].get(name) is False:
            found.append(f"simulator {name}: available on {since}, unavailable now")

    for kind, key in (("accuracy of", "accuracy"), ("port variant", "port_variants")):
        for name, before in prev[key].items():
            after = cur[key].get(name)
            if after is None:
                continue
            drop = before["accuracy"] - after["accuracy"]
            half = max(_half_width(before["ci95"]), _half_width(after["ci95"]))
            if drop > half:
                found.append(
                    f"{kind} {name}: {_pct(before['accuracy'])} on {since} -> {_pct(after['accuracy'])} now "
                    f"(drop {100 * drop:.1f} points > 95 % CI half-width {100 * half:.1f} points)"
                )
    return found


def _as_record(obj: Mapping[str, Any]) -> dict:
    if "record_version" in obj:
        missing = [k for k in _RECORD_KEYS if k not in obj]
        if missing:
            raise HistoryError(f"history record is missing {', '.join(missing)}")
        return dict(obj)
    validate_results(obj)
    return history_record(obj)


def _half_width(ci: list[float]) -> float:
    return (ci[1] - ci[0]) / 2.0


def _previous_record(history: list[dict], results: Mapping[str, Any]) -> dict | None:
    """Latest history record of an earlier night of the same tier.

    Same date is excluded so that re-rendering tonight's results compares with last night, not with
    itself; other tiers are excluded because a quick run covers fewer cells with fewer trials.
    """
    candidates = [r for r in history if r["date"] < results["date"] and r["quick"] == results["quick"]]
    return candidates[-1] if candidates else None


def _append_history(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, allow_nan=False, separators=(",", ":")) + "\n"
    prefix = ""
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                prefix = "\n"  # a hand-edited last line without newline must not swallow our record
    # One write() in append mode: the record lands whole at the end, old lines are never touched.
    with path.open("a", encoding="utf-8") as fh:
        fh.write(prefix + line)
        fh.flush()
        os.fsync(fh.fileno())


# ======================================================================================== building


@dataclass(frozen=True)
class _Img:
    src: str  # relative to out_dir
    alt: str


def build_report(
    results: Mapping[str, Any],
    out_dir: Path | str,
    history_path: Path | str,
    *,
    template_dir: Path | str | None = None,
) -> Path:
    """Validate ``results``, write the report into ``out_dir``, append to the history; return ``index.html``.

    Order matters: everything that can fail on bad input (validation, reading the history) runs before
    anything is written, and the history line is appended last, so a failed build neither leaves a
    half-written page behind ``results.json`` nor a history line for a report that does not exist.
    """
    validate_results(results)
    out_dir, history_path = Path(out_dir), Path(history_path)
    template_dir = Path(template_dir) if template_dir is not None else DEFAULT_TEMPLATE_DIR
    env, css = _template_env(template_dir)
    history = load_history(history_path)

    data = copy.deepcopy(dict(results))  # never mutate the caller's dict
    previous = _previous_record(history, data)
    found = detect_regressions(data, previous)
    data["regressions"] = list(dict.fromkeys([*data["regressions"], *found]))
    record = history_record(data)

    img_dir = out_dir / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    trend_records = [r for r in history if r["quick"] == data["quick"]][-(MAX_TREND_POINTS - 1) :]
    images = _render_figures(data, trend_records + [record], img_dir)

    page = env.get_template("index.html.j2").render(
        css=css,
        r=data,
        view=_view_model(data, previous, history_path, len(trend_records)),
        images=images,
    )
    _check_page(page, out_dir)

    write_text_atomically(out_dir / "results.json", json.dumps(data, indent=1, allow_nan=False) + "\n")
    write_text_atomically(out_dir / "index.html", page)
    _append_history(history_path, record)
    return out_dir / "index.html"


def _template_env(template_dir: Path):
    import jinja2  # deferred: only the report needs it

    if not (template_dir / "index.html.j2").is_file() or not (template_dir / "style.css").is_file():
        raise SnnvalError(
            f"report template not found: expected index.html.j2 and style.css in {template_dir} "
            "(reports/template/ of a source checkout; pass template_dir= otherwise)"
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,  # reasons and names come from simulator error messages: escape everything
        undefined=jinja2.StrictUndefined,  # a typo in the template must fail the build, not print nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    return env, (template_dir / "style.css").read_text(encoding="utf-8")


def _pct(value: float | None, digits: int = 1) -> str:
    return "\u2014" if value is None else f"{100 * value:.{digits}f} %"


def _num(value: float | None, fmt: str = ".3g") -> str:
    return "\u2014" if value is None else format(value, fmt)


# ----------------------------------------------------------------------------------------- view model


def _view_model(data: dict, previous: dict | None, history_path: Path, n_trend_prior: int) -> dict:
    """Everything the template shows, pre-arranged so the template stays free of logic."""
    columns: list[tuple[str, str]] = []
    rows: list[str] = []
    cells: dict[tuple[str, str, str], dict] = {}
    sim_order = {s["name"]: i for i, s in enumerate(data["simulators"])}
    for c in data["scenarios"]:
        col = (c["simulator"], c["reference"])
        if col not in columns:
            columns.append(col)
        if c["scenario"] not in rows:
            rows.append(c["scenario"])
        cells[(c["scenario"], *col)] = c
    # Columns follow the simulators list (the producer's order), then reference; rows keep run order.
    first_seen = {col: i for i, col in enumerate(columns)}
    columns = sorted(columns, key=lambda col: (sim_order.get(col[0], len(sim_order)), first_seen[col]))

    matrix = []
    for scen in rows:
        row_cells = []
        for sim, ref in columns:
            c = cells.get((scen, sim, ref))
            row_cells.append(_cell_view(c, scen, sim, ref))
        matrix.append({"scenario": scen, "cells": row_cells})

    counts = {s: 0 for s in STATUSES}
    for c in data["scenarios"]:
        counts[c["status"]] += 1

    ladder = _ladder_order(data["port_variants"])
    return {
        "columns": [{"simulator": s, "reference": r, "key": f"{s} | {r}"} for s, r in columns],
        "matrix": matrix,
        "counts": [
            {"status": s, "label": _STATUS_TEXT[s], "symbol": _STATUS_SYMBOL[s], "n": counts[s]} for s in STATUSES
        ],
        "previous": previous,
        "history_path": str(history_path),
        "n_trend_prior": n_trend_prior,
        "ladder": ladder,
        "tier": "quick" if data["quick"] else "nightly",
        "synthetic": bool(data.get("synthetic", False)),
    }


def _cell_view(c: dict | None, scen: str, sim: str, ref: str) -> dict:
    if c is None:
        return {
            "status": "missing",
            "label": "not run",
            "symbol": "",
            "title": f"{scen} was not run on {sim} vs {ref}",
            "short_reason": "",
            "lines": [],
            "key": f"{sim} | {ref}",
        }
    f = c["figures"]
    lines: list[str] = []
    if f is not None:
        if f["max_abs_dV_mV"] is not None:
            lines.append(f"max |\u0394V| {_num(f['max_abs_dV_mV'])} mV")
        if f["mean_abs_dV_mV"] is not None:
            lines.append(f"mean |\u0394V| {_num(f['mean_abs_dV_mV'])} mV")
        lines.append(f"spikes {f['spikes_matched']} matched, {f['spikes_missing']} missing, {f['spikes_extra']} extra")
        d = f["first_divergence"]
        if d is not None:
            lines.append(f"first divergence: step {d['step']}, neuron {d['neuron']}, {d['variable']}")
    if c["realtime_factor"] is not None:
        lines.append(f"real-time factor {_num(c['realtime_factor'])}")
    reason = c["reason"].strip()
    title = f"{_STATUS_TEXT[c['status']]}: {reason}" if reason else _STATUS_TEXT[c["status"]]
    title += f" (dt = {c['dt_ms']:g} ms)"
    short = "" if c["status"] == "pass" else (reason if len(reason) <= 90 else reason[:87] + "...")
    return {
        "status": c["status"],
        "label": _STATUS_TEXT[c["status"]],
        "symbol": _STATUS_SYMBOL[c["status"]],
        "title": title,
        "short_reason": short,
        "lines": lines,
        "key": f"{sim} | {ref}",
    }


def _ladder_order(variants: list[dict]) -> list[dict]:
    """Single mistakes worst first, then the cumulative ladder rungs (names "ladder k: ...") in the
    producer's order, the faithful port last: it reads as 'how far each shortcut falls' and then
    'how a broken port climbs back, one fix at a time'."""
    faithful = [v for v in variants if v["variant"] == "faithful"]
    rungs = [v for v in variants if v["variant"].startswith("ladder ")]
    singles = sorted((v for v in variants if v not in faithful and v not in rungs), key=lambda v: v["accuracy"])
    return singles + rungs + faithful


# -------------------------------------------------------------------------------------------- figures


_RC = {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False}


def _save(fig: Figure, path: Path) -> None:
    # Temp + replace so a reader of an existing report never sees a truncated PNG.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})


def _colours(names: Iterable[str]) -> dict[str, str]:
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]  # fmt: skip
    out: dict[str, str] = {}
    for name in names:
        if name not in out:
            out[name] = palette[len(out) % len(palette)]
    return out


def _render_figures(data: dict, trend: list[dict], img_dir: Path) -> dict[str, Any]:
    """Draw every PNG; returns {key: _Img or list[_Img] or None} for the template."""
    sample = data["sample"]
    runner_names = [a["runner"] for a in data["accuracy"]]
    if sample is not None:
        runner_names += list(sample["voltage_mV"]) + list(sample["raster"])
    for rec in trend:
        runner_names += list(rec["accuracy"])
    colours = _colours(runner_names)

    with rc_context(_RC):
        images: dict[str, Any] = {
            "accuracy": _fig_accuracy(data["accuracy"], colours, img_dir) if data["accuracy"] else None,
            "confusion": [_fig_confusion(a, i, img_dir) for i, a in enumerate(data["accuracy"])],
            "ladder": _fig_ladder(_ladder_order(data["port_variants"]), img_dir) if data["port_variants"] else None,
            "voltage": None,
            "raster": None,
            "trends": _fig_trends(trend, colours, img_dir) if len(trend) >= 2 else None,
        }
        if sample is not None and sample["voltage_mV"]:
            images["voltage"] = _fig_voltage(sample, colours, img_dir)
        if sample is not None and sample["raster"]:
            images["raster"] = _fig_raster(sample, img_dir)
    return images


def _fig_accuracy(acc: list[dict], colours: dict[str, str], img_dir: Path) -> _Img:
    n = len(acc)
    fig = Figure(figsize=(8.5, 0.5 + 0.45 * n))
    ax = fig.subplots()
    y = np.arange(n)[::-1]  # first runner on top, as in the table
    vals = np.array([a["accuracy"] for a in acc])
    lo = vals - np.array([a["ci95"][0] for a in acc])
    hi = np.array([a["ci95"][1] for a in acc]) - vals
    ax.barh(y, vals, color=[colours[a["runner"]] for a in acc], height=0.6)
    ax.errorbar(vals, y, xerr=[lo, hi], fmt="none", ecolor="black", capsize=4, linewidth=1.2)
    chance = 1.0 / len(acc[0]["confusion"])
    ax.axvline(chance, color="#57606a", linestyle=":", linewidth=1)
    ax.text(chance, n - 0.45, " chance", color="#57606a", va="bottom", fontsize=8)
    for yi, a in zip(y, acc, strict=True):
        # Labels in the right margin (x in axes units) so they never collide with bars or error bars.
        ax.text(
            1.02, yi, f"{_pct(a['accuracy'])}  [{100 * a['ci95'][0]:.1f}, {100 * a['ci95'][1]:.1f}]  n={a['n']}",
            va="center", fontsize=8, transform=ax.get_yaxis_transform(), clip_on=False,
        )  # fmt: skip
    ax.set_yticks(y, [a["runner"] for a in acc])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, n - 0.1)
    ax.set_xlabel("task accuracy (bars: 95 % Wilson CI)")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f} %")
    _save(fig, img_dir / "accuracy.png")
    alt = "Bar chart of task accuracy per runner with 95 % confidence intervals: " + "; ".join(
        f"{a['runner']} {_pct(a['accuracy'])} (95 % CI {_pct(a['ci95'][0])} to {_pct(a['ci95'][1])})" for a in acc
    )
    return _Img("img/accuracy.png", alt)


def _fig_confusion(acc: dict, index: int, img_dir: Path) -> _Img:
    cm = np.asarray(acc["confusion"], dtype=float)
    k = cm.shape[0]
    # Colour by row fraction so a rare class's errors are as visible as a common class's; print counts.
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig = Figure(figsize=(3.6, 3.4))
    ax = fig.subplots()
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(
                    j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=6 if k > 10 else 7,
                    color="white" if frac[i, j] > 0.55 else "black",
                )  # fmt: skip
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{acc['runner']}\naccuracy {_pct(acc['accuracy'])}, n={acc['n']}", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(True)
    name = f"confusion_{index}.png"  # index, not runner name: runner names may hold '/' or spaces
    _save(fig, img_dir / name)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    worst = np.unravel_index(int(np.argmax(off)), off.shape) if off.any() else None
    alt = f"Confusion matrix of {acc['runner']} ({k} classes, n={acc['n']}, accuracy {_pct(acc['accuracy'])})"
    if worst is not None:
        alt += f"; most frequent error: true {worst[0]} predicted as {worst[1]} ({int(off[worst])} trials)"
    return _Img(f"img/{name}", alt)


def _fig_ladder(ladder: list[dict], img_dir: Path) -> _Img:
    n = len(ladder)
    fig = Figure(figsize=(8.5, 0.6 + 0.45 * n))
    ax = fig.subplots()
    y = np.arange(n)[::-1]  # worst on top, faithful at the bottom
    vals = np.array([v["accuracy"] for v in ladder])
    err = [vals - np.array([v["ci95"][0] for v in ladder]), np.array([v["ci95"][1] for v in ladder]) - vals]
    colours = ["#1a7f37" if v["variant"] == "faithful" else "#8c959f" for v in ladder]
    ax.barh(y, vals, color=colours, height=0.6)
    ax.errorbar(vals, y, xerr=err, fmt="none", ecolor="black", capsize=4, linewidth=1.2)
    for yi, v in zip(y, ladder, strict=True):
        delta = "" if v["variant"] == "faithful" else f"  ({100 * v['delta_vs_faithful']:+.1f} pts)"
        ax.text(
            1.02, yi, f"{_pct(v['accuracy'])}{delta}", va="center", fontsize=8,
            transform=ax.get_yaxis_transform(), clip_on=False,
        )  # fmt: skip
    ax.set_yticks(y, [v["variant"] for v in ladder])
    ax.set_xlim(0, 1)
    ax.set_xlabel("task accuracy (bars: 95 % CI); green = faithful port")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f} %")
    _save(fig, img_dir / "port_variants.png")
    alt = "Port variants: single mistakes worst first, then the ladder rungs, faithful last: " + "; ".join(
        f"{v['variant']} {_pct(v['accuracy'])} ({100 * v['delta_vs_faithful']:+.1f} points vs faithful)" for v in ladder
    )
    return _Img("img/port_variants.png", alt)


def _fig_voltage(sample: dict, colours: dict[str, str], img_dir: Path) -> _Img:
    traces = {k: np.asarray(v, dtype=float) for k, v in sample["voltage_mV"].items()}
    ref_name, ref = next(iter(traces.items()))
    dt = sample["dt_ms"]
    two = len(traces) > 1
    fig = Figure(figsize=(9, 4.6 if two else 2.8))
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1]) if two else [fig.subplots()]
    for name, v in traces.items():
        axes[0].plot(np.arange(v.size) * dt, v, color=colours[name], linewidth=1, label=name)
    axes[0].set_ylabel("V (mV)")
    axes[0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, fontsize=8, frameon=False)
    max_diff = {}
    if two:
        for name, v in list(traces.items())[1:]:
            m = min(v.size, ref.size)  # traces of different length: compare the common steps only
            d = v[:m] - ref[:m]
            max_diff[name] = float(np.max(np.abs(d))) if m else 0.0
            axes[1].plot(np.arange(m) * dt, d, color=colours[name], linewidth=1, label=name)
        axes[1].axhline(0, color="black", linewidth=0.5)
        axes[1].set_ylabel("\u0394V to reference (mV)")
        axes[1].set_title(f"difference to {ref_name} (reference)", loc="left", fontsize=8)
    axes[-1].set_xlabel("time (ms)")
    _save(fig, img_dir / "sample_voltage.png")
    alt = f"Membrane voltage of neuron {sample['neuron']} for sample {sample['index']} overlaid for {', '.join(traces)}"
    if max_diff:
        alt += "; largest difference to " + ref_name + ": " + ", ".join(f"{k} {v:.3g} mV" for k, v in max_diff.items())
    return _Img("img/sample_voltage.png", alt)


def _fig_raster(sample: dict, img_dir: Path) -> _Img:
    dt = sample["dt_ms"]
    names = list(sample["raster"])
    ref = sample["raster"][names[0]]
    ref_steps, ref_neurons = np.asarray(ref["step"], dtype=np.int64), np.asarray(ref["neuron"], dtype=np.int64)
    fig = Figure(figsize=(9, 0.4 + 1.5 * len(names)))
    axes = np.atleast_1d(fig.subplots(len(names), 1, sharex=True, sharey=True, squeeze=False)[:, 0])
    summary = []
    for ax, name in zip(axes, names, strict=True):
        steps = np.asarray(sample["raster"][name]["step"], dtype=np.int64)
        neurons = np.asarray(sample["raster"][name]["neuron"], dtype=np.int64)
        if name == names[0]:
            same = np.ones(steps.size, dtype=bool)
        else:
            # Exact (step, neuron) match on the integer grid: the same rule as "spikes matched" at k = 0.
            same = _pairs_in(steps, neurons, ref_steps, ref_neurons)
            summary.append(f"{name}: {int(same.sum())} of {steps.size} spikes identical to {names[0]}")
        ax.scatter(steps[same] * dt, neurons[same], s=4, marker="|", color="#24292f", linewidths=0.8, rasterized=True)
        ax.scatter(steps[~same] * dt, neurons[~same], s=10, marker="|", color="#cf222e", linewidths=1.2)
        label = name if name != names[0] else f"{name} (reference)"
        ax.set_ylabel("neuron")
        ax.set_title(label, loc="left", fontsize=8)
    axes[-1].set_xlabel("time (ms)   black: same (step, neuron) as reference; red: differs")
    _save(fig, img_dir / "sample_raster.png")
    alt = f"Spike rasters of sample {sample['index']} for {', '.join(names)}, reference {names[0]}"
    if summary:
        alt += "; " + "; ".join(summary)
    return _Img("img/sample_raster.png", alt)


def _pairs_in(steps: np.ndarray, neurons: np.ndarray, ref_steps: np.ndarray, ref_neurons: np.ndarray) -> np.ndarray:
    width = int(max(neurons.max(initial=0), ref_neurons.max(initial=0))) + 1
    return np.isin(steps * width + neurons, ref_steps * width + ref_neurons)


def _fig_trends(trend: list[dict], colours: dict[str, str], img_dir: Path) -> _Img:
    x = np.arange(len(trend))
    runners = list(dict.fromkeys(r for rec in trend for r in rec["accuracy"]))
    has_acc = bool(runners)
    fig = Figure(figsize=(9, 5.2 if has_acc else 2.8))
    axes = fig.subplots(2, 1, sharex=True) if has_acc else [fig.subplots()]
    if has_acc:
        ax = axes[0]
        handles = []
        for j, name in enumerate(runners):
            pts = [(i, rec["accuracy"][name]) for i, rec in enumerate(trend) if name in rec["accuracy"]]
            # Small horizontal offset per runner so overlapping CIs stay distinguishable.
            xi = np.array([p[0] for p in pts]) + 0.06 * (j - (len(runners) - 1) / 2)
            v = np.array([p[1]["accuracy"] for p in pts])
            lo = v - np.array([p[1]["ci95"][0] for p in pts])
            hi = np.array([p[1]["ci95"][1] for p in pts]) - v
            handles.append(
                ax.errorbar(xi, v, yerr=[lo, hi], color=colours[name], marker="o", markersize=4, capsize=3, label=name)
            )
        ax.set_ylabel("accuracy")
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f} %")
        # Explicit handles keep the legend in runner order (matplotlib lists errorbar containers oddly).
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title("accuracy per runner (95 % CI)", loc="left")
    ax = axes[-1]
    for status in STATUSES:
        ax.plot(
            x, [rec["counts"].get(status, 0) for rec in trend], marker="o", markersize=4,
            color=_STATUS_COLOUR[status], label=_STATUS_TEXT[status],
        )  # fmt: skip
    ax.set_ylabel("cells")
    ax.set_title("score-matrix cells per status", loc="left")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_ylim(bottom=0)
    ax.yaxis.get_major_locator().set_params(integer=True)
    step = max(1, len(trend) // 15)  # thin the date labels so they never overlap
    ax.set_xticks(x[::step], [rec["date"] for rec in trend][::step], rotation=30, ha="right")
    ax.set_xlim(-0.5, len(trend) - 0.5)
    _save(fig, img_dir / "trends.png")
    last = trend[-1]
    alt = (
        f"Trends over the last {len(trend)} nights ({trend[0]['date']} to {last['date']}): accuracy per runner and "
        f"score-matrix pass counts; tonight {last['counts'].get('pass', 0)} pass, {last['counts'].get('fail', 0)} fail"
    )
    return _Img("img/trends.png", alt)


# ---------------------------------------------------------------------------------------- self-check


class _ImgCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))


def _check_page(page: str, out_dir: Path) -> None:
    """Refuse to publish a page with an image lacking alt text or pointing at a file that does not exist."""
    parser = _ImgCollector()
    parser.feed(page)
    for img in parser.imgs:
        src, alt = img.get("src") or "", (img.get("alt") or "").strip()
        if not alt:
            raise SnnvalError(f"report bug: <img src={src!r}> has no alt text")
        if "://" in src or src.startswith("/") or not (out_dir / src).is_file():
            raise SnnvalError(f"report bug: <img src={src!r}> does not point at a file under {out_dir}")


# ------------------------------------------------------------------------------------ synthetic input


def synthetic_results(date: str = "2026-11-23", seed: int = 0, n_trials: int = 200) -> dict:
    """A complete, made-up results dict for testing and demonstrating the renderer. NOT SIMULATOR OUTPUT.

    It is marked ``"synthetic": true`` (the page then carries a red banner), its command and git revision
    say so, and every number is drawn from ``numpy.random.default_rng(seed)``. The figures are internally
    consistent (accuracy, CI, confusion and McNemar computed with :mod:`snnval.accuracy`) so that the
    renderer's cross-field checks pass.
    """
    from snnval import __version__
    from snnval.accuracy import accuracy_with_ci, confusion_matrix, mcnemar_exact, prediction_agreement

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n_trials)

    def corrupt(pred: np.ndarray, frac: float) -> np.ndarray:
        out = pred.copy()
        flip = rng.random(pred.size) < frac
        out[flip] = (out[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
        return out

    ref_pred = corrupt(labels, 0.18)
    preds = {
        "tf (tf-billeh)": ref_pred,
        "tf (nest-glif-psc)": corrupt(ref_pred, 0.10),
        "nest (nest-glif-psc)": corrupt(ref_pred, 0.12),
    }
    sims = {"tf (tf-billeh)": ("tf", "tf-billeh"), "tf (nest-glif-psc)": ("tf", "nest-glif-psc")}
    sims["nest (nest-glif-psc)"] = ("nest", "nest-glif-psc")
    accuracy = []
    for runner, pred in preds.items():
        acc = accuracy_with_ci(pred, labels)
        is_ref = runner == "tf (tf-billeh)"
        accuracy.append(
            {
                "runner": runner,
                "simulator": sims[runner][0],
                "profile": sims[runner][1],
                **acc.as_accuracy_fields(),
                "agreement_with_reference": None if is_ref else prediction_agreement(pred, ref_pred).value,
                "mcnemar": None if is_ref else mcnemar_exact(ref_pred == labels, pred == labels).as_dict(),
                "confusion": confusion_matrix(pred, labels).tolist(),
                "realtime_factor": round(float(rng.uniform(0.5, 30.0)), 2),
            }
        )

    def figs(dv: float | None, matched: int, missing: int = 0, extra: int = 0, div=None) -> dict:
        return {
            "max_abs_dV_mV": dv,
            "mean_abs_dV_mV": None if dv is None else dv / 7,
            "spikes_matched": matched,
            "spikes_missing": missing,
            "spikes_extra": extra,
            "first_divergence": div,
        }

    ref_nest, ref_tf = "tf (nest-glif-psc)", "tf (tf-billeh)"
    na_spinn = "SpiNNaker needs hardware: the virtual board maps the network but records nothing"
    cells = [
        ("single_neuron_step", "nest", ref_nest, "pass", "", figs(2.1e-12, 41), 0.02),
        ("single_neuron_step", "brian2", ref_nest, "fail", "first spike 1 step early (refractory end rounding)",
         figs(0.84, 38, 3, 3, {"step": 117, "neuron": 0, "variable": "V_m"}), 0.4),
        ("single_neuron_step", "neuron", ref_nest, "pass", "", figs(3.0e-9, 41), 0.9),
        ("single_neuron_step", "spinnaker", ref_nest, "not_applicable", na_spinn, None, None),
        ("single_neuron_asc", "nest", ref_nest, "pass", "", figs(4.4e-12, 17), 0.02),
        ("single_neuron_asc", "brian2", ref_nest, "pass", "", figs(1.2e-6, 17), 0.4),
        ("single_neuron_asc", "neuron", ref_nest, "not_applicable", "no GLIF3 mechanism in this adapter", None, None),
        ("network_100_spikes", "nest", ref_nest, "pass", "", figs(5.0e-11, 1290), 0.3),
        ("network_100_spikes", "brian2", ref_nest, "error", "adapter process crashed: MemoryError in codegen",
         None, None),
        ("network_100_spikes", "nest", ref_tf, "fail", "reset and ASC timing differ (expected: tf-billeh profile)",
         figs(11.7, 1011, 279, 301, {"step": 12, "neuron": 53, "variable": "asc_0"}), 0.3),
    ]  # fmt: skip
    scenarios = [
        {
            "scenario": s,
            "simulator": m,
            "reference": r,
            "dt_ms": 1.0,
            "status": st,
            "reason": why,
            "figures": f,
            "realtime_factor": rtf,
        }
        for s, m, r, st, why, f, rtf in cells
    ]

    variants = []
    faithful = accuracy_with_ci(preds["tf (tf-billeh)"], labels)
    ladder = [
        ("faithful", "TF reference semantics reproduced step by step", [], 0.0),
        ("nest_reset", "NEST reset rule", ["reset: V <- V_reset instead of V - (V_th - V_reset)"], 0.04),
        ("nest_reset+asc", "plus NEST ASC timing", ["reset rule", "ASC update after threshold"], 0.11),
        ("all_nest", "every NEST semantic choice", ["reset", "ASC timing", "PSC exact integration", "delay rounding"],
         0.21),
    ]  # fmt: skip
    for name, desc, changes, frac in ladder:
        acc = faithful if name == "faithful" else accuracy_with_ci(corrupt(ref_pred, frac), labels)
        variants.append(
            {
                "variant": name,
                "description": desc,
                "changes": changes,
                "accuracy": acc.value,
                "ci95": [acc.lo, acc.hi],
                "delta_vs_faithful": acc.value - faithful.value,
            }
        )

    dt, n_steps = 1.0, 300
    drive = 0.9 + 0.5 * rng.random(n_steps)

    def lif(offset: float) -> list[float]:
        v, out = -70.0, []
        for i in range(n_steps):
            v += dt / 10.0 * (-(v + 70.0) + 25.0 * drive[i] + offset)
            if v > -50.0:
                v = -70.0
            out.append(round(v, 4))
        return out

    steps = np.sort(rng.integers(0, n_steps, 400))
    neurons = rng.integers(0, 60, 400)
    moved = rng.random(400) < 0.08
    return {
        "schema_version": SCHEMA_VERSION,
        "date": date,
        "created": f"{date}T03:00:00+00:00",
        "suite_version": __version__,
        "git_revision": "synthetic",
        "quick": False,
        "synthetic": True,
        "machine": {"platform": "synthetic-os", "cpu": "synthetic cpu", "cores": 2},
        "command": "snnval.report.synthetic_results() - synthetic renderer test input, not simulator output",
        "simulators": [
            {"name": "tf", "available": True, "version": "2.21.0", "reason": ""},
            {"name": "nest", "available": True, "version": "3.10.0", "reason": ""},
            {"name": "brian2", "available": True, "version": "2.9.0", "reason": ""},
            {"name": "neuron", "available": True, "version": "9.0.2", "reason": ""},
            {"name": "spinnaker", "available": False, "version": None, "reason": "no SpiNNaker board"},
        ],
        "scenarios": scenarios,
        "accuracy": accuracy,
        "port_variants": variants,
        "sample": {
            "index": 7,
            "label": int(labels[7]),
            "dt_ms": dt,
            "neuron": 3,
            "voltage_mV": {
                "tf (tf-billeh)": lif(0.0),
                "tf (nest-glif-psc)": lif(0.3),
                "nest (nest-glif-psc)": lif(0.3),
            },
            "raster": {
                "tf (tf-billeh)": {"step": steps.tolist(), "neuron": neurons.tolist()},
                "nest (nest-glif-psc)": {
                    "step": np.minimum(steps + moved, n_steps - 1).tolist(),
                    "neuron": neurons.tolist(),
                },
            },
        },
        "regressions": [],
    }
