"""Command line: ``snnval list | run | compare | golden | bisect | nightly``.

Exit status: 0 within tolerance, 1 a comparison out of tolerance (or a regression),
2 a usage or input error (the message names the file, field and expected form).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("PYNEST_QUIET", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from snnval.errors import AdapterFailure, NotApplicable, SnnvalError, StaleGolden  # noqa: E402

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, allow_nan=False))


def cmd_list(args) -> int:
    from snnval.adapters import adapter_names, get_adapter
    from snnval.scenarios import SCENARIOS
    from snnval.semantics import PROFILES

    adapters = []
    for name in adapter_names():
        ad = get_adapter(name)
        av = ad.availability()
        adapters.append(
            {
                "name": name,
                "available": av.available,
                "version": av.version,
                "reason": av.reason,
                "description": ad.description,
            }
        )
    scenarios = [
        {"name": s.name, "description": s.description, "dts_ms": list(s.dts_ms), "record": list(s.record)}
        for s in SCENARIOS.values()
    ]
    profiles = {name: p.knobs() for name, p in PROFILES.items()}
    if args.json:
        _print_json({"adapters": adapters, "scenarios": scenarios, "profiles": profiles})
        return EXIT_OK
    print("Adapters:")
    for a in adapters:
        state = f"available ({a['version']})" if a["available"] else f"unavailable: {a['reason']}"
        print(f"  {a['name']:<8} {state}  - {a['description']}")
    print("Scenarios:")
    for s in scenarios:
        print(f"  {s['name']:<20} dt {', '.join(f'{d:g}' for d in s['dts_ms'])} ms  - {s['description']}")
    print("Profiles:")
    for name, knobs in profiles.items():
        print(f"  {name:<14} " + ", ".join(f"{k}={v}" for k, v in knobs.items()))
    return EXIT_OK


def _dt(scenario, dt):
    return scenario.dts_ms[0] if dt is None else dt


def cmd_run(args) -> int:
    from snnval.acceptance import golden_key
    from snnval.golden import write_golden
    from snnval.runner import run_scenario
    from snnval.scenarios import get_scenario

    sc = get_scenario(args.scenario)
    dt = _dt(sc, args.dt)
    result = run_scenario(sc.name, args.sim, args.profile, dt, dtype=args.dtype, threads=args.threads)
    summary = {
        "scenario": sc.name,
        "sim": args.sim,
        "profile": args.profile,
        "dt_ms": dt,
        "dtype": args.dtype,
        "n_spikes": result.n_spikes,
        "n_steps": result.n_steps,
        "mean_rate_Hz": result.n_spikes / (sc.build_spec().n_neurons * result.n_steps * dt / 1000.0),
        "provenance": result.provenance,
    }
    if args.out:
        write_golden(
            args.out,
            {golden_key(args.sim, args.profile, dt, args.dtype): result},
            result.provenance["spec_hash"],
            provenance={"scenario": sc.name, "command": "snnval run"},
            allow_empty_reason="output of snnval run, kept as recorded",
        )
        summary["out"] = args.out
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{sc.name} on {args.sim} ({args.profile}, dt {dt:g} ms, {args.dtype}): {result.n_spikes} spikes, "
            f"mean rate {summary['mean_rate_Hz']:.2f} Hz, run {result.provenance.get('run_wall_s', float('nan')):.2f} s"
            + (f"; written to {args.out}" if args.out else "")
        )
    return EXIT_OK


def _compare(scenario_name, sim_a, profile_a, sim_b, profile_b, dt, dtype, window):
    from snnval.acceptance import SAME_SEMANTICS_TOLERANCES
    from snnval.compare import compare
    from snnval.runner import run_scenario

    a = run_scenario(scenario_name, sim_a, profile_a, dt, dtype=dtype)
    b = run_scenario(scenario_name, sim_b, profile_b, dt, dtype=dtype)
    tol = {k: v for k, v in SAME_SEMANTICS_TOLERANCES.items() if k in a.state and k in b.state}
    return compare(
        a,
        b,
        tolerances=tol,
        match_window_steps=window,
        reference_name=sim_a,
        candidate_name=sim_b,
    )


def cmd_compare(args) -> int:
    from snnval.scenarios import get_scenario

    if len(args.sim) != 2:
        raise SnnvalError("compare: give exactly two --sim options (reference first, then candidate)")
    sc = get_scenario(args.scenario)
    dt = _dt(sc, args.dt)
    cmp = _compare(sc.name, args.sim[0], args.profile_a, args.sim[1], args.profile_b, dt, args.dtype, args.window)
    if args.json:
        out = cmp.to_dict()
        out.update({"scenario": sc.name, "passed": cmp.passed})
        _print_json(out)
    else:
        print(f"{sc.name}, dt {dt:g} ms, {args.dtype}")
        print(cmp.summary())
    return EXIT_OK if cmp.passed else EXIT_FAIL


def cmd_golden(args) -> int:
    from snnval.golden_workflow import available_golden_runs, check_golden_run, update_golden
    from snnval.scenarios import SCENARIOS, get_scenario

    names = args.scenarios or list(SCENARIOS)
    scenarios = [get_scenario(n) for n in names]
    if args.action == "update":
        for sc in scenarios:
            print(update_golden(sc, args.sim))
        return EXIT_OK
    failed = 0
    for sc in scenarios:
        for sim, profile, dt in available_golden_runs(sc, args.sim):
            cmp = check_golden_run(sc, sim, profile, dt)
            status = "ok" if cmp.passed else "FAIL"
            failed += not cmp.passed
            print(f"{status:<5} {sc.name} {sim}/{profile} dt {dt:g}")
            if not cmp.passed:
                print("      " + cmp.summary().replace("\n", "\n      "))
    return EXIT_OK if failed == 0 else EXIT_FAIL


def cmd_bisect(args) -> int:
    from snnval.bisect import bisect_knobs
    from snnval.scenarios import get_scenario

    sc = get_scenario(args.scenario)
    report = bisect_knobs(
        sc.name,
        args.reference_sim,
        args.reference_profile,
        args.candidate_sim,
        args.candidate_profile,
        _dt(sc, args.dt),
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return EXIT_OK if report.explained else EXIT_FAIL


def cmd_nightly(args) -> int:
    from snnval.nightly import run_nightly

    return run_nightly(
        quick=args.quick,
        out_dir=args.out,
        scheduler=args.scheduler,
        model=args.model,
        timeout_s=args.timeout,
        sims=args.sim,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnval", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="adapters (with availability), scenarios and profiles")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)

    def common(s, profile=True):
        s.add_argument("scenario")
        s.add_argument("--dt", type=float, default=None, help="step in ms (default: the scenario's first dt)")
        s.add_argument("--dtype", choices=("float64", "float32"), default="float64")
        s.add_argument("--json", action="store_true", help="print one JSON object with the figures")

    s = sub.add_parser("run", help="run one scenario on one adapter")
    common(s)
    s.add_argument("--sim", required=True)
    s.add_argument("--profile", default="nest-glif-psc")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", help="write the run to this HDF5 file (golden layout)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("compare", help="run a scenario on two adapters and compare them")
    common(s)
    s.add_argument("--sim", action="append", required=True, help="give twice: reference, then candidate")
    s.add_argument("--profile-a", default="nest-glif-psc")
    s.add_argument("--profile-b", default="nest-glif-psc")
    s.add_argument("--window", type=int, default=0, help="spike match window in steps (default 0: exact)")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("golden", help="check or regenerate references/<scenario>.h5")
    s.add_argument("action", choices=("check", "update"))
    s.add_argument("scenarios", nargs="*")
    s.add_argument("--sim", action="append", default=None, help="only these adapters (repeatable)")
    s.set_defaults(func=cmd_golden)

    s = sub.add_parser("bisect", help="find the first divergence and the semantic knob that explains it")
    common(s)
    s.add_argument("--reference-sim", default="tf")
    s.add_argument("--reference-profile", default="tf-billeh")
    s.add_argument("--candidate-sim", default="nest")
    s.add_argument("--candidate-profile", default="nest-glif-psc")
    s.set_defaults(func=cmd_bisect)

    s = sub.add_parser("nightly", help="accuracy tier + every scenario on every adapter -> reports/<date>/")
    s.add_argument("--quick", action="store_true", help="fixed subset of held-out samples (CI / quick start)")
    s.add_argument("--out", default=None, help="report directory (default reports/<date>)")
    s.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    s.add_argument("--model", default=None, help="model in the snnval HDF5 format (default: references/v1_digits.h5)")
    s.add_argument("--timeout", type=float, default=None, help="seconds per simulator run (default: from its size)")
    s.add_argument("--sim", action="append", default=None, help="only these adapters (repeatable)")
    s.set_defaults(func=cmd_nightly)
    return p


def main(argv: list[str] | None = None) -> int:
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `snnval ... --json | head` ends quietly
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return args.func(args)
    except (AdapterFailure, StaleGolden) as exc:  # the check could not pass: a failure, not a usage error
        print(f"snnval: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except NotApplicable as exc:
        print(f"snnval: not applicable: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SnnvalError as exc:
        print(f"snnval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
