#!/usr/bin/env python3
"""Set up snnval in ./.venv from the project's own files, then run the main job or the tests.

    python3 bootstrap.py nightly   # the nightly report on the shipped model and scenarios (quick mode)
    python3 bootstrap.py test      # the test suite (quick tier), as CI runs it

Needs only Python 3.11 (found as python3.11 or python3). Installs the pinned dependencies
(pyproject.toml + constraints.txt), and, for the browser test, Debian's chromium when run as
root with apt-get available. Extra arguments are passed on to `snnval nightly` or `pytest`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"


def _python311() -> str:
    for name in ("python3.11", "python3"):
        exe = shutil.which(name)
        if (
            exe
            and subprocess.run(
                [exe, "-c", "import sys; assert sys.version_info[:2] == (3, 11)"], capture_output=True
            ).returncode
            == 0
        ):
            return exe
    sys.exit(
        "snnval needs Python 3.11 (tensorflow-cpu 2.21, nest-simulator 3.10 and brian2 pins): "
        "install python3.11 and run this script with it"
    )


def _run(cmd: list[str], cwd_override: Path | None = None, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd_override or ROOT, **kw)


def setup() -> None:
    stamp = VENV / ".snnval-installed"
    wanted = b"".join(
        p.read_bytes()
        for p in (
            ROOT / "pyproject.toml",
            ROOT / "constraints.txt",
            ROOT / "examples/snnval-example-plugin/pyproject.toml",
        )
    )
    if stamp.exists() and stamp.read_bytes() == wanted:
        compile_pynn_neuron()  # idempotent: a no-op once compiled
        return
    if not (BIN / "python").exists():
        _run([_python311(), "-m", "venv", str(VENV)])
    _run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", ".[all,test]"])
    # a third-party adapter registered through the entry-point group, for the registry's own test
    _run([str(BIN / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "./examples/snnval-example-plugin"])
    stamp.write_bytes(wanted)
    compile_pynn_neuron()


def _pynn_nmodl_dir(python: Path) -> Path | None:
    """pyNN.neuron's NMODL folder in the environment of ``python`` (None if PyNN is not installed)."""
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, pathlib; s = importlib.util.find_spec('pyNN');"
            "print(pathlib.Path(s.origin).parent / 'neuron' / 'nmodl' if s else '')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(out) if out else None


def compile_pynn_neuron(python: Path = BIN / "python") -> Path | None:
    """Compile pyNN.neuron's NMODL mechanisms once, where pyNN.neuron loads them from (idempotent).

    pyNN.neuron compiles them on first import with the ``nrnivmodl`` it finds on PATH, which fails
    (TypeError) when the venv is not activated and races when parallel tests import it together.
    Here it runs once, at set-up, with the venv's bin first on PATH; later runs find the compiled
    library (``<arch>/libnrnmech.so`` newer than every ``.mod`` file) and return at once.
    Returns the NMODL folder, or None when PyNN or NEURON is not installed.
    """
    nmodl = _pynn_nmodl_dir(python)
    path = os.pathsep.join([str(python.parent), os.environ.get("PATH", "")])
    nrnivmodl = shutil.which("nrnivmodl", path=path)
    if nmodl is None or nrnivmodl is None:
        print("note: PyNN or NEURON (nrnivmodl) missing: pyNN.neuron will be unavailable", flush=True)
        return None
    newest_mod = max(p.stat().st_mtime for p in nmodl.glob("*.mod"))
    built = [p for p in nmodl.glob("*/libnrnmech.so") if p.stat().st_mtime >= newest_mod]
    if built:
        return nmodl
    _run([nrnivmodl], env=dict(os.environ, PATH=path), cwd_override=nmodl)
    return nmodl


def ensure_browser() -> None:
    """Install Debian's chromium for the report's browser test where this machine allows it."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("note: no chromium and no root apt-get: the browser test will be skipped", flush=True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run(["apt-get", "update", "-qq"], env=env)
        _run(["apt-get", "install", "-y", "-qq", "chromium"], env=env)
    except subprocess.CalledProcessError as exc:
        print(f"note: installing chromium failed ({exc}); the browser test will be skipped", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("nightly", "test"):
        print(__doc__)
        return 2
    setup()
    env = dict(os.environ, PYNEST_QUIET="1", TF_CPP_MIN_LOG_LEVEL="2", PATH=f"{BIN}:{os.environ['PATH']}")
    if argv[0] == "nightly":
        cmd = [str(BIN / "snnval"), "nightly", "--quick", *argv[1:]]
    else:
        ensure_browser()
        cmd = [str(BIN / "python"), "-m", "pytest", "-n", "2", "--dist", "loadgroup", *argv[1:]]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
