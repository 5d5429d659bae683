"""``snnval bisect-run``: any snnval check as a ``git bisect run`` script.

``git bisect run CMD`` reads CMD's exit status: 0 the commit is good, 1-127 except 125 it is bad, 125 it
cannot be tested (skipped), anything above 127 aborts the bisection (git-bisect(1), "Bisect run"). snnval's
own exit codes do not fit: its usage error is 2, which git would take for "bad". This wrapper runs one snnval
subcommand in-process and maps the outcome:

======================================================  ==========  ======================================
outcome                                                  exit code   why
======================================================  ==========  ======================================
check passed (subcommand returned 0)                     0           good
check failed (subcommand returned 1: out of tolerance,   1           bad
a regression, models differ)
a simulator crash or hang (AdapterFailure)               1 or 125    ``--crash bad`` (default: a crash is a
                                                                     regression) or ``--crash skip``
``--setup`` command failed (a build failure)             125         this commit cannot be tested
adapter unavailable or not applicable, a golden check    125         this commit cannot be tested
with no golden run available, a file missing or
malformed (SpecError), a golden made from another
spec (StaleGolden), any other error of the check
the wrapper's or the subcommand's arguments are wrong    128         abort: no commit can be tested with
(argparse usage error, nothing to run)                               this command line; never 1
======================================================  ==========  ======================================
"""

from __future__ import annotations

import subprocess
import sys
import traceback
from collections.abc import Sequence

from snnval.errors import AdapterFailure, SnnvalError

EXIT_GOOD, EXIT_BAD, EXIT_SKIP, EXIT_ABORT = 0, 1, 125, 128

#: Subcommands that make sense as a bisect check.
CHECKS = ("compare", "golden", "diff", "delta-debug", "delta-debug-sims", "bisect", "run")


def _say(msg: str) -> None:
    print(f"snnval bisect-run: {msg}", file=sys.stderr)


def _unavailable(args) -> str:
    """Why the check cannot test anything here ("" if it can): an adapter it names is unavailable, or (golden
    check) no golden run is available, so that a check of nothing never counts as good."""
    from snnval.adapters import get_adapter

    if args.command == "diff" and not args.run:
        return ""  # a file diff runs no simulator
    if args.command == "golden" and args.action == "check":
        from snnval.golden_workflow import available_golden_runs
        from snnval.scenarios import SCENARIOS, get_scenario

        names = args.scenarios or list(SCENARIOS)
        if not any(available_golden_runs(get_scenario(n), args.sim) for n in names):
            return f"no golden run of {', '.join(names)} can run here (adapters {args.sim or 'all'})"
    sims = getattr(args, "sim", None)
    names = [sims] if isinstance(sims, str) else list(sims or [])
    for attr in ("reference_sim", "candidate_sim"):
        if getattr(args, attr, None):
            names.append(getattr(args, attr))
    for name in dict.fromkeys(names):
        avail = get_adapter(name).availability()
        if not avail.available:
            return f"adapter {name} is not available: {avail.reason}"
    return ""


def bisect_run(argv: Sequence[str], *, setup: str | None = None, crash: str = "bad") -> int:
    """Run ``snnval <argv>`` and return its ``git bisect run`` exit code (module docstring)."""
    from snnval.cli import _apply_timeout, build_parser

    argv = list(argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv or argv[0] not in CHECKS:
        _say(f"give the check after '--', one of: {', '.join(CHECKS)} (got {argv[:1] or 'nothing'}); aborting")
        return EXIT_ABORT
    if crash not in ("bad", "skip"):
        _say(f"--crash must be 'bad' or 'skip', got {crash!r}; aborting")
        return EXIT_ABORT
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage error (or --help)
        if exc.code in (0, None):
            return EXIT_ABORT  # --help: nothing was tested
        _say("usage error in the check's arguments: aborting the bisection (exit 128)")
        return EXIT_ABORT
    try:
        _apply_timeout(args)  # the check's --timeout (or $SNNVAL_TIMEOUT_S), as plain snnval applies it
    except SnnvalError as exc:
        _say(f"{exc}: aborting the bisection (exit 128)")
        return EXIT_ABORT
    if setup:
        done = subprocess.run(setup, shell=True)  # noqa: S602 - the user's own build command, as git runs it
        if done.returncode != 0:
            _say(f"setup command failed (exit {done.returncode}): commit cannot be tested (125)")
            return EXIT_SKIP
    try:
        why = _unavailable(args)
        if why:
            _say(f"{why}: commit cannot be tested (125)")
            return EXIT_SKIP
        rc = int(args.func(args))
    except AdapterFailure as exc:
        _say(f"simulator failure: {exc}")
        return EXIT_BAD if crash == "bad" else EXIT_SKIP
    except SnnvalError as exc:  # SpecError (file missing/malformed), NotApplicable, StaleGolden, ...
        _say(f"{type(exc).__name__}: {exc}: commit cannot be tested (125)")
        return EXIT_SKIP
    except Exception:  # e.g. an ImportError of a half-built package: untestable, not bad
        _say("the check raised:\n" + traceback.format_exc() + "commit cannot be tested (125)")
        return EXIT_SKIP
    if rc in (EXIT_GOOD, EXIT_BAD):
        return rc
    _say(f"the check returned {rc}: commit cannot be tested (125)")
    return EXIT_SKIP
