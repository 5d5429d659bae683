"""Property: whatever flags and files it is given, the CLI exits 0, 1 or 2 with a message, never a traceback.

hypothesis draws flag values (dt, threads, timeout, scenario, simulator, output paths) and bad model
files. Only NEST is drawn as a simulator and most draws fail validation before running, so the few
runs that do happen are small (at most the 220-neuron network on NEST, a few seconds).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnval.cli import main

REPO = Path(__file__).resolve().parent.parent

_NUMBERS = st.one_of(
    st.sampled_from(
        ["0", "-0", "nan", "inf", "-inf", "-1", "1", "0.5", "0.1", "0.0005", "0.7", "1e9", "abc", "", "1,0"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=1e-4, max_value=3.0).map(lambda x: f"{x:.4g}"),
)
_INTS = st.one_of(st.integers(-3, 4).map(str), st.sampled_from(["10000000000", "1.5", "two", ""]))
_SCENARIOS = st.sampled_from(["single_neuron_step", "synaptic_events", "glif3_network", "nope", "", "../etc"])


def _bad_files(tmp: Path) -> dict[str, Path]:
    """Model files a user might pass by mistake: empty, truncated, random bytes, self-including config."""
    digits = (REPO / "references" / "v1_digits.h5").read_bytes()
    files = {
        "empty.h5": b"",
        "truncated.h5": digits[: len(digits) // 3],
        "signature-only.h5": digits[:8] + b"\0" * 64,
        "random.h5": bytes(range(256)) * 4,
        "self.json": b'{"network": "self.json"}',
        "broken.json": b'{"networks": {"nodes": [',
        "latin1.json": '{"n\u00e9": 1}'.encode("latin-1"),
    }
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    (tmp / "a-directory.h5").mkdir(exist_ok=True)
    return {name: tmp / name for name in [*files, "a-directory.h5"]}


@st.composite
def _argv(draw, tmp: Path, files: dict[str, Path]) -> list[str]:
    command = draw(st.sampled_from(["run", "run", "run", "compare", "nightly", "list"]))
    if command == "list":
        return ["list", *draw(st.sampled_from([[], ["--json"], ["--bogus"]]))]
    if command == "nightly":  # only bad model files: a valid one would start a whole night
        model = draw(st.sampled_from(sorted(files)))
        return ["nightly", "--quick", "--model", str(files[model]), "--out", str(tmp / "night")]
    argv = [command, draw(_SCENARIOS)]
    if draw(st.booleans()):
        argv += ["--dt", draw(_NUMBERS)]
    if draw(st.booleans()):
        argv += ["--timeout", draw(_NUMBERS)]
    if command == "run":
        argv += ["--sim", draw(st.sampled_from(["nest", "nest", "bogus", ""]))]
        if draw(st.booleans()):
            argv += ["--threads", draw(_INTS)]
        out = draw(st.sampled_from([None, "ok", "missing-dir", "directory", "existing-bad"]))
        if out == "ok":
            argv += ["--out", str(tmp / "run.h5")]
        elif out == "missing-dir":
            argv += ["--out", str(tmp / "no" / "such" / "run.h5")]
        elif out == "directory":
            argv += ["--out", str(tmp)]
        elif out == "existing-bad":
            argv += ["--out", str(files["truncated.h5"])]
    else:
        argv += ["--sim", "nest", "--sim", draw(st.sampled_from(["nest-entrypoint", "bogus"]))]
        if draw(st.booleans()):
            argv += ["--window", draw(_INTS)]
    return argv


_TMP = Path(tempfile.mkdtemp(prefix="snnval-cli-property-"))
atexit.register(shutil.rmtree, _TMP, True)
_FILES = _bad_files(_TMP)


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(argv=_argv(_TMP, _FILES))
def test_cli_exits_0_1_or_2_with_a_message(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    text = err.getvalue()
    assert code in (0, 1, 2), (argv, code, text)
    assert "Traceback" not in text, (argv, text)
    if code != 0:
        assert text.strip(), f"{argv}: exit {code} without a message"
        assert text.lstrip().startswith(("snnval", "usage:")), (argv, text)
    # a failed --out never leaves a temporary file behind
    assert not [p for p in _TMP.glob(".*.tmp")], os.listdir(_TMP)
