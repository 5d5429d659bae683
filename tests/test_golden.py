"""Unit tests of snnval.golden: round trip, atomic writes, staleness, malformed files, empty goldens."""

from __future__ import annotations

import datetime as dt
import json

import h5py
import numpy as np
import pytest

import snnval
from snnval.contract import RunResult
from snnval.errors import SpecError, StaleGolden
from snnval.golden import (
    GoldenFile,
    check_fresh,
    diff_summary,
    git_revision,
    read_golden,
    write_golden,
)

SPEC_HASH = "a3f1" * 16
KEY_TF = "tf/nest-glif-psc/dt1.0/float64"
KEY_NEST = "nest/nest-glif-psc/dt1.0/float64"


def make_run(seed=0, n_trials=2, n_steps=50, recorded=(0, 4, 9), simulator="tf", n_spikes=30, flat=False):
    rng = np.random.default_rng(seed)
    trial = rng.integers(0, n_trials, n_spikes)
    step = rng.integers(0, n_steps, n_spikes)
    neuron = rng.integers(0, 10, n_spikes)
    shape = (n_trials, n_steps, len(recorded))
    state = {
        "V_m": np.full(shape, -70.0) if flat else -70.0 + rng.normal(0, 3, shape),
        "ASC": np.zeros(shape) if flat else rng.normal(0, 10, shape),
    }
    prov = {
        "simulator": simulator,
        "simulator_version": "3.10.0" if simulator == "nest" else "2.21.0",
        "profile": "nest-glif-psc",
        "stimulus_seed": np.int64(seed),
        "dt_ms": np.float64(1.0),
        "knobs": {"reset": "hard_same_step", "delay_offset_steps": np.int64(0)},
        "spec_hash": SPEC_HASH,
        "wall_s": np.array([0.25, 1.5]),
    }
    return RunResult.from_spikes(1.0, n_steps, n_trials, trial, step, neuron, np.array(recorded), state, prov)


def assert_same_run(a: RunResult, b: RunResult):
    assert (a.dt_ms, a.n_steps, a.n_trials) == (b.dt_ms, b.n_steps, b.n_trials)
    for name in ("spike_trial", "spike_step", "spike_neuron", "recorded_neurons"):
        x, y = getattr(a, name), getattr(b, name)
        assert y.dtype == np.int64 and np.array_equal(x, y), name
    assert set(a.state) == set(b.state)
    for var in a.state:
        assert b.state[var].dtype == np.float64
        assert np.array_equal(a.state[var], b.state[var]), var  # bitwise: no lossy step anywhere


@pytest.fixture
def results():
    return {KEY_TF: make_run(0, simulator="tf"), KEY_NEST: make_run(1, simulator="nest")}


def test_round_trip_is_exact(tmp_path, results):
    path = tmp_path / "glif3_single.h5"
    write_golden(path, results, SPEC_HASH, {"scenario": "glif3_single", "n": np.int64(3)})
    g = read_golden(path)
    assert isinstance(g, GoldenFile) and g.scenario == "glif3_single"
    assert set(g.results) == {KEY_TF, KEY_NEST}  # keys with slashes survive
    for key, r in results.items():
        assert_same_run(r, g.results[key])
        assert g.results[key].provenance == json.loads(json.dumps(g.results[key].provenance))
        assert g.results[key].provenance["stimulus_seed"] == int(r.provenance["stimulus_seed"])
        assert g.results[key].provenance["wall_s"] == [0.25, 1.5]
    assert g.spec_hash == SPEC_HASH
    assert g.suite_version == snnval.__version__
    assert g.git_revision == git_revision()
    assert g.simulator_versions == {"tf": "2.21.0", "nest": "3.10.0"}
    assert g.provenance == {"scenario": "glif3_single", "n": 3}
    assert dt.datetime.fromisoformat(g.created_utc).tzinfo is not None
    with h5py.File(path) as f:  # documented attributes for people reading the file with h5ls
        assert json.loads(f.attrs["dt_ms"]) == [1.0] and json.loads(f.attrs["seeds"]) == [0, 1]
        ds = f["results"]["tf%2Fnest-glif-psc%2Fdt1.0%2Ffloat64"]["state"]["V_m"]
        assert ds.compression == "gzip" and ds.attrs["units"] == "mV"


def test_round_trip_of_a_run_without_spikes_or_state(tmp_path):
    r = make_run(2, n_spikes=0)
    r.state = {"V_m": r.state["V_m"]}
    path = tmp_path / "s.h5"
    write_golden(path, {"only": r}, SPEC_HASH)
    assert_same_run(r, read_golden(path).results["only"])


def test_git_revision_unknown_outside_a_repository(tmp_path):
    assert git_revision(tmp_path) == "unknown"


def _only_golden_left(directory, name):
    return sorted(p.name for p in directory.iterdir()) == [name]


def test_failed_write_leaves_old_file_intact_and_no_temp_file(tmp_path, results, monkeypatch):
    path = tmp_path / "scenario.h5"
    write_golden(path, results, SPEC_HASH)
    before = path.read_bytes()

    calls = {"n": 0}
    original = h5py.Group.create_dataset

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # fail mid-write, after some data went to disk
            raise OSError("disk full (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="simulated"):
        write_golden(path, {KEY_TF: make_run(5)}, SPEC_HASH)
    assert calls["n"] == 3
    assert path.read_bytes() == before
    assert _only_golden_left(tmp_path, "scenario.h5")
    monkeypatch.undo()
    assert_same_run(results[KEY_TF], read_golden(path).results[KEY_TF])


def test_failed_first_write_creates_nothing(tmp_path, monkeypatch):
    def failing(self, *args, **kwargs):
        raise OSError("simulated")

    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError):
        write_golden(tmp_path / "new.h5", {KEY_TF: make_run()}, SPEC_HASH)
    assert list(tmp_path.iterdir()) == []


def test_stale_hash_raises_with_regeneration_hint(tmp_path, results):
    path = tmp_path / "glif3_network.h5"
    write_golden(path, results, SPEC_HASH)
    g = read_golden(path)
    check_fresh(g, SPEC_HASH)  # fresh: no error
    with pytest.raises(StaleGolden) as err:
        check_fresh(g, "b" * 64)
    msg = str(err.value)
    assert str(path) in msg and "stale" in msg
    assert "pytest --golden=update" in msg and "snnval golden update glif3_network" in msg


def test_run_made_from_another_spec_is_refused(tmp_path):
    r = make_run()
    r.provenance["spec_hash"] = "c" * 64
    with pytest.raises(SpecError, match="spec_hash"):
        write_golden(tmp_path / "x.h5", {KEY_TF: r}, SPEC_HASH)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_file_gives_an_error_naming_the_file(tmp_path, results, damage):
    path = tmp_path / "damaged.h5"
    write_golden(path, results, SPEC_HASH)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not an HDF5 file\n" * 100)
    else:
        path.write_bytes(b"")
    with pytest.raises(SpecError) as err:
        read_golden(path)
    assert str(path) in str(err.value)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(SpecError, match="nope.h5"):
        read_golden(tmp_path / "nope.h5")


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda f: f.attrs.__delitem__("spec_hash"), "attribute 'spec_hash'"),
        (lambda f: f.attrs.__setitem__("format", "something else"), "attribute 'format'"),
        (lambda f: f.attrs.__setitem__("format_version", 99), "attribute 'format_version'"),
        (lambda f: f.attrs.__setitem__("provenance", "{not json"), "attribute 'provenance'"),
        (lambda f: f["results"][next(iter(f["results"]))]["spikes"].__delitem__("step"), "spikes/step"),
        (lambda f: f["results"][next(iter(f["results"]))]["state"].__delitem__("V_m")
         or f["results"][next(iter(f["results"]))]["state"].create_dataset("V_m", data=np.zeros(3)), "state/V_m"),
        (lambda f: f["results"][next(iter(f["results"]))].attrs.__delitem__("n_steps"), "attribute 'n_steps'"),
    ],
)  # fmt: skip
def test_malformed_field_is_named(tmp_path, edit, field):
    path = tmp_path / "bad.h5"
    write_golden(path, {KEY_TF: make_run()}, SPEC_HASH)
    with h5py.File(path, "r+") as f:
        edit(f)
    with pytest.raises(SpecError) as err:
        read_golden(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_empty_golden_is_refused_unless_a_reason_is_given(tmp_path):
    empty = make_run(n_spikes=0, flat=True)
    path = tmp_path / "silent.h5"
    with pytest.raises(SpecError, match="catches nothing") as err:
        write_golden(path, {KEY_TF: empty, KEY_NEST: make_run(1)}, SPEC_HASH)
    assert KEY_TF in str(err.value)
    assert not path.exists()
    write_golden(path, {KEY_TF: empty}, SPEC_HASH, allow_empty_reason="control: no input, the network must stay silent")
    assert read_golden(path).empty_allowed_reason.startswith("control")
    # one spike or one moving trace is enough to make a run worth storing
    write_golden(path, {KEY_TF: make_run(n_spikes=1, flat=True)}, SPEC_HASH)
    assert read_golden(path).empty_allowed_reason == ""


def test_diff_summary_reports_changes_per_key(tmp_path, results):
    path = tmp_path / "s.h5"
    write_golden(path, results, SPEC_HASH)
    old = read_golden(path)
    assert diff_summary(old, old) == "\n".join(
        sorted(f"  = {k}: unchanged ({r.n_spikes} spikes)" for k, r in results.items())
    )
    moved = make_run(0, simulator="tf")
    moved.spike_step[0] = (moved.spike_step[0] + 7) % moved.n_steps
    moved.state["V_m"][1, 10, 2] += 0.5
    new = {KEY_TF: moved, "brian2/nest-glif-psc/dt1.0/float64": make_run(3)}
    text = diff_summary(old, new)
    assert f"~ {KEY_TF}: spikes 30 -> 30 (1 gone, 1 new; first at step" in text
    assert "max |dV_m| = 0.5 mV" in text and "max |dASC| = 0 pA" in text
    assert f"- {KEY_NEST}: removed (had 30 spikes)" in text
    assert "+ brian2/nest-glif-psc/dt1.0/float64: new, 30 spikes" in text
    assert "new, 30 spikes" in diff_summary(None, results)
