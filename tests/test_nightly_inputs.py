"""The nightly refuses bad input before any work (exit 2 naming the file or flag, the field, the expected form),
and runs any model in the suite's format.

"Before any work" is checked by making the executor's cluster start fail the test: validation must stop the
night before a Dask cluster (and so any simulator) is started.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from snnval import nightly
from snnval.cli import main
from snnval.errors import SpecError
from snnval.report import HistoryError

pytestmark = pytest.mark.quick


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("the night started its cluster before refusing bad input")

    monkeypatch.setattr(nightly, "_client", refuse)


def _nightly(capsys, *args: str) -> tuple[int, str]:
    code = main(["nightly", "--quick", *args])
    return code, capsys.readouterr().err


def test_out_naming_a_file_is_refused_up_front(tmp_path: Path, capsys, no_cluster) -> None:
    target = tmp_path / "report.html"
    target.write_text("not a directory")
    code, err = _nightly(capsys, "--out", str(target))
    assert code == 2
    assert str(target) in err and "'--out'" in err and "a directory, got an existing file" in err
    assert target.read_text() == "not a directory"


def test_out_holding_other_files_is_refused(tmp_path: Path, capsys, no_cluster) -> None:
    """Publishing replaces the report directory whole, so it must not be a directory of other things."""
    (tmp_path / "thesis.tex").write_text("precious")
    code, err = _nightly(capsys, "--out", str(tmp_path))
    assert code == 2 and "earlier snnval report" in err
    assert (tmp_path / "thesis.tex").read_text() == "precious"


def _unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot create files in: a 0555 directory, or for root (who ignores permission
    bits) sysfs's /sys/kernel, which refuses new files to everyone."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    ro = Path("/sys/kernel")
    try:
        os.close(os.open(ro / "snnval-probe", os.O_CREAT | os.O_WRONLY))
    except OSError:
        return ro
    os.unlink(ro / "snnval-probe")
    pytest.skip("running as root and /sys/kernel is writable here: no unwritable directory to test with")


def test_unwritable_out_is_refused_up_front(tmp_path: Path, capsys, no_cluster) -> None:
    ro = _unwritable_dir(tmp_path)
    code, err = _nightly(capsys, "--out", str(ro / "snnval-night"))
    assert code == 2, err
    assert "writable directory" in err and str(ro) in err
    assert not (ro / "snnval-night").exists()


def test_malformed_history_is_refused_before_the_night(tmp_path: Path, no_cluster) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text('{"record_version": 1}\n{not json\n')
    with pytest.raises(HistoryError, match=r"history.jsonl, line 1: malformed history line \(missing date"):
        nightly.run_nightly(quick=True, out_dir=str(tmp_path / "night"), history_path=str(history))
    assert not (tmp_path / "night").exists()
    assert history.read_text() == '{"record_version": 1}\n{not json\n'


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--scheduler", "not an address"], "--scheduler: field 'scheduler'"),
        (["--scheduler", "tcp://127.0.0.1"], "with a port"),
        (["--timeout", "0"], "a finite number > 0"),
        (["--timeout", "nan"], "a finite number > 0"),
        (["--model", "/nonexistent/model.h5"], "an existing model file"),
        (["--sim", "no-such-simulator"], "one of"),
    ],
)
def test_bad_flags_exit_2_before_any_work(tmp_path: Path, capsys, no_cluster, args: list[str], text: str) -> None:
    code, err = _nightly(capsys, "--out", str(tmp_path / "night"), *args)
    assert code == 2, err
    assert text in err
    assert not (tmp_path / "night").exists()


def test_unreachable_scheduler_exits_2(tmp_path: Path, capsys) -> None:
    code, err = _nightly(capsys, "--out", str(tmp_path / "night"), "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "reachable Dask scheduler" in err
    assert not (tmp_path / "night").exists()


# ------------------------------------------------------------------------------------------ --model FILE


def _bare_model(tmp_path: Path, readout: bool = True) -> Path:
    """The shipped network written by snnval.loaders.model_h5 with no training metadata at all."""
    from snnval.loaders.model_h5 import save_model
    from snnval.v1_model import load_shipped_model

    spec, ro, _ = load_shipped_model()
    path = tmp_path / "bare.h5"
    save_model(path, spec, ro if readout else None, metadata={})
    return path


def test_model_without_training_metadata_plans_and_runs(tmp_path: Path) -> None:
    """Before: KeyError 'evaluation_stimulus_seeds'. Now: the documented split and seed, and a real run."""
    from snnval.adapters import get_adapter
    from snnval.nightly_plan import AccuracyRun, make_plan
    from snnval.nightly_tasks import DEFAULT_HELD_OUT_SEED, TaskFailure, accuracy_task, model_input

    path = _bare_model(tmp_path)
    model = model_input(str(path), 5)
    assert model.unusable == "" and model.seed == DEFAULT_HELD_OUT_SEED and len(model.labels) == 5
    plan = make_plan(model, sims=["nest"])
    assert [r.runner for r in plan.accuracy] == ["nest (nest-glif-psc)"]
    if not get_adapter("nest").availability().available:
        pytest.skip("NEST is not available here: the plan is checked, the run is not")
    out = accuracy_task(str(path), 5, AccuracyRun("nest (nest-glif-psc)", "nest", "nest-glif-psc", 600.0))
    assert not isinstance(out, TaskFailure), out
    assert len(out["predictions"]) == 5 and out["mean_rate_Hz"] > 0  # a network that spikes


def test_model_without_readout_has_no_accuracy_tier_but_a_reason(tmp_path: Path) -> None:
    from snnval.nightly_plan import make_plan
    from snnval.nightly_tasks import model_input

    model = model_input(str(_bare_model(tmp_path, readout=False)), 5)
    assert "no readout" in model.unusable
    plan = make_plan(model, sims=["nest"])
    assert plan.accuracy == [] and plan.variants == [] and plan.samples == []
    # one runner per profile NEST declares, each not applicable for the same reason
    from snnval.adapters import get_adapter

    assert [s.status for s in plan.skipped_runners] == ["not_applicable"] * len(get_adapter("nest").profiles)
    assert all("no readout" in s.reason for s in plan.skipped_runners)
    assert plan.cells  # the score matrix does not depend on the model


def test_timeout_default_grows_with_run_size() -> None:
    from snnval.nightly_plan import TIMEOUT_BASE_S, default_timeout_s

    small, big = default_timeout_s(1, 1000, 1), default_timeout_s(600, 200, 400)
    assert TIMEOUT_BASE_S <= small < big
    with pytest.raises(SpecError):
        nightly.check_timeout(-1.0)
    assert json.dumps(np.float64(small).item())  # plain float, serialisable
