"""PyNN 0.13 adapters: one code path, three backends (registry names ``pynn-nest``, ``pynn-neuron``, ``pynn-brian2``).

What runs: the spec's NEST iaf_* node types as PyNN standard cells (iaf_psc_exp -> IF_curr_exp,
iaf_psc_alpha -> IF_curr_alpha, iaf_cond_exp -> IF_cond_exp; parameters and weights translated to
PyNN's units nA, nF, uS, mV, ms by :mod:`snnval.units`), and on pyNN.nest also GLIF3 as
``native_cell_type('glif_psc')`` (NEST units) with the two work-arounds of GLIF3_SEMANTICS.md section 5:
a subclass without the state variable ``ASCurrents`` and with only ``V_m`` as initial value, whose
receptor names "1".."n" map to NEST ports 1..n (PyNN otherwise sends every spike to port 0, which
glif_psc refuses). PyNN weights onto glif_psc are nA (x1000 -> pA on the NEST side).

Every trial runs in a fresh Python process (``python -c``, not multiprocessing, so it also works
inside the suite's daemonic runner process): PyNN backends keep process-global state (NEST kernel,
NEURON's ``h``, Brian2's magic network), and pyNN.neuron and pyNN.nest cannot be reset reliably.
pyNN.neuron loads NMODL mechanisms compiled at set-up (``bootstrap.compile_pynn_neuron``); the
adapter reports itself unavailable, and says so, when they are not compiled (it never compiles them).
pyNN.brian2 runs with Brian2's ``numpy`` code-generation target (no cython compile; STACK.md).

Explicit choices (run options, never defaults of PyNN left to chance):

* ``min_delay = dt`` always (``setup(min_delay=dt)``). pyNN.nest relays a SpikeSourceArray through
  a parrot neuron connected with the kernel's min_delay and shifts the generator's times back by the
  min_delay it reads at creation; with ``min_delay='auto'`` the two differ and inputs arrive late
  (measured: s=4, d=3 at dt 0.1 moves V in step 10 instead of 8). With min_delay = dt the shift is exact,
  but an event in step 0 would need a generator spike at t = 0, which NEST refuses: on pynn-nest such
  a stimulus is not applicable (named in the reason).
* ``options["spike_precision"]`` (pynn-nest only): ``"on_grid"`` (default here; PyNN's default is
  ``"off_grid"``) or ``"off_grid"``. Off grid, IF_curr_exp becomes NEST ``iaf_psc_exp_ps`` and the
  sources precise generators; spike times are then reported to the step *and* the offset within it
  (``RunResult.spike_offset_ms``). IF_curr_alpha, IF_cond_exp and glif_psc have no precise variant in
  PyNN 0.13 and stay on the grid either way.

Step conventions, measured with PyNN 0.13.0 on NEST 3.10, NEURON 9.0.2 and Brian2 2.9.0 at dt 0.1
and 1.0 (tests/test_pynn_adapter.py checks each):

* an input event at step ``s`` is a SpikeSourceArray spike at the backend's stamp of a spike emitted in
  step ``s``: ``(s+1)*dt`` on nest and neuron (as the NEST adapter's spike_generator), ``s*dt`` on brian2
  (Brian2 emits a generator spike at time T in step T/dt); with a Projection delay of ``d`` steps
  (:func:`snnval.semantics.delay_steps`, handed over as ``d*dt``) V first moves in step ``s+d+1`` on all
  three backends, as a recurrent spike of step ``s`` does. (Handing brian2 ``(s+1)*dt`` too, as this
  adapter once did, made inputs arrive one step late, s+d+2, which looked like a synaptic rule of
  pyNN.brian2; it is not: its recurrent synapses act in s+d+1, measured, tests/test_pynn_adapter.py);
* a current change at step ``s`` is a StepCurrentSource time ``(s+2)*dt``; V first moves in step
  ``s+2`` on all three backends, as in the NEST adapter (PyNN applies a source at time T from step T/dt);
* recorded V: PyNN samples at ``j*dt`` (j = 0 is the initial value); sample ``k+1`` is the state at the
  end of step k on all three backends. On neuron the sample of a spike step still shows V above
  threshold: PyNN's NEURON reset mechanism acts on the spike event, one step later in V (NEST and
  Brian2 show V_reset in the spike step);
* spike stamps: nest and neuron stamp a spike in step k at ``(k+1)*dt``, brian2 at ``k*dt`` (the start
  of the step its threshold is checked in); so ``step = ceil(t/dt - eps) - lag`` with lag 1 (nest,
  neuron) or 0 (brian2). Off grid, ``offset = t - step*dt`` in (0, dt];
* input events carry no weight: nest and neuron realise an integer amplitude n as n coincident spikes
  (both deliver them, measured: the same V as one spike of n times the weight; on neuron the n spikes come
  from n layers of sources, one spike each, as a pyNN.neuron train with repeated times stops delivering
  part way); Brian2's
  SpikeGeneratorGroup refuses two spikes of one source in one step, so pynn-brian2 takes amplitude 1 only.

Semantics: the GLIF3 knobs are declared at NEST glif_psc's values (pyNN.nest runs glif_psc itself);
the mapping knobs (delay rounding, initial V, delay offset) are the adapter's own and take every value.
pynn-nest runs as the ``nest-glif-psc`` profile. pyNN.brian2 holds V one step less after a spike than
NEST where t_ref is a multiple of dt, two less where it is not (Brian2 counts floor(t_ref/dt) from the spike
step: the knob value ``refractory="clamp_from_spike_step"``, profile ``pynn-brian2``); pyNN.neuron
advances V by NEURON's implicit (backward) Euler step, records the spike step's V before its reset and
holds V for round(t_ref/dt) steps (``psc_to_v="implicit_euler"``, ``reset="hard_next_step"``,
``refractory="clamp_nearest"``, profile ``pynn-neuron``; a t_ref of k + 1/2 steps is not applicable there).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.errors import AdapterFailure, NotApplicable, SnnvalError, SpecError
from snnval.semantics import NEST_STEP_KNOBS, delay_steps, refractory_half_step_ties
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus
from snnval.time_grid import nest_tics_per_step
from snnval.units import PYNN_IAF_CELL, iaf_to_pynn, iaf_weight_to_pynn, pA_to_nA

BACKENDS = ("nest", "neuron", "brian2")
#: Python module and distribution of each backend's simulator.
SIM_MODULE = {"nest": "nest", "neuron": "neuron", "brian2": "brian2"}
SIM_DISTRIBUTION = {"nest": "nest-simulator", "neuron": "NEURON", "brian2": "Brian2"}
#: A spike in step k is stamped (k + lag) * dt (measured, see the module docstring).
SPIKE_STAMP_LAG = {"nest": 1, "neuron": 1, "brian2": 0}
#: Tolerance (in steps) when mapping a stamp to its step: PyNN returns times rounded to 1e-12..1e-15 ms.
_STEP_EPS = 1e-9
#: glif_psc recordables in PyNN naming (native cell: NEST names and NEST units, no scaling).
GLIF_RECORDABLE = {"V_m": "V_m", "ASC": "ASCurrents_sum", "I_syn": "I_syn"}
#: Seconds a child process may take for one trial (the suite's runner default).
TRIAL_TIMEOUT_S = 1800.0


# --- availability (no backend imported into the calling process) -------------------------------------


def neuron_mechanisms_dir() -> Path | None:
    """pyNN.neuron's NMODL folder (where it loads compiled mechanisms from), None without PyNN."""
    spec = importlib.util.find_spec("pyNN")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "neuron" / "nmodl"


def neuron_mechanisms_compiled() -> bool:
    """True when ``<arch>/libnrnmech.so`` exists in pyNN.neuron's NMODL folder."""
    nmodl = neuron_mechanisms_dir()
    return nmodl is not None and any(nmodl.glob("*/libnrnmech.so"))


def _child_env() -> dict[str, str]:
    env = dict(os.environ, PYNEST_QUIET="1", TF_CPP_MIN_LOG_LEVEL="2")
    # nrnivmodl and NEURON's helpers live next to the interpreter in the venv
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@functools.cache
def _import_error(backend: str) -> str:
    """'' if ``import pyNN.<backend>`` works in a fresh process, else the reason (cached per process)."""
    for module in ("pyNN", SIM_MODULE[backend]):
        if importlib.util.find_spec(module) is None:
            return f"the Python module '{module}' is not installed"
    if backend == "neuron" and not neuron_mechanisms_compiled():
        return (
            f"pyNN.neuron's NMODL mechanisms are not compiled in {neuron_mechanisms_dir()} "
            "(run `python bootstrap.py test`)"
        )
    proc = subprocess.run(
        [sys.executable, "-c", f"import pyNN.{backend}"],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=300,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"importing pyNN.{backend} failed: {last}"
    return ""


# --- the adapter (parent process) ---------------------------------------------------------------------


class PyNNAdapter(Adapter):
    """PyNN standard LIF cells (and glif_psc on pyNN.nest) on one PyNN backend, one process per trial."""

    backend: str = "nest"
    package = "PyNN"

    def _import(self) -> None:
        reason = _import_error(self.backend)
        if reason:
            raise RuntimeError(reason)

    def models(self) -> tuple[str, ...]:
        return tuple(PYNN_IAF_CELL)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            models=self.models(),
            max_receptors=4,
            recordables=("V_m",),
            knobs=self._knobs(),
            dtypes=("float64",),
            event_amplitudes="unit" if self.backend == "brian2" else "integer",
            spike_times="grid",
            current_inputs=True,
            options={},
        )

    @staticmethod
    def _knobs() -> dict[str, tuple]:
        # GLIF3 step knobs at NEST glif_psc's values (the only ones any PyNN backend runs); the
        # mapping knobs are this adapter's choice, so every value is supported.
        # (PyNN cells add an arriving spike to the synaptic state after V's update, as NEST)
        return dict(NEST_STEP_KNOBS)

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        super().check(spec, stimulus, config)
        spec = spec.validated()
        for t in np.unique(spec.node_type):
            model = spec.cells.models[t]
            if model in PYNN_IAF_CELL:  # NotApplicable for untranslatable parameters
                self._check_iaf_cell(iaf_to_pynn(model, spec.cells.native_params[t]), float(stimulus.dt_ms))
        rec = config.recorded_ids(spec)
        if rec.ndim != 1 or (rec.size and (rec.min() < 0 or rec.max() >= spec.n_neurons)):
            raise SpecError("run config", "record_neurons", f"a 1-d array of neuron ids in [0, {spec.n_neurons - 1}]")
        non_vm = [v for v in config.record if v != "V_m"]
        if non_vm and rec.size:
            models = np.asarray(spec.cells.models, dtype=object)[spec.node_type[rec]]
            if np.any(models != "glif3"):
                bad = rec[models != "glif3"][0]
                raise NotApplicable(f"{non_vm} are only recordable from glif3 neurons; neuron {bad} is not glif3")

    def _check_iaf_cell(self, pynn_params: dict[str, float], dt_ms: float) -> None:
        """What a backend cannot run of one standard cell's parameters (PyNN units); none by default."""

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        dt, n_steps, n_trials = float(stimulus.dt_ms), int(stimulus.n_steps), int(stimulus.n_trials)
        rec = config.recorded_ids(spec)
        state = {v: np.full((n_trials, n_steps, rec.size), np.nan) for v in config.record}
        parts: list[tuple[np.ndarray, ...]] = []
        provenance: dict[str, Any] = {}
        for i in range(n_trials):
            out = run_in_child(self.backend, spec, stimulus.trial(i), config)
            parts.append((np.full(out["step"].size, i, dtype=np.int64), out["step"], out["neuron"], out["offset"]))
            for v in config.record:
                state[v][i] = out["state"][v]
            provenance = out["provenance"]
        trial, step, neuron, offset = (np.concatenate([p[j] for p in parts]) for j in range(4))
        precise = config.options.get("spike_precision") == "off_grid"
        return RunResult.from_spikes(
            dt, n_steps, n_trials, trial, step, neuron, rec, state, provenance, offset if precise else None
        )


class PyNNNestAdapter(PyNNAdapter):
    name = "pynn-nest"
    backend = "nest"
    description = "PyNN 0.13 on NEST: IF_curr_exp/IF_curr_alpha/IF_cond_exp and glif_psc (receptor-port fix)"
    profiles = ("nest-glif-psc",)

    def models(self) -> tuple[str, ...]:
        return ("glif3", *PYNN_IAF_CELL)

    def capabilities(self) -> Capabilities:
        base = super().capabilities()
        return Capabilities(
            models=self.models(),
            max_receptors=4,
            recordables=tuple(GLIF_RECORDABLE),
            knobs=base.knobs,
            dtypes=base.dtypes,
            event_amplitudes="integer",
            spike_times="precise",
            current_inputs=True,
            options={"spike_precision": ("on_grid", "off_grid")},
        )

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        super().check(spec, stimulus, config)
        if len(stimulus.events) and int(stimulus.events.step.min()) == 0:
            raise NotApplicable(
                "an input event in step 0: pyNN.nest relays SpikeSourceArray spikes through a parrot "
                "neuron with delay min_delay >= dt, so the generator would have to fire at t = 0, "
                "which NEST refuses"
            )


class PyNNNeuronAdapter(PyNNAdapter):
    name = "pynn-neuron"
    backend = "neuron"
    profiles = ("pynn-neuron",)
    description = "PyNN 0.13 on NEURON: IF_curr_exp/IF_curr_alpha/IF_cond_exp (mechanisms compiled at set-up)"

    @staticmethod
    def _knobs() -> dict[str, tuple]:
        # NEURON's fixed step: V by implicit Euler, the spike step's V recorded before the reset, the clamp
        # ended at the nearest step boundary (semantics.LIF_KNOB_VALUES, profile pynn-neuron)
        return {
            **PyNNAdapter._knobs(),
            "reset": ("hard_next_step",),
            "refractory": ("clamp_nearest",),
            "psc_to_v": ("implicit_euler",),
        }

    def _check_iaf_cell(self, pynn_params: dict[str, float], dt_ms: float) -> None:
        t_ref_ms = pynn_params["tau_refrac"]
        if refractory_half_step_ties(t_ref_ms, dt_ms):
            raise NotApplicable(
                f"t_ref {t_ref_ms} ms is an odd number of half steps at dt {dt_ms} ms: NEURON ends the "
                "refractory clamp at the nearest step boundary and rounds such a half either way by spike"
            )


class PyNNBrian2Adapter(PyNNAdapter):
    name = "pynn-brian2"
    backend = "brian2"
    profiles = ("pynn-brian2",)
    description = "PyNN 0.13 on Brian2 (numpy target): IF_curr_exp/IF_curr_alpha/IF_cond_exp"

    #: Brian2's default clock; pyNN.brian2 0.13 creates SpikeSourceArray's SpikeGeneratorGroup without the
    #: simulation's clock (pyNN/brian2/cells.py), so its spikes are binned on this grid, not on dt
    GENERATOR_DT_MS = 0.1

    def check(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> None:
        super().check(spec, stimulus, config)
        dt = float(stimulus.dt_ms)
        if len(stimulus.events) and nest_tics_per_step(dt) % nest_tics_per_step(self.GENERATOR_DT_MS):
            raise NotApplicable(
                f"input events at dt {dt} ms: pyNN.brian2 0.13 runs SpikeSourceArray on Brian2's default clock "
                f"({self.GENERATOR_DT_MS} ms), not the simulation's, so a spike time is binned to "
                f"{self.GENERATOR_DT_MS} ms and arrives off the step grid unless dt is a whole multiple of it "
                "(measured at dt 0.25 ms: an event of an odd step acts one step early; Brian2 warns "
                "synapses_dt_mismatch)"
            )

    @staticmethod
    def _knobs() -> dict[str, tuple]:
        # Brian2's refractory countdown starts in the spike step (semantics.LIF_KNOB_VALUES, profile pynn-brian2)
        # and its default state updater: exact for IF_curr_exp and IF_curr_alpha (whose inhibitory PSC uses
        # tau_syn_E), forward Euler for IF_cond_exp
        return {
            **PyNNAdapter._knobs(),
            "refractory": ("clamp_from_spike_step",),
            "psc_to_v": ("brian2_exact_or_euler",),
        }


def run_in_child(backend: str, spec: NetworkSpec, trial: FrozenStimulus, config: RunConfig) -> dict:
    """Run one trial of pyNN.<backend> in a fresh Python process; return its arrays and provenance."""
    with tempfile.TemporaryDirectory(prefix="snnval-pynn-") as tmp:
        inp, out = Path(tmp) / "in.pkl", Path(tmp) / "out.pkl"
        inp.write_bytes(pickle.dumps((backend, spec, trial, config)))
        cmd = [sys.executable, "-c", "from snnval.adapters.pynn import child_main; child_main()", str(inp), str(out)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=_child_env(), timeout=TRIAL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise AdapterFailure(f"pynn-{backend}: no result within {TRIAL_TIMEOUT_S:.0f} s (killed)") from None
        if not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise AdapterFailure(f"pynn-{backend}: the simulator process died (exit code {proc.returncode}):\n{tail}")
        kind, payload = pickle.loads(out.read_bytes())
    if kind == "ok":
        return payload
    if kind == "error":
        raise payload
    raise AdapterFailure(f"pynn-{backend} failed:\n{payload}")


# --- the child process -----------------------------------------------------------------------------------


def child_main() -> None:
    """Entry point of the per-trial process: argv = [input pickle, output pickle]."""
    import traceback

    inp, out = Path(sys.argv[1]), Path(sys.argv[2])
    backend, spec, trial, config = pickle.loads(inp.read_bytes())
    try:
        result: tuple = ("ok", simulate_trial(backend, spec, trial, config))
    except SnnvalError as exc:
        result = ("error", exc)
    except BaseException as exc:  # anything else is an adapter failure, with its traceback
        result = ("failure", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    tmp = out.with_suffix(".part")
    tmp.write_bytes(pickle.dumps(result))
    tmp.replace(out)  # the parent sees a whole result or none


def _import_backend(backend: str) -> Any:
    if backend == "brian2":
        import brian2

        # numpy target: no cython compile (first run ~15 s per model, STACK.md), same numbers
        brian2.prefs.codegen.target = "numpy"
    if backend == "nest":
        os.environ.setdefault("PYNEST_QUIET", "1")
    return importlib.import_module(f"pyNN.{backend}")


def _glif_celltype(sim: Any, n_receptors: int) -> type:
    """glif_psc as a PyNN native type that PyNN can create and connect (GLIF3_SEMANTICS.md section 5).

    PyNN reads every NEST default as a parameter, including the state variable ``ASCurrents``, and
    sets ``threshold_*`` initial values that GLIF3 refuses; and glif_psc names no receptors, so PyNN
    would connect to port 0. The subclass drops those and names ports "1".."n".
    """
    base = sim.native_cell_type("glif_psc")
    ports = [str(r + 1) for r in range(n_receptors)]

    class GlifPsc(base):
        default_parameters = {k: v for k, v in base.default_parameters.items() if k != "ASCurrents"}
        default_initial_values = {"V_m": base.default_initial_values["V_m"]}
        receptor_types = ports
        standard_receptor_type = False

        def get_receptor_type(self, name: str) -> int:
            return int(name)

    return GlifPsc


def _celltypes(sim: Any, spec: NetworkSpec, config: RunConfig) -> dict[int, tuple[Any, str, float]]:
    """node type -> (PyNN cell type instance, name of V, initial V in mV)."""
    cells, sem = spec.cells, config.semantics
    out = {}
    for t in np.unique(spec.node_type).tolist():
        model = cells.models[t]
        # A V_m the file states (native_params) is the initial state; without one the initial_v knob
        # decides (as the NEST adapter does, adapters/nest_glif.py _node_params).
        file_v_m = cells.native_params[t].get("V_m")
        if model == "glif3":
            v0 = cells.V_reset_mV[t] if sem.initial_v == "v_reset" else cells.E_L_mV[t]
            v0 = v0 if file_v_m is None else file_v_m
            out[t] = (_glif_celltype(sim, spec.n_receptors)(**cells.nest_params(t)), "V_m", float(v0))
        else:
            params = iaf_to_pynn(model, cells.native_params[t])
            v0 = params["v_reset"] if sem.initial_v == "v_reset" else params["v_rest"]
            v0 = v0 if file_v_m is None else file_v_m
            out[t] = (getattr(sim, PYNN_IAF_CELL[model])(**params), "v", float(v0))
    return out


def _connect_groups(
    sim: Any,
    pre_pop: Any,
    pre_local: np.ndarray,
    post: np.ndarray,
    receptor: np.ndarray,
    weight_pA: np.ndarray,
    steps: np.ndarray,
    dt: float,
    spec: NetworkSpec,
    pops: dict[int, Any],
    local: np.ndarray,
) -> int:
    """Projections from ``pre_pop``: one FromListConnector per (target node type, receptor name)."""
    if pre_local.size == 0:
        return 0
    post_type = spec.node_type[post]
    weight = np.empty(post.size)
    rname = np.empty(post.size, dtype=object)
    for t in np.unique(post_type).tolist():
        m = post_type == t
        model = spec.cells.models[t]
        if model == "glif3":
            weight[m] = pA_to_nA(weight_pA[m])
            rname[m] = (receptor[m] + 1).astype(str)
        else:  # iaf_*: the sign of the weight selects the synapse; the spec's receptor index is ignored
            w, inh = iaf_weight_to_pynn(model, weight_pA[m])
            weight[m] = w
            rname[m] = np.where(inh, "inhibitory", "excitatory")
    n = 0
    keys = np.char.add(post_type.astype(str), np.char.add(":", rname.astype(str)))
    for key in np.unique(keys).tolist():
        m = keys == key
        t, name = key.split(":")
        conn = np.column_stack([pre_local[m], local[post[m]], weight[m], steps[m] * dt])
        sim.Projection(
            pre_pop,
            pops[int(t)],
            sim.FromListConnector(conn, column_names=["weight", "delay"]),
            sim.StaticSynapse(),
            receptor_type=name,
        )
        n += int(m.sum())
    return n


def _device_times(backend: str, grid_steps: np.ndarray, dt: float) -> np.ndarray:
    """Times (ms) of grid points ``grid_steps * dt`` as handed to a PyNN source.

    pyNN.nest subtracts min_delay from every SpikeSourceArray / StepCurrentSource time in floating
    point, and NEST stamps a generator time that lands a rounding error *above* a grid point into the
    next step (measured at dt 0.1: events at steps 5 and 100 arrived one step late). Handing pyNN.nest
    ``t * (1 - 1e-12)`` puts the shifted time a hair below the grid point (far less than a NEST tic,
    1e-3 ms), which NEST stamps to the step ending there. NEURON and Brian2 bin times to the nearest step.
    """
    times = np.asarray(grid_steps, dtype=float) * dt
    return times * (1.0 - 1e-12) if backend == "nest" else times


def simulate_trial(backend: str, spec: NetworkSpec, trial: FrozenStimulus, config: RunConfig) -> dict:
    """Build and run one trial on pyNN.<backend>; spikes and state on the suite's step grid."""
    t0 = time.perf_counter()
    sim = _import_backend(backend)
    dt, n_steps = float(trial.dt_ms), int(trial.n_steps)
    sem = config.semantics
    rec_steps = delay_steps(spec.synapses.delay_ms, dt, sem)
    inp_steps = delay_steps(spec.inputs.delay_ms, dt, sem)
    max_steps = max([1, *(int(s.max()) for s in (rec_steps, inp_steps) if s.size)])
    extra = {}
    precision = config.options.get("spike_precision", "on_grid")
    if backend == "nest":
        extra = {"spike_precision": precision, "threads": int(config.threads)}
    # min_delay = dt: PyNN's SpikeSourceArray shift and its parrot relay then cancel exactly
    sim.setup(timestep=dt, min_delay=dt, max_delay=max_steps * dt, **extra)

    # Neurons: one Population per node type; local[i] is neuron i's index in its population.
    types = _celltypes(sim, spec, config)
    pops: dict[int, Any] = {}
    local = np.empty(spec.n_neurons, dtype=np.int64)
    members: dict[int, np.ndarray] = {}
    for t, (celltype, vname, v0) in types.items():
        ids = np.flatnonzero(spec.node_type == t)
        members[t] = ids
        local[ids] = np.arange(ids.size)
        pops[t] = sim.Population(int(ids.size), celltype, initial_values={vname: v0}, label=f"nt{t}")

    n_conn = 0
    syn = spec.synapses
    pre_type = spec.node_type[syn.pre]
    for t in np.unique(pre_type).tolist():
        m = pre_type == t
        n_conn += _connect_groups(
            sim, pops[t], local[syn.pre[m]], syn.post[m], syn.receptor[m], syn.weight_pA[m], rec_steps[m], dt, spec,
            pops, local,
        )  # fmt: skip

    # Sources: one SpikeSourceArray population; an event at step s fires at the time the backend stamps a
    # spike of step s ((s + lag)*dt: (s+1)*dt on nest and neuron, s*dt on brian2), amplitude n as n spikes.
    # On neuron the n spikes go to n layers of sources (layer j fires where the amplitude exceeds j), each
    # connected like the source: through pyNN.neuron a source train with repeated times stops delivering
    # part way (measured on ei_cuba: neuron 0's drive ends near 20 ms, the network fires 271 spikes instead
    # of NEST's 2228; 8061 vs NEST's 7979 without recurrent synapses once layered).
    ev, inp = trial.events, spec.inputs
    if len(ev) and len(inp):
        reps = np.rint(ev.amplitude).astype(np.int64)
        layers = int(reps.max()) if backend == "neuron" and reps.size else 1
        layer = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)  # j = 0..n-1 per event
        src = np.repeat(ev.source, reps) * layers + (layer if layers > 1 else 0)
        steps_ = np.repeat(ev.step, reps)
        times = _device_times(backend, steps_ + SPIKE_STAMP_LAG[backend], dt)
        order = np.lexsort((steps_, src))
        n_src = spec.n_sources * layers
        bounds = np.searchsorted(src[order], np.arange(1, n_src))
        # one sorted copy split into views: a fresh times[order] per source would keep n_src full copies alive
        # through the views' bases (12.7 GB on ei_cuba's 4,000 layered sources)
        per_source = [sim.Sequence(t) for t in np.split(times[order], bounds)]
        sources = sim.Population(n_src, sim.SpikeSourceArray(spike_times=per_source), label="sources")
        pre = (inp.pre[:, None] * layers + np.arange(layers)[None, :]).ravel()
        rep = np.repeat  # every layer of a source connects like the source itself
        n_conn += _connect_groups(
            sim, sources, pre, rep(inp.post, layers), rep(inp.receptor, layers), rep(inp.weight_pA, layers),
            rep(inp_steps, layers), dt, spec, pops, local,
        )  # fmt: skip

    # Step currents: a change at step s is a StepCurrentSource time (s+2)*dt (V moves in step s+2).
    cur = trial.currents
    n_cur = 0
    if len(cur):
        order = np.lexsort((cur.step, cur.neuron))  # among equal (neuron, step) the last given wins
        neuron, step, amp = cur.neuron[order], cur.step[order], cur.amplitude_pA[order]
        last = np.ones(neuron.size, dtype=bool)
        last[:-1] = (neuron[1:] != neuron[:-1]) | (step[1:] != step[:-1])
        neuron, step, amp = neuron[last], step[last], amp[last]
        for i in np.unique(neuron).tolist():
            m = neuron == i
            source = sim.StepCurrentSource(times=_device_times(backend, step[m] + 2, dt), amplitudes=pA_to_nA(amp[m]))
            t = int(spec.node_type[i])
            source.inject_into(pops[t][int(local[i]) : int(local[i]) + 1])
            n_cur += 1

    rec = config.recorded_ids(spec)
    for t, pop in pops.items():
        pop.record("spikes")
        mine = np.unique(local[rec[spec.node_type[rec] == t]])
        if config.record and mine.size:
            names = [types[t][1] if v == "V_m" else GLIF_RECORDABLE[v] for v in config.record]
            pop[mine].record(names, sampling_interval=dt)
    t1 = time.perf_counter()
    # NEURON stamps a spike of the last step at t = tstop and does not record it when the run ends there
    # (measured on ei_cuba: the one spike of step 1999 of 2000 was lost); one more step records it, and
    # everything after the grid is dropped below.
    sim.run((n_steps + (1 if backend == "neuron" else 0)) * dt)
    t2 = time.perf_counter()

    lag = SPIKE_STAMP_LAG[backend]
    steps_out, neurons_out, offsets_out = [], [], []
    state = {v: np.full((n_steps, rec.size), np.nan) for v in config.record}
    for t, pop in pops.items():
        seg = pop.get_data().segments[0]
        for train in seg.spiketrains:
            times = np.asarray(train.rescale("ms").magnitude, dtype=float)
            step = np.ceil(times / dt - _STEP_EPS).astype(np.int64) - lag
            keep = (step >= 0) & (step < n_steps)
            idx = members[t][int(train.annotations["source_index"])]
            steps_out.append(step[keep])
            neurons_out.append(np.full(int(keep.sum()), idx, dtype=np.int64))
            offsets_out.append(times[keep] - step[keep] * dt)
        cols = np.flatnonzero(spec.node_type[rec] == t)
        for v in config.record:
            pname = types[t][1] if v == "V_m" else GLIF_RECORDABLE[v]
            sigs = seg.filter(name=pname)
            if not sigs or cols.size == 0:
                continue
            sig = sigs[0]
            data = np.asarray(sig.magnitude, dtype=float)
            if data.shape[0] < n_steps + 1:
                raise AdapterFailure(
                    f"pyNN.{backend} returned {data.shape[0]} samples of {pname}, expected {n_steps + 1}"
                )
            channel = np.asarray(sig.array_annotations["channel_index"], dtype=np.int64)
            by_index = np.argsort(channel)
            where = by_index[np.searchsorted(channel[by_index], local[rec[cols]])]
            # sample k+1 (time (k+1)*dt) is the state at the end of step k
            state[v][:, cols] = data[1 : n_steps + 1, where]
    import pyNN

    provenance = {
        "backend": backend,
        "pynn_version": pyNN.__version__,
        "backend_version": importlib.metadata.version(SIM_DISTRIBUTION[backend]),
        "min_delay_ms": dt,
        "spike_precision": precision if backend == "nest" else "on_grid",
        "codegen_target": "numpy" if backend == "brian2" else "",
        "build_wall_s": t1 - t0,
        "run_wall_s": t2 - t1,
        "n_connections": n_conn,
        "n_current_sources": n_cur,
    }
    sim.end()
    return {
        "step": np.concatenate(steps_out) if steps_out else np.zeros(0, dtype=np.int64),
        "neuron": np.concatenate(neurons_out) if neurons_out else np.zeros(0, dtype=np.int64),
        "offset": np.concatenate(offsets_out) if offsets_out else np.zeros(0),
        "state": state,
        "provenance": provenance,
    }
