"""Every loader's output pinned bit for bit: the spec, readout, report, metadata and SONATA node map.

The fingerprints in ``loader_pins.json`` were computed with the loaders as they were before they were
split into read / classify / build / check phases (main at 08e8efe: ``git archive 08e8efe`` unpacked in a
scratch directory, this module run there with ``PYTHONPATH`` on it and ``SNNVAL_WRITE_LOADER_PINS=1``).
A refactor of the loaders must leave every fingerprint unchanged; a deliberate change of what a loader
returns updates the file in the same commit, with the reason.

Inputs: the shipped model (``references/v1_digits.h5``) and the test networks of ``test_loaders`` (TF
pickles with and without a checkpoint and with a neuron selection, the desplit layout including its
delay-encoded variant, a bmtk-built SONATA network with GLIF3 and iaf node types) and of
``sonata_networks`` (the bmtk pointnet comparison networks, grid and precise).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.quick

PINS = Path(__file__).with_name("loader_pins.json")
REPO = Path(__file__).resolve().parents[1]


def _array_digest(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode())
    h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _plain(value: Any, tmp: str) -> Any:
    """JSON form of report/metadata values with the temporary directory replaced by ``<tmp>``."""
    if isinstance(value, dict):
        return {str(k): _plain(v, tmp) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_plain(v, tmp) for v in value]
        if len(items) > 20:  # long lists (e.g. the shipped model's label lists) as a digest: a short pin file
            return {"list": hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()}
        return items
    if isinstance(value, np.ndarray):
        return {"array": _array_digest(value)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):
        return value.replace(tmp, "<tmp>")
    return value


def fingerprint(loaded: Any, tmp: Path, node_map: Any = None) -> dict[str, Any]:
    """What a loader returned, as digests: spec content hash, readout, report, metadata, node map."""
    t = str(tmp)
    out: dict[str, Any] = {"spec": loaded.spec.content_hash(), "name": loaded.spec.name}
    ro = loaded.readout
    out["readout"] = (
        None
        if ro is None
        else [_array_digest(ro.pool_neurons), list(ro.window_ms), ro.rule, ro.description.replace(t, "<tmp>")]
    )
    out["report"] = _plain(loaded.report, t)
    meta = {k: v for k, v in loaded.metadata.items() if k not in ("created_utc",)}
    out["metadata"] = _plain(meta, t)
    if node_map is not None:
        out["node_map"] = _plain([list(node_map.neurons), list(node_map.sources)], t)
    return out


# --- the cases ----------------------------------------------------------------------------------------------


def _v1_digits(tmp: Path) -> dict:
    from snnval.loaders.model_h5 import load_model

    return fingerprint(load_model(REPO / "references" / "v1_digits.h5"), REPO)


def _v1_digits_any(tmp: Path) -> dict:
    from snnval.loaders import load_model_file

    return fingerprint(load_model_file(REPO / "references" / "v1_digits.h5"), REPO)


def _tf_plain(tmp: Path) -> dict:
    from test_loaders import _network, _write_tf_pickles

    from snnval.loaders.tf_pickle import load_tf_model

    return fingerprint(load_tf_model(*_write_tf_pickles(tmp, _network()), trust_pickle=True), tmp)


def _tf_checkpoint(tmp: Path) -> dict:
    import test_loaders as tl

    from snnval.loaders.tf_pickle import load_tf_model

    net = tl._network()
    ck, _ = tl._tf_checkpoint(net, np.random.default_rng(3))
    path = tmp / "ckpt.npz"
    np.savez(path, **ck)
    return fingerprint(load_tf_model(*tl._write_tf_pickles(tmp, net), path, trust_pickle=True), tmp)


def _tf_checkpoint_partial_selection(tmp: Path) -> dict:
    """A checkpoint without recurrent variables (input + background only) and a neuron selection."""
    import test_loaders as tl

    from snnval.loaders.tf_pickle import load_tf_model

    net = tl._network()
    ck, _ = tl._tf_checkpoint(net, np.random.default_rng(4))
    ck = {k: v for k, v in ck.items() if not k.startswith("recurrent")}
    loaded = load_tf_model(*tl._write_tf_pickles(tmp, net), ck, trust_pickle=True)
    sel = load_tf_model(
        *tl._write_tf_pickles(tmp, net), trust_pickle=True, neuron_ids=np.array([29, 3, 4, 10, 17, 22, 0, 8])
    )
    return {"partial": fingerprint(loaded, tmp), "selection": fingerprint(sel, tmp)}


def _desplit(tmp: Path) -> dict:
    import test_loaders as tl

    from snnval.loaders.desplit_h5 import load_desplit

    path = tmp / "ckpt_desplit.h5"
    tl._write_desplit(path, tl._network())
    return fingerprint(load_desplit(path), tmp)


def _desplit_encoded(tmp: Path) -> dict:
    import test_loaders as tl

    from snnval.loaders import load_model_file

    path = tmp / "encoded.h5"

    def mutate(data: dict) -> None:
        data["recurrent/sources"] = data["recurrent/sources"] + tl.N * 2
        del data["input/bkg_weights"]
        data["background/weights"] = np.ones(tl.N * tl.R, np.float32)

    tl._write_desplit(path, tl._network(), mutate=mutate)
    return fingerprint(load_model_file(path, dt_ms=0.5, n_classes=5), tmp)


def _sonata_glif_iaf(tmp: Path) -> dict:
    import test_loaders as tl

    from snnval.loaders.sonata import load_sonata_nodes

    config = tl._write_sonata(tmp)
    loaded, nodes = load_sonata_nodes(config)
    loaded_v, nodes_v = load_sonata_nodes(config, nest_default_v_m=True)
    return {"plain": fingerprint(loaded, tmp, nodes), "nest_v_m": fingerprint(loaded_v, tmp, nodes_v)}


def _sonata_pointnet(tmp: Path) -> dict:
    from sonata_networks import build_network, build_precise_network

    from snnval.loaders.sonata import load_sonata_nodes

    grid = load_sonata_nodes(build_network(tmp / "grid"), nest_default_v_m=True)
    precise = load_sonata_nodes(build_precise_network(tmp / "precise"))
    return {"grid": fingerprint(*grid[:1], tmp, grid[1]), "precise": fingerprint(*precise[:1], tmp, precise[1])}


def _model_h5_round_trip(tmp: Path) -> dict:
    """The SONATA test network written in the project's format and read back (native node types included)."""
    import test_loaders as tl

    from snnval.loaders.model_h5 import load_model, save_model
    from snnval.loaders.sonata import load_sonata

    loaded = load_sonata(tl._write_sonata(tmp))
    path = save_model(tmp / "model.h5", loaded.spec, metadata={"from": "sonata"})
    return fingerprint(load_model(path), tmp)


CASES: dict[str, Callable[[Path], dict]] = {
    "model_h5/v1_digits": _v1_digits,
    "load_model_file/v1_digits": _v1_digits_any,
    "model_h5/round_trip_sonata": _model_h5_round_trip,
    "tf_pickle/plain": _tf_plain,
    "tf_pickle/checkpoint_npz": _tf_checkpoint,
    "tf_pickle/partial_checkpoint_and_selection": _tf_checkpoint_partial_selection,
    "desplit_h5/c2": _desplit,
    "desplit_h5/encoded_sources_flat_background": _desplit_encoded,
    "sonata/glif3_and_iaf": _sonata_glif_iaf,
    "sonata/pointnet_networks": _sonata_pointnet,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loader_output_is_pinned(case: str, tmp_path: Path) -> None:
    got = json.loads(json.dumps(CASES[case](tmp_path)))
    if os.environ.get("SNNVAL_WRITE_LOADER_PINS") == "1":
        pins = json.loads(PINS.read_text()) if PINS.is_file() else {}
        pins[case] = got
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
        pytest.skip("pins written")
    pins = json.loads(PINS.read_text())
    assert case in pins, f"no pin for {case}: run with SNNVAL_WRITE_LOADER_PINS=1 on the reference code"
    assert got == pins[case]


def test_pins_are_not_trivial() -> None:
    """Every pinned spec is a different network (a loader returning a constant spec would not pass)."""
    pins = json.loads(PINS.read_text())
    specs = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            if "spec" in v and isinstance(v["spec"], str):
                specs.append(v["spec"])
            else:
                for x in v.values():
                    walk(x)

    walk(pins)
    assert len(specs) >= 12
    # two pairs must agree: v1_digits read through two entry points, and the SONATA test network read
    # directly and after a round trip through the project's format; every other spec differs
    assert len(set(specs)) == len(specs) - 2
    assert pins["model_h5/v1_digits"]["spec"] == pins["load_model_file/v1_digits"]["spec"]
    assert pins["model_h5/round_trip_sonata"]["spec"] == pins["sonata/glif3_and_iaf"]["plain"]["spec"]


# --- error messages ------------------------------------------------------------------------------------------

#: The malformed-input tests of test_loaders (their parameters are the cases) and the loader each one calls.
ERROR_CASES: dict[str, tuple[str, str]] = {
    "tf_pickle": ("test_tf_pickle_malformed_fields", "load_tf_model"),
    "tf_checkpoint": ("test_tf_checkpoint_malformed", "load_tf_model"),
    "desplit_h5": ("test_desplit_malformed_fields", "load_desplit"),
    "model_h5": ("test_model_h5_malformed_fields", "load_model"),
    "sonata": ("test_sonata_malformed", "load_sonata"),
}


def _parametrize_cases(fn: Callable) -> list[tuple]:
    (mark,) = [m for m in fn.pytestmark if m.name == "parametrize"]
    return [tuple(case) for case in mark.args[1]]


@pytest.mark.parametrize("group", sorted(ERROR_CASES))
def test_loader_error_messages_are_pinned(group: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full text of every malformed-input error of test_loaders (test_loaders checks field and a part of
    the expected form; this pins the whole message, so a refactor cannot reword or reorder it)."""
    import test_loaders as tl

    from snnval.errors import SnnvalError

    test_name, loader = ERROR_CASES[group]
    real = getattr(tl, loader)
    messages: list[str] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs)
        except SnnvalError as exc:
            messages.append(f"{type(exc).__name__}: {exc}")
            raise

    monkeypatch.setattr(tl, loader, recording)
    test = getattr(tl, test_name)
    cases = _parametrize_cases(test)
    for i, case in enumerate(cases):
        case_dir = tmp_path / f"case{i}"
        case_dir.mkdir()
        test(case_dir, *case)
    assert len(messages) == len(cases) >= 5  # every case raised through the loader, once
    got = [m.replace(str(tmp_path), "<tmp>") for m in messages]
    key = f"errors/{group}"
    if os.environ.get("SNNVAL_WRITE_LOADER_PINS") == "1":
        pins = json.loads(PINS.read_text()) if PINS.is_file() else {}
        pins[key] = got
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
        pytest.skip("pins written")
    assert got == json.loads(PINS.read_text())[key]
