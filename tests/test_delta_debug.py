"""Delta debugging isolates an injected mistake, and two interacting ones, on the 220-neuron network (real NEST).

B is A stored in float32 (every parameter and weight rounded: 50+ differing groups, none of which changes a
spike on its own) plus the injected mistake(s). Runs go to the runner's persistent NEST worker: ~0.1 s each.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from snnval.delta_debug import (
    ddmin,
    delta_debug,
    divergence_on,
    hybrid,
    network_changes,
    scenario_runner,
)
from snnval.errors import SpecError
from snnval.scenarios import get_scenario

pytestmark = pytest.mark.quick

SCENARIO = "glif3_network"
PV1 = 3  # node type index of PV1_478958894 in the scenario
RORB = 1


@pytest.fixture(scope="module")
def net():
    pytest.importorskip("nest", reason="delta debugging runs the network on the NEST adapter")
    a = get_scenario(SCENARIO).build_spec().validated()
    return a, scenario_runner(a, SCENARIO), divergence_on("spikes")


def _float32(spec):
    """The network as a port that stores float32 would hold it."""
    c, s, i = spec.cells, spec.synapses, spec.inputs
    f32 = {
        f: np.asarray(getattr(c, f), np.float32).astype(float)
        for f in ("V_th_mV", "E_L_mV", "V_reset_mV", "g_nS", "C_m_pF", "t_ref_ms", "asc_decay_per_ms", "asc_amps_pA")
    }
    return replace(
        spec,
        cells=replace(c, **f32),
        synapses=replace(s, weight_pA=s.weight_pA.astype(np.float32).astype(float)),
        inputs=replace(i, weight_pA=i.weight_pA.astype(np.float32).astype(float)),
    )


def _cell(spec, name, t, fn):
    v = np.array(getattr(spec.cells, name), copy=True)
    v[t] = fn(v[t])
    return replace(spec, cells=replace(spec.cells, **{name: v}))


def test_ddmin_on_a_known_function():
    calls = []

    def test(s):
        calls.append(s)
        return {3, 11} <= set(s)

    assert sorted(ddmin(tuple(range(16)), test)) == [3, 11]
    assert len(set(calls)) <= 22  # distinct subsets: what a cached run costs (Zeller's bound is O(n^2))
    calls.clear()

    def one_culprit(s):
        calls.append(s)
        return 40 in s

    assert ddmin(tuple(range(64)), one_culprit) == (40,)
    assert len(calls) <= 2 * 6  # one culprit: two tests per halving, log2(64) halvings
    assert ddmin(tuple(range(8)), lambda s: 5 in s) == (5,)


def test_hybrid_with_every_change_is_b_and_with_none_is_a(net):
    a, _, _ = net
    b = _cell(_float32(a), "C_m_pF", RORB, lambda x: x * 1.1)
    changes = network_changes(a, b)
    assert len(changes) > 50
    assert hybrid(a, b, changes).validated().content_hash() == b.validated().content_hash()
    assert hybrid(a, b, ()).validated().content_hash() == a.content_hash()


def test_float32_storage_alone_changes_no_spike(net):
    """The premise of the two tests below: the 60+ rounding changes are harmless on the spike tier."""
    a, run, first = net
    ra, rb = run(a), run(_float32(a))
    assert ra.n_spikes > 500  # the network is active: 'no divergence' is not a silent-run artefact
    assert first(ra, rb) is None


def test_one_parameter_mistake_in_one_node_type_found_in_a_few_dozen_runs(net):
    a, run, first = net
    b = _cell(_float32(a), "C_m_pF", RORB, lambda x: x * 1.1)  # C_m of Rorb 10 % off
    report = delta_debug(a, b, run, first, scenario=SCENARIO, sim="nest")
    assert report.target is not None
    assert report.n_changes > 50
    assert report.minimal == ["cells/Rorb_480124551/C_m_pF"]
    assert report.one_minimal
    assert report.n_runs <= 36, report.summary()  # a few dozen, not one per change (63) nor thousands
    json.dumps(report.to_dict())  # serialisable for --json


def test_two_interacting_mistakes_found_together(net):
    """V_th of PV1 0.01 mV low and g of PV1 0.1 % low: each lowers PV1's rheobase (V_th - E_L) * g a little;
    alone neither changes a spike in 1 s, together they add one (NEST 3.10, checked here, not assumed)."""
    a, run, first = net
    x = ("V_th_mV", lambda v: v - 0.01)
    y = ("g_nS", lambda g: g * 0.999)
    ra = run(a)
    alone = [first(ra, run(_cell(a, name, PV1, fn))) for name, fn in (x, y)]
    both = first(ra, run(_cell(_cell(a, *x[:1], PV1, x[1]), y[0], PV1, y[1])))
    assert alone == [None, None] and both is not None, "the interaction premise no longer holds on this NEST"
    b = _cell(_cell(_float32(a), x[0], PV1, x[1]), y[0], PV1, y[1])
    report = delta_debug(a, b, run, first, scenario=SCENARIO, sim="nest")
    assert sorted(report.minimal) == ["cells/PV1_478958894/V_th_mV", "cells/PV1_478958894/g_nS"]
    assert report.one_minimal  # dropping either one loses the divergence
    assert report.target["step"] == both.step and report.target["neuron"] == both.neuron
    assert report.n_runs <= 60, report.summary()


def test_synapse_group_refined_to_the_neuron(net):
    """A weight mistake on the LGN synapses onto one neuron is narrowed from the group to that neuron."""
    a, run, first = net
    b = _float32(a)
    i = b.inputs
    lgn_onto_17 = (i.post == 17) & (i.pre < a.source_names.index("bkg"))
    assert lgn_onto_17.sum() > 3
    b = replace(b, inputs=replace(i, weight_pA=np.where(lgn_onto_17, i.weight_pA * 3, i.weight_pA)))
    report = delta_debug(a, b, run, first, scenario=SCENARIO, sim="nest")
    kind = a.cells.names[a.node_type[17]]
    assert report.minimal == [f"input/lgn/e_to_e/weight_pA onto neuron 17 ({kind})"], report.summary()
    assert report.minimal_sizes == [int(lgn_onto_17.sum())]
    assert "refine by target neuron" in report.runs_per_stage


def test_no_divergence_and_unmatchable_models(net):
    a, run, first = net
    report = delta_debug(a, _float32(a), run, first)
    assert report.target is None and report.minimal == [] and report.n_runs == 2
    other = replace(a, node_type=np.roll(a.node_type, 1))
    with pytest.raises(SpecError, match="node_type"):
        network_changes(a, other)


def test_cli_delta_debug(net, tmp_path, capsys):
    from snnval.cli import main
    from snnval.loaders.model_h5 import save_model

    a, _, _ = net
    pa = save_model(tmp_path / "a.h5", a)
    pb = save_model(tmp_path / "b.h5", _cell(_float32(a), "C_m_pF", RORB, lambda x: x * 1.1))
    assert main(["delta-debug", str(pa), str(pb), "--scenario", SCENARIO, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [m["change"] for m in out["minimal"]] == ["cells/Rorb_480124551/C_m_pF"]
    assert main(["delta-debug", str(pa), str(pa), "--scenario", SCENARIO]) == 0
    assert "nothing to isolate" in capsys.readouterr().out


# --- two simulators (or two mappings) on one network --------------------------------------------------------

#: NEST with the TF delay rounding (half to even) against NEST's own (half up): they part only through
#: synapses whose delay is an odd multiple of half a step where the two rules disagree (2.5 ms, 4.5 ms at dt 1).
TF_ROUNDING = {"delay_rounding": "tf_clip_half_even"}


def test_two_mappings_groups(net):
    from snnval.delta_debug import delta_debug_simulators
    from snnval.semantics import profile

    a, _, _ = net
    cand = profile("nest-glif-psc").with_knobs(**TF_ROUNDING)
    report = delta_debug_simulators(a, SCENARIO, ("nest", "nest-glif-psc"), ("nest", cand), tier="traces", refine=False)
    assert report.target is not None and report.one_minimal
    # the recurrent E->E synapses carry the divergence; the inputs make their presynaptic neurons spike
    assert "recurrent/e_to_e/synapses kept" in report.minimal
    assert all(m.startswith(("recurrent/e_to_e", "input/")) for m in report.minimal), report.summary()
    assert report.n_runs <= 80, report.summary()


@pytest.mark.nightly
def test_two_mappings_refined_to_the_synapse_whose_delay_rounds_differently(net):
    """~45 s: the refinement runs both mappings ~70 times."""
    from snnval.delta_debug import delta_debug_simulators
    from snnval.semantics import profile

    a, _, _ = net
    cand = profile("nest-glif-psc").with_knobs(**TF_ROUNDING)
    report = delta_debug_simulators(a, SCENARIO, ("nest", "nest-glif-psc"), ("nest", cand), tier="traces")
    recurrent = [m for m in report.minimal if m.startswith("recurrent/")]
    assert len(recurrent) == 1, report.summary()
    post = int(recurrent[0].split("onto neuron ")[1].split()[0])
    pre = int(recurrent[0].split("from neuron ")[1].split()[0])
    assert post == report.target["neuron"]
    s = a.synapses
    delays = s.delay_ms[(s.pre == pre) & (s.post == post)]
    assert set(delays.tolist()) <= {2.5, 4.5}, delays  # half-up and half-to-even disagree exactly there
    # everything else kept only drives the presynaptic neuron
    assert all(f"onto neuron {pre} " in m for m in report.minimal if m.startswith("input/"))


def test_cli_delta_debug_sims(net, capsys):
    from snnval.cli import main

    args = ["delta-debug-sims", SCENARIO, "--candidate-knob", "delay_rounding=tf_clip_half_even", "--no-refine"]
    assert main([*args, "--tier", "traces", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["target_first_divergence"] is not None and out["minimal"]
    assert main(["delta-debug-sims", SCENARIO, "--no-refine"]) == 0  # the same mapping twice: nothing parts
    assert main(["delta-debug-sims", SCENARIO, "--candidate-knob", "delay_rounding"]) == 2
