"""NEST adapter: GLIF3 as NEST ``glif_psc`` plus NEST-native point neurons, run by NEST itself.

Units: the spec's canonical units (mV, pF, nS, pA, ms, 1/ms) are NEST ``glif_psc`` units, so GLIF3
parameters and weights pass through unchanged (GLIF3_SEMANTICS.md section 1).

Step conventions (see :mod:`snnval.semantics`), verified with the NEST 3.10 wheel:

* a neuron spike emitted in step ``s`` is stamped ``(s+1)*dt`` by the spike recorder, so
  ``step = rint(t/dt) - 1``; a multimeter sample stamped ``(k+1)*dt`` is the state at the end of step k
  (the sample stamped at a spike time already shows V = V_reset);
* a stimulus event at step ``s`` becomes a ``spike_generator`` spike at ``(s+1)*dt``; with a delay of d
  steps it first moves V in step ``s+d+1`` (measured: s=4, d=3 -> step 8, at dt 1.0 and 0.1);
* a current change at step ``s`` becomes a ``step_current_generator`` change at ``(s+1)*dt`` with a
  1-step connection delay; V first feels it in step ``s+2`` (measured: s=4 -> step 6);
* delays are rounded by :func:`snnval.semantics.delay_steps` (the profile's rule plus its offset) and
  handed to NEST as ``steps*dt``, so NEST's own rounding never applies;
* a multimeter with ``interval = dt`` delivers only ``n-1`` samples after ``Simulate(n*dt)`` (the last
  sample arrives one step later), so every trial simulates one extra "flush" step whose spikes and
  samples are discarded (only when a multimeter records: spikes need no flush).

Receptors: a ``glif_psc`` target gets receptor r on NEST port r+1. The ``iaf_*`` models have one
excitatory and one inhibitory synapse selected by the sign of the weight on port 0, so for them the
spec's receptor index is ignored and the weight is passed unchanged in the model's NEST weight unit
(pA for ``iaf_psc_exp/alpha``, mV for ``iaf_psc_delta``, nS for ``iaf_cond_exp``): a negative weight is
inhibitory.

Recorded currents are NEST's own ``glif_psc`` variables, i.e. the inputs V integrated *during* step k,
not states at the end of step k (measured; both are left untouched while the neuron is refractory):

* ``"ASC"`` reads ``ASCurrents_sum``: the exact step mean of the after-spike currents over step k;
* ``"I_syn"`` reads ``I_syn``: the summed alpha PSCs (pA) at the *start* of step k, so a PSC that arrives
  in step s+d reads 0 in step s+d+1 (while V already moves) and peaks at weight one step after tau_syn.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.errors import NotApplicable, SpecError
from snnval.semantics import NEST_STEP_KNOBS, Semantics, delay_steps
from snnval.spec import NetworkSpec
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus
from snnval.time_grid import nest_ms_stamp_steps, spike_times_ms, steps_from_spike_times

#: Spec model name -> NEST model name.
NEST_MODEL = {
    "glif3": "glif_psc",
    "iaf_psc_alpha": "iaf_psc_alpha",
    "iaf_psc_exp": "iaf_psc_exp",
    "iaf_cond_exp": "iaf_cond_exp",
    "iaf_psc_delta": "iaf_psc_delta",
    # NEST's precise-spike-time models: they spike off the grid (RunResult.spike_offset_ms) and
    # integrate the offsets of incoming events (Events.offset_ms).
    "iaf_psc_exp_ps": "iaf_psc_exp_ps",
    "iaf_psc_alpha_ps": "iaf_psc_alpha_ps",
}
PRECISE_MODELS = ("iaf_psc_exp_ps", "iaf_psc_alpha_ps")

#: iaf_psc_delta adds an arriving spike to V in its arrival step (models/iaf_psc_delta.cpp, update());
#: every other model here adds it to its synaptic state after V's update of that step.
_INPUT_TIMING = {m: ("end_of_arrival_step",) for m in NEST_MODEL if m != "iaf_psc_delta"}
_INPUT_TIMING["iaf_psc_delta"] = ("in_arrival_step",)

#: Canonical recordable -> NEST glif_psc recordable.
GLIF_RECORDABLE = {"V_m": "V_m", "ASC": "ASCurrents_sum", "I_syn": "I_syn"}


def _import_nest() -> Any:
    """Import PyNEST quietly (no banner, errors only) and return the module."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


def _node_ids(nodes: Any) -> np.ndarray:
    """Node ids of a NodeCollection returned by one Create (contiguous; tolist() is slow at V1 scale)."""
    first, last = nodes[0].global_id, nodes[-1].global_id
    if last - first + 1 == len(nodes):
        return np.arange(first, last + 1, dtype=np.int64)
    return np.asarray(nodes.tolist(), dtype=np.int64)


def _affine_offset(gid_of: np.ndarray) -> int | None:
    """``o`` if ``gid_of == arange(n) + o`` (node types in id order: the Creates give consecutive ids),
    else None. Then ids map to node ids by an addition instead of a random gather (5.2 M synapses)."""
    if gid_of.size and int(gid_of[-1] - gid_of[0]) == gid_of.size - 1 and bool(np.all(np.diff(gid_of) == 1)):
        return int(gid_of[0])
    return None


def _to_gid(ids: np.ndarray, gid_of: np.ndarray, offset: int | None) -> np.ndarray:
    """NEST node ids of spec ids ``ids`` (``offset`` from :func:`_affine_offset`)."""
    return ids + offset if offset is not None else gid_of[ids]


def _port_model(port: int) -> str:
    """Name of the static_synapse copy that targets receptor port ``port``."""
    return f"static_synapse__snnval_port{int(port)}"


def _unit_events(ev: Events) -> bool:
    """True if every event is a single unit spike on the grid: amplitude 1, no offset within the step, at
    most one per (trial, step, source) (what a spike_train_injector can emit)."""
    if ev.offset_ms is not None or not np.all(ev.amplitude == 1.0):
        return False
    key = (ev.trial * (int(ev.step.max(initial=0)) + 1) + ev.step) * (int(ev.source.max(initial=0)) + 1) + ev.source
    return bool(np.unique(key).size == key.size)


@dataclass
class NestBuild:
    """Handles to one trial built in the NEST kernel.

    ``gid_of[i]`` is the NEST node id of spec neuron i; ``neuron_of_gid[g]`` the spec id of node g
    (-1 for devices). ``recorded`` are spec ids in the column order of the recorded state.
    """

    gid_of: np.ndarray
    neuron_of_gid: np.ndarray
    spike_recorder: Any
    multimeter: Any | None
    recorded: np.ndarray
    record: tuple[str, ...]
    n_spike_generators: int
    n_current_generators: int
    n_connections: int
    #: NEST model of the input nodes ("spike_train_injector", "spike_generator" or "" without inputs)
    input_model: str = ""


class NestGlifAdapter(Adapter):
    """GLIF3 networks on NEST ``glif_psc`` (exact integration, NEST's own step semantics)."""

    name = "nest"
    package = "nest-simulator"
    description = "NEST glif_psc (GLIF3) and iaf_* point neurons; NEST's own dynamics and delays"
    profiles = ("nest-glif-psc", "nest-psc-delta")
    port_target = True

    def __init__(self) -> None:
        self._recordables: tuple[str, ...] | None = None

    def _import(self) -> None:
        _import_nest()

    def capabilities(self) -> Capabilities:
        if self._recordables is None:
            try:
                nest_names = set(_import_nest().GetDefaults("glif_psc")["recordables"])
                self._recordables = tuple(k for k, v in GLIF_RECORDABLE.items() if v in nest_names)
            except Exception:  # capabilities must answer even when NEST cannot be imported
                return Capabilities(
                    models=tuple(NEST_MODEL), recordables=("V_m",), knobs=self._knobs(), model_knobs=self._model_knobs()
                )
        return Capabilities(
            models=tuple(NEST_MODEL),
            max_receptors=4,
            recordables=self._recordables,
            knobs=self._knobs(),
            dtypes=("float64",),
            model_knobs=self._model_knobs(),
            spike_times="precise",
        )

    @staticmethod
    def _knobs() -> dict[str, tuple]:
        # The neuron-step knobs are fixed by NEST's glif_psc; the mapping knobs are the adapter's
        # own choice, so every value is supported (delay_offset_steps: any int >= 0).
        # input_timing: iaf_psc_delta adds an arrival to V in its step; narrowed per model in _model_knobs()
        return {**NEST_STEP_KNOBS, "input_timing": ("end_of_arrival_step", "in_arrival_step")}

    @staticmethod
    def _model_knobs() -> dict[str, dict[str, tuple]]:
        return {model: {"input_timing": timing} for model, timing in _INPUT_TIMING.items()}

    # --- checks that need no NEST kernel -------------------------------------------------------

    def _check(self, spec: NetworkSpec, config: RunConfig) -> None:
        """Raise NotApplicable / SpecError for what Capabilities.check does not cover."""
        if np.any(np.asarray(spec.inputs.delay_ms) == 0.0):
            raise NotApplicable(
                "inputs with delay 0 (acting in the step they arrive) cannot be expressed: "
                "NEST's minimum delay is one step"
            )
        used = np.unique(spec.node_type)
        for t in used:
            model = spec.cells.models[t]
            if model not in NEST_MODEL:
                raise NotApplicable(
                    f"node type {spec.cells.names[t]!r} has model {model!r} (supported: {tuple(NEST_MODEL)})"
                )
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

    # --- build -----------------------------------------------------------------------------------

    @staticmethod
    def _node_params(nest: Any, spec: NetworkSpec, t: int, sem: Semantics) -> tuple[str, dict]:
        """NEST model name and status dict (NEST units) of node type t, with the initial V_m set."""
        cells = spec.cells
        model = cells.models[t]
        if model == "glif3":
            params = cells.nest_params(t)
            v0 = cells.V_reset_mV[t] if sem.initial_v == "v_reset" else cells.E_L_mV[t]
            if "V_m" in cells.native_params[t]:  # the only native entry a GLIF3 type carries: its initial V_m
                params["V_m"] = cells.native_params[t]["V_m"]
        else:
            params = dict(cells.native_params[t])
            defaults = nest.GetDefaults(NEST_MODEL[model])
            key = "V_reset" if sem.initial_v == "v_reset" else "E_L"
            v0 = params.get(key, defaults[key])
        # A V_m the file states (SONATA dynamics_params, which bmtk hands to NEST unchanged) is the
        # initial state; without one the initial_v knob decides.
        params["V_m"] = float(params["V_m"]) if "V_m" in params else float(v0)
        return NEST_MODEL[model], params

    @staticmethod
    def _connect(
        nest: Any,
        pre: np.ndarray,
        post: np.ndarray,
        weight: np.ndarray,
        delay_ms: np.ndarray,
        port: int,
        by_model: bool = False,
    ) -> int:
        """One vectorised one_to_one Connect of node-id arrays; ``delay_ms`` are whole steps * dt.

        ``by_model``: use the port's own synapse model (sources are nodes, not devices).
        """
        if pre.size == 0:
            return 0
        syn_spec = {
            "weight": np.ascontiguousarray(weight, dtype=float),
            "delay": np.ascontiguousarray(delay_ms, dtype=float),
        }
        if by_model:
            # one static_synapse copy per port (made in build): a receptor_type in syn_spec makes NEST
            # handle a parameter dict per connection (issue 11: 2.9 -> 2.3 s for 5.2 M connections)
            syn_spec["synapse_model"] = _port_model(port)
        else:  # connections out of devices must all use one synapse model (NEST), so the port is a parameter
            syn_spec.update(synapse_model="static_synapse", receptor_type=int(port))
        nest.Connect(
            np.ascontiguousarray(pre, dtype=np.int64),
            np.ascontiguousarray(post, dtype=np.int64),
            "one_to_one",
            syn_spec=syn_spec,
        )
        return int(pre.size)

    @staticmethod
    def _group_by_port(
        pre: np.ndarray,
        post: np.ndarray,
        receptor: np.ndarray,
        weight: np.ndarray,
        delay_ms: np.ndarray,
        is_glif: np.ndarray | None,
        n_receptors: int,
    ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Connections grouped by NEST port: [(port, pre, post, weight, delay_ms)], glif_psc ports r+1
        (receptor r), then iaf_* targets on port 0; ``is_glif`` None: every target is a glif_psc.

        One boolean mask per port: at 5.2 M synapses a mask and its compresses (sequential) measured
        0.2 s, an argsort by port and gathers 0.5 s.
        """
        glif_post = None if is_glif is None else is_glif[post]
        all_glif = glif_post is None or bool(glif_post.all())
        groups = []
        for r in range(n_receptors):
            m = (receptor == r) if all_glif else glif_post & (receptor == r)
            groups.append((r + 1, pre[m], post[m], weight[m], delay_ms[m]))
        if not all_glif:
            m = ~glif_post
            groups.append((0, pre[m], post[m], weight[m], delay_ms[m]))
        return groups

    def _connect_groups(
        self,
        nest: Any,
        groups: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        pre_gid_of: np.ndarray,
        gid_of: np.ndarray,
        by_model: bool = False,
        consume: bool = False,
    ) -> int:
        """One Connect per port group; ``pre`` index ``pre_gid_of`` (node id per source), ``post`` are spec ids.

        ``consume``: empty ``groups`` as they are connected, so each group's arrays are freed once NEST
        holds its connections (the last trial: peak memory as with one port's arrays at a time).
        """
        pre_off, post_off = _affine_offset(pre_gid_of), _affine_offset(gid_of)
        n = 0
        for i in range(len(groups)):
            port, pre, post, weight, delay_ms = groups.pop(0) if consume else groups[i]
            n += self._connect(
                nest,
                _to_gid(pre, pre_gid_of, pre_off),
                _to_gid(post, gid_of, post_off),
                weight,
                delay_ms,
                port,
                by_model,
            )
        return n

    @staticmethod
    def _glif_targets(spec: NetworkSpec) -> np.ndarray | None:
        """Per-neuron glif3 mask, or None when every node type in use is glif3 (no gather per synapse then)."""
        type_is_glif = np.asarray(spec.cells.models, dtype=object) == "glif3"
        if bool(type_is_glif[np.unique(spec.node_type)].all()):
            return None
        return type_is_glif[spec.node_type]

    def _recurrent_groups(self, spec: NetworkSpec, rec_steps: np.ndarray, dt: float) -> list:
        """The recurrent synapses grouped by port, delays in ms (whole steps: NEST's rounding never applies)."""
        syn = spec.synapses
        return self._group_by_port(
            syn.pre, syn.post, syn.receptor, syn.weight_pA, rec_steps * dt, self._glif_targets(spec), spec.n_receptors
        )

    def build(
        self,
        spec: NetworkSpec,
        trial: FrozenStimulus,
        config: RunConfig,
        rec_steps: np.ndarray | None = None,
        inp_steps: np.ndarray | None = None,
        rec_groups: list | None = None,
        consume_groups: bool = False,
    ) -> NestBuild:
        """Reset the NEST kernel and build one trial (a one-trial stimulus) of a validated spec.

        ``rec_steps``/``inp_steps`` are the recurrent/input delays in steps, ``rec_groups`` the recurrent
        synapses by port (:meth:`_recurrent_groups`); each is computed here if None. ``consume_groups``:
        empty ``rec_groups`` while connecting (its last use).
        """
        nest = _import_nest()
        self._check(spec, config)
        dt = float(trial.dt_ms)
        sem = config.semantics
        if rec_steps is None:
            rec_steps = delay_steps(spec.synapses.delay_ms, dt, sem)
        if inp_steps is None:
            inp_steps = delay_steps(spec.inputs.delay_ms, dt, sem)

        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        nest.SetKernelStatus({"resolution": dt, "local_num_threads": int(config.threads)})
        for port in range(spec.n_receptors + 1):  # port 0: iaf_* targets
            nest.CopyModel("static_synapse", _port_model(port), {"receptor_type": port})

        # Neurons: one Create per node type, so parameters are set in bulk.
        n = spec.n_neurons
        gid_of = np.empty(n, dtype=np.int64)
        order = np.argsort(spec.node_type, kind="stable")
        types, starts = np.unique(spec.node_type[order], return_index=True)
        all_neurons = None
        for t, ids in zip(types, np.split(order, starts[1:]), strict=True):
            model, params = self._node_params(nest, spec, int(t), sem)
            # A model copy per node type carries the parameters as defaults: ~25x faster than
            # Create(params=...), which sets every node's status one by one.
            type_model = f"{model}__snnval_nt{int(t)}"
            try:
                nest.CopyModel(model, type_model, params)
            except Exception as exc:  # NEST names the bad key; say which node type it came from
                raise SpecError(
                    f"spec '{spec.name}' cells",
                    f"node type {spec.cells.names[t]!r} ({model})",
                    f"parameters NEST accepts: {exc}",
                ) from exc
            created = nest.Create(type_model, int(ids.size))
            gid_of[ids] = _node_ids(created)
            # the recorder connects to the sum of the Creates: consecutive ranges, no id list (issue 11)
            all_neurons = created if all_neurons is None else all_neurons + created
        if rec_groups is None:
            rec_groups, consume_groups = self._recurrent_groups(spec, rec_steps, dt), True
        n_conn = self._connect_groups(nest, rec_groups, gid_of, gid_of, by_model=True, consume=consume_groups)

        # External sources: one input node per source with events in this trial: spike_train_injector
        # nodes where every event is a single unit spike (cheaper to connect, and they take the port's
        # synapse model), else spike_generator devices (real amplitudes as spike_weights).
        ev = trial.events
        n_gen = 0
        injector = False
        if len(ev) and len(spec.inputs):
            injector = _unit_events(ev)
            src_gid, n_gen = self._spike_generators(nest, ev, dt, spec.n_sources, injector)
            inp = spec.inputs
            has_gen = src_gid[inp.pre] > 0
            pre, post, receptor, weight, steps = inp.pre, inp.post, inp.receptor, inp.weight_pA, inp_steps
            if not has_gen.all():  # sources without events in this trial get no connections
                pre, post, receptor, weight, steps = (a[has_gen] for a in (pre, post, receptor, weight, steps))
            groups = self._group_by_port(
                pre, post, receptor, weight, steps * dt, self._glif_targets(spec), spec.n_receptors
            )
            n_conn += self._connect_groups(nest, groups, src_gid, gid_of, by_model=injector, consume=True)

        n_cur = 0
        if len(trial.currents):
            n_cur = self._current_generators(nest, trial.currents, dt, gid_of)

        sr = nest.Create("spike_recorder")
        nest.Connect(all_neurons, sr)
        rec = config.recorded_ids(spec)
        mm = None
        if config.record and rec.size:
            mm = nest.Create(
                "multimeter", params={"interval": dt, "record_from": [GLIF_RECORDABLE[v] for v in config.record]}
            )
            nest.Connect(mm, nest.NodeCollection(np.unique(gid_of[rec]).tolist()))

        neuron_of_gid = np.full(int(gid_of.max()) + 1, -1, dtype=np.int64)
        neuron_of_gid[gid_of] = np.arange(n)
        input_model = ("spike_train_injector" if injector else "spike_generator") if n_gen else ""
        return NestBuild(gid_of, neuron_of_gid, sr, mm, rec, tuple(config.record), n_gen, n_cur, n_conn, input_model)

    @staticmethod
    def _spike_generators(
        nest: Any, ev: Events, dt: float, n_sources: int, injector: bool = False
    ) -> tuple[np.ndarray, int]:
        """Create one input node per source with events; return (node id per source or 0, count).

        ``injector``: spike_train_injector nodes (every event a single unit spike on the grid, see
        _unit_events), else spike_generator devices with the amplitudes as spike_weights. Both emit a
        spike stamped (step + 1) * dt and gave identical spikes on the V1 benchmark network
        (benchmarks/bench_v1.py). Events with offsets go to ``precise_times`` generators at
        ``step*dt + offset``: NEST stamps them at the end of their step (the same stamp as the grid event)
        and keeps the offset, which only the ``*_ps`` models use (time rule:
        :func:`snnval.time_grid.precise_spike_steps`).
        """
        if ev.offset_ms is None:
            order = np.argsort(ev.source, kind="stable")  # stable: keeps each source's events in step order
        else:  # NEST wants each generator's times non-descending: within a step, by offset
            order = np.lexsort((ev.offset_ms, ev.step, ev.source))
        src = ev.source[order]
        uniq, starts = np.unique(src, return_index=True)
        step = ev.step[order]
        if ev.offset_ms is None:
            t = (step + 1) * dt
            # allow_offgrid_times is False by default (NEST 3.10, checked in tests/test_nest_adapter.py):
            # passing it to Create would set 18,400 nodes' status one by one (0.3-0.4 s at V1 size)
            params = {}
        else:
            t = spike_times_ms(step, dt, ev.offset_ms[order])
            # an offset a rounding error pushed out of its step would move the spike a step: keep the step
            t = np.where(nest_ms_stamp_steps(t, dt) == step + 1, t, spike_times_ms(step, dt))
            params = {"precise_times": True}
        times = np.split(t, starts[1:])
        if injector:
            gens = nest.Create("spike_train_injector", int(uniq.size))  # on-grid times by default, as above
            gens.set([{"spike_times": t} for t in times])
        else:
            weights = np.split(ev.amplitude[order], starts[1:])
            gens = nest.Create("spike_generator", int(uniq.size), params=params or None)
            gens.set(
                [{"spike_times": t.tolist(), "spike_weights": w.tolist()} for t, w in zip(times, weights, strict=True)]
            )
        src_gid = np.zeros(max(n_sources, int(uniq.max()) + 1), dtype=np.int64)
        src_gid[uniq] = _node_ids(gens)
        return src_gid, int(uniq.size)

    @staticmethod
    def _current_generators(nest: Any, cur: CurrentSteps, dt: float, gid_of: np.ndarray) -> int:
        """One step_current_generator per neuron with current changes, connected with a 1-step delay."""
        order = np.lexsort((cur.step, cur.neuron))  # stable: among equal (neuron, step) the last given wins
        neuron, step, amp = cur.neuron[order], cur.step[order], cur.amplitude_pA[order]
        last = np.ones(neuron.size, dtype=bool)
        last[:-1] = (neuron[1:] != neuron[:-1]) | (step[1:] != step[:-1])
        neuron, step, amp = neuron[last], step[last], amp[last]
        uniq, starts = np.unique(neuron, return_index=True)
        times = np.split((step + 1) * dt, starts[1:])
        values = np.split(amp, starts[1:])
        gens = nest.Create("step_current_generator", int(uniq.size))  # allow_offgrid_times False by default
        gens.set(
            [
                {"amplitude_times": t.tolist(), "amplitude_values": v.tolist()}
                for t, v in zip(times, values, strict=True)
            ]
        )
        NestGlifAdapter._connect(nest, _node_ids(gens), gid_of[uniq], np.ones(uniq.size), np.full(uniq.size, dt), 0)
        return int(uniq.size)

    # --- run -------------------------------------------------------------------------------------

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        self._check(spec, config)
        dt = float(stimulus.dt_ms)
        # Delays once, before NEST is touched, so a bad delay is a SpecError with a clean kernel.
        rec_steps = delay_steps(spec.synapses.delay_ms, dt, config.semantics)
        inp_steps = delay_steps(spec.inputs.delay_ms, dt, config.semantics)
        nest = _import_nest()
        # The spec hash (provenance) in a second thread while this one groups the recurrent synapses by
        # port (hashlib and numpy release the GIL: 0.13-0.25 s each at V1 size, on two cores side by
        # side); joined before NEST's own threads start, so it never competes with them. The digest is
        # the same, and the groups serve every trial.
        hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snnval-spec-hash")
        try:
            spec_hash = hasher.submit(spec.content_hash)
            rec_groups = self._recurrent_groups(spec, rec_steps, dt)
            digest = spec_hash.result()
        finally:
            hasher.shutdown(wait=True)
        result = self._run_trials(nest, spec, stimulus, config, rec_steps, inp_steps, rec_groups)
        result.provenance["spec_hash"] = digest
        return result

    def _run_trials(
        self,
        nest: Any,
        spec: NetworkSpec,
        stimulus: FrozenStimulus,
        config: RunConfig,
        rec_steps: np.ndarray,
        inp_steps: np.ndarray,
        rec_groups: list,
    ) -> RunResult:
        """Build and simulate every trial (one kernel per trial); collect spikes and recorded state."""
        dt, n_steps, n_trials = float(stimulus.dt_ms), int(stimulus.n_steps), int(stimulus.n_trials)
        rec = config.recorded_ids(spec)
        state = {v: np.full((n_trials, n_steps, rec.size), np.nan) for v in config.record}
        sp_trial, sp_step, sp_neuron, sp_offset = [], [], [], []
        precise = bool(set(np.asarray(spec.cells.models)[np.unique(spec.node_type)]) & set(PRECISE_MODELS))
        build_wall = run_wall = 0.0
        counts: dict[str, list[int]] = {"n_connections": [], "n_spike_generators": [], "n_current_generators": []}
        input_models: list[str] = []
        for i in range(n_trials):
            t0 = time.perf_counter()
            last = i == n_trials - 1
            built = self.build(spec, stimulus.trial(i), config, rec_steps, inp_steps, rec_groups, consume_groups=last)
            t1 = time.perf_counter()
            nest.Simulate(n_steps * dt)
            t2 = time.perf_counter()
            if built.multimeter is not None:  # flush: the multimeter delivers the last sample one step late
                nest.Simulate(dt)  # (its spikes are dropped; without a multimeter there is nothing to flush)
            build_wall += t1 - t0
            run_wall += t2 - t1
            for key in counts:  # per trial: generators exist only for sources / neurons with input
                counts[key].append(int(getattr(built, key)))
            input_models.append(built.input_model)
            step, neuron, offset = self._spikes(built, dt, n_steps)
            sp_trial.append(np.full(step.size, i, dtype=np.int64))
            sp_step.append(step)
            sp_neuron.append(neuron)
            sp_offset.append(offset)
            for v, arr in self._samples(built, dt, n_steps).items():
                state[v][i] = arr
        simulated_s = n_trials * n_steps * dt / 1000.0
        provenance = {
            "build_wall_s": build_wall,
            "run_wall_s": run_wall,
            "threads": int(config.threads),
            "nest_version": str(nest.__version__),
            "realtime_factor": run_wall / simulated_s,
            **counts,
            "input_models": input_models,
        }
        return RunResult.from_spikes(
            dt,
            n_steps,
            n_trials,
            np.concatenate(sp_trial),
            np.concatenate(sp_step),
            np.concatenate(sp_neuron),
            rec,
            state,
            provenance,
            np.concatenate(sp_offset) if precise else None,
        )

    @staticmethod
    def _spikes(built: NestBuild, dt: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spike (step, spec neuron id, offset ms) arrays; the flush step is dropped.

        The recorder reports a grid spike at its stamp (s+1) dt and a precise spike at its exact time
        (stamp minus offset); both map by NEST's stamp rule in tics (:mod:`snnval.time_grid`), so grid
        spikes get offset dt.
        """
        ev = built.spike_recorder.events
        step, offset = steps_from_spike_times(np.asarray(ev["times"], dtype=float), dt)
        neuron = built.neuron_of_gid[np.asarray(ev["senders"], dtype=np.int64)]
        keep = step < n_steps
        return step[keep], neuron[keep], offset[keep]

    @staticmethod
    def _samples(built: NestBuild, dt: float, n_steps: int) -> dict[str, np.ndarray]:
        """Recorded state as {var: (n_steps, n_recorded)} in mV / pA; stamp (k+1)*dt -> step k."""
        if built.multimeter is None:
            return {v: np.full((n_steps, built.recorded.size), np.nan) for v in built.record}
        ev = built.multimeter.events
        step = np.rint(np.asarray(ev["times"], dtype=float) / dt).astype(np.int64) - 1
        senders = np.asarray(ev["senders"], dtype=np.int64)
        keep = step < n_steps
        gids = np.unique(built.gid_of[built.recorded])
        col = np.searchsorted(gids, senders[keep])
        wanted = np.searchsorted(gids, built.gid_of[built.recorded])  # handles repeated record ids
        out = {}
        for v in built.record:
            data = np.full((n_steps, gids.size), np.nan)
            data[step[keep], col] = np.asarray(ev[GLIF_RECORDABLE[v]], dtype=float)[keep]
            out[v] = data[:, wanted]
        return out
