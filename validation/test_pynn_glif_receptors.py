"""What a PyNN (pyNN.nest) port of the GLIF3 network runs into, checked on real PyNN + NEST.

Symptoms documented here (PyNN 0.13 / NEST 3.10; each assertion fails if the behaviour changes):

1. ``native_cell_type("glif_psc")`` used as-is raises NEST ``BadProperty`` when the population is created:
   PyNN sets every default it read from NEST, including the state variables ``ASCurrents`` (as a parameter)
   and ``threshold_spike``/``threshold_voltage`` (as initial values). With a GLIF3 set NEST rejects the
   threshold component first; with a GLIF1 set (no after-spike currents) it rejects ``ASCurrents`` first.
2. Workaround: a subclass without ``ASCurrents`` and with only ``V_m`` as initial value; GLIF3 then runs.
3. glif_psc exposes no ``receptor_types``, so PyNN assumes "excitatory"/"inhibitory", passes no
   ``receptor_type`` to ``nest.Connect`` and NEST gets port 0, which glif_psc refuses (its ports are
   1..len(tau_syn)): the Projection raises ``ConnectionError`` at construction, nothing is connected;
   receptor names "1".."4" are rejected by PyNN itself. Plain NEST on ports 1..4 gives four different PSPs.
4. Units: PyNN weights are nA (NEST weight = 1000 * w pA); shown with a subclass that names the ports.
5. ``setup(min_delay='auto')`` delivers SpikeSourceArray inputs late (here 2 steps); ``min_delay = dt`` does not.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnval.allen_cells import allen_cells

pytestmark = [pytest.mark.sim("pynn"), pytest.mark.quick]

try:
    import nest
    import pyNN.errors
    import pyNN.nest as pynn
except Exception as exc:  # any import failure means PyNN/NEST is not usable here
    pytest.skip(f"pyNN.nest cannot be imported: {exc!r}", allow_module_level=True)

DT = 0.1
#: Allen cell 318808427 as a NEST glif_psc (GLIF3) status dict, from the project's one copy of the cell data.
GLIF3 = allen_cells(["318808427"]).nest_params(0)
#: The same cell as GLIF1 (no after-spike currents).
GLIF1 = {**GLIF3, "asc_init": [], "asc_decay": [], "asc_amps": [], "asc_r": [], "after_spike_currents": False}


@pytest.fixture
def pynn_sim():
    """PyNN setup/end per test. min_delay is fixed: with 'auto', PyNN shifts SpikeSourceArray spikes here."""
    pynn.setup(timestep=DT, min_delay=1.0)
    yield pynn
    pynn.end()
    nest.ResetKernel()  # leave a clean kernel for tests that share this process


def _workaround_type():
    """glif_psc without the state variable ``ASCurrents`` and with only ``V_m`` as initial value."""
    base = pynn.native_cell_type("glif_psc")

    class GlifPsc(base):
        default_parameters = {k: v for k, v in base.default_parameters.items() if k != "ASCurrents"}
        default_initial_values = {"V_m": GLIF3["E_L"]}

    return GlifPsc


def _port_named_type():
    """The workaround plus receptor names "1".."4" mapped to NEST ports (PyNN then passes receptor_type)."""

    class GlifPscPorts(_workaround_type()):
        receptor_types = ["1", "2", "3", "4"]
        standard_receptor_type = False

        def get_receptor_type(self, name):
            return int(name)

    return GlifPscPorts


def _one_spike_projection(sim, celltype, weight_na, receptor_type):
    post = sim.Population(1, celltype(**GLIF3))
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[10.0]))
    syn = sim.StaticSynapse(weight=weight_na, delay=1.0)
    return post, src, lambda: sim.Projection(src, post, sim.AllToAllConnector(), syn, receptor_type=receptor_type)


def _vm(pop):
    return np.asarray(pop.get_data().segments[0].filter(name="V_m")[0]).ravel()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (GLIF3, "Threshold spike component is not supported"),
        (GLIF1, "After spike currents are not supported"),
    ],
    ids=["GLIF3", "GLIF1"],
)
def test_native_glif_psc_as_is_is_rejected(pynn_sim, params, message):
    celltype = pynn_sim.native_cell_type("glif_psc")
    assert "ASCurrents" in celltype.default_parameters
    assert {"threshold_spike", "threshold_voltage"} <= set(celltype.default_initial_values)
    with pytest.raises(nest.NESTErrors.BadProperty, match=message):
        pynn_sim.Population(1, celltype(**params))


def test_workaround_glif3_runs_and_spikes(pynn_sim):
    pop = pynn_sim.Population(1, _workaround_type()(**GLIF3))
    rheobase_na = GLIF3["g"] * (GLIF3["V_th"] - GLIF3["E_L"]) / 1000.0
    pynn_sim.DCSource(amplitude=2.0 * rheobase_na, start=20.0, stop=220.0).inject_into(pop)
    pop.record(["V_m", "spikes"])
    pynn_sim.run(250.0)
    v = _vm(pop)
    n_spikes = len(pop.get_data().segments[0].spiketrains[0])
    assert v[0] == pytest.approx(GLIF3["E_L"])
    assert v.max() > GLIF3["E_L"] + 10.0
    assert n_spikes >= 3
    assert pop.get("after_spike_currents") and not pop.get("adapting_threshold")


@pytest.mark.parametrize("receptor_type", ["excitatory", "inhibitory"])
def test_receptor_port_0_is_refused_at_projection(pynn_sim, receptor_type):
    celltype = _workaround_type()
    assert celltype.receptor_types == ["excitatory", "inhibitory"] and celltype.standard_receptor_type
    weight = 0.1 if receptor_type == "excitatory" else -0.1  # PyNN wants negative inhibitory current weights
    post, _, connect = _one_spike_projection(pynn_sim, celltype, weight, receptor_type)
    with pytest.raises(pyNN.errors.ConnectionError, match="Receptor type 0 in glif_psc does not accept SpikeEvent"):
        connect()
    assert len(nest.GetConnections(target=post.node_collection)) == 0


@pytest.mark.parametrize("receptor_type", ["1", "2", "3", "4"])
def test_receptor_port_names_are_refused_by_pynn(pynn_sim, receptor_type):
    _, _, connect = _one_spike_projection(pynn_sim, _workaround_type(), 0.1, receptor_type)
    with pytest.raises(pyNN.errors.ConnectionError, match="must be one of: 'excitatory', 'inhibitory'"):
        connect()


def test_port_named_pynn_matches_plain_nest_with_weights_in_na(pynn_sim):
    """Each port k: PyNN weight w nA == plain NEST weight 1000*w pA on port k (identical V); ports differ."""
    w_na = 0.25
    peaks = []
    for port in (1, 2, 3, 4):
        pynn_sim.setup(timestep=DT, min_delay=1.0)
        post, src, connect = _one_spike_projection(pynn_sim, _port_named_type(), w_na, str(port))
        connect()
        conn = nest.GetConnections(target=post.node_collection).get(["receptor", "weight"])
        assert conn == {"receptor": port, "weight": pytest.approx(1000.0 * w_na)}

        ref = nest.Create("glif_psc", params={**GLIF3, "V_m": GLIF3["E_L"]})
        gen = nest.Create("spike_generator", params={"spike_times": [10.0]})
        nest.Connect(gen, ref, syn_spec={"weight": 1000.0 * w_na, "delay": 1.0, "receptor_type": port})
        meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": DT})
        nest.Connect(meter, ref)
        src.record("spikes")
        post.record("V_m")
        pynn_sim.run(60.0)

        assert list(src.get_data().segments[0].spiketrains[0].magnitude) == [10.0]
        v_pynn = _vm(post)[1:]  # PyNN's trace starts at t=0, the multimeter's at t=dt
        v_nest = meter.events["V_m"]
        assert len(v_nest) >= 590
        np.testing.assert_allclose(v_pynn[: len(v_nest)], v_nest, rtol=0, atol=1e-9)
        peaks.append(v_nest.max() - GLIF3["E_L"])
    assert min(peaks) > 1.0
    assert len({round(p, 6) for p in peaks}) == 4  # tau_syn differs per port: the port matters


@pytest.mark.parametrize(("min_delay", "late_steps"), [("auto", 2), (DT, 0)])
def test_min_delay_auto_delivers_spike_source_array_inputs_late(min_delay, late_steps):
    """Why adapters/pynn.py sets min_delay = dt: with 'auto', PyNN shifts SpikeSourceArray times back by the
    kernel's min_delay at creation (dt) but relays them with the min_delay the kernel settles on (the
    smallest delay, 0.3 ms here), so the input reaches V (0.3 - 0.1) ms = 2 steps late."""
    s, d = 4, 3  # event in step s, delay d steps: NEST's own spike_generator moves V in step s+d+1
    pynn.setup(timestep=DT, min_delay=min_delay, spike_precision="on_grid")
    try:
        post = pynn.Population(1, pynn.IF_curr_exp())
        src = pynn.Population(1, pynn.SpikeSourceArray(spike_times=[(s + 1) * DT]))
        pynn.Projection(src, post, pynn.AllToAllConnector(), pynn.StaticSynapse(weight=0.5, delay=d * DT))
        post.record("v")
        pynn.run(3.0)
        v = _vm_named(post, "v")
    finally:
        pynn.end()
        nest.ResetKernel()
    first_moved_step = int(np.flatnonzero(np.abs(v - v[0]) > 1e-12)[0]) - 1  # sample k+1 = end of step k
    assert first_moved_step == s + d + 1 + late_steps


def _vm_named(pop, name):
    return np.asarray(pop.get_data().segments[0].filter(name=name)[0]).ravel()
