"""SONATA simulation configs -> (NetworkSpec, FrozenStimulus), and a run's spikes -> SONATA spike files.

Reads what bmtk's pointnet reads from a simulation config (``bmtk/simulator/pointnet/pointsimulator.py``
``from_config``; SONATA ``docs/SONATA_DEVELOPER_GUIDE.md`` "Simulation config"):

* ``manifest`` (``$VAR`` paths, ``${configdir}``) and includes: ``"network"`` (a circuit config path) and
  ``"simulation"`` (a simulation config path); an include cycle is refused.
* ``run``: ``dt`` and ``tstop`` (or ``duration``) in ms, whole steps of NEST's resolution;
  ``precise_times`` (bmtk's default: true) and ``allow_offgrid_spikes`` choose the time rule of input
  spikes (:mod:`snnval.time_grid`).
* ``inputs``: ``input_type: spikes`` with ``module`` ``sonata``/``h5``/``hdf5``/``csv``/``nwb`` (``input_file``
  and a ``node_set`` of virtual nodes; ``trial`` for NWB); ``module: IClamp`` onto a ``node_set`` of neurons
  with ``input_type`` ``current_clamp`` (``amp``, ``delay``, ``duration``, scalars or lists), ``csv``/``file``
  (a waveform file) or ``nwb``/``allen`` (an Allen Cell Types sweep), read as bmtk's
  ``bmtk/simulator/core/modules/iclamp.py`` readers read them. ``function`` inputs (user Python code) are
  refused with the reason.
* ``run.block_run`` where the blocks add up to tstop; ``run.n_runs`` > 1 is refused (:func:`_check_block_run`,
  :func:`load_sonata_simulation`).
* ``node_sets`` (inline) or ``node_sets_file``; a node set is a name or an inline dict with
  ``population``, ``node_id``/``node_ids`` and node-type columns (``pop_name``, ``model_type``,
  ``node_type_id``, ...), or a list of node ids (as bmtk reads a list).
* ``output``: ``output_dir``, ``spikes_file`` (default ``spikes.h5``), ``spikes_file_csv``.

IClamp amplitudes: SONATA defines ``amp`` in nA, but bmtk pointnet hands the number to NEST's
``step_current_generator`` unchanged, i.e. as pA (``bmtk/simulator/pointnet/modules/iclamp.py``).
``iclamp_amp_unit="auto"`` follows pointnet (pA) for configs whose ``target_simulator`` is NEST and the
SONATA standard (nA) otherwise; the choice is reported in the notes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from snnval.errors import SpecError
from snnval.loaders.sonata import SonataNodes, _resolve_manifest, config_path, load_sonata_nodes
from snnval.sonata_spikes import SpikeTable, read_nwb_spike_file, read_spike_file, write_spike_csv, write_spike_h5
from snnval.spec import NetworkSpec
from snnval.stimulus import CurrentSteps, Events, FrozenStimulus
from snnval.time_grid import (
    grid_spike_steps,
    nest_grid_steps,
    precise_spike_steps,
    spike_offsets_ms,
    spike_times_ms,
    step_current_change_step,
    steps_from_spike_times,
)

SPIKE_MODULES = ("sonata", "h5", "hdf5", "csv", "nwb")
IC_AMP_UNITS = ("auto", "nA", "pA")


@dataclass
class SonataSimulation:
    """Everything a SONATA simulation config defines, on the suite's step grid."""

    config: Path
    spec: NetworkSpec
    stimulus: FrozenStimulus
    nodes: SonataNodes
    dt_ms: float
    tstop_ms: float
    spike_rule: str  # "precise" or "grid"
    output_dir: Path
    spikes_file: Path
    spikes_file_csv: Path
    notes: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


# --- config reading ------------------------------------------------------------------------------------------


def _read_json(path: Path, source: str, field_name: str) -> dict:
    if not path.is_file():
        raise SpecError(source, field_name, f"an existing JSON config ({path} not found)")
    try:
        out = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), "content", f"a JSON object ({exc})") from exc
    if not isinstance(out, dict):
        raise SpecError(str(path), "content", "a JSON object")
    return out


class _Config:
    """A simulation config with its includes merged (the including file's own keys win)."""

    def __init__(self, path: Path, seen: tuple[Path, ...] = ()):
        self.path = path
        self.source = str(path)
        resolved = path.resolve()
        if resolved in seen:
            chain = " -> ".join(str(p) for p in (*seen, resolved))
            raise SpecError(str(seen[-1]), "simulation/network", f"configs that do not include themselves ({chain})")
        raw = _read_json(path, str(seen[-1]) if seen else "--sonata", "path")
        self.manifest = _resolve_manifest(raw.get("manifest", {}), path.parent, self.source)
        self.raw = raw
        self.circuit: Path | None = None
        if isinstance(raw.get("simulation"), str):  # a top-level config naming its simulation config
            sub = _Config(self.path_of(raw["simulation"], "simulation"), (*seen, resolved))
            merged = dict(sub.raw)
            merged.update({k: v for k, v in raw.items() if k != "simulation"})
            self.raw = merged
            self.circuit = sub.circuit
        net = raw.get("network")
        if isinstance(net, str):
            self.circuit = self.path_of(net, "network")
            self._check_circuit(self.circuit, (*seen, resolved))
        elif "networks" in self.raw and self.circuit is None:
            self.circuit = path
        if self.circuit is None:
            raise SpecError(self.source, "network", "a circuit config path, or a 'networks' section")

    def _check_circuit(self, circuit: Path, seen: tuple[Path, ...]) -> None:
        """Follow 'network' includes of the circuit config to refuse cycles before the loader does."""
        chain = seen
        current = circuit
        while True:
            resolved = current.resolve()
            if resolved in chain:
                shown = " -> ".join(str(p) for p in (*chain, resolved))
                raise SpecError(str(chain[-1]), "network", f"configs that do not include themselves ({shown})")
            raw = _read_json(current, str(chain[-1]), "network")
            nxt = raw.get("network")
            if "networks" in raw or not isinstance(nxt, str):
                return
            manifest = _resolve_manifest(raw.get("manifest", {}), current.parent, str(current))
            chain, current = (*chain, resolved), config_path(nxt, current, manifest, str(current), "network")

    def path_of(self, value: Any, where: str) -> Path:
        return config_path(value, self.path, self.manifest, self.source, where)


def _positive(value: Any, source: str, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SpecError(source, where, f"a number in ms, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise SpecError(source, where, f"a finite number > 0, got {value!r}")
    return x


# --- node sets -----------------------------------------------------------------------------------------------


def _node_set_filter(
    value: Any, node_sets: dict, nodes: SonataNodes, which: str, source: str, where: str, depth: int = 0
) -> dict[str, np.ndarray]:
    """{population: boolean mask over its ascending node ids} of a node set over neurons or sources."""
    entries = nodes.neurons if which == "neurons" else nodes.sources
    if depth > 20:
        raise SpecError(source, where, "node sets that do not refer to themselves")
    if isinstance(value, str):
        if value not in node_sets:
            raise SpecError(source, where, f"the name of a node set in node_sets ({sorted(node_sets)}), got {value!r}")
        return _node_set_filter(node_sets[value], node_sets, nodes, which, source, f"node_sets.{value}", depth + 1)
    if isinstance(value, list):  # bmtk (core/node_sets.py): a list is a list of node ids
        value = {"node_id": value}
    if not isinstance(value, dict):
        raise SpecError(
            source, where, f"a node set name, a dict of node properties or a list of node ids, got {value!r}"
        )
    pops = value.get("population", value.get("populations"))
    if pops is not None:
        pops = [pops] if isinstance(pops, str) else list(pops)
        known = {e[0] for e in (*nodes.neurons, *nodes.sources)}
        unknown = [p for p in pops if p not in known]
        if unknown:
            raise SpecError(source, f"{where}.population", f"node populations of the network {sorted(known)}")
    out = {}
    for name, ids, type_ids, csv, _offset in entries:
        if pops is not None and name not in pops:
            continue
        mask = np.ones(ids.size, dtype=bool)
        types = None
        for key, want in value.items():
            if key in ("population", "populations"):
                continue
            wanted = np.atleast_1d(np.asarray(want, dtype=object))
            if key in ("node_id", "node_ids"):
                mask &= np.isin(ids, wanted.astype(np.int64))
                continue
            if key == "node_type_id":
                mask &= np.isin(type_ids, wanted.astype(np.int64))
                continue
            if types is None:
                types = pd.read_csv(csv, sep=" ", na_values=["NULL"], keep_default_na=False, index_col="node_type_id")
            if key not in types.columns:
                raise SpecError(
                    source,
                    f"{where}.{key}",
                    f"population, node_id(s), node_type_id or a node-type column of {csv} ({list(types.columns)})",
                )
            col = types[key].reindex(type_ids).astype(str).to_numpy()
            mask &= np.isin(col, wanted.astype(str))
        out[name] = mask
    return out


def _bmtk_node_set_caveats(value: Any, node_sets: dict, where: str) -> list[str]:
    """Notes where bmtk 1.2.0's pointnet selects other nodes than the node set names (measured here).

    bmtk's node filter (``bmtk/utils/sonata/group.py`` ``NodeGroup.filter``) does not know ``node_type_id``:
    it prints "Could not find property node_type_id ... Ignoring." and selects the whole population. A
    node-type column (``pop_name``, ``model_name``, ...) selects nothing with pandas >= 3: ``types_table.find``
    compares the column's object dtype with pandas' string dtype. The suite selects what the set says.
    """
    for _ in range(20):  # follow node-set names to the definition
        if not isinstance(value, str) or value not in node_sets:
            break
        value = node_sets[value]
    if not isinstance(value, dict):
        return []
    keys = set(value) - {"population", "populations", "node_id", "node_ids"}
    notes = []
    if "node_type_id" in keys:
        notes.append(
            f"{where}: bmtk 1.2.0 pointnet ignores node_type_id in a node set and would clamp the whole "
            "population; the suite clamps the node types named"
        )
    if keys - {"node_type_id"}:
        notes.append(
            f"{where}: bmtk 1.2.0 pointnet with pandas >= 3 matches no node-type column value "
            f"({sorted(keys - {'node_type_id'})}) and would clamp no node (NEST then refuses the connection); "
            "the suite clamps the nodes the set selects"
        )
    return notes


# --- inputs --------------------------------------------------------------------------------------------------


def _spike_events(
    cfg: _Config, name: str, inp: dict, node_sets: dict, nodes: SonataNodes, dt: float, tstop: float, rule: str,
    allow_offgrid: bool, notes: list[str] | None = None,
) -> Events:  # fmt: skip
    """Input events of one spike-file input.

    bmtk pointnet (``pointnetwork.py`` ``add_spike_trains``) feeds every virtual node of the node set's
    populations; the node set's other keys (node ids, columns) do not narrow an input. The suite does the
    same and says so in the notes when the node set would have selected fewer nodes.
    """
    where = f"inputs.{name}"
    module = str(inp.get("module", "")).lower()
    if module not in SPIKE_MODULES:
        raise SpecError(cfg.source, f"{where}.module", f"one of {SPIKE_MODULES} for spike inputs, got {module!r}")
    if "node_set" not in inp:
        raise SpecError(cfg.source, f"{where}.node_set", "the node set of the virtual nodes that fire (missing)")
    selected = _node_set_filter(inp["node_set"], node_sets, nodes, "sources", cfg.source, f"{where}.node_set")
    selected = {p: m for p, m in selected.items() if m.any()}
    if not selected:
        raise SpecError(
            cfg.source, f"{where}.node_set", "a node set that selects virtual (input) nodes; it selects none"
        )
    if isinstance(inp.get("input_file"), list):
        raise SpecError(cfg.source, f"{where}.input_file", "one spike file (lists are for n_runs > 1, not read)")
    path = cfg.path_of(inp.get("input_file"), f"{where}.input_file")
    if not path.is_file():
        raise SpecError(cfg.source, f"{where}.input_file", f"an existing spike file ({path} not found)")
    default_pop = next(iter(selected)) if len(selected) == 1 else None
    src = str(path)
    if module == "nwb":
        if default_pop is None:
            raise SpecError(
                cfg.source,
                f"{where}.node_set",
                f"one virtual population for an NWB file (it names none; bmtk would feed the same trains to each of "
                f"{sorted(selected)})",
            )
        trial = inp.get("trial")
        table = read_nwb_spike_file(path, default_pop, None if trial is None else str(trial))
        with h5py.File(path, "r") as f:  # the error fields name the file's own groups
            nwb_trial = str(trial) if trial is not None else next(iter(f["processing"]))
        ids_field = f"processing/{nwb_trial}/spike_train"
        times_field = f"processing/{nwb_trial}/spike_train/<node_id>/data"
    else:
        table = read_spike_file(path, default_population=default_pop)
        ids_field = times_field = ""
    step_parts, source_parts, offset_parts = [], [], []
    known = {e[0] for e in nodes.sources}
    for pop in np.unique(table.population.astype(str)) if len(table) else []:
        rows = table.population.astype(str) == pop
        if pop not in known:
            neurons = {e[0] for e in nodes.neurons}
            kind = "a neuron population, not a virtual one" if pop in neurons else "not in the network"
            raise SpecError(
                src, f"spikes/{pop}", f"spikes of the virtual populations {sorted(known)} ({pop!r} is {kind})"
            )
        if pop not in selected:
            continue  # bmtk feeds only the node set's populations from this file
        ids, _types, _csv, offset = nodes.lookup("sources", pop)
        nid, t = table.node_id[rows], table.time_ms[rows]
        pos = np.minimum(np.searchsorted(ids, nid), ids.size - 1)
        bad = ids[pos] != nid
        if np.any(bad):
            raise SpecError(
                src,
                ids_field or f"spikes/{pop}/node_ids",
                f"node ids of population {pop!r} (id {nid[bad][0]} is not one)",
            )
        keep = np.ones(nid.size, dtype=bool)  # bmtk feeds the whole population (docstring)
        if notes is not None and not np.all(selected[pop][pos]):
            notes.append(
                f"{where}: node set {inp['node_set']!r} selects part of population {pop!r}; as in bmtk pointnet, "
                f"all of its {nid.size} spikes in {path.name} are fed"
            )
        if np.any(t <= 0):
            raise SpecError(
                src, times_field or f"spikes/{pop}/timestamps", f"times > 0 ms (NEST refuses {t[t <= 0][0]!r} ms)"
            )
        late = t > tstop
        if np.any(late):
            raise SpecError(
                src,
                times_field or f"spikes/{pop}/timestamps",
                f"times <= run.tstop = {tstop:g} ms ({int(late.sum())} spikes later, first {t[late][0]!r} ms)",
            )
        if rule == "precise":
            steps = precise_spike_steps(t[keep], dt)
            offset_parts.append(spike_offsets_ms(t[keep], steps, dt))
        else:  # NEST's grid rule: a grid generator keeps no offset
            steps = grid_spike_steps(t[keep], dt, allow_offgrid, src, times_field or f"spikes/{pop}/timestamps")
            offset_parts.append(np.full(steps.size, dt))
        step_parts.append(steps)
        source_parts.append(pos[keep] + offset)
    if not step_parts:
        return Events.empty()
    step = np.concatenate(step_parts)
    source = np.concatenate(source_parts)
    order = np.lexsort((source, step))
    return Events(
        np.zeros(step.size, np.int64),
        step[order],
        source[order],
        np.ones(step.size),
        np.concatenate(offset_parts)[order],
    )


def _as_list(value: Any, source: str, where: str) -> list[float]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for i, v in enumerate(values):
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise SpecError(
                source, f"{where}[{i}]" if isinstance(value, list) else where, f"a number, got {v!r}"
            ) from None
        if not math.isfinite(x):
            raise SpecError(source, where, f"finite numbers, got {v!r}")
        out.append(x)
    return out


CLAMP_INPUT_TYPES = ("current_clamp", "csv", "file", "nwb", "allen")


def _pulse_series(cfg: _Config, where: str, inp: dict, dt: float) -> tuple[list[float], list[float]]:
    """bmtk's amplitude series of ``amp``/``delay``/``duration`` pulses (input_type ``current_clamp``)."""
    for key in ("amp", "delay", "duration"):
        if key not in inp:
            raise SpecError(cfg.source, f"{where}.{key}", "a value (IClamp needs amp, delay, duration, node_set)")
    amps = _as_list(inp["amp"], cfg.source, f"{where}.amp")
    delays = _as_list(inp["delay"], cfg.source, f"{where}.delay")
    durations = _as_list(inp["duration"], cfg.source, f"{where}.duration")
    if not len(amps) == len(delays) == len(durations):
        raise SpecError(cfg.source, where, "amp, delay and duration of the same length")
    if any(d < 0 for d in durations):
        raise SpecError(cfg.source, f"{where}.duration", "durations >= 0 ms")
    # The amplitude series of bmtk's one step_current_generator: on at each delay; off at delay +
    # duration unless the next pulse starts first.
    times, levels = [], []
    for i, (a, d, dur) in enumerate(zip(amps, delays, durations, strict=True)):
        if d <= dt:
            raise SpecError(
                cfg.source,
                f"{where}.delay",
                f"onsets > dt = {dt:g} ms (bmtk pointnet silently skips a pulse at {d:g} ms; the suite refuses it)",
            )
        times.append(d)
        levels.append(a)
        if i + 1 == len(amps) or d + dur <= delays[i + 1]:
            times.append(d + dur)
            levels.append(0.0)
    return times, levels


def _csv_waveform(cfg: _Config, where: str, inp: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """(times ms, amplitudes, file) of a CSV clamp waveform, the columns bmtk's ``CSVAmpReader`` reads.

    bmtk (``bmtk/simulator/core/modules/iclamp.py``): ``file``; ``separator`` (default one space);
    ``timestamps_column`` (default ``timestamps``) and ``amplitudes_column`` (default ``amps``); at least
    two rows. Each row sets the amplitude from its time on (no off switch after the last row).
    """
    path = cfg.path_of(inp.get("file"), f"{where}.file")
    if not path.is_file():
        raise SpecError(cfg.source, f"{where}.file", f"an existing CSV waveform file ({path} not found)")
    src = str(path)
    sep = inp.get("separator", " ")
    ts_col = inp.get("timestamps_column", "timestamps")
    amp_col = inp.get("amplitudes_column", "amps")
    try:
        df = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise SpecError(src, "content", f"a table separated by {sep!r} ({exc})") from exc
    for opt, col in (("timestamps_column", ts_col), ("amplitudes_column", amp_col)):
        if col not in df.columns:
            raise SpecError(src, str(col), f"a column (columns are {list(df.columns)}; set {where}.{opt})")
    if len(df) < 2:
        raise SpecError(src, str(ts_col), "two or more rows (bmtk's CSV clamp reader requires them)")
    try:
        t = df[ts_col].to_numpy(dtype=float)
        a = df[amp_col].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpecError(src, f"{ts_col}/{amp_col}", f"numbers ({exc})") from exc
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(a))):
        raise SpecError(src, f"{ts_col}/{amp_col}", "finite numbers")
    return t, a, src


def _nwb_waveform(cfg: _Config, where: str, inp: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """(times ms, amplitudes, file) of an Allen Cell Types NWB sweep, read as bmtk's ``NWBReader`` reads it.

    bmtk: ``file`` and ``sweep_id`` (an integer n means group ``Sweep_n``); the stimulus is
    ``/epochs/<sweep>/stimulus/timeseries/data`` in A, multiplied by 1e9, sampled at
    ``starting_time.attrs['rate']`` Hz from 0; ``downsample`` (ms, when larger than the sample
    interval) keeps every round(downsample / interval)-th sample; ``sweep_window`` [start, stop] ms keeps
    the samples in it; ``delay`` (ms) is added to every time afterwards.
    """
    for key in ("file", "sweep_id"):
        if key not in inp:
            raise SpecError(cfg.source, f"{where}.{key}", "a value (an NWB clamp needs file and sweep_id)")
    path = cfg.path_of(inp["file"], f"{where}.file")
    if not path.is_file() or not h5py.is_hdf5(path):
        raise SpecError(cfg.source, f"{where}.file", f"an existing NWB (HDF5) file ({path} is not one)")
    src = str(path)
    sweep = inp["sweep_id"]
    try:
        sweep = f"Sweep_{int(sweep)}"
    except (TypeError, ValueError):
        sweep = str(sweep)
    grp_path = f"epochs/{sweep}/stimulus/timeseries"
    with h5py.File(path, "r") as f:
        if grp_path not in f:
            raise SpecError(src, grp_path, f"the stimulus of sweep {sweep} (missing; {where}.sweep_id)")
        g = f[grp_path]
        for key in ("data", "starting_time"):
            if key not in g:
                raise SpecError(src, f"{grp_path}/{key}", "a dataset (missing)")
        rate = g["starting_time"].attrs.get("rate")
        if rate is None or not float(rate) > 0:
            raise SpecError(src, f"{grp_path}/starting_time.attrs['rate']", f"a sampling rate in Hz > 0, got {rate!r}")
        amps = np.asarray(g["data"][()], dtype=float).ravel() * 1.0e9
    idt = 1000.0 / float(rate)
    times = np.arange(amps.size) * idt
    down = inp.get("downsample")
    if down is not None and float(down) > idt:
        stride = int(np.round(float(down) / idt))
        amps, times = amps[::stride], times[::stride]
    window = inp.get("sweep_window")
    if window is not None:
        if not (isinstance(window, list) and len(window) == 2 and 0 <= window[0] < window[1]):
            raise SpecError(
                cfg.source, f"{where}.sweep_window", f"[start, stop] ms with 0 <= start < stop, got {window!r}"
            )
        keep = (times >= window[0]) & (times <= window[1])
        amps, times = amps[keep], times[keep]
    times = times + float(inp.get("delay", 0.0))
    if not np.all(np.isfinite(amps)):
        raise SpecError(src, f"{grp_path}/data", "finite amplitudes")
    return times, amps, src


def _waveform_series(
    cfg: _Config, where: str, inp: dict, dt: float, itype: str
) -> tuple[list[float], list[float], str]:
    """A file waveform as the amplitude series bmtk pointnet hands NEST (``modules/iclamp.py``).

    bmtk drops every sample at or before dt (NEST cannot take them); the suite follows it where those
    samples are 0 (nothing is lost) and refuses a nonzero one, which bmtk would silently lose.
    NEST needs strictly increasing amplitude times.
    """
    times, amps, src = (_nwb_waveform if itype in ("nwb", "allen") else _csv_waveform)(cfg, where, inp)
    early = times <= dt
    if np.any(amps[early] != 0.0):
        bad = times[early][np.flatnonzero(amps[early] != 0.0)[0]]
        raise SpecError(
            src,
            "timestamps",
            f"nonzero amplitudes only after dt = {dt:g} ms (bmtk pointnet silently drops the one at {bad:g} ms; "
            "the suite refuses it)",
        )
    times, amps = times[~early], amps[~early]
    if times.size and np.any(np.diff(times) <= 0):
        i = int(np.flatnonzero(np.diff(times) <= 0)[0])
        raise SpecError(src, "timestamps", f"strictly increasing times (NEST requires it; {times[i + 1]:g} ms)")
    return times.tolist(), amps.tolist(), src


def _iclamp_deltas(
    cfg: _Config, name: str, inp: dict, node_sets: dict, nodes: SonataNodes, dt: float, amp_scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(neuron, step, change of current in pA) of one IClamp, as bmtk pointnet programs NEST with it."""
    where = f"inputs.{name}"
    itype = str(inp.get("input_type", "current_clamp"))
    if itype not in CLAMP_INPUT_TYPES:
        raise SpecError(cfg.source, f"{where}.input_type", f"one of {CLAMP_INPUT_TYPES} for an IClamp, got {itype!r}")
    if "node_set" not in inp:
        raise SpecError(cfg.source, f"{where}.node_set", "the node set of the clamped neurons (missing)")
    if itype == "current_clamp":
        times, levels = _pulse_series(cfg, where, inp, dt)
        src, field_name = cfg.source, f"{where}.delay"
    else:
        times, levels, src = _waveform_series(cfg, where, inp, dt, itype)
        field_name = "timestamps"
    levels = [a * amp_scale for a in levels]
    _steps, on_grid = nest_grid_steps(np.array(times), dt)
    if not np.all(on_grid):
        bad = np.array(times)[~on_grid][0]
        raise SpecError(src, field_name, f"onsets and offsets on the {dt:g} ms grid (NEST refuses {bad:g} ms)")
    # bmtk connects the generator with a delay of one step (dt).
    steps = step_current_change_step(np.array(times), dt, dt)
    delta = np.diff(np.concatenate(([0.0], levels)))
    changed = delta != 0.0  # a sample that repeats the level changes nothing
    steps, delta = steps[changed], delta[changed]
    selected = _node_set_filter(inp["node_set"], node_sets, nodes, "neurons", cfg.source, f"{where}.node_set")
    neurons = np.concatenate(
        [nodes.lookup("neurons", p)[3] + np.flatnonzero(m) for p, m in selected.items()] or [np.zeros(0, np.int64)]
    )
    if neurons.size == 0:
        raise SpecError(cfg.source, f"{where}.node_set", "a node set that selects neurons; it selects none")
    return np.repeat(neurons, steps.size), np.tile(steps, neurons.size), np.tile(delta, neurons.size)


def _current_steps(neuron: np.ndarray, step: np.ndarray, delta: np.ndarray, n_steps: int) -> CurrentSteps:
    """Sum of every clamp's changes -> the level in force from each change step on (clamps add up in NEST)."""
    if neuron.size == 0:
        return CurrentSteps.empty()
    order = np.lexsort((step, neuron))
    neuron, step, delta = neuron[order], step[order], delta[order]
    level = np.cumsum(delta)
    starts = np.flatnonzero(np.r_[True, neuron[1:] != neuron[:-1]])
    base = np.repeat(level[starts] - delta[starts], np.diff(np.r_[starts, neuron.size]))
    level = level - base  # cumulative sum restarted for each neuron
    last = np.r_[(neuron[1:] != neuron[:-1]) | (step[1:] != step[:-1]), True]  # final level of each step
    keep = last & (step < n_steps)
    return CurrentSteps(np.zeros(int(keep.sum()), np.int64), step[keep], neuron[keep], level[keep])


# --- the loader ----------------------------------------------------------------------------------------------


def _check_block_run(run: dict, dt: float, tstop: float, source: str) -> None:
    """Accept ``block_run`` where bmtk's blocks add up to tstop; refuse it where they do not.

    bmtk pointnet (``pointsimulator.py`` ``_get_block_trial`` and ``run``) simulates n = int(f) blocks of
    ``block_size * dt`` ms, f = tstop / (block_size * dt), then ``(f - n) * dt`` ms: the remainder is scaled by
    dt, not by the block length, so unless f is whole the run is shorter than tstop. NEST simulating in
    pieces is the same run as simulating at once, so whole blocks are the one-run stimulus read here.
    """
    if not run.get("block_run"):
        return
    if "block_size" not in run:
        raise SpecError(source, "run.block_size", "a number of steps per block (block_run is set)")
    try:
        size = int(run["block_size"])
    except (TypeError, ValueError):
        raise SpecError(source, "run.block_size", f"a whole number of steps, got {run['block_size']!r}") from None
    if size < 1 or size != run["block_size"]:
        raise SpecError(source, "run.block_size", f"a whole number of steps >= 1, got {run['block_size']!r}")
    blocks = tstop / (size * dt)
    if blocks != int(blocks) or blocks < 1:
        raise SpecError(
            source,
            "run.block_size",
            f"a block length that divides tstop = {tstop:g} ms ({tstop:g} / ({size} * {dt:g}) = {blocks:g}; bmtk "
            f"would simulate only {int(blocks) * size * dt + (blocks - int(blocks)) * dt:g} ms)",
        )


def load_sonata_simulation(
    config: str | Path, *, iclamp_amp_unit: str = "auto", output_dir: str | Path | None = None
) -> SonataSimulation:
    """Read a SONATA simulation config into a spec, a frozen stimulus and the output paths (module docstring)."""
    if iclamp_amp_unit not in IC_AMP_UNITS:
        raise SpecError("--iclamp-amp-unit", "iclamp_amp_unit", f"one of {IC_AMP_UNITS}, got {iclamp_amp_unit!r}")
    cfg = _Config(Path(config))
    raw = cfg.raw
    run = raw.get("run")
    if not isinstance(run, dict):
        raise SpecError(cfg.source, "run", "a run section with dt and tstop (ms)")
    if "dt" not in run:
        raise SpecError(cfg.source, "run.dt", "the time step in ms (missing)")
    dt = _positive(run["dt"], cfg.source, "run.dt")
    tkey = "tstop" if "tstop" in run else "duration"
    if tkey not in run:
        raise SpecError(cfg.source, "run.tstop", "the run length in ms (missing)")
    tstop = _positive(run[tkey], cfg.source, f"run.{tkey}")
    steps, on_grid = nest_grid_steps(np.array([tstop]), dt)
    if not on_grid[0]:
        raise SpecError(cfg.source, f"run.{tkey}", f"a whole number of dt = {dt:g} ms steps, got {tstop!r}")
    n_steps = int(steps[0])
    if run.get("n_runs") not in (None, 1):
        # bmtk pointnet runs tstop n_runs times on one NEST kernel without a reset; inputs are re-initialised each
        # run (a list of spike files, one per run, offset by the biological time; a single file's generators are
        # re-connected, the clamp re-created with times already past). That is not one frozen stimulus here.
        raise SpecError(cfg.source, "run.n_runs", "absent or 1: one run per config (repeated runs are not read)")
    _check_block_run(run, dt, tstop, cfg.source)
    rule = "precise" if run.get("precise_times", True) else "grid"
    allow_offgrid = bool(run.get("allow_offgrid_spikes", False))

    loaded, nodes = load_sonata_nodes(cfg.circuit, nest_default_v_m=True)
    spec = loaded.spec
    notes = list(loaded.report.get("notes", []))

    node_sets = raw.get("node_sets", {})
    if "node_sets_file" in raw:
        node_sets = {
            **_read_json(cfg.path_of(raw["node_sets_file"], "node_sets_file"), cfg.source, "node_sets_file"),
            **(node_sets or {}),
        }
    if not isinstance(node_sets, dict):
        raise SpecError(cfg.source, "node_sets", "a dict of named node sets")

    if iclamp_amp_unit == "auto":
        target = str(raw.get("target_simulator", "")).upper()
        unit = "pA" if target == "NEST" else "nA"
    else:
        unit = iclamp_amp_unit
    amp_scale = 1.0 if unit == "pA" else 1000.0

    inputs = raw.get("inputs", {})
    if not isinstance(inputs, dict):
        raise SpecError(cfg.source, "inputs", "a dict of named inputs")
    events = Events.empty()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for name, inp in inputs.items():
        where = f"inputs.{name}"
        if not isinstance(inp, dict):
            raise SpecError(cfg.source, where, "an object with input_type and module")
        module = str(inp.get("module", ""))
        itype = str(inp.get("input_type", ""))
        if module == "function" or "spikes_function" in inp:
            raise SpecError(
                cfg.source, f"{where}.module", "a spike file: 'function' inputs name user Python code, not run"
            )
        if itype == "spikes":
            events = events.concat(
                _spike_events(cfg, name, inp, node_sets, nodes, dt, tstop, rule, allow_offgrid, notes), dt_ms=dt
            )
        elif module == "IClamp":
            parts.append(_iclamp_deltas(cfg, name, inp, node_sets, nodes, dt, amp_scale))
            notes.append(f"{where}: IClamp amp read as {unit}")
            notes.extend(_bmtk_node_set_caveats(inp["node_set"], node_sets, where))
        else:
            raise SpecError(cfg.source, f"{where}.module", f"spike inputs ({SPIKE_MODULES}) or IClamp, got {module!r}")
    if parts:
        currents = _current_steps(*(np.concatenate(c) for c in zip(*parts, strict=True)), n_steps)
    else:
        currents = CurrentSteps.empty()
    stimulus = FrozenStimulus(
        dt_ms=dt,
        n_steps=n_steps,
        n_trials=1,
        events=events,
        currents=currents,
        seed=None,
        description=f"SONATA inputs of {cfg.path.name} ({rule} spike times)",
    ).validated(spec.n_sources, spec.n_neurons, cfg.source)

    output = raw.get("output", {}) if isinstance(raw.get("output", {}), dict) else {}
    out_dir = (
        Path(output_dir)
        if output_dir is not None
        else cfg.path_of(output.get("output_dir", "output"), "output.output_dir")
    )
    spikes_h5 = Path(output.get("spikes_file", "spikes.h5"))
    spikes_csv = Path(output.get("spikes_file_csv", spikes_h5.with_suffix(".csv").name))
    return SonataSimulation(
        config=cfg.path,
        spec=spec,
        stimulus=stimulus,
        nodes=nodes,
        dt_ms=dt,
        tstop_ms=tstop,
        spike_rule=rule,
        output_dir=out_dir,
        spikes_file=spikes_h5 if spikes_h5.is_absolute() else out_dir / spikes_h5,
        spikes_file_csv=spikes_csv if spikes_csv.is_absolute() else out_dir / spikes_csv,
        notes=notes,
        metadata=loaded.metadata,
    )


# --- results <-> SONATA spike tables --------------------------------------------------------------------------


def result_spike_table(
    nodes: SonataNodes, neuron: np.ndarray, step: np.ndarray, dt_ms: float, offset_ms=None
) -> SpikeTable:
    """SONATA (population, node id, time) of spec-neuron spikes at ``step`` (plus precise offsets)."""
    neuron = np.asarray(neuron, dtype=np.int64)
    pop = np.empty(neuron.size, dtype=object)
    nid = np.empty(neuron.size, dtype=np.int64)
    for name, ids, _types, _csv, offset in nodes.neurons:
        m = (neuron >= offset) & (neuron < offset + ids.size)
        pop[m] = name
        nid[m] = ids[neuron[m] - offset]
    return SpikeTable(pop, nid, spike_times_ms(step, dt_ms, offset_ms))


def spike_table_steps(
    nodes: SonataNodes, table: SpikeTable, dt_ms: float, source: str = "spikes"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`result_spike_table`: (spec neuron, step, offset in (0, dt]) of a neuron spike table."""
    neuron = np.empty(len(table), dtype=np.int64)
    done = np.zeros(len(table), dtype=bool)
    for name, ids, _types, _csv, offset in nodes.neurons:
        m = table.population.astype(str) == name
        pos = np.minimum(np.searchsorted(ids, table.node_id[m]), ids.size - 1)
        if np.any(ids[pos] != table.node_id[m]):
            raise SpecError(source, f"spikes/{name}/node_ids", f"node ids of population {name!r}")
        neuron[m] = pos + offset
        done |= m
    if not np.all(done):
        raise SpecError(source, "spikes", f"neuron populations {[e[0] for e in nodes.neurons]}")
    step, off = steps_from_spike_times(table.time_ms, dt_ms)
    return neuron, step, off


def write_outputs(sim: SonataSimulation, result, sim_name: str, result_file: Path | None = None) -> dict[str, Path]:
    """Write a run's spikes as SONATA (HDF5 and CSV) and the suite's own result file, each atomically.

    Everything is checked before the first file is written; each file is replaced whole or not at all.
    """
    from snnval.acceptance import golden_key
    from snnval.golden import write_golden

    table = result_spike_table(sim.nodes, result.spike_neuron, result.spike_step, result.dt_ms, result.spike_offset_ms)
    profile = str(result.provenance.get("profile", "?"))
    key = golden_key(sim_name, profile, result.dt_ms, str(result.provenance.get("dtype", "float64")))
    result_file = result_file or sim.output_dir / f"snnval_{sim_name}.h5"
    sim.output_dir.mkdir(parents=True, exist_ok=True)
    for p in (sim.spikes_file, sim.spikes_file_csv, result_file):
        p.parent.mkdir(parents=True, exist_ok=True)
    write_spike_h5(sim.spikes_file, table)
    write_spike_csv(sim.spikes_file_csv, table)
    write_golden(
        result_file,
        {key: result},
        result.provenance["spec_hash"],
        provenance={"sonata_config": str(sim.config), "command": "snnval run --sonata", "notes": sim.notes},
        allow_empty_reason="output of snnval run --sonata, kept as recorded",
    )
    return {"spikes_h5": sim.spikes_file, "spikes_csv": sim.spikes_file_csv, "result": result_file}


__all__ = [
    "SonataSimulation",
    "load_sonata_simulation",
    "result_spike_table",
    "spike_table_steps",
    "write_outputs",
]
