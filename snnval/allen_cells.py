"""GLIF3 parameter sets of mouse V1 cells (Allen Cell Types Database), NEST glif_psc units.

Units: V_* and E_L mV, g nS, C_m pF, t_ref ms, asc_decay 1/ms, asc_amps pA, tau_syn ms.
Provenance: the first five cells as distributed with BMTK (AllenInstitute/bmtk,
``examples/point_components/cell_models/<id>_glif_lif_asc_psc.json``, commit 7e040d05);
490626718 carries NEST 3.10's built-in glif_psc defaults. ``tau_syn`` holds the four receptors
of the V1 model (E->E, I->E, E->I, I->I); NEST's own default is one receptor of 2.0 ms.
Copied into the project so that nothing reads files outside it at run time.
Note: every set has V_reset == E_L, so the initial-V knob is invisible on them unmodified.
"""

from __future__ import annotations

from snnval.spec import GLIF3Cells

V1_TAU_SYN_MS = (5.5, 8.5, 2.8, 5.8)

ALLEN_GLIF3: dict[str, dict] = {
    "318808427": dict(
        line="Nr5a1",
        cls="excitatory",
        V_th=-40.8824438029048,
        E_L=-76.1691640218099,
        V_reset=-76.1691640218099,
        g=3.93819351064843,
        C_m=68.14035162092856,
        t_ref=2.4000000000000004,
        asc_decay=(0.003, 0.1),
        asc_amps=(-13.00889622, -200.00774016),
    ),
    "480124551": dict(
        line="Rorb",
        cls="excitatory",
        V_th=-37.57837016608795,
        E_L=-73.30062357584633,
        V_reset=-73.30062357584633,
        g=6.846284605100222,
        C_m=52.353697808027725,
        t_ref=3.2,
        asc_decay=(0.003, 0.1),
        asc_amps=(-10.17435274, -119.53883788),
    ),
    "593618144": dict(
        line="Scnn1a",
        cls="excitatory",
        V_th=-46.40370561385434,
        E_L=-69.4755859375,
        V_reset=-69.4755859375,
        g=5.875377136608159,
        C_m=58.60769058316611,
        t_ref=2.6000000000000005,
        asc_decay=(0.1, 0.3),
        asc_amps=(-36.93387266, -65.30848816),
    ),
    "478958894": dict(
        line="PV1",
        cls="inhibitory",
        V_th=-44.23152364988978,
        E_L=-70.45950889587401,
        V_reset=-70.45950889587401,
        g=9.195230009748064,
        C_m=81.21058405283176,
        t_ref=1.5,
        asc_decay=(0.003, 0.3),
        asc_amps=(-4.08182729, -291.97668209),
    ),
    "487667205": dict(
        line="PV2",
        cls="inhibitory",
        V_th=-45.793386052222445,
        E_L=-72.08961296081546,
        V_reset=-72.08961296081546,
        g=7.5964352092785585,
        C_m=64.02349624649017,
        t_ref=1.4,
        asc_decay=(0.003, 0.3),
        asc_amps=(-3.28747057, 63.80635645),
    ),
    "490626718": dict(
        line="unknown",
        cls="unknown",
        V_th=-51.68,
        E_L=-78.85,
        V_reset=-78.85,
        g=9.43,
        C_m=58.72,
        t_ref=3.75,
        asc_decay=(0.003, 0.1),
        asc_amps=(-9.18, -198.94),
    ),
}

EXCITATORY = ("318808427", "480124551", "593618144")
INHIBITORY = ("478958894", "487667205")


def allen_record(cell_id: str, **overrides) -> dict:
    """One cell as a glif_psc-style record (with the V1 tau_syn), optionally modified."""
    rec = {k: v for k, v in ALLEN_GLIF3[cell_id].items() if k not in ("line", "cls")}
    rec["tau_syn"] = V1_TAU_SYN_MS
    rec.update(overrides)
    return rec


def allen_cells(cell_ids: list[str], overrides: list[dict] | None = None, names: list[str] | None = None) -> GLIF3Cells:
    """A GLIF3Cells table from Allen cell ids (one node type each), with optional per-type overrides."""
    overrides = overrides or [{} for _ in cell_ids]
    records = [allen_record(cid, **ov) for cid, ov in zip(cell_ids, overrides, strict=True)]
    return GLIF3Cells.from_records(records, names or [f"{ALLEN_GLIF3[c]['line']}_{c}" for c in cell_ids])
