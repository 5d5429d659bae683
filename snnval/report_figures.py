"""The nightly report's figures: matplotlib PNGs (Agg backend through ``Figure``, no pyplot global state).

Each ``_fig_*`` returns an :class:`Img` whose alt text states the figure's numbers, so the page reads the
same without images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from snnval.atomic import atomic_path
from snnval.report_history import STATUS_TEXT as _STATUS_TEXT
from snnval.report_history import _pct
from snnval.report_schema import STATUSES

_STATUS_COLOUR = {"pass": "#1a7f37", "fail": "#cf222e", "not_applicable": "#8c959f", "error": "#9a6700"}


@dataclass(frozen=True)
class Img:
    src: str  # relative to the report directory
    alt: str


def ladder_order(variants: list[dict]) -> list[dict]:
    """Single mistakes worst first, then the cumulative ladder rungs (names "ladder k: ...") in the
    producer's order, the faithful port last: it reads as 'how far each shortcut falls' and then
    'how a broken port climbs back, one fix at a time'."""
    faithful = [v for v in variants if v["variant"] == "faithful"]
    rungs = [v for v in variants if v["variant"].startswith("ladder ")]
    singles = sorted((v for v in variants if v not in faithful and v not in rungs), key=lambda v: v["accuracy"])
    return singles + rungs + faithful


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


def render_figures(data: dict, trend: list[dict], img_dir: Path) -> dict[str, Any]:
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
            "ladder": _fig_ladder(ladder_order(data["port_variants"]), img_dir) if data["port_variants"] else None,
            "voltage": None,
            "raster": None,
            "trends": _fig_trends(trend, colours, img_dir) if len(trend) >= 2 else None,
        }
        if sample is not None and sample["voltage_mV"]:
            images["voltage"] = _fig_voltage(sample, colours, img_dir)
        if sample is not None and sample["raster"]:
            images["raster"] = _fig_raster(sample, img_dir)
    return images


def _fig_accuracy(acc: list[dict], colours: dict[str, str], img_dir: Path) -> Img:
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
    return Img("img/accuracy.png", alt)


def _fig_confusion(acc: dict, index: int, img_dir: Path) -> Img:
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
    return Img(f"img/{name}", alt)


def _fig_ladder(ladder: list[dict], img_dir: Path) -> Img:
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
    return Img("img/port_variants.png", alt)


def _fig_voltage(sample: dict, colours: dict[str, str], img_dir: Path) -> Img:
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
    return Img("img/sample_voltage.png", alt)


def _fig_raster(sample: dict, img_dir: Path) -> Img:
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
    return Img("img/sample_raster.png", alt)


def _pairs_in(steps: np.ndarray, neurons: np.ndarray, ref_steps: np.ndarray, ref_neurons: np.ndarray) -> np.ndarray:
    width = int(max(neurons.max(initial=0), ref_neurons.max(initial=0))) + 1
    return np.isin(steps * width + neurons, ref_steps * width + ref_neurons)


def _fig_trends(trend: list[dict], colours: dict[str, str], img_dir: Path) -> Img:
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
    return Img("img/trends.png", alt)
