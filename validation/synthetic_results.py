"""SYNTHETIC renderer test input for the nightly report: a complete, made-up results dict. NOT SIMULATOR OUTPUT.

Used by tests/test_report.py and validation/test_report_browser.py. It lives with the tests, not in the
library, so nothing in snnval can publish made-up numbers.
"""

from __future__ import annotations

import numpy as np

from snnval.report_schema import SCHEMA_VERSION


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
        accuracy.append(
            {
                "runner": runner,
                "simulator": sims[runner][0],
                "profile": sims[runner][1],
                **acc.as_accuracy_fields(),
                "confusion": confusion_matrix(pred, labels).tolist(),
                "realtime_factor": round(float(rng.uniform(0.5, 30.0)), 2),
            }
        )
    names = list(preds)
    agreement = [
        {
            "a": a,
            "b": b,
            "agreement": prediction_agreement(preds[a], preds[b]).value,
            "mcnemar": mcnemar_exact(preds[a] == labels, preds[b] == labels).as_dict(),
        }
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    accuracy_not_run = [
        {
            "runner": "spinnaker (nest-glif-psc)",
            "simulator": "spinnaker",
            "profile": "nest-glif-psc",
            "status": "not_applicable",
            "reason": "no SpiNNaker board",
        }
    ]

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
        "command": "validation.synthetic_results - synthetic renderer test input, not simulator output",
        "simulators": [
            {"name": "tf", "available": True, "version": "2.21.0", "reason": ""},
            {"name": "nest", "available": True, "version": "3.10.0", "reason": ""},
            {"name": "brian2", "available": True, "version": "2.9.0", "reason": ""},
            {"name": "neuron", "available": True, "version": "9.0.2", "reason": ""},
            {"name": "spinnaker", "available": False, "version": None, "reason": "no SpiNNaker board"},
        ],
        "scenarios": scenarios,
        "accuracy": accuracy,
        "accuracy_not_run": accuracy_not_run,
        "agreement": agreement,
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
