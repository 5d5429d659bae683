"""Make a scratch git repository of model files whose history holds one bad commit (the git bisect example).

Usage: ``python examples/model_repo_bisect/make_repo.py DIR`` creates DIR (must not exist) with 7 commits of
``model.h5`` (the glif3_network scenario's network in the snnval model format) and prints their hashes:

1. initial model                       good
2. provenance (metadata only)          good
3. broken upload (file truncated)      cannot be tested
4. re-export, rows in another order    good (the same network)
5. e_to_i in pA                        BAD: the E->I weights scaled by 1000
6. notes (a text file)                 bad
7. provenance again                    bad

Then see README.md, "git bisect run across versions".
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from snnval.loaders.model_h5 import save_model
from snnval.scenarios import get_scenario
from snnval.spec import Synapses

_ENV = {"GIT_AUTHOR_NAME": "snnval", "GIT_AUTHOR_EMAIL": "snnval@example.invalid"}
_ENV.update(GIT_COMMITTER_NAME=_ENV["GIT_AUTHOR_NAME"], GIT_COMMITTER_EMAIL=_ENV["GIT_AUTHOR_EMAIL"])


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **_ENV}, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def make_model_repo(repo: Path) -> dict[str, str]:
    """Create the repository; return {commit message: sha}."""
    spec = get_scenario("glif3_network").build_spec().validated()
    s = spec.synapses
    order = np.random.default_rng(4).permutation(len(s))
    shuffled = replace(spec, synapses=Synapses(*(getattr(s, f)[order] for f in Synapses.__dataclass_fields__)))
    t = shuffled.synapses
    scaled = replace(
        shuffled, synapses=replace(t, weight_pA=np.where(t.receptor == 2, t.weight_pA * 1000, t.weight_pA))
    )
    model = repo / "model.h5"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    shas: dict[str, str] = {}

    def commit(label: str, write) -> None:
        write()
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", label)
        shas[label] = git(repo, "rev-parse", "HEAD").strip()

    commit("initial model", lambda: save_model(model, spec, metadata={"note": "exported"}))
    commit("provenance", lambda: save_model(model, spec, metadata={"note": "exported", "by": "lab"}))
    commit("broken upload", lambda: model.write_bytes(model.read_bytes()[:4000]))
    commit("re-export, rows in another order", lambda: save_model(model, shuffled, metadata={"note": "re-export"}))
    commit("e_to_i in pA", lambda: save_model(model, scaled, metadata={"note": "weights converted"}))
    commit("notes", lambda: (repo / "NOTES.md").write_text("weights converted to pA\n"))
    commit("provenance again", lambda: save_model(model, scaled, metadata={"note": "final"}))
    return shas


if __name__ == "__main__":
    if len(sys.argv) != 2 or Path(sys.argv[1]).exists():
        sys.exit("usage: make_repo.py DIR (DIR must not exist)")
    for label, sha in make_model_repo(Path(sys.argv[1])).items():
        print(sha[:10], label)
