"""Command line: ``snnval list | run | compare | golden | bisect | precision | nightly | pairs``.

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

from snnval.errors import AdapterFailure, NotApplicable, SnnvalError, SpecError, StaleGolden  # noqa: E402

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
                "devices": list(ad.capabilities().devices) if av.available else [],
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
        state = (
            f"available ({a['version']}; device {', '.join(a['devices'])})"
            if a["available"]
            else f"unavailable: {a['reason']}"
        )
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


def _sonata_load(args):
    from snnval.sonata_sim import load_sonata_simulation

    return load_sonata_simulation(args.sonata, iclamp_amp_unit=args.iclamp_amp_unit, output_dir=args.output_dir)


def _sonata_run(loaded, sim: str, profile_name: str, dtype: str):
    """Run a loaded SONATA simulation on adapter ``sim`` in its own process."""
    from snnval.contract import RunConfig
    from snnval.runner import run_adapter
    from snnval.semantics import profile

    config = RunConfig(semantics=profile(profile_name), record=(), dtype=dtype)
    return run_adapter(sim, loaded.spec, loaded.stimulus, config)


def cmd_run_sonata(args) -> int:
    """``snnval run --sonata CONFIG --sim NAME``: run a SONATA simulation, write SONATA spikes + result file."""
    from pathlib import Path

    from snnval.sonata_sim import write_outputs

    if args.scenario:
        raise SnnvalError("run: give a scenario or --sonata CONFIG, not both")
    sim = _sonata_load(args)
    result = _sonata_run(sim, args.sim, args.profile, args.dtype)
    written = write_outputs(sim, result, args.sim, Path(args.out) if args.out else None)
    n = sim.spec.n_neurons
    summary = {
        "sonata_config": str(sim.config),
        "sim": args.sim,
        "profile": args.profile,
        "dt_ms": sim.dt_ms,
        "tstop_ms": sim.tstop_ms,
        "input_spike_rule": sim.spike_rule,
        "n_neurons": n,
        "n_input_events": len(sim.stimulus.events),
        "n_current_changes": len(sim.stimulus.currents),
        "n_spikes": result.n_spikes,
        "mean_rate_Hz": result.n_spikes / (n * sim.tstop_ms / 1000.0),
        "written": {k: str(v) for k, v in written.items()},
        "notes": sim.notes,
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{sim.config.name} on {args.sim} ({args.profile}, dt {sim.dt_ms:g} ms, tstop {sim.tstop_ms:g} ms): "
            f"{result.n_spikes} spikes from {n} neurons, {len(sim.stimulus.events)} input spikes "
            f"({sim.spike_rule} times); wrote {written['spikes_h5']}, {written['spikes_csv']}, {written['result']}"
        )
    return EXIT_OK


def cmd_compare_sonata(args) -> int:
    """``snnval compare --sonata CONFIG --sim A --sim B``: spike-by-spike comparison of two runs of one config."""
    from snnval.compare import compare

    if args.scenario:
        raise SnnvalError("compare: give a scenario or --sonata CONFIG, not both")
    sim = _sonata_load(args)
    a = _sonata_run(sim, args.sim[0], args.profile_a, args.dtype)
    b = _sonata_run(sim, args.sim[1], args.profile_b, args.dtype)
    cmp = compare(a, b, match_window_steps=args.window, reference_name=args.sim[0], candidate_name=args.sim[1])
    if args.json:
        out = cmp.to_dict()
        out.update({"sonata_config": str(sim.config), "passed": cmp.passed})
        _print_json(out)
    else:
        print(f"{sim.config.name}, dt {sim.dt_ms:g} ms, {args.dtype}")
        print(cmp.summary())
    return EXIT_OK if cmp.passed else EXIT_FAIL


def _check_run_flags(sc, dt, sims, profiles, threads=1) -> None:
    """Every flag of a run checked before anything is built or run (exit 2 with file/field/form)."""
    from snnval.adapters import get_adapter
    from snnval.preflight import check_run_request
    from snnval.semantics import profile

    for sim in sims:
        get_adapter(sim)
    for prof in profiles:
        profile(prof)
    check_run_request(sc, dt, threads=threads)


def cmd_run(args) -> int:
    if args.sonata:
        return cmd_run_sonata(args)
    if not args.scenario:
        raise SnnvalError("run: give a scenario name or --sonata CONFIG")
    from snnval.acceptance import golden_key
    from snnval.golden import write_golden
    from snnval.preflight import check_output_file
    from snnval.runner import run_scenario
    from snnval.scenarios import get_scenario

    sc = get_scenario(args.scenario)
    dt = _dt(sc, args.dt)
    _check_run_flags(sc, dt, [args.sim], [args.profile], args.threads)
    if args.out:
        check_output_file(args.out, "--out")
    result = run_scenario(
        sc.name, args.sim, args.profile, dt, dtype=args.dtype, threads=args.threads, device=args.device
    )
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


def _compare(scenario_name, sim_a, profile_a, sim_b, profile_b, dt, dtype, window, device="cpu"):
    from snnval.acceptance import same_semantics_tolerances
    from snnval.compare import compare
    from snnval.runner import run_scenario
    from snnval.scenarios import get_scenario

    a = run_scenario(scenario_name, sim_a, profile_a, dt, dtype=dtype, device=device)
    b = run_scenario(scenario_name, sim_b, profile_b, dt, dtype=dtype, device=device)
    tol = same_semantics_tolerances(a, b, models=get_scenario(scenario_name).build_spec().neuron_models)
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
    if args.sonata:
        return cmd_compare_sonata(args)
    if not args.scenario:
        raise SnnvalError("compare: give a scenario name or --sonata CONFIG")
    sc = get_scenario(args.scenario)
    dt = _dt(sc, args.dt)
    _check_run_flags(sc, dt, args.sim, [args.profile_a, args.profile_b])
    if args.window < 0:
        raise SpecError("--window", "window", f"a spike match window in steps >= 0, got {args.window}")
    cmp = _compare(
        sc.name, args.sim[0], args.profile_a, args.sim[1], args.profile_b, dt, args.dtype, args.window, args.device
    )
    if args.json:
        out = cmp.to_dict()
        out.update({"scenario": sc.name, "passed": cmp.passed})
        _print_json(out)
    else:
        print(f"{sc.name}, dt {dt:g} ms, {args.dtype}")
        print(cmp.summary())
    return EXIT_OK if cmp.passed else EXIT_FAIL


def cmd_golden(args) -> int:
    from snnval.adapters import get_adapter
    from snnval.golden_workflow import available_golden_runs, check_golden_run, update_golden
    from snnval.scenarios import SCENARIOS, get_scenario

    names = args.scenarios or list(SCENARIOS)
    scenarios = [get_scenario(n) for n in names]
    for sim in args.sim or []:
        get_adapter(sim)
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
    dt = _dt(sc, args.dt)
    _check_run_flags(sc, dt, [args.reference_sim, args.candidate_sim], [args.reference_profile, args.candidate_profile])
    report = bisect_knobs(
        sc.name,
        args.reference_sim,
        args.reference_profile,
        args.candidate_sim,
        args.candidate_profile,
        dt,
        knob_reference=args.knob_reference,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return EXIT_OK if report.explained else EXIT_FAIL


def cmd_precision(args) -> int:
    from snnval.precision import precision_compare
    from snnval.runner import run_scenario
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    sc = get_scenario(args.scenario)
    dt, sem = _dt(sc, args.dt), profile(args.profile)
    spec = sc.build_spec().validated()
    ref = run_scenario(sc.name, args.sim, sem, dt, dtype="float64")
    cand = run_scenario(sc.name, args.sim, sem, dt, dtype=args.dtype)
    hard = sem.reset == "hard_same_step"
    pc = precision_compare(ref, cand, spec, args.dtype, populations=spec.populations or None, hard_reset=hard)
    out = pc.to_dict()
    if args.accuracy:
        out["accuracy"] = _precision_accuracy(args.sim, sem.name, args.dtype, args.accuracy)
    if args.json:
        _print_json(out)
    else:
        print(f"{sc.name} on {args.sim} ({sem.name}), dt {dt:g} ms: {args.dtype} vs float64")
        print(pc.summary())
        if args.accuracy:
            a = out["accuracy"]
            print(
                f"  accuracy (shipped digits model, first {args.accuracy} held-out): float64 "
                f"{a['reference']['accuracy']:.1%}, {args.dtype} {a['candidate']['accuracy']:.1%}; predictions "
                f"agree on {a['prediction_agreement']:.1%}; McNemar p {a['mcnemar_p']:.3g}: "
                f"{'MOVED' if a['moved'] else 'does not move'}"
            )
    return EXIT_OK if pc.passed else EXIT_FAIL


def _precision_accuracy(sim: str, prof: str, dtype: str, n: int) -> dict:
    """Predictions of the shipped digits model on the first ``n`` held-out samples, float64 vs ``dtype``."""
    from snnval.nightly import _images, held_out_indices
    from snnval.precision import accuracy_movement
    from snnval.v1_model import load_shipped_model, run_predictions

    spec, readout, meta = load_shipped_model()
    images, labels = _images(held_out_indices(meta)[:n])
    seed = int(meta["evaluation_stimulus_seeds"]["held_out"])
    _, p64 = run_predictions(spec, readout, images, seed, sim, prof, "float64")
    _, p32 = run_predictions(spec, readout, images, seed, sim, prof, dtype)
    return accuracy_movement(p64, p32, labels)


def cmd_nightly(args) -> int:
    from snnval.nightly import run_nightly

    return run_nightly(
        quick=args.quick,
        out_dir=args.out,
        scheduler=args.scheduler,
        model=args.model,
        # --timeout was checked by _apply_timeout; without it each run's timeout comes from its size
        timeout_s=None if args.timeout is None else float(args.timeout),
        sims=args.sim,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snnval", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="adapters (with availability), scenarios and profiles")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)

    def common(s, profile=True, sonata=False, device=False):
        if sonata:
            s.add_argument("scenario", nargs="?", help="a scenario name (or give --sonata CONFIG)")
            s.add_argument("--sonata", metavar="CONFIG", help="a SONATA simulation config (bmtk layout) instead")
            s.add_argument("--output-dir", default=None, help="with --sonata: where spikes go (default: the config's)")
            s.add_argument(
                "--iclamp-amp-unit",
                choices=("auto", "nA", "pA"),
                default="auto",
                help="with --sonata: IClamp amp unit (auto: pA as bmtk pointnet passes it to NEST, nA otherwise)",
            )
        else:
            s.add_argument("scenario")
        s.add_argument("--dt", type=float, default=None, help="step in ms (default: the scenario's first dt)")
        s.add_argument("--dtype", choices=("float64", "float32"), default="float64")
        if device:
            s.add_argument(
                "--device",
                choices=("cpu", "cuda", "gpu"),
                default="cpu",
                help="device of GPU-class adapters (torch, JAX)",
            )
        s.add_argument("--json", action="store_true", help="print one JSON object with the figures")

    s = sub.add_parser("run", help="run one scenario (or a SONATA simulation config) on one adapter")
    common(s, sonata=True, device=True)
    s.add_argument("--sim", required=True)
    s.add_argument("--profile", default="nest-glif-psc")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", help="write the run to this HDF5 file (golden layout)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("compare", help="run a scenario (or a SONATA config) on two adapters and compare them")
    common(s, sonata=True, device=True)
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
    s.add_argument(
        "--knob-reference", default="tf", help="adapter that runs every knob setting (tf; brian2 for NEST's iaf_* LIFs)"
    )
    s.set_defaults(func=cmd_bisect)

    s = sub.add_parser("precision", help="a lower-precision run (--dtype float32) explained against float64")
    common(s)
    s.add_argument("--sim", default="tf")
    s.add_argument("--profile", default="tf-billeh")
    s.add_argument("--accuracy", type=int, default=0, help="also score the digits model on N held-out samples")
    s.set_defaults(func=cmd_precision, dtype="float32")

    s = sub.add_parser("nightly", help="accuracy tier + every scenario on every adapter -> reports/<date>/")
    s.add_argument("--quick", action="store_true", help="fixed subset of held-out samples (CI / quick start)")
    s.add_argument("--out", default=None, help="report directory (default reports/<date>)")
    s.add_argument("--scheduler", default=None, help="Dask scheduler address (default: a LocalCluster)")
    s.add_argument("--model", default=None, help="model in the snnval HDF5 format (default: references/v1_digits.h5)")
    s.add_argument("--sim", action="append", default=None, help="only these adapters (repeatable)")
    s.set_defaults(func=cmd_nightly)

    s = sub.add_parser("pairs", help="every pair of LIF-capable adapters on the LIF scenarios: verdict per pair")
    from snnval.lif_pairs import add_arguments as _pairs_arguments
    from snnval.lif_pairs import run as _pairs_run

    _pairs_arguments(s)
    s.set_defaults(func=_pairs_run)
    add_model_bisect_commands(sub)

    for name, s in sub.choices.items():
        if name != "list":
            s.add_argument(
                "--timeout",
                default=None,
                help="seconds per simulator run before it is killed (default: $SNNVAL_TIMEOUT_S, else "
                "120 s + 1e-4 s per neuron x step x trial; see snnval.runner)",
            )
    return p


def _apply_timeout(args) -> None:
    """--timeout (else a set $SNNVAL_TIMEOUT_S) checked now; exported so every run, also nested, uses it."""
    from snnval.runner import TIMEOUT_ENV, parse_timeout

    value = getattr(args, "timeout", None)
    if value is not None:
        os.environ[TIMEOUT_ENV] = repr(parse_timeout(value, "--timeout", "timeout"))
    elif os.environ.get(TIMEOUT_ENV):
        parse_timeout(os.environ[TIMEOUT_ENV], f"environment variable {TIMEOUT_ENV}", TIMEOUT_ENV)


# --- model diff, delta debugging, git bisect run (issue 9) -------------------------------------------------


def cmd_diff(args) -> int:
    from snnval.model_diff import diff_models, load_any, run_both

    a = load_any(args.model_a, trust_pickle=args.trust_pickle)
    b = load_any(args.model_b, trust_pickle=args.trust_pickle)
    result = diff_models(a, b, rtol=args.rtol, a_name=str(args.model_a), b_name=str(args.model_b))
    if args.run:
        result.run = run_both(a.spec, b.spec, args.run, args.sim, args.profile, args.dt)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.table())
    if result.run is not None:  # the run decides: a difference without effect on the run is not a failure
        return EXIT_OK if result.run["passed"] else EXIT_FAIL
    return EXIT_OK if result.identical else EXIT_FAIL


def cmd_delta_debug(args) -> int:
    from snnval.delta_debug import delta_debug_models
    from snnval.model_diff import load_any

    a = load_any(args.model_a, trust_pickle=args.trust_pickle)
    b = load_any(args.model_b, trust_pickle=args.trust_pickle)
    report = delta_debug_models(
        a.spec,
        b.spec,
        args.scenario,
        sim=args.sim,
        profile=args.profile,
        dt_ms=args.dt,
        tier=args.tier,
        refine=not args.no_refine,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return EXIT_OK if report.target is None else EXIT_FAIL


def cmd_delta_debug_sims(args) -> int:
    from snnval.delta_debug import delta_debug_simulators
    from snnval.model_diff import load_any
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    knobs = {}
    for item in args.candidate_knob or []:
        if "=" not in item:
            raise SnnvalError(f"--candidate-knob: expected KNOB=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        knobs[k] = int(v) if v.lstrip("-").isdigit() else v
    candidate = profile(args.candidate_profile)
    if knobs:
        candidate = candidate.with_knobs(**knobs)
    sc = get_scenario(args.scenario)
    spec = load_any(args.model).spec if args.model else sc.build_spec().validated()
    report = delta_debug_simulators(
        spec,
        sc.name,
        (args.reference_sim, args.reference_profile),
        (args.candidate_sim, candidate),
        dt_ms=args.dt,
        tier=args.tier,
        refine=not args.no_refine,
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return EXIT_OK if report.target is None else EXIT_FAIL


def cmd_bisect_run(args) -> int:
    from snnval.bisect_run import bisect_run

    return bisect_run(args.snnval_args, setup=args.setup, crash=args.crash)


def add_model_bisect_commands(sub) -> None:
    """Subcommands ``diff``, ``delta-debug``, ``delta-debug-sims`` and ``bisect-run``."""
    from snnval.model_diff import DEFAULT_RTOL

    def models(s):
        s.add_argument("model_a", help="model file (snnval h5, desplit h5, SONATA .json) or TF pickle directory")
        s.add_argument("model_b")
        s.add_argument("--trust-pickle", action="store_true", help="allow loading TF pickles (they can run code)")
        s.add_argument("--sim", default="nest", help="adapter for runs (default nest)")
        s.add_argument("--profile", default="nest-glif-psc")
        s.add_argument("--dt", type=float, default=None, help="step in ms (default: the scenario's first dt)")
        s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("diff", help="what differs between two model files (factors, permutations, missing, ...)")
    models(s)
    s.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="relative tolerance for equal values")
    s.add_argument("--run", metavar="SCENARIO", help="also run both on this scenario's stimulus: first divergence")
    s.set_defaults(func=cmd_diff)

    s = sub.add_parser("delta-debug", help="minimal set of B's parameter groups that reproduces the divergence")
    models(s)
    s.add_argument("--scenario", required=True, help="scenario whose stimulus drives both models")
    s.add_argument("--tier", choices=("spikes", "traces"), default="spikes")
    s.add_argument("--no-refine", action="store_true", help="stop at groups (do not refine to neurons)")
    s.set_defaults(func=cmd_delta_debug)

    s = sub.add_parser("delta-debug-sims", help="smallest part of the network on which two simulators still part")
    s.add_argument("scenario")
    s.add_argument("--model", help="network file (default: the scenario's own network)")
    s.add_argument("--reference-sim", default="nest")
    s.add_argument("--reference-profile", default="nest-glif-psc")
    s.add_argument("--candidate-sim", default="nest")
    s.add_argument("--candidate-profile", default="nest-glif-psc")
    s.add_argument("--candidate-knob", action="append", metavar="KNOB=VALUE", help="override a knob (repeatable)")
    s.add_argument("--dt", type=float, default=None, help="step in ms (default: the scenario's first dt)")
    s.add_argument("--tier", choices=("spikes", "traces"), default="spikes")
    s.add_argument("--no-refine", action="store_true", help="stop at groups (do not refine to neurons)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_delta_debug_sims)

    s = sub.add_parser(
        "bisect-run",
        help="run a snnval command as a `git bisect run` script (0 good, 1 bad, 125 untestable, 128 abort)",
    )
    s.add_argument("--setup", help="shell command run first (e.g. a build); failure -> 125 (skip this commit)")
    s.add_argument(
        "--crash", choices=("bad", "skip"), default="bad", help="a simulator crash marks the commit bad or skips it"
    )
    s.add_argument("snnval_args", nargs=argparse.REMAINDER, help="-- then the snnval command, e.g. -- compare ...")
    s.set_defaults(func=cmd_bisect_run)
    s.error = _abort_bisect(s)  # a usage error must abort `git bisect run` (128), never mark a commit bad (2)


def _abort_bisect(parser: argparse.ArgumentParser):
    def error(message: str):
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {message} (exit 128: aborts git bisect run)", file=sys.stderr)
        raise SystemExit(128)

    return error


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    from snnval.runner import install_signal_handlers, restore_signal_handlers

    previous = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers: main thread only
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `snnval ... --json | head` ends quietly
        previous = install_signal_handlers()  # SIGTERM ends the simulator workers too
    from snnval.runner import TIMEOUT_ENV

    timeout_env = os.environ.get(TIMEOUT_ENV)
    try:
        return _main(argv)
    finally:  # main() called from Python (tests, notebooks) leaves the caller's handlers and environment
        restore_signal_handlers(previous)
        if timeout_env is None:
            os.environ.pop(TIMEOUT_ENV, None)
        else:
            os.environ[TIMEOUT_ENV] = timeout_env


def _main(argv: list[str] | None) -> int:
    from snnval.runner import shutdown_workers

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        _apply_timeout(args)
        return args.func(args)
    except KeyboardInterrupt:
        shutdown_workers()
        print("snnval: interrupted; simulator processes ended", file=sys.stderr)
        return 130
    except (AdapterFailure, StaleGolden) as exc:  # the check could not pass: a failure, not a usage error
        print(f"snnval: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except NotApplicable as exc:
        print(f"snnval: not applicable: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SnnvalError as exc:
        print(f"snnval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # disk full, permission lost mid-run: atomic writes left the old files whole
        where = f" {exc.filename!r}" if exc.filename else ""
        print(
            f"snnval: error: could not write{where}: {exc.strerror or exc} (existing files unchanged)", file=sys.stderr
        )
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
