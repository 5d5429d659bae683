"""Nightly report: publish a results dict as ``index.html`` + ``results.json`` + PNG figures, keep a history.

``build_report(results, out_dir, history_path)`` publishes::

    out_dir/index.html     one self-contained page (inline CSS, no external URLs, no JS framework)
    out_dir/results.json   the validated results, regressions filled in
    out_dir/img/*.png      figures

and appends one JSON line (:func:`snnval.report_history.history_record`) to ``history_path``.

Publishing is one transaction: the whole report is built in a staging directory beside ``out_dir`` and
renamed into place (an atomic exchange with the previous report where the kernel offers ``renameat2``),
and the history line is appended only after the page exists. Anything that fails before the rename
(bad results, an unreadable history, a full disk, a figure that cannot be drawn) leaves the previous
report whole and the history untouched.

The pieces live in their own modules: the schema and typed records in :mod:`snnval.report_schema`
(``results_schema.json``), history and regressions in :mod:`snnval.report_history`, figures in
:mod:`snnval.report_figures`, the page in :mod:`snnval.report_render` (template: ``reports/template/``).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snnval.errors import SpecError
from snnval.report_history import (
    HistoryError,
    append_history,
    detect_regressions,
    history_record,
    load_history,
    previous_record,
)
from snnval.report_render import DEFAULT_TEMPLATE_DIR, check_page, template_env, view_model
from snnval.report_schema import SCHEMA_VERSION, STATUSES, NightResults, ResultsSchemaError, validate_results

__all__ = [
    "DEFAULT_TEMPLATE_DIR",
    "HistoryError",
    "MAX_TREND_POINTS",
    "NightResults",
    "ResultsSchemaError",
    "SCHEMA_VERSION",
    "STATUSES",
    "build_report",
    "check_destination",
    "detect_regressions",
    "history_record",
    "load_history",
    "validate_results",
]

#: Trend charts show at most this many nights, so the x axis stays readable after a year of nights.
MAX_TREND_POINTS = 60
#: What marks a directory as an earlier report that publishing may replace.
_REPORT_MARKERS = ("results.json", "index.html")


# ------------------------------------------------------------------------------------------ destination


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_destination(path: Path | str, flag: str, *, report_dir: bool = True) -> None:
    """Refuse an output location that publishing would fail on or damage; SpecError names ``flag``.

    A report directory must be a directory (not a file), new, empty or an earlier report (publishing
    replaces it whole), and its parent must be writable; ``report_dir=False`` checks only that ``path``
    is (or can be created as) a writable directory. Writability is probed by creating a file, because
    permission bits alone do not say (root, read-only mounts, ACLs).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SpecError(str(path), flag, "a directory, got an existing file")
    if report_dir and path.is_dir():
        entries = [p.name for p in path.iterdir()]
        if entries and not any(m in entries for m in _REPORT_MARKERS):
            raise SpecError(
                str(path),
                flag,
                "a new or empty directory, or an earlier snnval report (with results.json); it holds other "
                f"files ({', '.join(sorted(entries)[:3])}...), which publishing would replace",
            )
    # the staging directory is created beside a report directory, the history inside its directory
    probe_dir = _nearest_existing(path.parent if report_dir else path)
    if not probe_dir.is_dir():
        raise SpecError(str(probe_dir), flag, f"a directory on the way to {path}, got a file")
    try:
        fd, name = tempfile.mkstemp(dir=probe_dir, prefix=".snnval-write-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise SpecError(str(probe_dir), flag, f"a writable directory ({exc.strerror or exc})") from None


# ------------------------------------------------------------------------------------------ publishing


def build_report(
    results: Mapping[str, Any],
    out_dir: Path | str,
    history_path: Path | str,
    *,
    template_dir: Path | str | None = None,
) -> Path:
    """Validate ``results``, publish the report to ``out_dir``, append to the history; return ``index.html``.

    Everything that can fail on bad input (validation, destination, history) runs before anything is
    written; the report is built in a staging directory and renamed into place; the history line comes last.
    """
    from snnval.report_figures import render_figures

    validate_results(results)
    out_dir, history_path = Path(out_dir), Path(history_path)
    check_destination(out_dir, "out_dir")
    check_destination(history_path.parent, "history_path", report_dir=False)
    env, css = template_env(Path(template_dir) if template_dir is not None else DEFAULT_TEMPLATE_DIR)
    history = load_history(history_path)

    data = copy.deepcopy(dict(results))  # never mutate the caller's dict
    previous = previous_record(history, data)
    found = detect_regressions(data, previous)
    data["regressions"] = list(dict.fromkeys([*data["regressions"], *found]))
    record = history_record(data)
    trend_records = [r for r in history if r["quick"] == data["quick"]][-(MAX_TREND_POINTS - 1) :]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=out_dir.parent))
    try:
        (staging / "img").mkdir()
        images = render_figures(data, trend_records + [record], staging / "img")
        page = env.get_template("index.html.j2").render(
            css=css, r=data, view=view_model(data, previous, history_path, len(trend_records)), images=images
        )
        check_page(page, staging)
        _write(staging / "results.json", json.dumps(data, indent=1, allow_nan=False) + "\n")
        _write(staging / "index.html", page)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the published report from other users
        _swap_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after a swap: the previous report
    append_history(history_path, record)
    return out_dir / "index.html"


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    """Put the finished report at ``out_dir``; the previous report ends up at ``staging`` (to be removed)."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        staging.mkdir()  # the caller removes ``staging``; leave an empty directory there
    elif not _exchange(staging, out_dir):
        aside = out_dir.parent / f".{out_dir.name}.previous-{uuid.uuid4().hex[:8]}"
        os.rename(out_dir, aside)
        try:
            os.rename(staging, out_dir)
        except OSError:
            os.rename(aside, out_dir)  # put the previous report back
            raise
        os.rename(aside, staging)
    with contextlib.suppress(OSError):  # make the renames durable where the platform allows it
        fd = os.open(out_dir.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
