"""The nightly report's HTML: the Jinja2 template environment, the view model the template shows, and the
page's self-check (every image has alt text and points at a file of the report).
"""

from __future__ import annotations

import html.parser
from pathlib import Path

from snnval.errors import SnnvalError
from snnval.report_figures import ladder_order as _ladder_order
from snnval.report_history import STATUS_TEXT as _STATUS_TEXT
from snnval.report_history import _pct
from snnval.report_schema import STATUSES

#: Where the Jinja2 template and CSS live in a source checkout. ``reports/`` is not package data, so an
#: installed (non-editable) snnval must pass ``template_dir`` explicitly.
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "reports" / "template"

_STATUS_SYMBOL = {"pass": "\u2713", "fail": "\u2717", "not_applicable": "\u2013", "error": "!"}


def template_env(template_dir: Path):
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


def _num(value: float | None, fmt: str = ".3g") -> str:
    return "\u2014" if value is None else format(value, fmt)


# ----------------------------------------------------------------------------------------- view model


def view_model(data: dict, previous: dict | None, history_path: Path, n_trend_prior: int) -> dict:
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
        "status_text": _STATUS_TEXT,
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
    lines += _device_precision_lines(c)
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


def _device_precision_lines(c: dict) -> list[str]:
    """The device a cell's candidate ran on, and a float32 cell's flips, their reach and the accuracy move."""
    lines = []
    if c.get("device"):
        lines.append(f"device {c['device']}" + (f", {c['dtype']}" if c.get("dtype", "float64") != "float64" else ""))
    p = c.get("precision")
    if p is not None:
        lines.append(
            f"{p['dtype']}: {p['n_precision_flips']} precision flip(s), {p['n_real_differences']} real difference(s)"
        )
        if p["n_precision_flips"] or p["n_real_differences"]:
            end = " (to the end of the run)" if p["reaches_end"] else ""
            lines.append(f"longest reach {p['max_reach_steps']} steps = {_num(p['max_reach_ms'], 'g')} ms{end}")
            lines.append(
                f"spike mismatches: {p['spikes_mismatched_exact']} exact, {p['spikes_mismatched_tolerant']} tolerant"
            )
        moved = p.get("accuracy_moved")
        lines.append("task accuracy: " + ("not measured" if moved is None else ("moved" if moved else "did not move")))
    return lines


# ---------------------------------------------------------------------------------------- self-check


class _ImgCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.imgs.append(dict(attrs))


def check_page(page: str, out_dir: Path) -> None:
    """Refuse to publish a page with an image lacking alt text or pointing at a file that does not exist."""
    parser = _ImgCollector()
    parser.feed(page)
    for img in parser.imgs:
        src, alt = img.get("src") or "", (img.get("alt") or "").strip()
        if not alt:
            raise SnnvalError(f"report bug: <img src={src!r}> has no alt text")
        if "://" in src or src.startswith("/") or not (out_dir / src).is_file():
            raise SnnvalError(f"report bug: <img src={src!r}> does not point at a file under {out_dir}")
