"""The LIF pair table (snnval/lif_pairs.py) and the PyNN backends' knob values, on the real simulators.

Quick tier: bisect names the new knobs for pyNN.brian2 and pyNN.neuron against NEST on lif_single_neuron,
and the Brian2 adapter under each backend's profile reproduces that backend spike for spike (and V to the
same-semantics tolerance), on lif_single_neuron and on a small network with synaptic input. Nightly: the
whole table, in which no pair may be unexplained.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from lif_networks import lif_network, lif_stimulus, with_native_params

from snnval.acceptance import SAME_SEMANTICS_TOLERANCES, SOLVER_V_TOLERANCE
from snnval.adapters import get_adapter
from snnval.bisect import bisect_knobs
from snnval.compare import compare
from snnval.contract import RunConfig
from snnval.errors import NotApplicable
from snnval.lif_pairs import (
    PREDICTED_DIFFERENCES,
    RunCache,
    lif_adapters,
    lif_scenarios,
    own_profile,
    pair_verdict,
    pairs_table,
)
from snnval.semantics import (
    PROFILES,
    profile,
    refractory_half_step_ties,
    refractory_steps,
    refractory_steps_brian2,
    refractory_steps_nearest,
)

pytestmark = [pytest.mark.sim("pynn"), pytest.mark.sim("brian2"), pytest.mark.sim("nest")]


def _require(*sims: str) -> None:
    for sim in sims:
        avail = get_adapter(sim).availability()
        if not avail.available:
            pytest.skip(f"adapter '{sim}' is not available here: {avail.reason}")


@pytest.fixture(scope="module")
def runs() -> RunCache:
    return RunCache()


# --- no simulator run needed ------------------------------------------------------------------------------


def test_lif_scenarios_and_adapters_come_from_the_registries():
    assert set(lif_scenarios()) == {
        "lif_single_neuron", "lif_discrete_single", "delta_network", "ei_cuba", "ei_coba", "ping",
        "lif_delta_one_step_ref",
    }  # fmt: skip
    names = lif_adapters()
    assert {"tf", "nest", "brian2", "pynn-nest", "pynn-neuron", "pynn-brian2", "snntorch", "brainpy"} <= set(names)
    assert "bmtk-dpointnet" not in names  # GLIF3 only


def test_new_profiles_differ_from_nest_by_exactly_their_named_knobs():
    nest = PROFILES["nest-glif-psc"]
    assert nest.differing_knobs(PROFILES["pynn-brian2"]) == {
        "refractory": ("clamp", "clamp_from_spike_step"),
        "psc_to_v": ("exact_alpha", "brian2_exact_or_euler"),
    }
    assert nest.differing_knobs(PROFILES["pynn-neuron"]) == {
        "reset": ("hard_same_step", "hard_next_step"),
        "refractory": ("clamp", "clamp_nearest"),
        "psc_to_v": ("exact_alpha", "implicit_euler"),
    }


@pytest.mark.parametrize(
    ("t_ref_ms", "dt_ms", "nest", "brian2", "nearest", "half_tie"),
    [
        (2.0, 0.1, 20, 20, 20, False),  # 2.0/0.1 = 20.000000000000004 in float: every rule gives 20
        (2.5, 0.1, 25, 25, 25, False),
        (2.5, 1.0, 3, 2, 3, True),  # NEURON rounds this half either way (measured), hence refused there
        (2.3, 1.0, 3, 2, 2, False),
        (2.7, 1.0, 3, 2, 3, False),
        (2.15, 0.25, 9, 8, 9, False),  # 8.6 steps
        (2.05, 0.1, 21, 20, 21, True),  # 20.5 steps
    ],
)
def test_refractory_step_counts_of_each_rule(t_ref_ms, dt_ms, nest, brian2, nearest, half_tie):
    """NEST counts ceil(t_ref/dt), Brian2 floor(t_ref/dt + 1e-3) from the spike step, NEURON's event delivery
    round(t_ref/dt) (semantics.LIF_KNOB_VALUES["refractory"])."""
    assert int(refractory_steps(t_ref_ms, dt_ms)) == nest
    assert int(refractory_steps_brian2(t_ref_ms, dt_ms)) == brian2
    assert int(refractory_steps_nearest(t_ref_ms, dt_ms)) == nearest
    assert bool(refractory_half_step_ties(t_ref_ms, dt_ms)) == half_tie


def test_brian2_runs_the_backend_profiles_only_where_it_implements_them():
    """The Brian2 adapter's LIF models iaf_psc_exp and iaf_cond_exp run the pynn-* profiles; iaf_psc_alpha runs
    NEST's and pyNN.brian2's step, not pyNN.neuron's, so it is not applicable there (fail closed, per model)."""
    _require("brian2")
    brian2 = get_adapter("brian2")
    exp_cond = lif_network(("exp", "cond"))
    stim = lif_stimulus(exp_cond, 1.0)
    alpha = lif_network(("alpha",))
    for prof in ("pynn-brian2", "pynn-neuron"):
        brian2.check(exp_cond, stim, RunConfig(semantics=profile(prof)))
    brian2.check(alpha, lif_stimulus(alpha, 1.0), RunConfig(semantics=profile("pynn-brian2")))
    with pytest.raises(NotApplicable, match="for iaf_psc_alpha"):
        brian2.check(alpha, lif_stimulus(alpha, 1.0), RunConfig(semantics=profile("pynn-neuron")))


def test_each_backend_runs_as_its_own_profile():
    _require("nest", "pynn-brian2", "pynn-neuron")
    assert own_profile("pynn-brian2", "lif_single_neuron", 0.1) == ("pynn-brian2", "")
    assert own_profile("pynn-neuron", "lif_single_neuron", 0.1) == ("pynn-neuron", "")
    assert own_profile("nest", "lif_single_neuron", 0.1) == ("nest-glif-psc", "")
    assert own_profile("nest", "delta_network", 1.0) == ("nest-psc-delta", "")
    prof, why = own_profile("pynn-brian2", "ei_cuba", 0.1)  # Poisson counts > 1 per step: no weightless spikes
    assert prof == "" and "amplitudes other than 1" in why


# --- bisect names the knob of each backend ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "verdict"),
    [
        ("pynn-brian2", "knob(s): refractory=clamp_from_spike_step (bisect via brian2)"),
        ("pynn-neuron", "knob(s): psc_to_v=implicit_euler (bisect via brian2)"),
    ],
)
def test_bisect_names_the_backends_knob_against_nest(runs, backend, verdict):
    _require("nest", "brian2", backend)
    v = pair_verdict("lif_single_neuron", 0.1, ("nest", "nest-glif-psc"), (backend, backend), runs)
    assert v.spikes_a >= 20 and v.mismatched > 0  # a real discrepancy, not a trivial pass
    assert v.verdict == verdict
    report = v.details["bisect"]
    assert report["explained"] and report["residual_passed"]
    assert report["ladder"][-1]["spikes_mismatched_to_candidate"] == 0


@pytest.mark.parametrize("backend", ["pynn-brian2", "pynn-neuron"])
def test_brian2_in_the_backends_profile_reproduces_it(runs, backend):
    """lif_single_neuron at dt 0.1: identical spikes and V within the same-semantics tolerance; under NEST's
    profile the same Brian2 model does not (the knobs are what separates them)."""
    _require("brian2", backend)
    got = runs("lif_single_neuron", backend, backend, 0.1)
    ref = runs("lif_single_neuron", "brian2", backend, 0.1)
    tol = {"V_m": SAME_SEMANTICS_TOLERANCES["V_m"]}
    cmp = compare(ref, got, tolerances=tol, match_window_steps=0)
    assert got.n_spikes >= 20 and cmp.passed, cmp.summary()
    nest_rules = compare(runs("lif_single_neuron", "brian2", "nest-glif-psc", 0.1), got, match_window_steps=0)
    assert not nest_rules.spikes.passed


def _assert_brian2_reproduces(backend: str, spec, dt_ms: float, min_spikes: int):
    """Run ``spec`` on the backend and on Brian2 in the backend's profile; identical spikes and V within the
    same-semantics tolerance. Returns (stimulus, the backend's run)."""
    stim = lif_stimulus(spec, dt_ms)
    config = RunConfig(semantics=profile(backend), record=("V_m",))
    got = get_adapter(backend).run(spec, stim, config)
    ref = get_adapter("brian2").run(spec, stim, config)
    assert got.n_spikes >= min_spikes
    cmp = compare(ref, got, tolerances={"V_m": SAME_SEMANTICS_TOLERANCES["V_m"]}, match_window_steps=0)
    assert cmp.passed, cmp.summary()
    return stim, got


@pytest.mark.parametrize(
    ("backend", "cells"), [("pynn-brian2", ("exp", "alpha", "cond")), ("pynn-neuron", ("exp", "cond"))]
)
def test_brian2_in_the_backends_profile_reproduces_a_network_with_synaptic_input(backend, cells):
    """Exponential-current, alpha-current (pyNN.brian2 only) and conductance cells with recurrent synapses and
    input events: pyNN.neuron's implicit Euler step and pyNN.brian2's forward Euler conductance step act on the
    synaptic state at the start of the step, as NEST's exact step does, so Brian2 in the backend's profile
    matches it spike for spike and V to the same-semantics tolerance (measured 1.5e-12 mV on pyNN.brian2 with
    the alpha cells, 118 spikes)."""
    _require("brian2", backend)
    _assert_brian2_reproduces(backend, lif_network(cells), 0.1, min_spikes=50)


@pytest.mark.parametrize("backend", ["pynn-brian2", "pynn-neuron"])
def test_brian2_reproduces_the_backends_refractory_rounding_where_t_ref_is_off_the_grid(backend):
    """t_ref 2.3 ms at dt 1 ms: NEST holds V for 3 steps, pyNN.neuron for round(2.3) = 2, pyNN.brian2 for
    floor(2.3) - 1 = 1 counted from the spike step. Brian2 in the backend's profile reproduces it spike for
    spike; with NEST's clamp in its place it does not (the rounding is what the knob value names)."""
    _require("brian2", backend)
    spec = with_native_params(lif_network(("exp", "cond")), t_ref=2.3)
    stim, got = _assert_brian2_reproduces(backend, spec, 1.0, min_spikes=100)
    nest_clamp = RunConfig(semantics=replace(profile(backend), refractory="clamp"), record=("V_m",))
    assert not compare(get_adapter("brian2").run(spec, stim, nest_clamp), got, match_window_steps=0).spikes.passed


def test_backends_refuse_what_they_cannot_run_on_the_grid():
    """pyNN.neuron rounds a t_ref of k + 1/2 steps either way by spike; pyNN.brian2 bins SpikeSourceArray times
    on Brian2's default 0.1 ms clock, so input events at a dt that is not a multiple of it arrive off the grid.
    Both are refused with the reason (measured: 2.5 ms at dt 1 held 2 or 3 steps; at dt 0.25 an event of an odd
    step acted one step early)."""
    _require("pynn-neuron", "pynn-brian2")
    half = with_native_params(lif_network(("exp",)), t_ref=2.5)
    with pytest.raises(NotApplicable, match="odd number of half steps"):
        get_adapter("pynn-neuron").check(half, lif_stimulus(half, 1.0), RunConfig(semantics=profile("pynn-neuron")))
    get_adapter("pynn-neuron").check(half, lif_stimulus(half, 0.1), RunConfig(semantics=profile("pynn-neuron")))
    spec = lif_network(("exp",))
    with pytest.raises(NotApplicable, match="default clock"):
        get_adapter("pynn-brian2").check(spec, lif_stimulus(spec, 0.25), RunConfig(semantics=profile("pynn-brian2")))
    get_adapter("pynn-brian2").check(spec, lif_stimulus(spec, 0.2), RunConfig(semantics=profile("pynn-brian2")))


def test_pynn_brian2_alpha_inhibitory_psc_decays_with_tau_syn_E():
    """pyNN.brian2's IF_curr_alpha ignores tau_syn_I (its inhibitory alpha kernel is written with tau_syn_e,
    PyNN 0.13 pyNN/brian2/standardmodels/receptors.py lines 47-48): the alpha network with tau_syn_in 2.5 ms
    and with tau_syn_in = tau_syn_ex = 1 ms gives the same spikes and V on pyNN.brian2, while on NEST (which
    honours tau_syn_in) they differ. The knob value psc_to_v=brian2_exact_or_euler carries this rule."""
    _require("nest", "pynn-brian2")
    given, equal = (
        with_native_params(lif_network(("alpha",)), tau_syn_in=2.5),
        with_native_params(lif_network(("alpha",)), tau_syn_in=1.0),
    )
    assert given.cells.native_params[0]["tau_syn_ex"] == 1.0
    stim = lif_stimulus(given, 0.1)
    b2 = RunConfig(semantics=profile("pynn-brian2"), record=("V_m",))
    got = [get_adapter("pynn-brian2").run(s, stim, b2) for s in (given, equal)]
    assert got[0].n_spikes >= 50 and np.array_equal(got[0].state["V_m"], got[1].state["V_m"])
    assert compare(got[0], got[1], match_window_steps=0).spikes.passed
    nest = [get_adapter("nest").run(s, stim, RunConfig(record=("V_m",))) for s in (given, equal)]
    assert not compare(nest[0], nest[1], match_window_steps=0).spikes.passed


def test_bisect_names_the_alpha_rule_of_pynn_brian2():
    """NEST vs pyNN.brian2 on the 30 alpha cells (dt 0.1 ms): the first divergence (measured: step 13, neuron 2)
    is named by psc_to_v=brian2_exact_or_euler, and the ladder psc_to_v, then
    refractory=clamp_from_spike_step brings Brian2 to 0 mismatched spikes (measured 129 -> 73 -> 0)."""
    _require("nest", "brian2", "pynn-brian2")
    spec = lif_network(("alpha",))
    stim = lif_stimulus(spec, 0.1)

    def run(sim, sem):
        return get_adapter(sim).run(spec, stim, RunConfig(semantics=sem))

    r = bisect_knobs(
        "lif_network(alpha)", "nest", "nest-glif-psc", "pynn-brian2", "pynn-brian2", 0.1,
        knob_reference="brian2", run=run, models=spec.neuron_models,
    )  # fmt: skip
    assert r.first_divergence is not None and r.spikes_mismatched > 0
    named = {k.knob: k.explains_first_divergence for k in r.single_flips}
    assert named == {"psc_to_v": True, "refractory": False}
    assert [k for k, _ in r.ladder] == ["(reference profile)", "psc_to_v", "refractory"]
    assert r.ladder[-1][1] == 0 and r.ladder[0][1] > r.ladder[1][1] > 0
    assert r.residual.passed and r.explained


def test_cond_exp_rkf45_and_rk4_differ_below_the_tolerance():
    """The predicted difference of iaf_cond_exp: NEST (GSL RKF45) and Brian2 (RK4, 20 sub-steps) are different
    integrators (V not bit-identical) whose difference stays below NEST's own solver bound (the same-semantics
    V tolerance of networks with iaf_cond_exp, acceptance.SOLVER_V_TOLERANCE) over 200 ms of a spiking network,
    so their spikes agree (measured here 1.7e-9 mV; on the 800-neuron ei_coba 7.9e-6 mV)."""
    _require("nest", "brian2")
    spec = lif_network(("cond",))
    stim = lif_stimulus(spec, 0.1)
    config = RunConfig(record=("V_m",))
    nest, b2 = (get_adapter(s).run(spec, stim, config) for s in ("nest", "brian2"))
    d = np.abs(nest.state["V_m"] - b2.state["V_m"]).max()
    assert 1e-13 < d < SOLVER_V_TOLERANCE.atol
    assert nest.n_spikes >= 50 and compare(nest, b2, match_window_steps=0).spikes.passed


def test_predicted_differences_name_their_test():
    for p in PREDICTED_DIFFERENCES:
        path, _, name = p.test.partition("::")
        assert name and f"def {name}(" in open(path, encoding="utf-8").read()


# --- the whole table (nightly) -------------------------------------------------------------------------------


@pytest.mark.nightly
def test_every_lif_pair_passes_or_is_explained():
    table = pairs_table()
    assert len(table.verdicts) >= 30
    bad = [v for v in table.verdicts if v.verdict.startswith(("unexplained", "error"))]
    assert not bad, "\n".join(f"{v.scenario} dt {v.dt_ms}: {v.sim_a} vs {v.sim_b}: {v.verdict}" for v in bad)
    assert sum(v.verdict == "pass" for v in table.verdicts) >= 10
    assert any(v.verdict.startswith("knob(s)") for v in table.verdicts)


def test_cli_pairs_prints_the_verdicts(capsys):
    """``snnval pairs`` for two adapters on one scenario: a row per dt with its verdict, exit 0 (nothing
    unexplained); the knob verdicts themselves are checked above (cheaper: one dt, cached runs)."""
    _require("nest", "brian2")
    from snnval.cli import main

    code = main(["pairs", "--scenario", "lif_single_neuron", "--sim", "nest", "--sim", "brian2", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| lif_single_neuron")]
    assert len(rows) == 2 and all(r.endswith("| 64 / 64 | pass |") or r.endswith("| 69 / 69 | pass |") for r in rows)
    assert main(["pairs", "--scenario", "no_such_scenario"]) == 2
