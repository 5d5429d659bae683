"""``snnval diff`` names each port mistake with its factor or cause, and finds nothing between identical models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snnval.cli import main
from snnval.loaders import LoadedModel
from snnval.loaders.desplit_h5 import load_desplit
from snnval.loaders.model_h5 import save_model
from snnval.loaders.sonata import load_sonata
from snnval.model_diff import diff_models, load_any, match_synapses
from snnval.port_variants import LADDER, apply_mistakes
from snnval.spec import Synapses
from snnval.stimulus import Events, FrozenStimulus
from snnval.v1_model import load_shipped_model

pytestmark = pytest.mark.quick

#: Mistakes that are not in a model file: how the input is sampled and the initial state of a run.
NOT_IN_THE_FILE = ("clip_sampling", "initial_v_e_l")


@pytest.fixture(scope="module")
def shipped() -> LoadedModel:
    spec, readout, meta = load_shipped_model()
    return LoadedModel(spec, readout, meta)


def _port_file(shipped: LoadedModel, mistakes: tuple[str, ...], path: Path) -> LoadedModel:
    """Apply port mistakes to the shipped model and write what the port's model file would hold.

    ``no_background`` removes the background events in :mod:`snnval.port_variants` (the stimulus); a port
    without background has no background synapses in its file, so they are dropped here.
    """
    spec = shipped.spec
    bkg = spec.source_names.index("bkg")
    stim = FrozenStimulus(1.0, 5, 1, events=Events(np.zeros(2, np.int64), np.arange(2), np.array([0, bkg]), np.ones(2)))
    m = apply_mistakes(spec, stim, shipped.readout, mistakes, seed=5)
    port = m.spec
    if "no_background" in mistakes:
        keep = port.inputs.pre != bkg
        port = replace(port, inputs=Synapses(*(getattr(port.inputs, f)[keep] for f in Synapses.__dataclass_fields__)))
    return load_any(save_model(path, port, m.readout))


def _kinds(d) -> set[tuple[str, str, str, str]]:
    return {(f.section, f.group, f.field, f.kind) for f in d.findings}


def test_weights_div_1000_named_with_its_factor(shipped, tmp_path):
    d = diff_models(shipped, _port_file(shipped, ("weights_div_1000",), tmp_path / "p.h5"))
    assert _kinds(d) == {("recurrent", "all", "weight_pA", "factor"), ("input", "all", "weight_pA", "factor")}
    for f in d.findings:
        assert f.factor == pytest.approx(1e-3)
        assert "weights_div_1000" in f.cause and "vsc_post" in f.cause
        syn = shipped.spec.synapses if f.section == "recurrent" else shipped.spec.inputs
        assert f.n_affected == (syn.weight_pA != 0).sum()  # zero weights stay zero


def test_delays_sort_bug_named_as_a_permutation(shipped, tmp_path):
    d = diff_models(shipped, _port_file(shipped, ("delays_sort_bug",), tmp_path / "p.h5"))
    assert _kinds(d) == {("recurrent", "all", "delay_ms", "permutation")}
    assert "sorted weights but not delays" in d.findings[0].cause
    # a random permutation of 5 delay values leaves about 1 in 5 in place (the shipped model's mix)
    assert 0.6 < d.findings[0].n_affected / d.findings[0].n_total < 0.95


@pytest.mark.parametrize("name, window", [("window_50_100", "[50, 100)"), ("window_50_200", "[50, 200)")])
def test_readout_window_named(shipped, tmp_path, name, window):
    d = diff_models(shipped, _port_file(shipped, (name,), tmp_path / "p.h5"))
    assert _kinds(d) == {("readout", "readout", "window_ms", "readout")}
    assert window in d.findings[0].cause and "[150, 200)" in d.findings[0].cause


def test_missing_background_named(shipped, tmp_path):
    d = diff_models(shipped, _port_file(shipped, ("no_background",), tmp_path / "p.h5"))
    assert _kinds(d) == {("input", "bkg/e_to_e", "synapses", "missing"), ("input", "bkg/e_to_i", "synapses", "missing")}
    assert all(f.n_affected == f.n_total and "whole group" in f.cause for f in d.findings)


def test_independent_background_named(shipped, tmp_path):
    d = diff_models(shipped, _port_file(shipped, ("independent_background",), tmp_path / "p.h5"))
    rewired = [f for f in d.findings if f.field == "pre"]
    assert {f.group for f in rewired} == {"bkg/e_to_e", "bkg/e_to_i"}
    assert all("independent per neuron" in f.cause and f.n_affected == f.n_total for f in rewired)
    assert {f.kind for f in d.findings} == {"permutation", "structure"}  # + the source count


@pytest.mark.parametrize("name", NOT_IN_THE_FILE)
def test_mistakes_outside_the_model_file_leave_it_identical(shipped, tmp_path, name):
    assert diff_models(shipped, _port_file(shipped, (name,), tmp_path / "p.h5")).identical


def test_broken_port_names_every_file_mistake_worst_first(shipped, tmp_path):
    d = diff_models(shipped, _port_file(shipped, LADDER, tmp_path / "p.h5"))
    kinds = _kinds(d)
    assert ("recurrent", "all", "weight_pA", "factor") in kinds
    assert ("recurrent", "all", "delay_ms", "permutation") in kinds
    assert ("readout", "readout", "window_ms", "readout") in kinds
    assert ("input", "bkg/e_to_e", "synapses", "missing") in kinds
    # the input weights of the remaining (LGN) synapses still carry the weights_div_1000 factor
    assert any(f.section == "input" and f.field == "weight_pA" and f.factor == pytest.approx(1e-3) for f in d.findings)
    sev = [f.severity for f in d.findings]
    assert sev == sorted(sev, reverse=True)
    assert [(f.section, f.field) for f in d.findings[:2]] == [("recurrent", "weight_pA"), ("input", "weight_pA")]


@pytest.mark.parametrize(
    "change, expected",
    [
        ("one_receptor_x1000", ("recurrent", "e_to_i", "weight_pA", 1000.0, "x1000")),
        ("bkg_x10", ("input", "bkg/e_to_e", "weight_pA", 10.0, "rest_of_brain")),
        ("c_m_one_type_div1000", ("cells", "Rorb_480124551", "C_m_pF", 1e-3, "/1000")),
        ("asc_amps_normalised", ("cells", "all node types", "asc_amps_pA[1]", 1.0, "/vsc_post")),
        ("v_th_relative", ("cells", "all node types", "V_th_mV", None, "offset")),
    ],
)
def test_named_factors(shipped, tmp_path, change, expected):
    spec = shipped.spec
    s, i, c = spec.synapses, spec.inputs, spec.cells
    if change == "one_receptor_x1000":
        spec = replace(spec, synapses=replace(s, weight_pA=np.where(s.receptor == 2, s.weight_pA * 1000, s.weight_pA)))
    elif change == "bkg_x10":
        bkg = spec.source_names.index("bkg")
        spec = replace(spec, inputs=replace(i, weight_pA=np.where(i.pre == bkg, i.weight_pA * 10, i.weight_pA)))
    elif change == "c_m_one_type_div1000":
        cm = c.C_m_pF.copy()
        cm[1] /= 1000
        spec = replace(spec, cells=replace(c, C_m_pF=cm))
    elif change == "asc_amps_normalised":
        spec = replace(spec, cells=replace(c, asc_amps_pA=c.asc_amps_pA / c.vsc_mV[:, None]))
    elif change == "v_th_relative":  # V_th given relative to E_L: V_th - E_L stored, but that must stay > E_L
        spec = replace(spec, cells=replace(c, V_th_mV=c.V_th_mV + 5.0))
    d = diff_models(shipped, load_any(save_model(tmp_path / "m.h5", spec, shipped.readout)))
    section, group, field, factor, cause = expected
    hits = [f for f in d.findings if (f.section, f.group, f.field) == (section, group, field)]
    assert len(hits) == 1, d.table()
    if factor is not None:
        assert hits[0].factor == pytest.approx(factor)
    assert cause in hits[0].cause
    if change == "bkg_x10":  # the LGN inputs onto e_to_e are unchanged
        assert all(f.group.startswith("bkg/") for f in d.findings)
    if change == "asc_amps_normalised":
        assert {f.field for f in d.findings} == {"asc_amps_pA[0]", "asc_amps_pA[1]"}


def test_row_order_and_multapses_are_no_difference(shipped):
    spec = shipped.spec
    s = spec.synapses
    # duplicate every 10th synapse with another weight (multapses), then shuffle the rows of a copy
    dup = np.arange(0, len(s), 10)
    multi = Synapses(*(np.concatenate([getattr(s, f), getattr(s, f)[dup]]) for f in Synapses.__dataclass_fields__))
    multi = replace(multi, weight_pA=np.concatenate([s.weight_pA, s.weight_pA[dup] * 0.5 + 1.0]))
    order = np.random.default_rng(0).permutation(len(multi))
    shuffled = Synapses(*(getattr(multi, f)[order] for f in Synapses.__dataclass_fields__))
    a = LoadedModel(replace(spec, synapses=multi), shipped.readout)
    b = LoadedModel(replace(spec, synapses=shuffled), shipped.readout)
    assert diff_models(a, b).identical
    ia, ib = match_synapses(multi, shuffled, spec.n_neurons, spec.n_receptors)
    assert ia.size == len(multi)
    assert np.array_equal(multi.pre[ia], shuffled.pre[ib]) and np.array_equal(
        multi.weight_pA[ia], shuffled.weight_pA[ib]
    )


def test_missing_and_extra_synapses_counted(shipped):
    spec = shipped.spec
    s = spec.synapses
    keep = np.ones(len(s), bool)
    keep[np.flatnonzero(s.receptor == 1)[:7]] = False
    fewer = Synapses(*(getattr(s, f)[keep] for f in Synapses.__dataclass_fields__))
    d = diff_models(shipped, LoadedModel(replace(spec, synapses=fewer), shipped.readout))
    assert [(f.group, f.kind, f.n_affected) for f in d.findings] == [("i_to_e", "missing", 7)]
    d = diff_models(LoadedModel(replace(spec, synapses=fewer), shipped.readout), shipped)
    assert [(f.group, f.kind, f.n_affected) for f in d.findings] == [("i_to_e", "extra", 7)]


def test_scattered_values(shipped):
    spec = shipped.spec
    s = spec.synapses
    noisy = s.weight_pA * np.random.default_rng(1).uniform(0.9, 1.1, len(s))
    d = diff_models(shipped, LoadedModel(replace(spec, synapses=replace(s, weight_pA=noisy)), shipped.readout))
    assert {f.kind for f in d.findings} == {"scattered"} and len(d.findings) == 4  # one per receptor


# --- identical models in every format pair the loaders read ------------------------------------------------


def _loader_fixtures():
    import tests.test_loaders as tl

    return tl


def _pairs(tmp_path: Path) -> list[tuple[str, Path, Path]]:
    """(label, A, B): the same network in two files, for every format and every format -> snnval h5."""
    tl = _loader_fixtures()
    out = []
    shipped = Path(__file__).resolve().parents[1] / "references" / "v1_digits.h5"
    spec, readout, meta = load_shipped_model()
    out.append(
        (
            "model_h5 / model_h5 (gzip)",
            shipped,
            save_model(tmp_path / "v1_gzip.h5", spec, readout, meta, compression="gzip"),
        )
    )
    net = tl._network()
    desplit = tmp_path / "desplit.h5"
    tl._write_desplit(desplit, net)
    d2 = tmp_path / "desplit2.h5"
    tl._write_desplit(d2, net)
    loaded = load_desplit(desplit)
    out.append(("desplit / desplit", desplit, d2))
    out.append(("desplit / model_h5", desplit, save_model(tmp_path / "from_desplit.h5", loaded.spec, loaded.readout)))
    tf_dir = tmp_path / "tf"
    tf_dir.mkdir()
    tl._write_tf_pickles(tf_dir, net)
    ck, _ = tl._tf_checkpoint(net, np.random.default_rng(2))
    np.savez(tf_dir / "checkpoint.npz", **ck)
    tf = load_any(tf_dir, trust_pickle=True)
    out.append(("tf pickles + checkpoint / same", tf_dir, tf_dir / "network_dat.pkl"))
    out.append(("tf pickles + checkpoint / model_h5", tf_dir, save_model(tmp_path / "from_tf.h5", tf.spec, tf.readout)))
    sonata_dir = tmp_path / "sonata"
    sonata_dir.mkdir()
    config = tl._write_sonata(sonata_dir)
    son = load_sonata(config)
    out.append(("sonata / sonata", config, config))
    out.append(("sonata / model_h5", config, save_model(tmp_path / "from_sonata.h5", son.spec, son.readout)))
    return out


def test_identical_models_in_every_format_pair(tmp_path):
    pairs = _pairs(tmp_path)
    assert len(pairs) == 7
    for label, a, b in pairs:
        la, lb = load_any(a, trust_pickle=True), load_any(b, trust_pickle=True)
        assert len(la.spec.synapses) > 0, label  # a real network, not an empty one
        d = diff_models(la, lb)
        assert d.identical, f"{label}:\n{d.table()}"
        # and the comparison is not blind: one weight x1000 in B is found in this pair too
        s = lb.spec.synapses
        w = s.weight_pA.copy()
        w[np.argmax(np.abs(w))] *= 1000
        changed = diff_models(la, replace(lb, spec=replace(lb.spec, synapses=replace(s, weight_pA=w))))
        assert [(f.field, f.n_affected) for f in changed.findings] == [("weight_pA", 1)], label


def test_cli_exit_codes_and_json(tmp_path, capsys, shipped):
    ref = str(Path(__file__).resolve().parents[1] / "references" / "v1_digits.h5")
    assert main(["diff", ref, ref]) == 0
    assert "no difference" in capsys.readouterr().out
    port = _port_file(shipped, ("weights_div_1000",), tmp_path / "port.h5")
    assert port.spec.n_neurons == 600
    assert main(["diff", ref, str(tmp_path / "port.h5"), "--json"]) == 1
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["identical"] is False and out["findings"][0]["factor"] == pytest.approx(1e-3)
    assert main(["diff", ref, str(tmp_path / "nope.h5")]) == 2
    assert "nope.h5" in capsys.readouterr().err
    assert main(["diff", ref, str(tmp_path)]) == 2  # a directory without TF pickles
    assert "network_dat.pkl" in capsys.readouterr().err
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(Path(ref).read_bytes()[:4000])
    assert main(["diff", ref, str(truncated)]) == 2
    err = capsys.readouterr().err
    assert "truncated.h5" in err and "truncated file" in err


def test_cli_run_shows_the_first_divergence(tmp_path, capsys):
    from snnval.scenarios import get_scenario

    spec = get_scenario("glif3_network").build_spec().validated()
    a = save_model(tmp_path / "a.h5", spec)
    s = spec.synapses
    b = save_model(
        tmp_path / "b.h5",
        replace(spec, synapses=replace(s, weight_pA=np.where(s.receptor == 2, s.weight_pA * 1000, s.weight_pA))),
    )
    assert main(["diff", str(a), str(b), "--run", "glif3_network", "--json"]) == 1
    import json

    out = json.loads(capsys.readouterr().out)
    run = out["run"]
    assert run["spikes_a"] > 500 and run["first_divergence"] is not None
    assert out["findings"][0]["group"] == "e_to_i" and out["findings"][0]["factor"] == pytest.approx(1000)
    assert main(["diff", str(a), str(a), "--run", "glif3_network"]) == 0
    assert "first divergence: none" in capsys.readouterr().out
