"""Brian2 adapter: GLIF3 and NEST's LIF family run by Brian2 itself (direct, not through PyNN).

The neuron models are NEST's step, written as Brian2 code (:mod:`snnval.adapters.brian2_models`);
this module builds the network, feeds the frozen stimulus and collects spikes and state on the
suite's step grid. Step conventions (:mod:`snnval.semantics`), realised with Brian2's schedule:

* a neuron spiking in step ``s`` is recorded by the SpikeMonitor at ``t = s*dt`` (step ``s``);
* a synapse of ``d`` steps (delay ``d*dt``) delivers in the ``synapses`` slot of step ``s+d``, into
  an input port; the ``end`` slot of that step moves the PSC, so V first moves in step ``s+d+1``;
* a stimulus event at step ``s`` is a SpikeGeneratorGroup spike at ``s*dt`` (so the same rule);
* a current change at step ``s`` is a generator spike at ``s*dt`` on a 1-step synapse that *sets*
  the neuron's ``Ie`` in step ``s+1``; V uses it from step ``s+2`` on (NEST's step_current_generator);
* recorded state is sampled in the ``end`` slot: the value at step ``k`` is the state at the end of
  step ``k`` (V_m) or what drove step ``k`` (ASC, I_syn), as in :data:`snnval.contract.RECORDABLES`.

Event amplitudes: a SpikeGeneratorGroup spike carries no weight, so every distinct
(source, amplitude) pair of a trial gets its own generator index whose synapses carry
``weight * amplitude``. That is exact for any real amplitude; its cost grows with the number of
distinct amplitudes per source (binary or integer-count inputs stay small).

Code generation: ``RunConfig.options["codegen"]`` is ``"numpy"`` (default) or ``"cython"``. Both
use the same abstract code with Brian2's loop-invariant (sympy) rewriting off and cython compiled
without ``-ffast-math``, so the operations run in the written order and the two targets give the
same numbers. Cython modules are cached in :func:`cython_cache_dir` (``$SNNVAL_BRIAN2_CACHE``,
default ``~/.cache/snnval/brian2-cython``); ``python -m snnval.adapters.brian2_sim --warm-cache``
compiles every model once (bootstrap.py runs it at set-up), so tests and repeated runs reuse it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.adapters.brian2_models import MODELS
from snnval.errors import NotApplicable, SpecError
from snnval.semantics import NEST_STEP_KNOBS, delay_steps
from snnval.spec import NetworkSpec
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus

#: runtime targets (code run from Python) and Brian2's standalone device (a C++ program per run)
STANDALONE = "cpp_standalone"
CODEGEN_TARGETS = ("numpy", "cython", STANDALONE)

#: cython compile flags: Brian2's defaults minus -ffast-math and -march=native, so the compiled code
#: keeps IEEE order of operations (identical to the numpy target) and the cache is portable.
CYTHON_COMPILE_ARGS = ["-w", "-O3", "-std=c++11"]


def cython_cache_dir() -> Path:
    """Where Brian2's compiled cython modules are kept between runs."""
    env = os.environ.get("SNNVAL_BRIAN2_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "snnval" / "brian2-cython"


def _warm_marker() -> Path:
    """Marker written after a successful warm-up: names brian2's version and a hash of the code generators.

    Any change of the model code, the compile flags or Brian2 changes the name, so a stale cache reads cold.
    """
    import hashlib
    import importlib.metadata

    h = hashlib.sha256(importlib.metadata.version("brian2").encode())
    h.update(" ".join(CYTHON_COMPILE_ARGS).encode())
    for module in ("brian2_models.py", "brian2_sim.py"):
        h.update((Path(__file__).parent / module).read_bytes())
    return cython_cache_dir() / f"snnval-warm-{h.hexdigest()[:16]}"


def cache_is_warm() -> bool:
    """True when ``--warm-cache`` has compiled the current model code into :func:`cython_cache_dir`."""
    return _warm_marker().exists()


class _CurrentSetterFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "'Ie_post = I_new'" not in record.getMessage()


def _import_brian2() -> Any:
    import brian2

    brian2.prefs.logging.file_log = False  # no debug log files in /tmp for every run
    # Brian2 warns that the current setter "Ie_post = I_new" may depend on the order of execution; the
    # adapter merges current changes to one per (neuron, step), so it cannot. Only that warning is dropped.
    handler = brian2.BrianLogger.console_handler
    if not any(isinstance(f, _CurrentSetterFilter) for f in handler.filters):
        handler.addFilter(_CurrentSetterFilter())
    return brian2


@contextlib.contextmanager
def _configured(b2: Any, target: str) -> Iterator[None]:
    """Brian2 preferences for one run, restored afterwards (Brian2's prefs are process-global, and
    another Brian2 user in the process, e.g. pyNN.brian2, must not inherit them)."""
    wanted = {
        "codegen.target": "numpy" if target == STANDALONE else target,
        "codegen.loop_invariant_optimisations": False,
        "codegen.cpp.extra_compile_args_gcc": list(CYTHON_COMPILE_ARGS),
        "codegen.runtime.cython.cache_dir": str(cython_cache_dir()),
        "core.default_float_dtype": np.float64,
    }
    saved = {key: b2.prefs[key] for key in wanted}
    try:
        for key, value in wanted.items():
            b2.prefs[key] = value
        yield
    finally:
        for key, value in saved.items():
            b2.prefs[key] = value


@contextlib.contextmanager
def _device(b2: Any, target: str) -> Iterator[None]:
    """For cpp_standalone: a fresh standalone device in a temporary directory for one trial.

    The standalone device generates and compiles a whole C++ project on ``run`` (no cache across
    networks: a minute or more per run), so it is a nightly-tier option; the directory is removed after.
    """
    if target != STANDALONE:
        yield
        return
    workdir = tempfile.mkdtemp(prefix="snnval-brian2-standalone-")
    b2.set_device(STANDALONE, directory=workdir, build_on_run=True, with_output=False)
    try:
        yield
    finally:
        b2.device.reinit()
        b2.set_device("runtime")
        shutil.rmtree(workdir, ignore_errors=True)


def _merge_current_changes(cur: CurrentSteps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(step, neuron, amplitude) with one change per (neuron, step): the last one given wins."""
    order = np.lexsort((cur.step, cur.neuron))  # stable: equal keys keep the order given
    neuron, step, amp = cur.neuron[order], cur.step[order], cur.amplitude_pA[order]
    last = np.ones(neuron.size, dtype=bool)
    last[:-1] = (neuron[1:] != neuron[:-1]) | (step[1:] != step[:-1])
    return step[last], neuron[last], amp[last]


def _event_generators(ev: Events) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generator layout for one trial's events.

    Returns (gen_step, gen_index, pair_source, pair_amplitude): one generator index per distinct
    (source, amplitude) pair; events at the same (step, source) are summed first, as
    :meth:`Events.dense` does.
    """
    n_src = int(ev.source.max(initial=0)) + 1
    uniq, inv = np.unique(ev.step * n_src + ev.source, return_inverse=True)
    amp = np.bincount(inv, weights=ev.amplitude, minlength=uniq.size)
    step, source = uniq // n_src, uniq % n_src
    keep = amp != 0
    step, source, amp = step[keep], source[keep], amp[keep]
    pairs, gen_index = np.unique(_pair_keys(np.stack([source.astype(float), amp])), return_inverse=True)
    return step, gen_index.astype(np.int64), pairs["s"].astype(np.int64), pairs["a"].astype(float)


def _pair_keys(pairs: np.ndarray) -> np.ndarray:
    """Structured keys that sort (source, amplitude) pairs lexicographically, for searchsorted."""
    out = np.empty(pairs.shape[1], dtype=[("s", float), ("a", float)])
    out["s"], out["a"] = pairs[0], pairs[1]
    return out


def _expand_inputs(inp_pre: np.ndarray, pair_source: np.ndarray, pair_amp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each (source, amplitude) pair, the input synapses of its source.

    Returns (pair index, input synapse index) per expanded synapse: vectorised ranges over the
    input synapses sorted by source.
    """
    order = np.argsort(inp_pre, kind="stable")
    n_src = max(int(inp_pre.max(initial=-1)) + 1, int(pair_source.max(initial=-1)) + 1)
    counts = np.bincount(inp_pre, minlength=n_src)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    per_pair = counts[pair_source]
    pair_idx = np.repeat(np.arange(pair_source.size), per_pair)
    offsets = np.arange(pair_idx.size) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    syn_idx = order[starts[pair_source][pair_idx] + offsets]
    return pair_idx, syn_idx


class Brian2Adapter(Adapter):
    """GLIF3 and iaf_psc_exp / iaf_psc_alpha / iaf_cond_exp as NEST defines them, run by Brian2."""

    name = "brian2"
    package = "brian2"
    description = "Brian2 (direct): NEST glif_psc step and NEST's LIF family as Brian2 code; numpy or cython"
    #: NEST's profile, and pyNN.neuron's and pyNN.brian2's rules on iaf_psc_exp / iaf_cond_exp, pyNN.brian2's
    #: also on iaf_psc_alpha (the LIF knob values of semantics.LIF_KNOB_VALUES), so each PyNN backend has a
    #: same-semantics peer checked in CI
    profiles = ("nest-glif-psc", "pynn-neuron", "pynn-brian2")

    def _import(self) -> None:
        _import_brian2()

    def capabilities(self) -> Capabilities:
        return Capabilities(
            models=tuple(MODELS),
            max_receptors=4,
            recordables=("V_m", "ASC", "I_syn"),
            # The neuron step is NEST's glif_psc (on_pre adds to the synaptic state after the arrival step's
            # state update, as NEST); the mapping knobs are the adapter's choice.
            knobs={
                **NEST_STEP_KNOBS,
                "refractory": ("clamp", "clamp_from_spike_step", "clamp_nearest"),
                "reset": ("hard_same_step", "hard_next_step"),
                "psc_to_v": ("exact_alpha", "implicit_euler", "brian2_exact_or_euler"),
            },
            # iaf_psc_exp and iaf_cond_exp also run pyNN.brian2's refractory countdown (profile pynn-brian2) and
            # pyNN.neuron's implicit Euler V step, late reset and rounded clamp (profile pynn-neuron), so bisect
            # can toggle them; iaf_psc_alpha runs NEST's step and pyNN.brian2's (refractory countdown,
            # inhibitory PSC with tau_syn_ex), not pyNN.neuron's V step; GLIF3 runs NEST's step only
            model_knobs={
                "glif3": {"refractory": ("clamp",), "reset": ("hard_same_step",), "psc_to_v": ("exact_alpha",)},
                "iaf_psc_alpha": {
                    "refractory": ("clamp", "clamp_from_spike_step", "clamp_nearest"),
                    "reset": ("hard_same_step",),
                    "psc_to_v": ("exact_alpha", "brian2_exact_or_euler"),
                },
            },
            dtypes=("float64",),
            event_amplitudes="real",
            spike_times="grid",
            devices=("cpu",),
            current_inputs=True,
            options={"codegen": CODEGEN_TARGETS},
        )

    # --- checks ------------------------------------------------------------------------------------

    def _check(self, spec: NetworkSpec, config: RunConfig) -> None:
        rec = config.recorded_ids(spec)
        if rec.ndim != 1 or (rec.size and (rec.min() < 0 or rec.max() >= spec.n_neurons)):
            raise SpecError("run config", "record_neurons", f"a 1-d array of neuron ids in [0, {spec.n_neurons - 1}]")
        non_vm = [v for v in config.record if v != "V_m"]
        if non_vm and rec.size:
            models = np.asarray(spec.cells.models, dtype=object)[spec.node_type[rec]]
            bad = rec[models != "glif3"]
            if bad.size:
                raise NotApplicable(
                    f"{non_vm} are only recordable from glif3 neurons; recorded neuron {bad[0]} "
                    f"is {models[models != 'glif3'][0]}"
                )

    # --- build ---------------------------------------------------------------------------------------

    def _groups(self, b2: Any, spec: NetworkSpec, dt: float, config: RunConfig) -> tuple[list, np.ndarray, np.ndarray]:
        """One NeuronGroup per neuron model. Returns (groups, group of neuron, local index of neuron)."""
        models = np.asarray(spec.cells.models, dtype=object)[spec.node_type]
        group_of = np.empty(spec.n_neurons, dtype=np.int64)
        local_of = np.empty(spec.n_neurons, dtype=np.int64)
        groups = []
        for g, name in enumerate(m for m in MODELS if np.any(models == m)):
            ids = np.flatnonzero(models == name)
            group_of[ids] = g
            local_of[ids] = np.arange(ids.size)
            model = MODELS[name](spec.cells, spec.node_type[ids], dt, config.semantics)
            ng = b2.NeuronGroup(
                ids.size,
                model.equations,
                threshold=model.threshold,
                reset=model.reset,
                method="euler",  # no differential equations: every update is explicit code below
                name=f"snnval_{name}",
            )
            for var, val in model.values.items():
                setattr(ng, var, val)
            ng.run_regularly(model.update, when="groups", name=f"snnval_{name}_update")
            ng.run_regularly(model.end, when="end", order=-1, name=f"snnval_{name}_end")
            groups.append((ng, model, ids))
        return groups, group_of, local_of

    @staticmethod
    def _synapses(
        b2: Any, source: Any, target: tuple, pre: np.ndarray, post_local: np.ndarray, weight: np.ndarray,
        receptor: np.ndarray, steps: np.ndarray, dt: float, name: str,
    ) -> Any | None:  # fmt: skip
        """One Synapses object: weight added to the post port chosen by the model's routing."""
        if pre.size == 0:
            return None
        _, model, _ = target
        port = model.route(receptor, weight)
        on_pre = "\n".join(f"{p}_post += w*int(port == {i})" for i, p in enumerate(model.ports))
        syn = b2.Synapses(source, target[0], "w : 1\nport : integer", on_pre=on_pre, name=name)
        syn.connect(i=pre, j=post_local)
        syn.w = weight
        syn.port = port
        syn.delay = steps * dt * b2.ms
        return syn

    def _build_trial(
        self, b2: Any, spec: NetworkSpec, trial: FrozenStimulus, config: RunConfig,
        rec_steps: np.ndarray, inp_steps: np.ndarray,
    ) -> tuple[Any, list, list, np.ndarray, dict]:  # fmt: skip
        dt = float(trial.dt_ms)
        b2.defaultclock.dt = dt * b2.ms
        groups, group_of, local_of = self._groups(b2, spec, dt, config)
        objects: list = [g[0] for g in groups]
        counts = {"n_connections": 0, "n_generator_indices": 0}

        syn = spec.synapses
        for a, src in enumerate(groups):
            for b, tgt in enumerate(groups):
                m = (group_of[syn.pre] == a) & (group_of[syn.post] == b)
                s = self._synapses(
                    b2, src[0], tgt, local_of[syn.pre[m]], local_of[syn.post[m]], syn.weight_pA[m],
                    syn.receptor[m], rec_steps[m], dt, f"snnval_rec_{src[1].name}_{tgt[1].name}",
                )  # fmt: skip
                if s is not None:
                    objects.append(s)
                    counts["n_connections"] += int(m.sum())

        ev, inp = trial.events, spec.inputs
        if len(ev) and len(inp):
            gen_step, gen_index, pair_src, pair_amp = _event_generators(ev)
            pair_idx, syn_idx = _expand_inputs(inp.pre, pair_src, pair_amp)
            if pair_idx.size:
                gen = b2.SpikeGeneratorGroup(
                    pair_src.size, gen_index, gen_step * dt * b2.ms, name="snnval_events", sorted=False
                )
                objects.append(gen)
                counts["n_generator_indices"] = int(pair_src.size)
                post = inp.post[syn_idx]
                weight = inp.weight_pA[syn_idx] * pair_amp[pair_idx]
                for b, tgt in enumerate(groups):
                    m = group_of[post] == b
                    s = self._synapses(
                        b2, gen, tgt, pair_idx[m], local_of[post[m]], weight[m], inp.receptor[syn_idx[m]],
                        inp_steps[syn_idx[m]], dt, f"snnval_inp_{tgt[1].name}",
                    )  # fmt: skip
                    if s is not None:
                        objects.append(s)
                        counts["n_connections"] += int(m.sum())

        if len(trial.currents):
            step, neuron, amp = _merge_current_changes(trial.currents)
            cgen = b2.SpikeGeneratorGroup(step.size, np.arange(step.size), step * dt * b2.ms, name="snnval_currents")
            objects.append(cgen)
            for b, tgt in enumerate(groups):
                m = group_of[neuron] == b
                if not m.any():
                    continue
                # sets (not adds) the injected current, one step after the change is emitted
                cs = b2.Synapses(cgen, tgt[0], "I_new : 1", on_pre="Ie_post = I_new", name=f"snnval_cur_{tgt[1].name}")
                cs.connect(i=np.flatnonzero(m), j=local_of[neuron[m]])
                cs.I_new = amp[m]
                cs.delay = dt * b2.ms
                objects.append(cs)

        rec = config.recorded_ids(spec)
        spike_mons, state_mons = [], []
        for b, (ng, model, ids) in enumerate(groups):
            sm = b2.SpikeMonitor(ng, name=f"snnval_spikes_{model.name}")
            spike_mons.append((sm, ids))
            objects.append(sm)
            here = rec[group_of[rec] == b] if rec.size else rec
            if config.record and here.size:
                local = np.unique(local_of[here])
                # every recordable of the model, whatever config.record asks: the monitor's generated code
                # (and its compile-cache entry) is then the same for every run of the model
                variables = sorted(set(model.recordables.values()))
                mon = b2.StateMonitor(
                    ng, variables, record=local, when="end", order=0, name=f"snnval_state_{model.name}"
                )
                state_mons.append((mon, model, ids, local))
                objects.append(mon)
        net = b2.Network(*objects)
        return net, spike_mons, state_mons, rec, counts

    # --- run ------------------------------------------------------------------------------------------

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        self._check(spec, config)
        target = config.options.get("codegen", "numpy")
        b2 = _import_brian2()
        dt, n_steps, n_trials = float(stimulus.dt_ms), int(stimulus.n_steps), int(stimulus.n_trials)
        rec_steps = delay_steps(spec.synapses.delay_ms, dt, config.semantics)
        inp_steps = delay_steps(spec.inputs.delay_ms, dt, config.semantics)
        rec = config.recorded_ids(spec)
        state = {v: np.full((n_trials, n_steps, rec.size), np.nan) for v in config.record}
        sp_trial, sp_step, sp_neuron = [], [], []
        build_wall = run_wall = 0.0
        counts: dict[str, list[int]] = {}
        with _configured(b2, target):
            for i in range(n_trials):
                with _device(b2, target):
                    t0 = time.perf_counter()
                    net, spike_mons, state_mons, rec, n = self._build_trial(
                        b2, spec, stimulus.trial(i), config, rec_steps, inp_steps
                    )
                    t1 = time.perf_counter()
                    net.run(n_steps * dt * b2.ms, namespace={})  # cpp_standalone: generates, compiles, runs
                    t2 = time.perf_counter()
                    build_wall += t1 - t0
                    run_wall += t2 - t1
                    for key, value in n.items():
                        counts.setdefault(key, []).append(value)
                    for sm, ids in spike_mons:
                        step = np.rint(np.asarray(sm.t_) / (dt * 1e-3)).astype(np.int64)
                        sp_step.append(step)
                        sp_neuron.append(ids[np.asarray(sm.i, dtype=np.int64)])
                        sp_trial.append(np.full(step.size, i, dtype=np.int64))
                    for var in config.record:
                        state[var][i] = self._samples(state_mons, var, spec, rec, n_steps)
                    del net
        simulated_s = n_trials * n_steps * dt / 1000.0
        provenance = {
            "build_wall_s": build_wall,
            "run_wall_s": run_wall,
            "realtime_factor": run_wall / simulated_s,
            "codegen": target,
            "brian2_version": str(b2.__version__),
            **counts,
        }
        return RunResult.from_spikes(
            dt,
            n_steps,
            n_trials,
            np.concatenate(sp_trial) if sp_trial else np.zeros(0, np.int64),
            np.concatenate(sp_step) if sp_step else np.zeros(0, np.int64),
            np.concatenate(sp_neuron) if sp_neuron else np.zeros(0, np.int64),
            rec,
            state,
            provenance,
        )

    @staticmethod
    def _samples(state_mons: list, var: str, spec: NetworkSpec, rec: np.ndarray, n_steps: int) -> np.ndarray:
        """(n_steps, len(rec)) of one recordable, in mV / pA, columns in the order of ``rec``."""
        out = np.full((n_steps, rec.size), np.nan)
        for mon, model, ids, local in state_mons:
            data = np.asarray(getattr(mon, model.recordables[var])).T  # (steps, recorded locals)
            if var == "V_m":
                data = data + model.v_offset[local][None, :]
            cols = np.flatnonzero(np.isin(rec, ids))
            pos = np.searchsorted(local, np.searchsorted(ids, rec[cols]))
            out[:, cols] = data[:n_steps, pos]
        return out


# --- set-up: compile the cython code once -----------------------------------------------------------


def warm_cache() -> list[str]:
    """Compile every model's cython code on a tiny network (bootstrap.py calls this at set-up)."""
    from snnval.allen_cells import allen_cells
    from snnval.semantics import profile
    from snnval.spec import GLIF3Cells, Synapses

    cells = allen_cells(["318808427"])
    lif = GLIF3Cells(
        **{k: np.repeat(getattr(cells, k), 4, axis=0) for k in ("V_th_mV", "E_L_mV", "V_reset_mV", "g_nS", "C_m_pF")},
        t_ref_ms=np.repeat(cells.t_ref_ms, 4),
        asc_decay_per_ms=np.repeat(cells.asc_decay_per_ms, 4, axis=0),
        asc_amps_pA=np.repeat(cells.asc_amps_pA, 4, axis=0),
        tau_syn_ms=np.repeat(cells.tau_syn_ms, 4, axis=0),
        names=tuple(MODELS),
        models=tuple(MODELS),
        native_params=({}, {}, {}, {}),
    )
    n = len(MODELS)
    pre, post = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))  # every model pair
    spec = NetworkSpec(
        "brian2_warm_cache",
        lif,
        np.arange(n),
        Synapses(pre, post, np.zeros(pre.size, np.int64), np.full(pre.size, 10.0), np.full(pre.size, 1.0)),
        n_sources=1,
        inputs=Synapses(np.zeros(n, np.int64), np.arange(n), np.zeros(n, np.int64), np.full(n, 20.0), np.ones(n)),
    )
    stim = FrozenStimulus(
        1.0,
        5,
        events=Events(np.zeros(2, np.int64), np.array([0, 1]), np.zeros(2, np.int64), np.array([1.0, 2.0])),
        currents=CurrentSteps(np.zeros(n, np.int64), np.zeros(n, np.int64), np.arange(n), np.full(n, 10.0)),
    )
    # one run compiles every code object: each model's group, every (model -> model) synapse, the
    # event and current inputs and the monitors (which record every recordable whatever is asked)
    config = RunConfig(profile("nest-glif-psc"), record=("V_m",), options={"codegen": "cython"})
    result = Brian2Adapter().run(spec, stim, config)
    _warm_marker().write_text(f"compiled by python -m snnval.adapters.brian2_sim --warm-cache\n{time.ctime()}\n")
    return [f"{len(MODELS)} models ({', '.join(MODELS)}), {result.n_steps} steps"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m snnval.adapters.brian2_sim")
    parser.add_argument("--warm-cache", action="store_true", help="compile the cython code of every model once")
    args = parser.parse_args(argv)
    if not args.warm_cache:
        parser.print_help()
        return 2
    t0 = time.perf_counter()
    done = warm_cache()
    print(f"brian2 cython cache warm in {cython_cache_dir()} ({', '.join(done)}; {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
