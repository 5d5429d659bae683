#!/usr/bin/env python3
"""Set up snnval in ./.venv from the project's own files, then run the main job or the tests.

    python3 bootstrap.py nightly   # the nightly report on the shipped model and scenarios (quick mode)
    python3 bootstrap.py test      # the test suite (quick tier), as CI runs it
    python3 bootstrap.py setup     # only build the environment
    python3 bootstrap.py smoke     # set-up + a smoke run: snnval list, one compare, the golden check
    python3 bootstrap.py pythons   # the supported Pythons found here, newest first

Options before the command: ``--python X`` (a version such as 3.12, or an interpreter path; also the
environment variable SNNVAL_PYTHON) and ``--venv DIR`` (default .venv). Without them the newest
supported CPython found on this machine is used (3.13, 3.12, 3.11; found on PATH or in pyenv's
versions), and the script says which. It installs the pinned dependencies (pyproject.toml and the
lock of that Python, locks/py3.X.txt), warms the simulators' compile caches, and, for the browser
test, Debian's chromium when run as root with apt-get available. Other arguments go to
`snnval nightly` or `pytest`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SUPPORTED = ((3, 13), (3, 12), (3, 11))
LOCKS = ROOT / "locks"


def _version_of(exe: str) -> tuple[int, int] | None:
    """(major, minor) of a CPython interpreter, or None if it does not run (e.g. a pyenv shim)."""
    code = "import sys, platform; print(platform.python_implementation(), *sys.version_info[:2])"
    try:
        out = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 3 or parts[0] != "CPython":
        return None
    return int(parts[1]), int(parts[2])


def _candidates() -> list[str]:
    names = [f"python{a}.{b}" for a, b in SUPPORTED] + ["python3"]
    found = [shutil.which(n) for n in names] + [sys.executable]
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for a, b in SUPPORTED:  # pyenv installs versions that its shims only expose when selected
        found += sorted(glob.glob(f"{pyenv}/versions/{a}.{b}.*/bin/python{a}.{b}"), reverse=True)
    return list(dict.fromkeys(f for f in found if f))


def supported_found() -> dict[tuple[int, int], str]:
    """Every supported CPython found here: {(major, minor): interpreter}."""
    found: dict[tuple[int, int], str] = {}
    for exe in _candidates():
        version = _version_of(exe)
        if version in SUPPORTED:
            found.setdefault(version, exe)
    return found


def choose_python(requested: str | None) -> tuple[str, tuple[int, int]]:
    """The interpreter to build the venv with: ``requested`` (version or path), else the newest supported."""
    supported = ", ".join(f"{a}.{b}" for a, b in sorted(SUPPORTED))
    if requested and (os.sep in requested or Path(requested).exists()):
        version = _version_of(requested)
        if version not in SUPPORTED:
            sys.exit(f"snnval: {requested} is not a supported CPython ({supported}); got {version}")
        return requested, version
    found = supported_found()
    if requested:
        want = tuple(int(x) for x in requested.split("."))[:2]
        if want not in found:
            have = ", ".join(f"{a}.{b}" for a, b in sorted(found)) or "none"
            sys.exit(f"snnval: Python {requested} was asked for but not found (supported ones found: {have})")
        return found[want], want
    if not found:
        sys.exit(
            f"snnval needs CPython {supported} and found none: install one (e.g. `apt-get install python3.11` "
            "or from python.org) and run this script again"
        )
    version = max(found)
    return found[version], version


def _run(cmd: list[str], cwd_override: Path | None = None, **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd_override or ROOT, **kw)


def lock_path(version: tuple[int, int]) -> Path:
    return LOCKS / f"py{version[0]}.{version[1]}.txt"


def setup(venv: Path, python: str, version: tuple[int, int]) -> None:
    bin_ = venv / "bin"
    lock = lock_path(version)
    if not lock.exists():
        sys.exit(f"snnval: no lock for Python {version[0]}.{version[1]} ({lock}); run locks/make_locks.py")
    stamp = venv / ".snnval-installed"
    inputs = ("pyproject.toml", "examples/snnval-example-plugin/pyproject.toml")
    wanted = b"".join((ROOT / name).read_bytes() for name in inputs) + lock.read_bytes()
    if stamp.exists() and stamp.read_bytes() == wanted:
        warm_brian2_cache(venv)  # a no-op compile-wise when the cache is there; rebuilds it if it was deleted
        compile_pynn_neuron(bin_ / "python")  # idempotent: a no-op once compiled
        return
    if (bin_ / "python").exists() and _version_of(str(bin_ / "python")) != version:
        print(f"snnval: {venv} was built with another Python: rebuilding it", flush=True)
        shutil.rmtree(venv)
    if not (bin_ / "python").exists():
        _run([python, "-m", "venv", str(venv)])
    pip = [str(bin_ / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--upgrade", "pip"])
    _run([*pip, "-c", str(lock), "-e", ".[all,test]"])
    # a third-party adapter registered through the entry-point group, for the registry's own test
    _run([*pip, "--no-deps", "./examples/snnval-example-plugin"])
    warm_brian2_cache(venv)
    compile_pynn_neuron(bin_ / "python")
    stamp.write_bytes(wanted)


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


def compile_pynn_neuron(python: Path) -> Path | None:
    """Compile pyNN.neuron's NMODL mechanisms once, where pyNN.neuron loads them from (idempotent).

    ``python`` is the venv's interpreter (``<venv>/bin/python``).

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


def warm_brian2_cache(venv: Path) -> None:
    """Compile the Brian2 adapter's cython code once, so tests and runs reuse the cache (never in parallel tests)."""
    _run([str(venv / "bin" / "python"), "-m", "snnval.adapters.brian2_sim", "--warm-cache"])


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


def smoke(bin_: Path, env: dict) -> int:
    """The set-up check run on every supported Python: list, one cross-simulator compare, the goldens."""
    snnval = str(bin_ / "snnval")
    for cmd in (
        [snnval, "list"],
        [snnval, "compare", "glif3_network", "--sim", "tf", "--sim", "nest", "--dt", "1"],
        [snnval, "golden", "check"],
    ):
        print("+", " ".join(cmd), flush=True)
        code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        if code != 0:
            print(f"smoke: `{' '.join(cmd[1:3])}` exited {code}", flush=True)
            return code
    return 0


def _options(argv: list[str]) -> tuple[dict, list[str]]:
    opts = {"python": os.environ.get("SNNVAL_PYTHON") or None, "venv": str(ROOT / ".venv")}
    while argv and argv[0] in ("--python", "--venv"):
        if len(argv) < 2:
            sys.exit(f"snnval: {argv[0]} needs a value")
        opts[argv[0][2:]] = argv[1]
        argv = argv[2:]
    return opts, argv


def main(argv: list[str]) -> int:
    opts, argv = _options(argv)
    if not argv or argv[0] not in ("nightly", "test", "setup", "smoke", "pythons"):
        print(__doc__)
        return 2
    if argv[0] == "pythons":
        print(" ".join(f"{a}.{b}" for a, b in sorted(supported_found(), reverse=True)))
        return 0
    python, version = choose_python(opts["python"])
    print(f"snnval: using Python {version[0]}.{version[1]} ({python})", flush=True)
    venv = Path(opts["venv"]).resolve()
    setup(venv, python, version)
    if argv[0] == "setup":
        return 0
    bin_ = venv / "bin"
    env = dict(os.environ, PYNEST_QUIET="1", TF_CPP_MIN_LOG_LEVEL="2", PATH=f"{bin_}:{os.environ['PATH']}")
    if argv[0] == "smoke":
        return smoke(bin_, env)
    if argv[0] == "nightly":
        cmd = [str(bin_ / "snnval"), "nightly", "--quick", *argv[1:]]
    else:
        ensure_browser()
        cmd = [str(bin_ / "python"), "-m", "pytest", "-n", "2", "--dist", "loadgroup", *argv[1:]]
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
