"""The nightly history: one compact JSON line per published night, trends and regressions against it.

The history file is append-only: it is never rewritten, and a malformed line is an error naming the file
and line (found before a night's runs start, :func:`load_history`), because silently skipping it would hide
the nights it describes from the trend chart and from regression detection.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snnval.errors import SnnvalError
from snnval.report_schema import STATUSES, validate_results

HISTORY_RECORD_VERSION = 1
STATUS_TEXT = {"pass": "PASS", "fail": "FAIL", "not_applicable": "N/A", "error": "ERROR"}


class HistoryError(SnnvalError, ValueError):
    """The history file has a malformed line; the message names the file and the 1-based line number."""


def _pct(value: float | None, digits: int = 1) -> str:
    return "\u2014" if value is None else f"{100 * value:.{digits}f} %"


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
            found.append(f"{s} on {m} vs {r}: passed on {since}, {STATUS_TEXT[now]} now" + (f" ({why})" if why else ""))

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


def previous_record(history: list[dict], results: Mapping[str, Any]) -> dict | None:
    """Latest history record of an earlier night of the same tier.

    Same date is excluded so that re-rendering tonight's results compares with last night, not with
    itself; other tiers are excluded because a quick run covers fewer cells with fewer trials.
    """
    candidates = [r for r in history if r["date"] < results["date"] and r["quick"] == results["quick"]]
    return candidates[-1] if candidates else None


def append_history(path: Path, record: dict) -> None:
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
