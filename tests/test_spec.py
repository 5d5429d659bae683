"""NetworkSpec.validated() refuses bad input with a SpecError naming the field; content_hash tracks content.

Tests near the end cover bugs or gaps found in review of ``snnval/spec.py`` and
``snnval/semantics.py``; they failed before the fixes and guard against their return.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from snnval import semantics
from snnval.errors import SpecError
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses

pytestmark = pytest.mark.quick

N_NEURONS, N_SOURCES, N_RECEPTORS = 5, 3, 4


def make_cells() -> GLIF3Cells:
    """Two node types in NEST glif_psc units (values of Allen cells 318808427 and 480124551, rounded)."""
    return GLIF3Cells(
        V_th_mV=np.array([-40.88, -37.58]),
        E_L_mV=np.array([-76.17, -73.30]),
        V_reset_mV=np.array([-76.17, -73.30]),
        g_nS=np.array([3.938, 6.846]),
        C_m_pF=np.array([68.14, 52.35]),
        t_ref_ms=np.array([2.4, 3.2]),
        asc_decay_per_ms=np.array([[0.003, 0.1], [0.003, 0.1]]),
        asc_amps_pA=np.array([[-13.0, -200.0], [-10.17, -119.5]]),
        tau_syn_ms=np.array([[5.5, 8.5, 2.8, 5.8], [5.5, 8.5, 2.8, 5.8]]),
        asc_r=np.array([[1.0, 1.0], [1.0, 1.0]]),
        names=("318808427", "480124551"),
    )


def make_spec() -> NetworkSpec:
    synapses = Synapses(
        pre=np.array([0, 1, 2, 3, 4, 0]),
        post=np.array([1, 2, 3, 4, 0, 4]),
        receptor=np.array([0, 1, 2, 3, 0, 1]),
        weight_pA=np.array([10.0, -20.0, 5.5, -3.0, 1.0, 2.0]),
        delay_ms=np.array([1.0, 1.5, 2.0, 5.0, 3.0, 1.0]),
    )
    inputs = Synapses(
        pre=np.array([0, 1, 2, 2]),
        post=np.array([0, 1, 2, 3]),
        receptor=np.array([0, 0, 2, 2]),
        weight_pA=np.array([30.0, 25.0, 12.0, 12.0]),
        delay_ms=np.array([1.0, 1.0, 1.0, 1.0]),
    )
    return NetworkSpec(
        name="tiny",
        cells=make_cells(),
        node_type=np.array([0, 0, 0, 1, 1]),
        synapses=synapses,
        n_sources=N_SOURCES,
        inputs=inputs,
        source_names=("lgn0", "lgn1", "bkg"),
        populations={"e": np.array([0, 1, 2]), "i": np.array([3, 4])},
    )


def with_cells(spec: NetworkSpec, **changes) -> NetworkSpec:
    return dataclasses.replace(spec, cells=dataclasses.replace(spec.cells, **changes))


def with_syn(spec: NetworkSpec, which: str, **changes) -> NetworkSpec:
    return dataclasses.replace(spec, **{which: dataclasses.replace(getattr(spec, which), **changes)})


def set_element(arr: np.ndarray, index, value) -> np.ndarray:
    out = np.array(arr, copy=True)
    out[index] = value
    return out


def assert_refused(spec: NetworkSpec, field_name: str, source_part: str | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec.validated()
    err = info.value
    assert err.field == field_name, f"expected field {field_name!r}, got {err.field!r}: {err}"
    assert f"'{field_name}'" in str(err)  # the message itself names the field
    if source_part is not None:
        assert source_part in err.source
    return err


def test_valid_spec_passes_and_coerces():
    spec = make_spec()
    v = spec.validated()
    assert v.n_neurons == N_NEURONS and v.n_receptors == N_RECEPTORS
    assert v.node_type.dtype == np.int64 and v.synapses.weight_pA.dtype == np.float64
    # lists are accepted and coerced
    listy = dataclasses.replace(spec, node_type=[0, 0, 0, 1, 1])
    assert listy.validated().node_type.dtype == np.int64


# --- non-finite numbers -------------------------------------------------------------------------------------

CELL_FIELDS = [
    ("V_th_mV", 1),
    ("E_L_mV", 0),
    ("V_reset_mV", 1),
    ("g_nS", 0),
    ("C_m_pF", 1),
    ("t_ref_ms", 0),
    ("asc_decay_per_ms", (1, 0)),
    ("asc_amps_pA", (0, 1)),
    ("tau_syn_ms", (1, 3)),
    ("asc_r", (0, 0)),
]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("name", "index"), CELL_FIELDS)
def test_non_finite_cell_parameter_refused(name, index, bad):
    spec = make_spec()
    spec = with_cells(spec, **{name: set_element(getattr(spec.cells, name), index, bad)})
    err = assert_refused(spec, name, "cells")
    assert "finite" in err.expected


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", ["synapses", "inputs"])
@pytest.mark.parametrize("name", ["weight_pA", "delay_ms"])
def test_non_finite_weight_or_delay_refused(which, name, bad):
    spec = make_spec()
    spec = with_syn(spec, which, **{name: set_element(getattr(getattr(spec, which), name), 2, bad)})
    err = assert_refused(spec, name, which)
    assert "element 2" in err.expected


# --- signs and orderings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0.0, -1.0, -1e-12])
@pytest.mark.parametrize(
    ("name", "index"),
    [("tau_syn_ms", (0, 2)), ("C_m_pF", 1), ("g_nS", 0), ("t_ref_ms", 1), ("asc_decay_per_ms", (1, 1))],
)
def test_non_positive_time_constant_refused(name, index, bad):
    spec = make_spec()
    spec = with_cells(spec, **{name: set_element(getattr(spec.cells, name), index, bad)})
    err = assert_refused(spec, name)
    assert "> 0" in err.expected


@pytest.mark.parametrize("offset", [0.0, 1e-9, 5.0])
def test_v_reset_not_below_threshold_refused(offset):
    spec = make_spec()
    v_th = spec.cells.V_th_mV
    spec = with_cells(spec, V_reset_mV=set_element(spec.cells.V_reset_mV, 1, v_th[1] + offset))
    err = assert_refused(spec, "V_reset_mV")
    assert "node type 1" in err.expected


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_asc_r_outside_unit_interval_refused(bad):
    spec = make_spec()
    assert_refused(with_cells(spec, asc_r=set_element(spec.cells.asc_r, (1, 0), bad)), "asc_r")


# --- index ranges ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["synapses", "inputs"])
@pytest.mark.parametrize("bad", [-1, N_RECEPTORS])
def test_receptor_out_of_range_refused(which, bad):
    spec = make_spec()
    spec = with_syn(spec, which, receptor=set_element(getattr(spec, which).receptor, 0, bad))
    err = assert_refused(spec, "receptor", which)
    assert "0-based" in err.expected


@pytest.mark.parametrize(
    ("which", "name", "bad"),
    [
        ("synapses", "pre", -1),
        ("synapses", "pre", N_NEURONS),
        ("synapses", "post", -1),
        ("synapses", "post", N_NEURONS),
        ("inputs", "pre", -1),
        ("inputs", "pre", N_SOURCES),  # input sources are numbered 0..n_sources-1
        ("inputs", "post", N_NEURONS),
    ],
)
def test_connection_ids_out_of_range_refused(which, name, bad):
    spec = make_spec()
    spec = with_syn(spec, which, **{name: set_element(getattr(getattr(spec, which), name), 1, bad)})
    assert_refused(spec, name, which)


def test_inputs_without_sources_refused():
    assert_refused(dataclasses.replace(make_spec(), n_sources=0, source_names=()), "pre", "inputs")


@pytest.mark.parametrize("bad", [-1, 2])
def test_node_type_out_of_range_refused(bad):
    spec = make_spec()
    assert_refused(dataclasses.replace(spec, node_type=set_element(spec.node_type, 3, bad)), "node_type")


@pytest.mark.parametrize("bad", [-1, N_NEURONS])
def test_population_ids_out_of_range_refused(bad):
    spec = make_spec()
    pops = dict(spec.populations, i=np.array([3, bad]))
    assert_refused(dataclasses.replace(spec, populations=pops), "populations[i]")


def test_empty_node_type_refused():
    assert_refused(dataclasses.replace(make_spec(), node_type=np.zeros(0, np.int64)), "node_type")


# --- lengths and shapes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["synapses", "inputs"])
@pytest.mark.parametrize("name", ["post", "receptor", "weight_pA", "delay_ms"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_mismatched_connection_array_lengths_refused(which, name, delta):
    spec = make_spec()
    arr = getattr(getattr(spec, which), name)
    resized = arr[:-1] if delta < 0 else np.concatenate([arr, arr[:1]])
    err = assert_refused(with_syn(spec, which, **{name: resized}), name, which)
    assert "same as pre" in err.expected


@pytest.mark.parametrize("name", ["E_L_mV", "g_nS", "t_ref_ms", "asc_amps_pA", "tau_syn_ms", "asc_r"])
def test_cell_rows_mismatched_refused(name):
    spec = make_spec()
    arr = getattr(spec.cells, name)
    err = assert_refused(with_cells(spec, **{name: np.concatenate([arr, arr[:1]])}), name)
    assert "one row per node type" in err.expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("asc_amps_pA", np.zeros((2, 3))),
        ("asc_decay_per_ms", np.full((2, 1), 0.1)),
        ("tau_syn_ms", np.array([5.0, 6.0])),
    ],
)
def test_cell_column_shapes_refused(name, value):
    assert_refused(with_cells(make_spec(), **{name: value}), name)


def test_name_tuples_must_match_counts():
    spec = make_spec()
    assert_refused(dataclasses.replace(spec, receptor_names=("a", "b")), "receptor_names")
    assert_refused(dataclasses.replace(spec, source_names=("a",)), "source_names")
    assert_refused(with_cells(spec, names=("only one",)), "names")


# --- delays in steps ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "dt"),
    [(0.0, 1.0), (0.4, 1.0), (-1.0, 1.0), (0.049, 0.1), (0.0, 0.1)],
)
def test_delay_steps_refuses_delays_below_dt(delay, dt):
    """NEST rounds the delay to steps half up, then refuses < 1 step (so d < dt/2 is refused)."""
    prof = semantics.PROFILES["nest-glif-psc"]
    with pytest.raises(SpecError) as info:
        semantics.delay_steps(np.array([1.0, delay]), dt, prof)
    assert info.value.field == "delay_ms"
    assert "'delay_ms'" in str(info.value) and "element 1" in str(info.value)


def test_delay_steps_tf_clips_short_delays_up_to_one_step():
    """The TF reference clips to [dt, 5 ms] first, so short delays become one step rather than an error."""
    prof = semantics.PROFILES["tf-billeh"]
    np.testing.assert_array_equal(semantics.delay_steps(np.array([0.0, 0.2, -3.0]), 1.0, prof), [1, 1, 1])


# delay_steps casts NaN to int64 before refusing it, which numpy reports as a RuntimeWarning (harmless).
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("profile_name", ["nest-glif-psc", "tf-billeh"])
def test_delay_steps_refuses_nan(profile_name):
    with pytest.raises(SpecError, match="delay_ms"):
        semantics.delay_steps(np.array([1.0, np.nan]), 1.0, semantics.PROFILES[profile_name])


def test_delay_steps_scalar_below_dt_raises_spec_error():
    with pytest.raises(SpecError, match="delay_ms"):
        semantics.delay_steps(0.2, 1.0, semantics.PROFILES["nest-glif-psc"])


# --- content hash --------------------------------------------------------------------------------------------------


def _all_arrays(spec: NetworkSpec):
    """(label, getter-of-a-copy-with-array-replaced, array) for every array in the spec."""
    out = []
    for f in dataclasses.fields(GLIF3Cells):
        arr = getattr(spec.cells, f.name)
        if isinstance(arr, np.ndarray):
            out.append((f"cells.{f.name}", lambda s, a, n=f.name: with_cells(s, **{n: a}), arr))
    out.append(("node_type", lambda s, a: dataclasses.replace(s, node_type=a), spec.node_type))
    for which in ("synapses", "inputs"):
        for f in dataclasses.fields(Synapses):
            arr = getattr(getattr(spec, which), f.name)
            out.append((f"{which}.{f.name}", lambda s, a, w=which, n=f.name: with_syn(s, w, **{n: a}), arr))
    for key, arr in spec.populations.items():
        out.append(
            (
                f"populations[{key}]",
                lambda s, a, k=key: dataclasses.replace(s, populations={**s.populations, k: a}),
                arr,
            )
        )
    return out


def _perturbed(value):
    # floats: the next representable number (a one-ulp change must still change the hash); ints: +1
    if isinstance(value, (float, np.floating)):
        return np.nextafter(value, np.inf)
    return value + 1


@pytest.mark.parametrize("validated", [False, True])
def test_content_hash_changes_when_any_element_changes(validated):
    spec = make_spec().validated() if validated else make_spec()
    base = spec.content_hash()
    seen = {base}
    checked = 0
    for label, rebuild, arr in _all_arrays(spec):
        for index in np.ndindex(arr.shape):
            changed = rebuild(spec, set_element(arr, index, _perturbed(arr[index])))
            h = changed.content_hash()
            assert h != base, f"hash unchanged after changing {label}{list(index)}"
            seen.add(h)
            checked += 1
    assert checked > 80  # every element of every array was visited
    assert len(seen) == checked + 1  # and all the changed specs hash differently


def test_content_hash_is_stable():
    spec = make_spec()
    h = spec.content_hash()
    assert spec.content_hash() == h  # same object, repeated call
    assert copy.deepcopy(spec).content_hash() == h  # equal copy
    assert make_spec().content_hash() == h  # rebuilt from scratch
    v = spec.validated()
    assert v.content_hash() == v.content_hash() == v.validated().content_hash()
    assert len(h) == 64 and int(h, 16) >= 0  # SHA-256 hex digest


@pytest.mark.parametrize(
    "change",
    [
        lambda s: dataclasses.replace(s, name="other"),
        lambda s: dataclasses.replace(s, source_names=("a", "b", "c")),
        lambda s: dataclasses.replace(s, receptor_names=("w", "x", "y", "z")),
        lambda s: with_cells(s, names=("p", "q")),
        lambda s: with_cells(s, models=("glif3", "iaf_psc_alpha")),
        lambda s: dataclasses.replace(s, populations={"e": s.populations["e"]}),
    ],
)
def test_content_hash_covers_names(change):
    spec = make_spec()
    assert change(spec).content_hash() != spec.content_hash()


# --- gaps found in review, now fixed ---------------------------------------------


def test_content_hash_covers_population_names():
    spec = make_spec()
    renamed = dataclasses.replace(spec, populations={"exc": spec.populations["e"], "inh": spec.populations["i"]})
    assert renamed.content_hash() != spec.content_hash()


def test_threshold_not_above_rest_refused():
    spec = make_spec()
    # V_th below E_L (and V_reset below V_th, so only the vsc rule can catch it)
    spec = with_cells(spec, V_th_mV=np.array([-80.0, -37.58]), V_reset_mV=np.array([-85.0, -73.30]))
    assert_refused(spec, "V_th_mV")


@pytest.mark.parametrize("name", ["pre", "post", "receptor"])
def test_fractional_ids_refused(name):
    spec = make_spec()
    arr = getattr(spec.synapses, name).astype(float)
    arr[0] += 0.9
    assert_refused(with_syn(spec, "synapses", **{name: arr}), name)


def test_two_dimensional_scalar_column_refused():
    spec = make_spec()
    assert_refused(with_cells(spec, V_th_mV=spec.cells.V_th_mV[:, None]), "V_th_mV")


def test_negative_n_sources_refused():
    spec = make_spec()
    spec = dataclasses.replace(spec, n_sources=-1, source_names=(), inputs=Synapses.empty())
    assert_refused(spec, "n_sources")
