"""SONATA point-neuron networks (as written by bmtk's ``NetworkBuilder``) -> NetworkSpec.

Read with h5py and pandas straight from the SONATA files (SONATA specification, AllenInstitute/sonata
``docs/SONATA_DEVELOPER_GUIDE.md``), the way bmtk's pointnet simulator interprets them
(``bmtk/simulator/pointnet/sonata_adaptors.py``):

* **Nodes**: ``/nodes/<population>/{node_id, node_type_id, node_group_id, node_group_index}`` plus the
  node-types CSV (space separated, ``NULL`` for missing) with ``model_type``, ``model_template`` and
  ``dynamics_params``. A population whose node types are all ``model_type == "virtual"`` is a set of
  external sources (e.g. LGN); every other population holds neurons, numbered population by population
  in ascending ``node_id``.
* **Node models** (``model_template``, bmtk naming ``nest:<NEST model>``):

  - ``nest:glif_psc`` with ``after_spike_currents`` true and ``spike_dependent_threshold`` /
    ``adapting_threshold`` false (or absent) is GLIF3. ``dynamics_params`` use NEST ``glif_psc`` names and
    units: ``V_th``, ``E_L``, ``V_reset`` (mV), ``g`` (nS), ``C_m`` (pF), ``t_ref`` (ms), ``asc_decay``
    (or NEST-2 ``k``, 1/ms), ``asc_amps`` (pA), ``tau_syn`` (ms, one per receptor), optional ``asc_r``.
    ``nest:glif_lif_asc_psc`` (the NEST 2 name of the same model, used by older Allen files) is GLIF3
    too. A ``glif_psc`` that sets ``asc_amps`` but leaves ``after_spike_currents`` out is refused: NEST's
    default is false, which would silently drop the after-spike currents. Other flag combinations
    (GLIF1/2/4/5) load as the native NEST model ``glif_psc``.
  - any other ``nest:<model>`` (e.g. ``nest:iaf_psc_alpha``) loads as ``GLIF3Cells.models = <model>`` with
    its ``dynamics_params`` as ``native_params`` (NEST names and units, passed to NEST unchanged). Its GLIF3
    columns are placeholders derived from those parameters (``E_L``, ``V_th``, ``V_reset``, ``C_m``,
    ``t_ref``, ``g = C_m / tau_m``, ``tau_syn = tau_syn_ex``), NEST's iaf defaults where absent.
  - Allen Cell Types configs (``"type": "GLIF"``, SI units) are refused: convert them first (bmtk's
    ``glif_utils.convert_aibs2nest``).

  ``dynamics_params``: a ``.json`` file name (looked up in ``components.point_neuron_models_dir`` or
  ``components_dir``) or an inline dict (bmtk writes a Python dict literal; parsed with
  :func:`ast.literal_eval`, which cannot execute code). Per-node dynamics parameters (a
  ``dynamics_params`` group in the nodes file) are refused: the spec holds one parameter set per type.
* **Edges**: ``/edges/<population>/{source_node_id, target_node_id}`` (attribute ``node_population``),
  ``edge_type_id``, ``edge_group_id``, ``edge_group_index`` and per-group datasets. Every property is taken
  from the edge's group dataset if present, else from the edge-types CSV column (as bmtk does):

  - ``weight_pA = syn_weight * nsyns`` (``nsyns`` defaults to 1); a ``weight_function`` is refused (it
    names user Python code). The unit is whatever the target model takes in NEST: pA for ``glif_psc`` and
    ``iaf_psc_*``.
  - ``delay`` in ms (required).
  - the receptor: edge attribute ``receptor_type``, the NEST receptor port (group dataset, else edge-types
    CSV column, else the edge type's ``dynamics_params`` JSON, as bmtk hands all three to
    ``nest.Connect``). For GLIF3 targets the spec receptor is ``receptor_type - 1`` (ports 1..R; port 0
    is refused, as NEST refuses it); absent means receptor 0 (port 1). NEST-native targets (``iaf_*``) have
    one port 0 and are excitatory or inhibitory by the weight's sign: their spec receptor is 0, and
    ``receptor_type`` must be absent or 0.
  - ``model_template`` must be ``static_synapse`` (or absent): the spec holds static synapses only.

Sources are named ``<population>_<node_id>``. Populations (the statistical tier's groups): per node type,
the first of the node-type columns ``pop_name``, ``model_name``, ``ei`` that has a value
(``<population>:<label>`` when there is more than one neuron population).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np
import pandas as pd

from snnval.errors import SpecError
from snnval.loaders import (
    GLIF3_NEST_SCALARS,
    LoadedModel,
    check_array,
    check_connections,
    concat_synapses,
    finish_spec,
    open_h5,
    receptor_names,
)
from snnval.spec import GLIF3Cells, NetworkSpec, Synapses

#: Placeholders for the GLIF3 columns of NEST-native node types: NEST 3.10's iaf_psc_alpha defaults
#: (mV, pF, ms). Only used where the node type's own parameters do not say; never sent to NEST.
_IAF_DEFAULTS = {
    "E_L": -70.0,
    "V_th": -55.0,
    "V_reset": -70.0,
    "C_m": 250.0,
    "tau_m": 10.0,
    "t_ref": 2.0,
    "tau_syn_ex": 2.0,
}

#: NEST 3.10's default initial V_m (mV) per model (``nest.GetDefaults(model)["V_m"]``; a test checks them
#: against NEST). Setting E_L does not move V_m, so a node created without V_m starts here, not at E_L.
NEST_DEFAULT_V_M = {
    "glif_psc": -78.85,
    "iaf_psc_alpha": -70.0,
    "iaf_psc_exp": -70.0,
    "iaf_cond_exp": -70.0,
    "iaf_psc_exp_ps": -70.0,
    "iaf_psc_alpha_ps": -70.0,
}

_GLIF3_REQUIRED = ("V_th", "E_L", "V_reset", "g", "C_m", "t_ref", "asc_amps", "tau_syn")
#: glif_psc keys that are read, or known to be irrelevant for GLIF3 (anything else is reported as ignored).
_GLIF3_KNOWN = {
    *_GLIF3_REQUIRED,
    "asc_decay",
    "k",
    "asc_r",
    "asc_init",
    "V_m",
    "after_spike_currents",
    "spike_dependent_threshold",
    "adapting_threshold",
    "V_dynamics_method",
}


@dataclass
class _Pop:
    """One SONATA node population: its sorted node ids and, per node, the spec index (neuron or source)."""

    name: str
    file: str
    node_ids: np.ndarray  # ascending
    type_key: np.ndarray  # per sorted node: index into the global node-type list
    virtual: bool
    node_type_id: np.ndarray  # per sorted node: its node_type_id in ``types_csv``
    types_csv: str
    offset: int = 0  # first spec index (neuron id or source id)

    def index_of(self, ids: np.ndarray, source: str, field_name: str) -> np.ndarray:
        """Spec indices of SONATA node ids, refusing ids the population does not have."""
        if ids.size == 0:
            return ids + self.offset
        pos = np.minimum(np.searchsorted(self.node_ids, ids), self.node_ids.size - 1)
        bad = self.node_ids[pos] != ids
        if np.any(bad):
            raise SpecError(source, field_name, f"node ids of population '{self.name}' (id {ids[bad][0]} is not one)")
        return pos + self.offset


# --- small readers -----------------------------------------------------------------------------------------


def _read_types_csv(path: Path, id_col: str) -> pd.DataFrame:
    if not path.is_file():
        raise SpecError(str(path), "path", "an existing SONATA types CSV file")
    try:
        df = pd.read_csv(path, sep=" ", na_values=["NULL"], keep_default_na=False, skipinitialspace=True)
    except Exception as exc:
        raise SpecError(str(path), "content", f"a space-separated SONATA types table ({exc})") from exc
    if id_col not in df.columns:
        raise SpecError(str(path), id_col, "a column of type ids (missing)")
    if df[id_col].duplicated().any():
        raise SpecError(str(path), id_col, "unique type ids")
    return df.set_index(id_col, drop=False)


def _cell(df: pd.DataFrame, type_id: int, column: str) -> Any:
    """A types-table value, None for a missing column or NULL."""
    if column not in df.columns:
        return None
    value = df.at[type_id, column]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _dynamics(value: Any, params_dir: Path | None, csv: Path, field_name: str) -> dict:
    """``dynamics_params`` of a types-table row: {} when NULL, a JSON file, or an inline dict literal."""
    if value is None:
        return {}
    text = str(value).strip()
    if text.startswith("{"):
        try:
            out = json.loads(text)
        except json.JSONDecodeError:
            try:
                out = ast.literal_eval(text)  # bmtk writes inline dicts as Python literals; literal_eval runs no code
            except (ValueError, SyntaxError) as exc:
                raise SpecError(str(csv), field_name, f"a JSON file name or a dict literal ({exc})") from exc
    else:
        path = Path(text)
        if not path.is_absolute():
            path = (params_dir or csv.parent) / path
        if not path.is_file():
            raise SpecError(
                str(csv),
                field_name,
                f"the name of an existing JSON file ({path} not found; set components_dir or the config's components)",
            )
        try:
            out = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SpecError(str(path), "content", f"a JSON object ({exc})") from exc
    if not isinstance(out, dict):
        raise SpecError(str(csv), field_name, f"a dict of parameters, got {type(out).__name__}")
    return out


def _number(value: Any, source: str, field_name: str) -> float:
    """A finite number from a types-table cell or JSON value (CSV cells may arrive as strings)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError(source, field_name, f"a number, got {value!r}") from None
    if not math.isfinite(number):
        raise SpecError(source, field_name, f"a finite number, got {value!r}")
    return number


def _h5_int(group: h5py.Group, name: str, source: str, n: int | None = None) -> np.ndarray | None:
    if name not in group:
        return None
    full = f"{group.name}/{name}".lstrip("/")
    return check_array(group[name][()], source, full, kind="int", shape=(n,) if n is not None else (None,))


# --- config ------------------------------------------------------------------------------------------------


def _resolve_manifest(manifest: dict, config_dir: Path, source: str) -> dict[str, str]:
    """SONATA manifest: ``$VAR`` values may use ``${configdir}`` and other manifest variables."""
    out = {}
    for key, value in manifest.items():
        if not isinstance(value, str):
            raise SpecError(source, f"manifest.{key}", "a string path")
        out[key if key.startswith("$") else f"${key}"] = value.replace("${configdir}", str(config_dir))
    for _ in range(len(out)):  # each pass resolves one more level of nesting
        changed = False
        for key in out:
            new = _substitute(out[key], out)
            changed |= new != out[key]
            out[key] = new
        if not changed:
            break
    return out


def _substitute(text: str, manifest: dict[str, str]) -> str:
    # Longest names first, so "$BASE_DIR" is not replaced inside "$BASE_DIR2".
    for key in sorted(manifest, key=len, reverse=True):
        text = text.replace("${" + key[1:] + "}", manifest[key]).replace(key, manifest[key])
    return text


#: Longest chain of simulation configs pointing to circuit configs ("network") that is followed.
_MAX_CONFIG_DEPTH = 8


def config_path(value: Any, config: Path, manifest: dict[str, str], source: str, where: str) -> Path:
    """A path named in a SONATA config: ``${configdir}`` and manifest variables substituted, relative paths
    taken from the config's directory; a value that is not a string is refused (``where`` names the key)."""
    if not isinstance(value, str):
        raise SpecError(source, where, "a path string")
    p = Path(_substitute(value.replace("${configdir}", str(config.parent)), manifest))
    return p if p.is_absolute() else config.parent / p


def _read_config_json(config: Path, chain: tuple[Path, ...]) -> dict:
    """A SONATA config's JSON object; ``chain``: the configs that led here (a cycle is refused by name)."""
    source = str(config)
    resolved = config.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise SpecError(source, "network", f"a config that does not include itself (cycle: {cycle})")
    if len(chain) >= _MAX_CONFIG_DEPTH:
        raise SpecError(source, "network", f"at most {_MAX_CONFIG_DEPTH} nested configs")
    if not config.is_file():
        raise SpecError(source, "path", "an existing SONATA config (.json)")
    try:
        cfg = json.loads(config.read_text())
    except (UnicodeDecodeError, OSError) as exc:
        raise SpecError(source, "content", f"a readable UTF-8 JSON file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise SpecError(source, "content", f"a JSON object ({exc})") from exc
    if not isinstance(cfg, dict):
        raise SpecError(source, "content", "a JSON object")
    return cfg


def _file_pairs(entries: Any, kind: str, names: tuple[str, str], path: Any, source: str) -> list[tuple[Path, Path]]:
    """(h5 file, types CSV) pairs of ``networks.<kind>`` (``names``: the two keys of each entry)."""
    pairs = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SpecError(source, f"networks.{kind}[{i}]", f"an object with {names[0]} and {names[1]}")
        pairs.append(tuple(path(entry.get(key), f"networks.{kind}[{i}].{key}") for key in names))
    return pairs


def _config_paths(
    config: Path, _chain: tuple[Path, ...] = ()
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]], Path | None, Path | None]:
    """(node files, edge files, point_neuron_models_dir, synaptic_models_dir) of a SONATA config.

    ``_chain``: the configs that led here; a config that includes itself (directly or through
    others) is refused by name instead of recursing until Python's RecursionError.
    """
    source = str(config)
    cfg = _read_config_json(config, _chain)
    manifest = _resolve_manifest(cfg.get("manifest", {}), config.parent, source)

    def path(value: Any, where: str) -> Path:
        return config_path(value, config, manifest, source, where)

    # A simulation config may point to its circuit config ("network"); follow it.
    if "networks" not in cfg and isinstance(cfg.get("network"), str):
        return _config_paths(path(cfg["network"], "network"), (*_chain, config.resolve()))
    nets = cfg.get("networks")
    if not isinstance(nets, dict) or not isinstance(nets.get("nodes"), list):
        raise SpecError(source, "networks.nodes", "a list of {nodes_file, node_types_file}")
    nodes = _file_pairs(nets["nodes"], "nodes", ("nodes_file", "node_types_file"), path, source)
    edges = _file_pairs(nets.get("edges", []), "edges", ("edges_file", "edge_types_file"), path, source)
    comp = cfg.get("components", {})
    cell_dir, syn_dir = (
        path(comp[key], f"components.{key}") if key in comp else None
        for key in ("point_neuron_models_dir", "synaptic_models_dir")
    )
    return nodes, edges, cell_dir, syn_dir


# --- node types -> GLIF3Cells rows --------------------------------------------------------------------------


def _flag(params: dict, key: str, where: str, csv: str) -> bool | None:
    if key not in params:
        return None
    value = params[key]
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise SpecError(csv, f"{where}.{key}", f"true or false, got {value!r}")
    return bool(value)


def _glif3_row(params: dict, where: str, csv: str, notes: list[str]) -> dict:
    for key in _GLIF3_REQUIRED:
        if key not in params:
            raise SpecError(csv, f"{where}.{key}", "a value in NEST glif_psc units (missing)")
    decay_key = "asc_decay" if "asc_decay" in params else "k"
    if decay_key not in params:
        raise SpecError(csv, f"{where}.asc_decay", "2 ASC decay rates in 1/ms (missing)")
    row = {
        col: float(check_array(params[key], csv, f"{where}.{key}", shape=())) for key, col in GLIF3_NEST_SCALARS.items()
    }
    row["asc_decay_per_ms"] = check_array(params[decay_key], csv, f"{where}.{decay_key}", shape=(2,))
    row["asc_amps_pA"] = check_array(params["asc_amps"], csv, f"{where}.asc_amps", shape=(2,))
    row["tau_syn_ms"] = check_array(params["tau_syn"], csv, f"{where}.tau_syn", shape=(None,))
    row["asc_r"] = check_array(params.get("asc_r", [1.0, 1.0]), csv, f"{where}.asc_r", shape=(2,))
    asc_init = check_array(params.get("asc_init", [0.0, 0.0]), csv, f"{where}.asc_init", shape=(2,))
    if np.any(asc_init != 0):
        raise SpecError(csv, f"{where}.asc_init", "[0, 0]: the spec starts every after-spike current at 0")
    ignored = sorted(set(params) - _GLIF3_KNOWN)
    if ignored:
        notes.append(f"{where}: ignored glif_psc keys {ignored}")
    return row


def _native_row(params: dict, n_rec: int) -> dict:
    def get(key: str, default_key: str | None = None) -> float:
        return float(params.get(key, _IAF_DEFAULTS[default_key or key]))

    c_m = get("C_m")
    g = float(params["g_L"]) if "g_L" in params else c_m / get("tau_m")
    return {
        "V_th_mV": get("V_th"),
        "E_L_mV": get("E_L"),
        "V_reset_mV": get("V_reset"),
        "g_nS": g,
        "C_m_pF": c_m,
        "t_ref_ms": get("t_ref"),
        "asc_decay_per_ms": np.ones(2),
        "asc_amps_pA": np.zeros(2),
        "tau_syn_ms": np.full(n_rec, get("tau_syn_ex")),
        "asc_r": np.ones(2),
    }


def _classify(template: Any, params: dict, where: str, csv: str) -> str:
    """'glif3' or the NEST model name of a neuron node type."""
    if not isinstance(template, str) or ":" not in template:
        raise SpecError(csv, f"{where}.model_template", f"'nest:<model>' (e.g. nest:glif_psc), got {template!r}")
    schema, model = template.split(":", 1)
    if schema != "nest":
        raise SpecError(
            csv, f"{where}.model_template", f"a NEST point-neuron template 'nest:<model>', got {template!r}"
        )
    if params.get("type") == "GLIF" or "coeffs" in params:
        raise SpecError(
            csv,
            f"{where}.dynamics_params",
            "NEST glif_psc parameters; this is an Allen Cell Types "
            "config in SI units: convert it first (bmtk glif_utils.convert_aibs2nest)",
        )
    if model == "glif_lif_asc_psc":
        return "glif3"
    if model == "glif_psc":
        asc = _flag(params, "after_spike_currents", where, csv)
        sdt = _flag(params, "spike_dependent_threshold", where, csv)
        at = _flag(params, "adapting_threshold", where, csv)
        if asc is None and "asc_amps" in params:
            raise SpecError(
                csv,
                f"{where}.after_spike_currents",
                "true for GLIF3 (NEST's default is false, which "
                "would silently drop the after-spike currents): set the three mechanism flags",
            )
        if asc and not sdt and not at:
            return "glif3"
    return model


# --- the loader ---------------------------------------------------------------------------------------------


#: Node-type columns that name a node type's group, in order of preference (bmtk examples and the Allen
#: V1 model use ``pop_name``; other builders write ``model_name`` or only an ``ei`` column).
GROUP_COLUMNS = ("pop_name", "model_name", "ei")


def _group_label(types: pd.DataFrame, type_id: int) -> Any:
    """The node type's group label: the first of :data:`GROUP_COLUMNS` with a value, else None."""
    for column in GROUP_COLUMNS:
        value = _cell(types, type_id, column)
        if value is not None and str(value).strip():
            return value
    return None


@dataclass(frozen=True)
class SonataNodes:
    """Where each spec neuron and source came from: SONATA population names and node ids, in spec order.

    ``neurons``/``sources``: (population, node ids ascending, node_type_ids, node-types CSV, spec offset).
    """

    neurons: tuple[tuple[str, np.ndarray, np.ndarray, str, int], ...]
    sources: tuple[tuple[str, np.ndarray, np.ndarray, str, int], ...]

    def lookup(self, which: str, population: str) -> tuple[np.ndarray, np.ndarray, str, int] | None:
        for name, ids, types, csv, offset in self.neurons if which == "neurons" else self.sources:
            if name == population:
                return ids, types, csv, offset
        return None


def load_sonata(
    config: str | Path | None = None,
    *,
    nodes: Sequence[tuple[str | Path, str | Path]] = (),
    edges: Sequence[tuple[str | Path, str | Path]] = (),
    components_dir: str | Path | None = None,
    name: str | None = None,
) -> LoadedModel:
    """Load a SONATA network: from a circuit (or simulation) ``config`` JSON, or from explicit file pairs.

    ``nodes``/``edges``: ``(h5 file, types CSV)`` pairs, used when ``config`` is None.
    ``components_dir``: where ``dynamics_params`` JSON files live (overrides the config's components).
    Conventions (node models, weights, delays, receptors) are in the module docstring.
    """
    return load_sonata_nodes(config, nodes=nodes, edges=edges, components_dir=components_dir, name=name)[0]


class _NodeType(NamedTuple):
    """One node type neurons or sources use: its CSV, id, dynamics params, classified model, group label."""

    csv: str
    type_id: int
    params: dict
    model: str  # "glif3", a NEST model name, or "virtual"
    label: Any


@dataclass
class _NodeTable:
    """Node populations (sorted by name within each file) and the node types they use (read phase)."""

    pops: list[_Pop] = field(default_factory=list)
    types: list[_NodeType] = field(default_factory=list)
    index: dict[tuple[str, int], int] = field(default_factory=dict)  # (csv, node_type_id) -> index in types


@dataclass
class _Numbering:
    """Spec numbering: neuron populations first (in order), sources after; offsets set on the pops."""

    neuron_pops: list[_Pop]
    n: int
    n_src: int
    source_names: list[str]


# --- read: config -> file pairs ---------------------------------------------------------------------------------


def _input_files(
    config: str | Path | None,
    nodes: Sequence[tuple[str | Path, str | Path]],
    edges: Sequence[tuple[str | Path, str | Path]],
    components_dir: str | Path | None,
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]], Path | None, Path | None, str]:
    """(node file pairs, edge file pairs, cell models dir, synaptic models dir, label for errors)."""
    if config is not None:
        node_files, edge_files, cell_dir, syn_dir = _config_paths(Path(config))
        label = str(config)
    else:
        node_files = [(Path(a), Path(b)) for a, b in nodes]
        edge_files = [(Path(a), Path(b)) for a, b in edges]
        cell_dir = syn_dir = None
        label = str(node_files[0][0]) if node_files else "sonata"
    if components_dir is not None:
        cell_dir = syn_dir = Path(components_dir)
    if not node_files:
        raise SpecError(label, "nodes", "at least one (nodes.h5, node_types.csv) pair")
    return node_files, edge_files, cell_dir, syn_dir, label


def _require_sonata_h5(path: Path, what: str) -> None:
    """Refuse a path that is not an existing HDF5 file (``what``: nodes or edges)."""
    if not path.is_file() or not h5py.is_hdf5(path):
        raise SpecError(str(path), "path", f"an existing SONATA {what} HDF5 file")


# --- read + classify: node files -> populations and node types ---------------------------------------------------


def _node_type(types: pd.DataFrame, t: int, csv_path: Path, virtual: bool, cell_dir: Path | None) -> _NodeType:
    """A node type's dynamics parameters, read and classified (virtual sources have none)."""
    if virtual:
        return _NodeType(str(csv_path), t, {}, "virtual", None)
    where = f"node_type {t}"
    params = _dynamics(_cell(types, t, "dynamics_params"), cell_dir, csv_path, f"{where}.dynamics_params")
    model = _classify(_cell(types, t, "model_template"), params, where, str(csv_path))
    return _NodeType(str(csv_path), t, params, model, _group_label(types, t))


def _read_node_population(
    g: h5py.Group,
    pop_name: str,
    src: str,
    types: pd.DataFrame,
    csv_path: Path,
    cell_dir: Path | None,
    table: _NodeTable,
) -> _Pop:
    """One ``/nodes/<population>``: node ids (sorted), their node types (added to ``table``), virtual or not."""
    ntid = _h5_int(g, "node_type_id", src)
    if ntid is None:
        raise SpecError(src, f"nodes/{pop_name}/node_type_id", "a node type per node (missing)")
    n = ntid.size
    nid = _h5_int(g, "node_id", src, n)
    nid = np.arange(n) if nid is None else nid
    if np.unique(nid).size != n:
        raise SpecError(src, f"nodes/{pop_name}/node_id", "unique node ids")
    for key in g:
        if isinstance(g[key], h5py.Group) and "dynamics_params" in g[key]:
            raise SpecError(
                src,
                f"nodes/{pop_name}/{key}/dynamics_params",
                "no per-node dynamics parameters (the spec holds one set per node type)",
            )
    missing = np.setdiff1d(np.unique(ntid), types.index.to_numpy())
    if missing.size:
        raise SpecError(
            src,
            f"nodes/{pop_name}/node_type_id",
            f"ids listed in {csv_path} (node type {missing[0]} is not)",
        )
    uniq = np.unique(ntid)
    virtual = [_cell(types, int(t), "model_type") == "virtual" for t in uniq]
    if any(virtual) and not all(virtual):
        raise SpecError(str(csv_path), "model_type", f"population '{pop_name}' all virtual or none")
    keys = np.empty(uniq.size, dtype=np.int64)
    for j, t in enumerate(uniq):  # one pass per node type, not per node
        key = (str(csv_path), int(t))
        if key not in table.index:
            table.index[key] = len(table.types)
            table.types.append(_node_type(types, int(t), csv_path, virtual[0], cell_dir))
        keys[j] = table.index[key]
    order = np.argsort(nid, kind="stable")
    return _Pop(
        pop_name,
        src,
        nid[order],
        keys[np.searchsorted(uniq, ntid[order])],
        virtual[0],
        ntid[order],
        str(csv_path),
    )


def _read_nodes(node_files: list[tuple[Path, Path]], cell_dir: Path | None, label: str) -> _NodeTable:
    """Every node population of every node file, with the node types they use."""
    table = _NodeTable()
    for h5_path, csv_path in node_files:
        src = str(h5_path)
        types = _read_types_csv(csv_path, "node_type_id")
        _require_sonata_h5(h5_path, "nodes")
        with open_h5(h5_path) as f:
            if "nodes" not in f or not len(f["nodes"]):
                raise SpecError(src, "nodes", "a group with one subgroup per node population")
            for pop_name in sorted(f["nodes"]):
                table.pops.append(
                    _read_node_population(f["nodes"][pop_name], pop_name, src, types, csv_path, cell_dir, table)
                )
    if len({p.name for p in table.pops}) != len(table.pops):
        raise SpecError(label, "nodes", "unique population names across node files")
    return table


def _number_nodes(pops: list[_Pop], label: str) -> _Numbering:
    """Neurons numbered population by population in ascending node id, then sources (``<population>_<id>``)."""
    neuron_pops = [p for p in pops if not p.virtual]
    if not neuron_pops:
        raise SpecError(label, "nodes", "at least one population of neurons (all are virtual)")
    offset = 0
    for p in neuron_pops:
        p.offset, offset = offset, offset + p.node_ids.size
    n_src = 0
    source_names: list[str] = []
    for p in pops:
        if p.virtual:
            p.offset, n_src = n_src, n_src + p.node_ids.size
            source_names += [f"{p.name}_{i}" for i in p.node_ids]
    return _Numbering(neuron_pops, offset, n_src, source_names)


# --- build: node types -> GLIF3Cells --------------------------------------------------------------------------


def _receptor_count(used: list[_NodeType], label: str) -> int:
    """Receptors of the GLIF3 node types (all must agree); 1 when there is no GLIF3 type."""
    glif_taus = {
        len(nt.params["tau_syn"])
        for nt in used
        if nt.model == "glif3" and isinstance(nt.params.get("tau_syn"), list | tuple)
    }
    if len(glif_taus) > 1:
        raise SpecError(label, "tau_syn", f"the same number of receptors in every GLIF3 node type, got {glif_taus}")
    return glif_taus.pop() if glif_taus else 1


def _native_params(nt: _NodeType, nest_default_v_m: bool) -> dict:
    """What a node type carries besides the GLIF3 columns: all of a NEST-native type's parameters; for GLIF3
    only the initial V_m the file states; plus NEST's default V_m of the model if asked and none is given."""
    where = f"node_type {nt.type_id}.dynamics_params"
    if nt.model == "glif3":
        # the only glif_psc state the spec carries per type: the initial V_m the file states
        native = {"V_m": _number(nt.params["V_m"], nt.csv, f"{where}.V_m")} if "V_m" in nt.params else {}
    else:
        native = dict(nt.params)
    if nest_default_v_m and "V_m" not in native:
        nest_model = "glif_psc" if nt.model == "glif3" else nt.model
        if nest_model not in NEST_DEFAULT_V_M:
            raise SpecError(nt.csv, f"{where}.V_m", f"an initial V_m for NEST model {nest_model!r} (no default known)")
        native["V_m"] = NEST_DEFAULT_V_M[nest_model]
    return native


def _build_cells(
    table: _NodeTable, numbering: _Numbering, nest_default_v_m: bool, notes: list[str], label: str
) -> tuple[GLIF3Cells, np.ndarray, int]:
    """One GLIF3Cells row per node type that neurons use (in order of first appearance), the node type of
    every neuron, and the receptor count."""
    used = np.unique(np.concatenate([p.type_key for p in numbering.neuron_pops]))
    row_of = np.full(len(table.types), -1, dtype=np.int64)  # table.types index -> GLIF3Cells row
    row_of[used] = np.arange(used.size)
    used_types = [table.types[k] for k in used]
    n_rec = _receptor_count(used_types, label)
    rows, names, native = [], [], []
    for nt in used_types:
        where = f"node_type {nt.type_id}.dynamics_params"
        rows.append(
            _glif3_row(nt.params, where, nt.csv, notes) if nt.model == "glif3" else _native_row(nt.params, n_rec)
        )
        native.append(_native_params(nt, nest_default_v_m))
        names.append(f"{nt.type_id}:{nt.label}" if nt.label is not None else str(nt.type_id))
    cells = GLIF3Cells(
        **{col: np.array([r[col] for r in rows], dtype=float) for col in rows[0]},
        names=tuple(names),
        models=tuple(nt.model for nt in used_types),
        native_params=tuple(native),
    )
    node_type = np.concatenate([row_of[p.type_key] for p in numbering.neuron_pops])
    return cells, node_type, n_rec


def _populations(numbering: _Numbering, types: list[_NodeType]) -> dict[str, np.ndarray]:
    """Statistical-tier groups: per group label, the neurons whose node type carries it (see GROUP_COLUMNS)."""
    populations: dict[str, np.ndarray] = {}
    for p in numbering.neuron_pops:
        label_of = {int(k): types[k].label for k in np.unique(p.type_key)}
        for pn in sorted({str(v) for v in label_of.values() if v is not None}):
            keys = [k for k, v in label_of.items() if v is not None and str(v) == pn]
            key = pn if len(numbering.neuron_pops) == 1 else f"{p.name}:{pn}"
            populations[key] = p.offset + np.flatnonzero(np.isin(p.type_key, keys))
    return populations


# --- read + check: edge files -> synapses -------------------------------------------------------------------------


def _edge_ends(g: h5py.Group, base: str, src: str, pop_by_name: dict[str, _Pop]) -> tuple[np.ndarray, ...]:
    """(source ids, source population, target ids, target population) of one edge population."""
    ends = {}
    for end in ("source_node_id", "target_node_id"):
        ids = _h5_int(g, end, src)
        if ids is None:
            raise SpecError(src, f"{base}/{end}", "a node id per edge (missing)")
        pop = g[end].attrs.get("node_population")
        pop = pop.decode() if isinstance(pop, bytes) else pop
        if pop not in pop_by_name:
            raise SpecError(
                src,
                f"{base}/{end}.attrs['node_population']",
                f"one of the node populations {sorted(pop_by_name)}, got {pop!r}",
            )
        ends[end] = (ids, pop_by_name[pop])
    (sid, spop), (tid, tpop) = ends["source_node_id"], ends["target_node_id"]
    if tid.size != sid.size:
        raise SpecError(src, f"{base}/target_node_id", f"length {sid.size} (same as source_node_id)")
    if tpop.virtual:
        raise SpecError(src, f"{base}/target_node_id", f"a neuron population, not virtual '{tpop.name}'")
    return sid, spop, tid, tpop


def _spec_receptors(port: np.ndarray, glif_target: np.ndarray, src: str, base: str) -> np.ndarray:
    """Spec receptor per edge from its NEST port (NaN: absent): GLIF3 targets port - 1 (absent: 0);
    NEST-native targets have the one port 0 (absent or 0 only)."""
    receptor = np.zeros(port.size, dtype=np.int64)
    has = ~np.isnan(port)
    if np.any(has & glif_target & (port != np.round(port))):
        raise SpecError(src, f"{base}/receptor_type", "integer NEST receptor ports")
    receptor[glif_target & has] = port[glif_target & has].astype(np.int64) - 1
    bad_native = has & ~glif_target & (port != 0)
    if np.any(bad_native):
        raise SpecError(
            src,
            f"{base}/receptor_type",
            "absent or 0 for edges onto NEST-native (iaf_*) "
            f"targets, whose only port is 0 (found {port[bad_native][0]:g})",
        )
    return receptor


def _read_edge_population(
    g: h5py.Group,
    base: str,
    src: str,
    types: pd.DataFrame,
    csv_path: Path,
    syn_dir: Path | None,
    pop_by_name: dict[str, _Pop],
    is_glif: np.ndarray,
    numbering: _Numbering,
    n_rec: int,
) -> tuple[bool, tuple[np.ndarray, ...]]:
    """(from virtual sources?, (pre, post, receptor, weight_pA, delay_ms)) of one ``/edges/<population>``."""
    sid, spop, tid, tpop = _edge_ends(g, base, src, pop_by_name)
    m = sid.size
    pre = spop.index_of(sid, src, f"{base}/source_node_id")
    post = tpop.index_of(tid, src, f"{base}/target_node_id")
    etid = _h5_int(g, "edge_type_id", src, m)
    if etid is None:
        raise SpecError(src, f"{base}/edge_type_id", "an edge type per edge (missing)")
    missing = np.setdiff1d(np.unique(etid), types.index.to_numpy())
    if missing.size:
        raise SpecError(src, f"{base}/edge_type_id", f"ids listed in {csv_path} (type {missing[0]} is not)")
    prop = _edge_properties(g, base, src, m, etid, types, csv_path, syn_dir)
    receptor = _spec_receptors(prop["receptor_type"], is_glif[post], src, base)
    check_connections(
        pre,
        post,
        receptor,
        n_pre=numbering.n_src if spop.virtual else numbering.n,
        n_post=numbering.n,
        n_receptors=n_rec,
        source=src,
        fields=(f"{base}/source_node_id", f"{base}/target_node_id", f"{base}/receptor_type"),
        receptor_base=1,
    )
    return spop.virtual, (pre, post, receptor, prop["syn_weight"] * prop["nsyns"], prop["delay"])


def _read_edges(
    edge_files: list[tuple[Path, Path]],
    syn_dir: Path | None,
    pops: list[_Pop],
    is_glif: np.ndarray,
    numbering: _Numbering,
    n_rec: int,
) -> tuple[Synapses, Synapses]:
    """(recurrent synapses, input synapses from virtual populations) of every edge file."""
    pop_by_name = {p.name: p for p in pops}
    rec_parts, inp_parts = [], []
    for h5_path, csv_path in edge_files:
        src = str(h5_path)
        types = _read_types_csv(csv_path, "edge_type_id")
        _require_sonata_h5(h5_path, "edges")
        with open_h5(h5_path) as f:
            if "edges" not in f:
                raise SpecError(src, "edges", "a group with one subgroup per edge population")
            for epop in sorted(f["edges"]):
                virtual, part = _read_edge_population(
                    f["edges"][epop],
                    f"edges/{epop}",
                    src,
                    types,
                    csv_path,
                    syn_dir,
                    pop_by_name,
                    is_glif,
                    numbering,
                    n_rec,
                )
                (inp_parts if virtual else rec_parts).append(part)
    return concat_synapses(rec_parts), concat_synapses(inp_parts)


# --- the loader ------------------------------------------------------------------------------------------------


def load_sonata_nodes(
    config: str | Path | None = None,
    *,
    nodes: Sequence[tuple[str | Path, str | Path]] = (),
    edges: Sequence[tuple[str | Path, str | Path]] = (),
    components_dir: str | Path | None = None,
    name: str | None = None,
    nest_default_v_m: bool = False,
) -> tuple[LoadedModel, SonataNodes]:
    """:func:`load_sonata` plus the SONATA identity (population, node id) of every spec neuron and source.

    ``nest_default_v_m``: give node types whose parameters set no ``V_m`` NEST's default ``V_m`` of their
    model (:data:`NEST_DEFAULT_V_M`), which is where bmtk pointnet starts them (it creates the nodes with
    the file's parameters only; NEST does not move V_m when E_L is set).
    Phases: read (config, node files with their node types classified as GLIF3 / NEST-native / virtual,
    edge files with ids and receptors checked), build (numbering, GLIF3Cells, synapses, populations),
    check (:func:`finish_spec`).
    """
    node_files, edge_files, cell_dir, syn_dir, label = _input_files(config, nodes, edges, components_dir)
    notes: list[str] = []
    table = _read_nodes(node_files, cell_dir, label)
    numbering = _number_nodes(table.pops, label)
    cells, node_type, n_rec = _build_cells(table, numbering, nest_default_v_m, notes, label)
    is_glif = (np.array(cells.models) == "glif3")[node_type]
    synapses, inputs = _read_edges(edge_files, syn_dir, table.pops, is_glif, numbering, n_rec)

    spec = NetworkSpec(
        name=name or (Path(config).stem if config is not None else "sonata"),
        cells=cells,
        node_type=node_type,
        synapses=synapses,
        n_sources=numbering.n_src,
        inputs=inputs,
        source_names=tuple(numbering.source_names),
        populations=_populations(numbering, table.types),
        receptor_names=receptor_names(n_rec),
    )
    spec = finish_spec(spec, label)
    models = list(cells.models)
    report = {
        "n_neurons": numbering.n,
        "n_sources": numbering.n_src,
        "n_synapses": len(spec.synapses),
        "n_input_synapses": len(spec.inputs),
        "node_types_by_model": {m: models.count(m) for m in sorted(set(models))},
        "notes": notes,
    }
    metadata = {
        "loader": "sonata",
        "config": None if config is None else str(config),
        "nodes": [[str(a), str(b)] for a, b in node_files],
        "edges": [[str(a), str(b)] for a, b in edge_files],
    }
    node_map = SonataNodes(
        neurons=tuple((p.name, p.node_ids, p.node_type_id, p.types_csv, p.offset) for p in numbering.neuron_pops),
        sources=tuple((p.name, p.node_ids, p.node_type_id, p.types_csv, p.offset) for p in table.pops if p.virtual),
    )
    return LoadedModel(spec, None, metadata, report), node_map


def _edge_groups(g: h5py.Group, base: str, src: str, m: int) -> tuple[dict[str, h5py.Group], np.ndarray, np.ndarray]:
    """The numbered property groups of an edge population and each edge's (group id, index in its group)."""
    gid = _h5_int(g, "edge_group_id", src, m)
    gidx = _h5_int(g, "edge_group_index", src, m)
    groups = {k: g[k] for k in g if isinstance(g[k], h5py.Group) and re.fullmatch(r"\d+", k)}
    if gid is None or gidx is None:
        if len(groups) > 1:
            raise SpecError(src, f"{base}/edge_group_id", "edge_group_id and edge_group_index (several groups)")
        gid = np.full(m, int(next(iter(groups))) if groups else 0)
        gidx = np.arange(m)
    return groups, gid, gidx


def _group_values(
    key: str, groups: dict[str, h5py.Group], gid: np.ndarray, gidx: np.ndarray, base: str, src: str, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """(value per edge, present per edge) of property ``key`` from the group datasets.

    NaN is a value to refuse, not "absent": presence is tracked separately.
    """
    arr = np.full(m, np.nan)
    have = np.zeros(m, dtype=bool)
    for gname, grp in groups.items():
        if key in grp:
            mask = gid == int(gname)
            values = check_array(grp[key][()], src, f"{base}/{gname}/{key}", shape=(None,))
            idx = gidx[mask]
            if idx.size and (idx.min() < 0 or idx.max() >= values.size):
                raise SpecError(src, f"{base}/edge_group_index", f"indices into {base}/{gname}/{key}")
            arr[mask] = values[idx]
            have |= mask
    return arr, have


def _type_values(
    key: str, uniq_types: np.ndarray, types: pd.DataFrame, csv: Path, syn_dir: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """(value, present) of property ``key`` per edge type from the edge-types CSV column (``receptor_type``
    also from the edge type's ``dynamics_params``, as bmtk hands both to nest.Connect)."""
    per_type = np.full(uniq_types.size, np.nan)
    type_has = np.zeros(uniq_types.size, dtype=bool)
    for j, t in enumerate(uniq_types):  # one pass per edge type, not per edge
        value = _cell(types, int(t), key)
        if value is None and key == "receptor_type":
            dyn = _dynamics(_cell(types, int(t), "dynamics_params"), syn_dir, csv, f"edge_type {t}.dynamics_params")
            value = dyn.get("receptor_type")
        if value is not None:
            per_type[j] = _number(value, str(csv), f"edge_type {t}.{key}")
            type_has[j] = True
    return per_type, type_has


def _check_edge_types(uniq_types: np.ndarray, types: pd.DataFrame, csv: Path) -> None:
    """No weight_function (user code) and static synapses only."""
    for t in uniq_types:
        if _cell(types, int(t), "weight_function") is not None:
            raise SpecError(
                str(csv),
                f"edge_type {t}.weight_function",
                "none: a weight_function names user Python "
                "code, which this loader does not run; store syn_weight per edge instead",
            )
        template = _cell(types, int(t), "model_template")
        if template is not None and str(template).removeprefix("nest:") != "static_synapse":
            raise SpecError(str(csv), f"edge_type {t}.model_template", f"static_synapse, got {template!r}")


#: Edge properties the loader reads, with the value of an edge that has none (None: required).
_EDGE_PROPERTIES: tuple[tuple[str, float | None], ...] = (
    ("syn_weight", None),
    ("nsyns", 1.0),
    ("delay", None),
    ("receptor_type", np.nan),
)


def _edge_properties(
    g: h5py.Group, base: str, src: str, m: int, etid: np.ndarray, types: pd.DataFrame, csv: Path, syn_dir: Path | None
) -> dict[str, np.ndarray]:
    """Per-edge syn_weight (NEST weight unit), nsyns, delay (ms), receptor_type (NaN where absent): the group
    dataset where present, else the edge-types CSV column."""
    groups, gid, gidx = _edge_groups(g, base, src, m)
    uniq_types = np.unique(etid)
    type_pos = np.searchsorted(uniq_types, etid)
    out: dict[str, np.ndarray] = {}
    for key, default in _EDGE_PROPERTIES:
        arr, have = _group_values(key, groups, gid, gidx, base, src, m)
        if not np.all(have):
            per_type, type_has = _type_values(key, uniq_types, types, csv, syn_dir)
            todo = ~have
            arr[todo] = per_type[type_pos[todo]]
            have[todo] = type_has[type_pos[todo]]
        if not np.all(have):
            if default is None:
                t = int(etid[np.flatnonzero(~have)[0]])
                raise SpecError(
                    str(csv),
                    f"edge_type {t}.{key}",
                    f"a {key} per edge (in {base}/<group>/{key} or this CSV column; missing)",
                )
            arr[~have] = default
        out[key] = arr
    _check_edge_types(uniq_types, types, csv)
    if np.any(out["delay"] < 0):
        raise SpecError(src, f"{base}/delay", "delays >= 0 ms")
    if np.any(out["nsyns"] < 0):
        raise SpecError(src, f"{base}/nsyns", "synapse counts >= 0")
    return out


__all__ = ["GROUP_COLUMNS", "NEST_DEFAULT_V_M", "SonataNodes", "config_path", "load_sonata", "load_sonata_nodes"]
