"""The external-process adapter (SONATA files in and out) and its first client, bmtk pointnet."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from snnval.acceptance import SAME_SEMANTICS_TOLERANCES
from snnval.adapters import get_adapter
from snnval.adapters.external_process import BmtkPointnetAdapter, ExternalProcessAdapter
from snnval.compare import compare
from snnval.contract import RunConfig
from snnval.errors import AdapterFailure, NotApplicable
from snnval.loaders.sonata import load_sonata
from snnval.runner import run_adapter
from snnval.scenarios import SCENARIOS
from snnval.semantics import profile
from snnval.sonata_write import write_simulation
from snnval.stimulus import CurrentSteps, FrozenStimulus

BMTK = BmtkPointnetAdapter()
if not BMTK.availability().available:
    pytest.skip(f"bmtk not available: {BMTK.availability().reason}", allow_module_level=True)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_bmtk_pointnet_equals_the_nest_adapter(scenario):
    """Every registered scenario, at its finest dt: same spikes, same recorded traces (bit for bit measured)."""
    sc = SCENARIOS[scenario]
    dt = min(sc.dts_ms)
    spec, stim = sc.build(dt)
    config = RunConfig(record=sc.record, record_neurons=np.arange(min(spec.n_neurons, 40)))
    for sim in ("bmtk", "nest"):  # e.g. the discrete LIF rule runs on neither: say so, do not pass silently
        try:
            get_adapter(sim).check(spec.validated(), stim, config)
        except NotApplicable as exc:
            if scenario in ("single_neuron_step", "synaptic_events", "glif3_network"):
                raise  # the GLIF3 scenarios are what bmtk pointnet must reproduce
            pytest.skip(f"{scenario}: {sim} is not applicable: {exc}")
    ours = run_adapter("bmtk", spec, stim, config)
    nest = run_adapter("nest", spec, stim, config)
    tol = {k: v for k, v in SAME_SEMANTICS_TOLERANCES.items() if k in sc.record}
    cmp = compare(nest, ours, tolerances=tol)
    assert cmp.passed, cmp.summary()
    assert ours.n_spikes == nest.n_spikes >= sc.min_spikes
    assert np.ptp(ours.state["V_m"]) > 1.0  # the traces move
    assert "bmtk" in ours.provenance["simulator_version"] and "NEST" in ours.provenance["simulator_version"]


def test_written_network_reads_back(tmp_path):
    """The SONATA files the adapter writes load back (snnval.loaders.sonata) to the same synapses and cells."""
    sc = SCENARIOS["glif3_network"]
    spec, stim = sc.build(0.1)
    spec = spec.validated()
    write_simulation(tmp_path, spec, stim, profile("nest-glif-psc"))
    back = load_sonata(tmp_path / "config.json").spec
    assert back.n_neurons == spec.n_neurons and back.n_sources == spec.n_sources
    for a, b in ((spec.synapses, back.synapses), (spec.inputs, back.inputs)):
        key_a = np.lexsort((a.receptor, a.post, a.pre))
        key_b = np.lexsort((b.receptor, b.post, b.pre))
        for f in ("pre", "post", "receptor", "weight_pA"):
            np.testing.assert_array_equal(getattr(a, f)[key_a], getattr(b, f)[key_b])
        # delays are written as whole steps (the suite's rounding), in ms
        np.testing.assert_allclose(b.delay_ms[key_b], np.floor(a.delay_ms[key_a] / 0.1 + 0.5) * 0.1, atol=1e-12)
    np.testing.assert_array_equal(back.cells.V_th_mV[back.node_type], spec.cells.V_th_mV[spec.node_type])


def test_what_sonata_cannot_carry_is_not_applicable():
    sc = SCENARIOS["synaptic_events"]
    spec, stim = sc.build(0.1)
    ev = stim.events
    real = FrozenStimulus(stim.dt_ms, stim.n_steps, events=type(ev)(ev.trial, ev.step, ev.source, ev.amplitude * 1.3))
    with pytest.raises(NotApplicable, match="integer"):
        BMTK.run(spec, real, RunConfig(record=("V_m",)))
    at_zero = FrozenStimulus(
        stim.dt_ms,
        stim.n_steps,
        currents=CurrentSteps(np.zeros(1, int), np.zeros(1, int), np.zeros(1, int), np.ones(1)),
    )
    with pytest.raises(NotApplicable, match="step 0"):
        BMTK.run(spec, at_zero, RunConfig(record=("V_m",)))


class _Command(ExternalProcessAdapter):
    """The protocol's exit status and timeout handling, with real processes (no simulator involved)."""

    name = "protocol-check"
    package = "numpy"

    def _import(self) -> None:
        pass


@pytest.mark.parametrize(
    "code, timeout, error, match",
    [
        ("import sys; sys.stderr.write('no GLIF3 here'); sys.exit(3)", 60, NotApplicable, "no GLIF3 here"),
        ("import sys; sys.stderr.write('boom'); sys.exit(1)", 60, AdapterFailure, "exited with 1"),
        ("import time; time.sleep(30)", 1, AdapterFailure, "no result within"),
        ("pass", 60, AdapterFailure, "wrote no"),
    ],
)
def test_protocol_exit_codes_and_timeout(code, timeout, error, match):
    adapter = _Command()
    adapter.command = (sys.executable, "-c", code, "{config}")
    adapter.timeout_s = timeout
    spec, stim = SCENARIOS["synaptic_events"].build(1.0)
    with pytest.raises(error, match=match):
        adapter.run(spec, stim, RunConfig(record=()))


def test_registered_and_gpu_clients_documented():
    assert isinstance(get_adapter("bmtk"), BmtkPointnetAdapter)
    caps = BMTK.capabilities()
    assert caps.event_amplitudes == "integer" and "glif3" in caps.models


@pytest.mark.parametrize("engine", ["NEST GPU", "GeNN", "brian2cuda"])
def test_gpu_engines(engine):
    """What can be checked without a GPU: the protocol document says how the engine plugs in."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "adapters" / "EXTERNAL_PROCESS.md").read_text()
    assert f"**{engine}**" in doc and "cuda_standalone" in doc
    pytest.skip(
        f"{engine}: needs a CUDA GPU, which these machines do not have; it plugs in as an "
        "ExternalProcessAdapter subclass with its own command (adapters/EXTERNAL_PROCESS.md)"
    )


def test_precise_models_through_the_protocol(tmp_path):
    """NEST's *_ps models with off-grid SONATA inputs: bmtk via files equals the NEST adapter in precise times."""
    import json

    from sonata_networks import build_precise_network, write_lgn_spikes
    from sonata_networks import write_simulation as write_sonata_config

    from snnval.compare import compare_spikes
    from snnval.sonata_sim import load_sonata_simulation

    circuit = build_precise_network(tmp_path)
    (tmp_path / "inputs").mkdir()
    write_lgn_spikes(tmp_path / "inputs" / "lgn_spikes.h5", 200.0)
    cfg = write_sonata_config(tmp_path, circuit, 0.1, 200.0, "out")
    raw = json.loads(cfg.read_text())
    del raw["inputs"]["clamp"]
    cfg.write_text(json.dumps(raw))
    sim = load_sonata_simulation(cfg)
    nest = run_adapter("nest", sim.spec, sim.stimulus, RunConfig(record=()))
    ours = run_adapter("bmtk", sim.spec, sim.stimulus, RunConfig(record=()))
    cmp = compare_spikes(nest, ours)
    assert ours.spike_offset_ms is not None and nest.n_spikes > 100
    assert cmp.passed and cmp.n_time_compared == nest.n_spikes, cmp.summary_line()
