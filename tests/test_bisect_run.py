"""``snnval bisect-run`` as a real ``git bisect run`` script: exit codes, and a worked example on a model repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snnval.bisect_run import EXIT_ABORT, EXIT_BAD, EXIT_GOOD, EXIT_SKIP
from snnval.cli import main
from snnval.loaders.model_h5 import load_model, save_model
from snnval.scenarios import get_scenario

pytestmark = pytest.mark.quick

REF = str(Path(__file__).resolve().parents[1] / "references" / "v1_digits.h5")
SNNVAL = [sys.executable, "-m", "snnval.cli"]


def _snnval(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYNEST_QUIET": "1", **(env or {})}
    return subprocess.run([*SNNVAL, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("models")
    spec = get_scenario("glif3_network").build_spec().validated()
    s = spec.synapses
    good = save_model(tmp / "good.h5", spec)
    bad = save_model(
        tmp / "bad.h5",
        replace(spec, synapses=replace(s, weight_pA=np.where(s.receptor == 2, s.weight_pA * 1000, s.weight_pA))),
    )
    broken = tmp / "broken.h5"
    broken.write_bytes(good.read_bytes()[:5000])  # a truncated upload
    return spec, good, bad, broken


def test_exit_codes_in_process(models, tmp_path):
    _, good, bad, broken = models
    assert main(["bisect-run", "--", "diff", str(good), str(good)]) == EXIT_GOOD
    assert main(["bisect-run", "--", "diff", str(good), str(bad)]) == EXIT_BAD
    assert main(["bisect-run", "--", "diff", str(good), str(tmp_path / "absent.h5")]) == EXIT_SKIP
    assert main(["bisect-run", "--", "diff", str(good), str(broken)]) == EXIT_SKIP
    # usage errors abort the bisection; plain snnval would exit 2, which git takes for "bad"
    assert main(["diff", str(good)]) == 2
    assert main(["bisect-run", "--", "diff", str(good)]) == EXIT_ABORT
    assert main(["bisect-run", "--", "diff", str(good), str(good), "--no-such-flag"]) == EXIT_ABORT
    assert main(["bisect-run", "--crash", "sometimes", "--", "diff", str(good), str(good)]) == EXIT_ABORT
    assert main(["bisect-run"]) == EXIT_ABORT
    assert main(["bisect-run", "--", "list"]) == EXIT_ABORT  # not a check
    # a failed build step: the commit cannot be tested; a passing one lets the check decide
    assert main(["bisect-run", "--setup", "exit 3", "--", "diff", str(good), str(good)]) == EXIT_SKIP
    assert main(["bisect-run", "--setup", "true", "--", "diff", str(good), str(bad)]) == EXIT_BAD
    # an unknown scenario at this commit: untestable, not bad
    assert main(["bisect-run", "--", "compare", "no_such_scenario", "--sim", "nest", "--sim", "nest"]) == EXIT_SKIP


def test_run_decides_with_run_option(models, tmp_path):
    """With --run the simulated effect decides: a readout change is a file difference but changes no spike."""
    from snnval.loaders import Readout

    spec, good, bad, _ = models
    pools = np.arange(20).reshape(10, 2)
    a = save_model(tmp_path / "a.h5", spec, Readout(pools, (150.0, 200.0)))
    b = save_model(tmp_path / "b.h5", spec, Readout(pools, (50.0, 100.0)))
    assert main(["bisect-run", "--", "diff", str(a), str(b)]) == EXIT_BAD
    assert main(["bisect-run", "--", "diff", str(a), str(b), "--run", "glif3_network"]) == EXIT_GOOD
    assert main(["bisect-run", "--", "diff", str(good), str(bad), "--run", "glif3_network"]) == EXIT_BAD


def test_unavailable_adapter_is_untestable(models, tmp_path):
    """A NEST source tree whose extension was not built (a failed build at that commit) is on the path:
    importing nest fails for real, the adapter reports itself unavailable, and the commit is skipped."""
    pkg = tmp_path / "unbuilt" / "nest"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import pynestkernel  # the compiled module a build would make\n")
    env = {"PYTHONPATH": str(tmp_path / "unbuilt")}
    plain = _snnval("compare", "synaptic_events", "--sim", "nest", "--sim", "nest", env=env)
    assert plain.returncode == 2  # plain snnval: not applicable -> 2, which git would count as bad
    done = _snnval("bisect-run", "--", "compare", "synaptic_events", "--sim", "nest", "--sim", "nest", env=env)
    assert done.returncode == EXIT_SKIP, done.stderr
    assert "adapter nest is not available" in done.stderr and "pynestkernel" in done.stderr
    # a golden check over every adapter would check only TF here: with --sim nest it checks nothing -> skip
    done = _snnval("bisect-run", "--", "golden", "check", "synaptic_events", "--sim", "nest", env=env)
    assert done.returncode == EXIT_SKIP, done.stderr
    # a file diff needs no simulator: still decided without NEST
    _, good, bad, _ = models
    done = _snnval("bisect-run", "--", "diff", str(good), str(bad), env=env)
    assert done.returncode == EXIT_BAD, done.stderr


def test_golden_check_as_bisect_script():
    pytest.importorskip("nest")
    assert main(["bisect-run", "--", "golden", "check", "synaptic_events", "--sim", "nest"]) == EXIT_GOOD


# --- the worked example: git bisect run over a repository of model files ------------------------------------


def _example():
    """examples/model_repo_bisect/make_repo.py, the worked example the README shows."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "examples" / "model_repo_bisect" / "make_repo.py"
    spec = importlib.util.spec_from_file_location("make_repo", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "run",
    [
        pytest.param((), id="file-diff"),
        # the README's command: each step runs both models on NEST in fresh processes (~12 s a step)
        pytest.param(("--run", "glif3_network"), id="run-effect", marks=pytest.mark.nightly),
    ],
)
def test_git_bisect_run_finds_the_bad_commit(tmp_path, run):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("nest")
    example = _example()
    git = example.git
    repo = tmp_path / "models"
    shas = example.make_model_repo(repo)
    known_good = tmp_path / "known_good.h5"
    known_good.write_bytes(
        subprocess.run(
            ["git", "show", f"{shas['initial model']}:model.h5"], cwd=repo, capture_output=True, check=True
        ).stdout
    )
    assert load_model(known_good).spec.n_neurons == 220
    git(repo, "bisect", "start", shas["provenance again"], shas["initial model"])
    out = git(
        repo,
        "bisect",
        "run",
        *SNNVAL,
        "bisect-run",
        "--",
        "diff",
        str(known_good),
        "model.h5",
        *run,
    )
    log = git(repo, "bisect", "log")
    git(repo, "bisect", "reset")
    assert f"{shas['e_to_i in pA']} is the first bad commit" in out, out
    # every step was decided by a real run or skipped; the bad commit was tested, not guessed
    assert f"# bad: [{shas['e_to_i in pA']}]" in log, log
