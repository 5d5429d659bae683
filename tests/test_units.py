"""Property-based tests of :mod:`snnval.units`.

Tolerances. Every conversion is one correctly rounded IEEE-754 float64 multiply or divide (relative error
<= u = 2**-53, half an ulp). A round trip is two such operations, so its relative error is bounded by
(1+u)**2 - 1 ~ 2u = eps (2**-52): we allow ``RTOL_PAIR = 2 * eps`` (~ 2 ulp of the result), which is tight
enough that any extra or missing factor (1000, vsc, 10) fails by many orders of magnitude. The background
round trip has four roundings (``/vsc, *10, /10, *vsc``): ``RTOL_BKG = 4 * eps``. The voltage round trip
includes a subtraction and an addition, whose error is relative to the operands' magnitude, not to the
result: see ``test_voltage_round_trip``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from snnval import units
from snnval.errors import NotApplicable, SpecError
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses

pytestmark = pytest.mark.quick

EPS = np.finfo(np.float64).eps  # 2**-52 = 2 u
RTOL_PAIR = 2 * EPS
RTOL_BKG = 4 * EPS

# Magnitudes are kept in [1e-12, 1e9] (or exactly 0) so that no intermediate result is subnormal or
# overflows: outside the normal range float64 loses relative precision and the bounds above stop holding.
# Physical values (fA .. uA, uV .. V) sit well inside.
magnitudes = st.floats(min_value=1e-12, max_value=1e9, allow_nan=False, allow_infinity=False)
values = st.one_of(st.just(0.0), st.builds(lambda m, s: s * m, magnitudes, st.sampled_from([-1.0, 1.0])))
# vsc = V_th - E_L: a few uV to a volt (V1 cells: ~20-40 mV).
vscs = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


def arrays_of(elements, shape):
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def value_and_vsc_arrays(draw):
    """A values array and a vsc array of the same (possibly 0-d or empty) shape."""
    shape = draw(shapes)
    return draw(arrays_of(values, shape)), draw(arrays_of(vscs, shape))


def assert_rel(actual, expected, rtol):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    # rtol relative to |expected|; exact zeros must stay exact zeros (atol = 0).
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0.0)


# --- pico <-> nano -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "up"),
    [(units.pA_to_nA, units.nA_to_pA), (units.pF_to_nF, units.nF_to_pF), (units.nS_to_uS, units.uS_to_nS)],
)
@given(x=shapes.flatmap(lambda s: arrays_of(values, s)))
def test_pico_nano_round_trip(down, up, x):
    y = down(x)
    assert y.shape == x.shape
    # one division by exactly 1000: identical to numpy's own x / 1000 (not x * 1e-3, which rounds twice).
    np.testing.assert_array_equal(y, x / 1000.0)
    assert_rel(up(y), x, RTOL_PAIR)
    assert_rel(down(up(x)), x, RTOL_PAIR)


@given(w_pA=shapes.flatmap(lambda s: arrays_of(values, s)))
def test_weight_nA_is_pA_over_1000(w_pA):
    np.testing.assert_array_equal(units.pA_to_nA(w_pA), w_pA / 1000.0)


def test_pico_nano_known_values():
    assert units.pA_to_nA(1500.0) == 1.5
    assert units.nA_to_pA(0.25) == 250.0
    assert units.pF_to_nF(60.0) == 0.06
    assert units.nS_to_uS(5.0) == 0.005


# --- TF normalisation ----------------------------------------------------------------------------------------


@given(value_and_vsc_arrays())
def test_weight_tf_round_trip(wv):
    w_pA, vsc = wv
    w_tf = units.weight_pA_to_tf(w_pA, vsc)
    assert w_tf.shape == w_pA.shape
    assert_rel(units.weight_tf_to_pA(w_tf, vsc), w_pA, RTOL_PAIR)


@given(value_and_vsc_arrays())
def test_weight_pA_is_tf_times_vsc_post(wv):
    w_tf, vsc = wv
    # The defining identity of GLIF3_SEMANTICS.md section 1, bit for bit (one multiply).
    np.testing.assert_array_equal(units.weight_tf_to_pA(w_tf, vsc), w_tf * vsc)
    np.testing.assert_array_equal(units.weight_tf_to_nA(w_tf, vsc), (w_tf * vsc) / 1000.0)


@given(w_tf=st.floats(1e-6, 1e3), vsc=vscs)
def test_seed_port_wrong_conversion_is_off_by_vsc_times_1000(w_tf, vsc):
    """The seed port divided TF weights by 1000 (as if they were pA) instead of multiplying by vsc_post."""
    wrong_pA = w_tf / 1000.0
    right_pA = units.weight_tf_to_pA(w_tf, vsc)
    # three roundings (w/1000, w*vsc, the ratio): 3u < 2 eps.
    assert right_pA / wrong_pA == pytest.approx(vsc * 1000.0, rel=RTOL_PAIR, abs=0)


@given(value_and_vsc_arrays())
def test_asc_tf_round_trip(av):
    asc_pA, vsc = av
    asc_tf = units.asc_pA_to_tf(asc_pA, vsc)
    np.testing.assert_array_equal(asc_tf, asc_pA / vsc)
    assert_rel(units.asc_tf_to_pA(asc_tf, vsc), asc_pA, RTOL_PAIR)


@given(value_and_vsc_arrays())
def test_bkg_round_trip_and_factor_10(bv):
    bkg_pA, vsc = bv
    stored = units.bkg_pA_to_tf(bkg_pA, vsc)
    # TF: rest_of_brain_weights = bkg / voltage_scale * 10 (same operation order, so bit-identical).
    np.testing.assert_array_equal(stored, bkg_pA / vsc * 10.0)
    assert_rel(units.bkg_tf_to_pA(stored, vsc), bkg_pA, RTOL_BKG)
    # One background count moves the PSC by stored / 10 = the plain normalised weight.
    assert_rel(stored / 10.0, units.weight_pA_to_tf(bkg_pA, vsc), RTOL_BKG)


@st.composite
def voltages(draw):
    shape = draw(shapes)
    # mV: membrane potentials and E_L within +-200 mV (and not below 1e-12 mV in magnitude unless 0, to keep
    # every intermediate normal), vsc from 1 uV up.
    mv = st.one_of(st.just(0.0), st.builds(lambda m, s: s * m, st.floats(1e-12, 200.0), st.sampled_from([-1.0, 1.0])))
    v = draw(arrays_of(mv, shape))
    e_l = draw(arrays_of(mv, shape))
    vsc = draw(arrays_of(vscs, shape))
    return v, e_l, vsc


@given(voltages())
def test_voltage_round_trip(vev):
    V, E_L, vsc = vev
    v_norm = units.voltage_mV_to_normalised(V, E_L, vsc)
    assert v_norm.shape == V.shape
    back = units.normalised_to_mV(v_norm, E_L, vsc)
    # (V - E_L)/vsc*vsc + E_L: four roundings. The subtraction, division and multiplication each add at most
    # u |V - E_L| <= u (|V| + |E_L|); the final addition at most u |result| ~ u |V|. First order:
    # |back - V| <= 4u (|V| + |E_L|). We allow 6u = 3 eps to cover second-order terms. Relative to V itself
    # no bound exists (V ~ 0 with E_L = -70 mV leaves an absolute error of ~1e-14 mV), hence this form.
    tol = 3 * EPS * (np.abs(V) + np.abs(E_L))
    assert np.all(np.abs(back - V) <= tol)


def test_voltage_normalisation_landmarks():
    E_L, V_th = -70.0, -50.0
    vsc = V_th - E_L
    assert units.voltage_mV_to_normalised(E_L, E_L, vsc) == 0.0
    assert units.voltage_mV_to_normalised(V_th, E_L, vsc) == 1.0
    assert units.normalised_to_mV(1.0, E_L, vsc) == V_th


@given(value_and_vsc_arrays())
def test_shapes_preserved_and_broadcast(wv):
    w, vsc = wv
    for f in (units.weight_pA_to_tf, units.weight_tf_to_pA, units.asc_pA_to_tf, units.bkg_pA_to_tf):
        assert np.shape(f(w, vsc)) == np.shape(w)
    # a per-synapse weight matrix against a per-postsynaptic-column vsc broadcasts like numpy
    m = np.ones((3, 4))
    assert units.weight_pA_to_tf(m, np.arange(1.0, 5.0)).shape == (3, 4)


@pytest.mark.parametrize("bad", [0.0, -0.0, -20.0, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "f",
    [
        units.weight_pA_to_tf,
        units.weight_tf_to_pA,
        units.weight_tf_to_nA,
        units.asc_pA_to_tf,
        units.asc_tf_to_pA,
        units.bkg_pA_to_tf,
        units.bkg_tf_to_pA,
    ],
)
def test_bad_vsc_raises_clear_error(f, bad):
    vsc = np.array([20.0, bad, 30.0])
    with pytest.raises(SpecError, match="vsc") as info:
        f(np.ones(3), vsc)
    assert "element 1" in str(info.value)  # says which one
    assert "V_th - E_L" in str(info.value)  # and what vsc is


@pytest.mark.parametrize("f", [units.voltage_mV_to_normalised, units.normalised_to_mV])
def test_bad_vsc_raises_for_voltages(f):
    with pytest.raises(SpecError, match="vsc_mV"):
        f(-60.0, -70.0, 0.0)
    with pytest.raises(SpecError, match="vsc_mV"):
        f(-60.0, -70.0, -5.0)


# --- spec helpers and parameter tables -----------------------------------------------------------------------


def _cells(n_receptors: int = 4, asc_r=None) -> GLIF3Cells:
    return GLIF3Cells(
        V_th_mV=np.array([-40.88, -37.58]),
        E_L_mV=np.array([-76.17, -73.30]),
        V_reset_mV=np.array([-76.17, -73.30]),
        g_nS=np.array([3.938, 6.846]),
        C_m_pF=np.array([68.14, 52.35]),
        t_ref_ms=np.array([2.4, 3.2]),
        asc_decay_per_ms=np.array([[0.003, 0.1], [0.003, 0.1]]),
        asc_amps_pA=np.array([[-13.0, -200.0], [-10.17, -119.5]]),
        tau_syn_ms=np.tile([5.5, 8.5, 2.8, 5.8][:n_receptors], (2, 1)) if n_receptors <= 4 else np.full((2, 5), 3.0),
        asc_r=asc_r,
        names=("318808427", "480124551"),
    )


def test_vsc_of_neurons_uses_node_type():
    cells = _cells()
    spec = NetworkSpec("u", cells, np.array([1, 0, 1]), Synapses.empty())
    vsc = units.vsc_of_neurons_mV(spec)
    np.testing.assert_array_equal(vsc, cells.vsc_mV[[1, 0, 1]])
    np.testing.assert_array_equal(units.vsc_of_neurons_mV(spec, [2, 1]), cells.vsc_mV[[1, 0]])


def test_vsc_of_neurons_refuses_threshold_below_rest():
    cells = dataclasses.replace(_cells(), V_th_mV=np.array([-80.0, -37.58]), V_reset_mV=np.array([-90.0, -73.3]))
    spec = NetworkSpec("u", cells, np.array([0, 1]), Synapses.empty())
    with pytest.raises(SpecError, match="vsc"):
        units.vsc_of_neurons_mV(spec)


def test_cells_to_pynn_units():
    c = _cells()
    p = units.cells_to_pynn(c)
    assert set(p) == set(units.PYNN_GLIF3_UNITS)
    np.testing.assert_array_equal(p["cm"], c.C_m_pF / 1000.0)  # pF -> nF
    np.testing.assert_array_equal(p["g"], c.g_nS / 1000.0)  # nS -> uS
    np.testing.assert_array_equal(p["asc_amps"], c.asc_amps_pA / 1000.0)  # pA -> nA
    np.testing.assert_array_equal(p["v_thresh"], c.V_th_mV)  # mV unchanged
    np.testing.assert_array_equal(p["v_rest"], c.E_L_mV)
    np.testing.assert_array_equal(p["v_reset"], c.V_reset_mV)
    np.testing.assert_array_equal(p["tau_refrac"], c.t_ref_ms)
    np.testing.assert_array_equal(p["tau_syn"], c.tau_syn_ms)
    np.testing.assert_array_equal(p["asc_decay"], c.asc_decay_per_ms)
    np.testing.assert_array_equal(p["asc_r"], np.ones((2, 2)))
    # tau_m is the same in both systems (pF/nS = nF/uS = ms)
    assert_rel(p["tau_m"], p["cm"] / p["g"], RTOL_PAIR * 2)
    np.testing.assert_array_equal(p["tau_m"], c.tau_m_ms)
    # returned arrays are copies: editing them must not edit the spec
    p["v_thresh"][0] = 0.0
    assert c.V_th_mV[0] == -40.88


def test_cells_to_spinnaker_glif3_units():
    c = _cells()
    s = units.cells_to_spinnaker_glif3(c, i_offset_pA=[100.0, -50.0])
    assert set(s) == set(units.SPINNAKER_GLIF3_UNITS)
    np.testing.assert_array_equal(s["c_m"], c.C_m_pF / 1000.0)
    np.testing.assert_array_equal(s["g"], c.g_nS / 1000.0)
    np.testing.assert_array_equal(s["asc_amp_0"], c.asc_amps_pA[:, 0] / 1000.0)
    np.testing.assert_array_equal(s["asc_amp_1"], c.asc_amps_pA[:, 1] / 1000.0)
    np.testing.assert_array_equal(s["k0"], c.asc_decay_per_ms[:, 0])
    np.testing.assert_array_equal(s["k1"], c.asc_decay_per_ms[:, 1])
    np.testing.assert_array_equal(s["e_l"], c.E_L_mV)
    np.testing.assert_array_equal(s["v_thresh"], c.V_th_mV)
    np.testing.assert_array_equal(s["t_ref"], c.t_ref_ms)
    np.testing.assert_array_equal(s["i_offset"], [0.1, -0.05])
    for r in range(4):
        np.testing.assert_array_equal(s[f"tau_syn_{r}"], c.tau_syn_ms[:, r])
    assert all(v.shape == (2,) for v in s.values())


def test_cells_to_spinnaker_refuses_what_it_cannot_express():
    with pytest.raises(NotApplicable, match="4 receptors"):
        units.cells_to_spinnaker_glif3(_cells(n_receptors=2))
    with pytest.raises(NotApplicable, match="asc_r"):
        units.cells_to_spinnaker_glif3(_cells(asc_r=np.array([[1.0, 1.0], [0.5, 1.0]])))
    # a non-GLIF3 node type's placeholder asc_r is not its business
    c = dataclasses.replace(_cells(asc_r=np.array([[1.0, 1.0], [0.5, 1.0]])), models=("glif3", "iaf_psc_alpha"))
    assert units.cells_to_spinnaker_glif3(c)["c_m"].shape == (2,)


@settings(max_examples=50)
@given(st.lists(st.tuples(st.floats(1.0, 500.0), st.floats(0.5, 50.0)), min_size=1, max_size=6))
def test_spinnaker_and_pynn_tables_agree(cg):
    """Both PyNN-unit tables are the same numbers under different names."""
    n = len(cg)
    c = dataclasses.replace(
        _cells(),
        V_th_mV=np.full(n, -50.0),
        E_L_mV=np.full(n, -70.0),
        V_reset_mV=np.full(n, -70.0),
        C_m_pF=np.array([x for x, _ in cg]),
        g_nS=np.array([y for _, y in cg]),
        t_ref_ms=np.full(n, 2.0),
        asc_decay_per_ms=np.full((n, 2), 0.1),
        asc_amps_pA=np.full((n, 2), -10.0),
        tau_syn_ms=np.full((n, 4), 5.0),
        names=(),
    )
    p, s = units.cells_to_pynn(c), units.cells_to_spinnaker_glif3(c)
    np.testing.assert_array_equal(p["cm"], s["c_m"])
    np.testing.assert_array_equal(p["g"], s["g"])
    np.testing.assert_array_equal(p["asc_amps"][:, 0], s["asc_amp_0"])
