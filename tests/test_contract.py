"""The adapter contract: capabilities fail closed, one recordables table, a registry every grid derives from."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from snnval.acceptance import golden_runs, same_semantics_pairs
from snnval.adapters import adapter_names, adapter_profiles, get_adapter
from snnval.contract import RECORDABLES, Capabilities, RunConfig
from snnval.errors import NotApplicable
from snnval.scenarios import get_scenario
from snnval.semantics import KNOB_VALUES, profile
from snnval.stimulus import Events, FrozenStimulus

pytestmark = pytest.mark.quick

NEST_KNOBS = {
    "reset": ("hard_same_step",),
    "refractory": ("clamp",),
    "asc": ("nest_exact",),
    "psc_to_v": ("exact_alpha",),
    "delay_rounding": KNOB_VALUES["delay_rounding"],
    "initial_v": KNOB_VALUES["initial_v"],
    "input_delay": ("edge",),
    "delay_offset_steps": ("any",),
    "input_timing": ("end_of_arrival_step",),  # a LIF knob (semantics.LIF_KNOB_VALUES): declared like every knob
}


def _spec_and_stimulus():
    return get_scenario("synaptic_events").build(1.0)


def test_adapters_are_installed_under_snnval_only():
    # another PyPI distribution owns the top-level name "adapters": snnval must not install it
    # (run outside the source tree, which pytest puts on sys.path)
    code = "import importlib.util, sys; sys.path.remove(''); print(importlib.util.find_spec('adapters'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "None"
    assert importlib.util.find_spec("snnval.adapters.nest_glif") is not None


def test_undeclared_knob_is_not_applicable():
    spec, stim = _spec_and_stimulus()
    caps = Capabilities(knobs={k: v for k, v in NEST_KNOBS.items() if k != "asc"})
    with pytest.raises(NotApplicable, match="knob asc is not declared"):
        caps.check(spec, RunConfig(semantics=profile("nest-glif-psc")), stim)
    Capabilities(knobs=NEST_KNOBS).check(spec, RunConfig(semantics=profile("nest-glif-psc")), stim)


def test_unsupported_knob_value_is_not_applicable():
    spec, stim = _spec_and_stimulus()
    with pytest.raises(NotApplicable, match="reset='subtract_next_step'"):
        Capabilities(knobs=NEST_KNOBS).check(spec, RunConfig(semantics=profile("tf-billeh")), stim)


def test_integer_knob_values_must_be_declared():
    spec, stim = _spec_and_stimulus()
    sem = profile("nest-glif-psc").with_knobs(delay_offset_steps=1)
    caps = Capabilities(knobs={**NEST_KNOBS, "delay_offset_steps": (0,)})
    with pytest.raises(NotApplicable, match="delay_offset_steps=1"):
        caps.check(spec, RunConfig(semantics=sem), stim)
    Capabilities(knobs=NEST_KNOBS).check(spec, RunConfig(semantics=sem), stim)


@pytest.mark.parametrize(
    ("kind", "amplitude", "applicable"),
    [
        ("unit", 1.0, True),
        ("unit", 2.0, False),
        ("integer", 3.0, True),
        ("integer", 1.3, False),
        ("real", 1.3, True),
    ],
)
def test_event_amplitudes(kind, amplitude, applicable):
    spec, stim = _spec_and_stimulus()
    events = Events(stim.events.trial, stim.events.step, stim.events.source, np.full(len(stim.events), amplitude))
    stim = FrozenStimulus(stim.dt_ms, stim.n_steps, 1, events=events)
    caps = Capabilities(knobs=NEST_KNOBS, event_amplitudes=kind)
    if applicable:
        caps.check(spec, RunConfig(), stim)
    else:
        with pytest.raises(NotApplicable, match="amplitudes"):
            caps.check(spec, RunConfig(), stim)


def test_device_dtype_and_options_fail_closed():
    spec, stim = _spec_and_stimulus()
    caps = Capabilities(knobs=NEST_KNOBS, options={"codegen": ("numpy",)})
    with pytest.raises(NotApplicable, match="device 'cuda'"):
        caps.check(spec, RunConfig(device="cuda"), stim)
    with pytest.raises(NotApplicable, match="dtype float32"):
        caps.check(spec, RunConfig(dtype="float32"), stim)
    with pytest.raises(NotApplicable, match="codegen='cython'"):
        caps.check(spec, RunConfig(options={"codegen": "cython"}), stim)
    with pytest.raises(NotApplicable, match="'threads_per_gpu' is not declared"):
        caps.check(spec, RunConfig(options={"threads_per_gpu": 1}), stim)
    caps.check(spec, RunConfig(options={"codegen": "numpy"}), stim)


def test_recordables_table_is_the_only_vocabulary():
    assert {r.timing for r in RECORDABLES.values()} <= {"end_of_step", "drove_step"}
    with pytest.raises(ValueError, match="RECORDABLES"):
        Capabilities(recordables=("V_m", "g_ex"))


@pytest.mark.parametrize("name", adapter_names())
def test_every_adapter_declares_every_knob(name):
    # fail closed: a knob an adapter leaves out makes every one of its runs "not applicable", so a knob
    # added to snnval.semantics must be declared (with the values it honours) by every adapter
    caps = get_adapter(name).capabilities()
    assert set(caps.knobs) == set(profile("nest-glif-psc").knobs())
    assert set(caps.recordables) <= set(RECORDABLES)


def test_grids_derive_from_the_registry():
    runs = golden_runs()
    assert runs == adapter_profiles()
    assert ("tf", "tf-billeh") in runs and ("nest", "nest-glif-psc") in runs
    # every adapter that declares a profile appears, in registry order, and nothing else
    assert {sim for sim, _ in runs} == {n for n in adapter_names() if get_adapter(n).profiles}
    assert ("nest-glif-psc", "tf", "nest") in same_semantics_pairs()
    assert golden_runs(["nest"]) == [("nest", "nest-glif-psc"), ("nest", "nest-psc-delta")]
    assert ("nest-psc-delta", "tf", "nest") in same_semantics_pairs()


def test_sim_selection_pairs_a_new_adapter_with_every_partner_of_its_profile():
    """``pytest --sim NAME`` (partners=True) compares NAME with every registered adapter of its profile;
    among the selected adapters alone a single adapter has no pair, and TF (the first of nest-glif-psc)
    cannot run iaf_psc_exp, so NAME must also meet NEST."""
    assert same_semantics_pairs(["pynn-nest"]) == []
    pairs = same_semantics_pairs(["pynn-nest"], partners=True)
    assert pairs and all("pynn-nest" in (ref, cand) for _, ref, cand in pairs)
    assert ("nest-glif-psc", "tf", "pynn-nest") in pairs and ("nest-glif-psc", "nest", "pynn-nest") in pairs
    # the reference of a pair is the earlier-registered adapter
    order = adapter_names()
    assert all(order.index(ref) < order.index(cand) for _, ref, cand in pairs)
    # without a selection the pairs are the full-suite ones
    assert same_semantics_pairs(partners=True) == same_semantics_pairs()


def test_a_missing_golden_says_how_to_record_it_for_that_adapter():
    """An adapter new to the registry has golden slots but no stored runs: its golden check fails (never a
    silent pass) and names the command that records that adapter's runs only."""
    from snnval.errors import SpecError
    from snnval.golden_workflow import check_golden_run
    from snnval.scenarios import SCENARIOS

    if "nest-entrypoint" not in adapter_names():
        pytest.fail("snnval-example-plugin is not installed: bootstrap.py installs it into the test environment")
    if not get_adapter("nest-entrypoint").availability().available:
        pytest.skip("NEST is not available here")

    def never_run(*args, **kwargs):
        raise AssertionError("a missing golden must be reported before anything runs")

    with pytest.raises(SpecError) as info:
        check_golden_run(SCENARIOS["single_neuron_step"], "nest-entrypoint", "nest-glif-psc", 1.0, run_fn=never_run)
    assert info.value.field == "results/nest-entrypoint/nest-glif-psc/dt1/float64"
    assert "snnval golden update single_neuron_step --sim nest-entrypoint" in info.value.expected


def test_not_applicable_at_run_names_the_adapter():
    """A compare runs two adapters: the reason a run is refused must say which one refused it."""
    nest = get_adapter("nest")
    if not nest.availability().available:
        pytest.skip(f"NEST is not available here: {nest.availability().reason}")
    spec, stim = get_scenario("single_neuron_step").build(1.0)
    with pytest.raises(NotApplicable, match=r"^nest: knob reset='subtract_next_step' is not supported"):
        nest.run(spec, stim, RunConfig(semantics=profile("tf-billeh")))


def test_entry_point_adapter_runs_the_real_simulator():
    """A third-party distribution (examples/snnval-example-plugin, installed by bootstrap.py) registers
    an adapter through the ``snnval.adapters`` entry-point group; it runs real NEST."""
    eps = {ep.name for ep in importlib.metadata.entry_points(group="snnval.adapters")}
    if "nest-entrypoint" not in eps:
        pytest.fail("snnval-example-plugin is not installed: bootstrap.py installs it into the test environment")
    assert "nest-entrypoint" in adapter_names()
    plugin, nest = get_adapter("nest-entrypoint"), get_adapter("nest")
    if not nest.availability().available:
        pytest.skip(f"NEST is not available here: {nest.availability().reason}")
    assert plugin.name == "nest-entrypoint" and plugin.availability().available
    spec, stim = get_scenario("single_neuron_step").build(1.0)
    config = RunConfig(record=("V_m",))
    a, b = plugin.run(spec, stim, config), nest.run(spec, stim, config)
    assert a.n_spikes >= 10 and a.provenance["simulator"] == "nest-entrypoint"
    np.testing.assert_array_equal(a.spike_step, b.spike_step)
    np.testing.assert_array_equal(a.state["V_m"], b.state["V_m"])


def test_model_knobs_narrow_a_knob_for_one_model():
    """A value declared in ``knobs`` but narrowed away for a model in the spec is not applicable."""
    spec, stim = _spec_and_stimulus()  # glif3 cells
    wide = {**NEST_KNOBS, "input_timing": ("end_of_arrival_step", "in_arrival_step")}
    sem = profile("nest-glif-psc").with_knobs(input_timing="in_arrival_step")
    Capabilities(knobs=wide).check(spec, RunConfig(semantics=sem), stim)
    narrowed = Capabilities(knobs=wide, model_knobs={"glif3": {"input_timing": ("end_of_arrival_step",)}})
    with pytest.raises(NotApplicable, match="input_timing='in_arrival_step' is not supported for glif3"):
        narrowed.check(spec, RunConfig(semantics=sem), stim)
    narrowed.check(spec, RunConfig(semantics=profile("nest-glif-psc")), stim)
    # a narrowing for a model the spec does not use changes nothing
    other = Capabilities(knobs=wide, model_knobs={"iaf_psc_exp": {"input_timing": ("end_of_arrival_step",)}})
    other.check(spec, RunConfig(semantics=sem), stim)


def test_every_package_is_installed():
    """pyproject's explicit package list names every package of the source tree (else a wheel misses it)."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "snnval").rglob("__init__.py")}
    found.add("snnval.adapters")  # adapters/ is installed under snnval's namespace (package-dir)
    assert found == listed


def test_test_modules_have_unique_names():
    """tests/ and validation/ have no __init__.py, so pytest imports test modules by basename: two files of one
    name make the second an import-file-mismatch error at collection (the quick tier then fails)."""
    from collections import Counter
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    names = Counter(p.name for d in ("tests", "validation") for p in (root / d).glob("*.py"))
    assert names["conftest.py"] <= 1 and len(names) > 10
    assert not [n for n, c in names.items() if c > 1]


def test_per_adapter_marker_selects_one_adapters_checks():
    """``pytest validation -m per_adapter --sim NAME`` (README "Adding an adapter") collects exactly the tests
    that run per selected adapter: NAME's closed-form and golden checks and its same-semantics pairs with every
    adapter of its profile (NEST included), and no unit test."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = ["validation/test_lif_scenarios.py", "validation/test_scenarios.py", "tests/test_units.py"]
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only", "-m", "per_adapter"]
    proc = subprocess.run([*cmd, "--sim", "pynn-nest", *files], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    lif = [i for i in ids if i.startswith("validation/test_lif_scenarios.py")]
    assert lif and all("[pynn-nest-" in i for i in lif)
    pairs = [i for i in ids if "test_same_semantics_reproduces_spike_for_spike" in i]
    assert any("nest-glif-psc-nest-vs-pynn-nest-lif_single_neuron" in i for i in pairs)
    assert all("pynn-nest-" in i for i in pairs)
    assert any("test_against_golden[pynn-nest-nest-glif-psc-" in i for i in ids)
    assert not [i for i in ids if i.startswith("tests/")]
