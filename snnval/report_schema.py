"""The nightly results: typed records (dataclasses with to/from JSON) and their validation.

The structure is defined once, in the JSON Schema file ``results_schema.json`` beside this module
(draft 2020-12, checked with the ``jsonschema`` library); each of its leaves carries an ``x-expected``
text, so an error names the field and the expected form. What a JSON Schema cannot say is checked here
after it: accuracy = correct / n inside its 95 % CI, the confusion matrix sums to n with trace = correct,
unique cells, runners and variants, agreement pairs naming computed runners, finite numbers, equal-length
raster lists.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import date as _date
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from snnval.errors import SpecError

SCHEMA_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("results_schema.json")
STATUSES = ("pass", "fail", "not_applicable", "error")


class ResultsSchemaError(SpecError):
    """The results dict does not follow the schema; ``field`` is a path such as ``scenarios[2].status``."""

    def __init__(self, field: str, expected: str):
        super().__init__("results dict", field, expected)

    def __reduce__(self):
        return (type(self), (self.field, self.expected))


# ------------------------------------------------------------------------------------------ validation


@functools.cache
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_results(results: Any) -> None:
    """Check ``results`` against ``results_schema.json`` and the cross-field rules; raise ResultsSchemaError."""
    import jsonschema

    if not isinstance(results, dict):
        raise ResultsSchemaError("(top level)", f"a dict, got {type(results).__name__}")
    # Version first: a newer producer's dict should say "unsupported version", not "field X missing".
    version = results.get("schema_version", "(missing)")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        missing = " (the field is missing)" if "schema_version" not in results else f", got {version!r}"
        raise ResultsSchemaError("schema_version", f"{SCHEMA_VERSION} (this renderer reads version 2 only){missing}")
    _check_finite(results, [])
    error = jsonschema.exceptions.best_match(_validator().iter_errors(results), key=_relevance)
    if error is not None:
        raise _schema_error(error)
    _check_cross_fields(results)
    _check_precision(results)


def _relevance(error):
    # Deepest first, so "scenarios[1].status is missing" wins over "scenarios[1] is not valid".
    return (-len(error.absolute_path), error.validator != "required")


def _schema_error(error) -> ResultsSchemaError:
    parts = list(error.absolute_path)
    if error.validator == "required":
        name = error.message.split("'")[1]
        sub = error.schema.get("properties", {}).get(name, {})
        return ResultsSchemaError(_path([*parts, name]), f"{sub.get('x-expected', 'a value')} (the field is missing)")
    expected = error.schema.get("x-expected")
    if error.validator in ("pattern", "type") and expected is None:
        expected = error.schema.get("x-expected", error.message)
    if expected is None:
        expected = error.message
    value = error.instance
    return ResultsSchemaError(
        _path(parts) or "(top level)", f"{expected}, got {_shown(value)} ({type(value).__name__})"
    )


def _check_finite(value: Any, parts: list) -> None:
    """JSON has no NaN or infinity (``null`` means "not measured"); name the first non-finite number."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ResultsSchemaError(_path(parts), f"a finite number (null for 'not measured'), got {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, [*parts, k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, [*parts, i])


def _check_cross_fields(results: dict) -> None:
    try:
        ok = _date.fromisoformat(results["date"]).isoformat() == results["date"]
    except ValueError:
        ok = False
    if not ok:
        raise ResultsSchemaError("date", f'a date "YYYY-MM-DD", got {results["date"]!r}')
    try:
        datetime.fromisoformat(results["created"])
    except ValueError:
        raise ResultsSchemaError("created", f"an ISO 8601 time, got {results['created']!r}") from None

    seen: dict[tuple[str, str, str], int] = {}
    for i, cell in enumerate(results["scenarios"]):
        key = (cell["scenario"], cell["simulator"], cell["reference"])
        if key in seen:
            raise ResultsSchemaError(
                f"scenarios[{i}]",
                f"a unique (scenario, simulator, reference), but {key} repeats scenarios[{seen[key]}]",
            )
        seen[key] = i

    runners: set[str] = set()
    for i, acc in enumerate(results["accuracy"]):
        where = f"accuracy[{i}]"
        if acc["runner"] in runners:
            raise ResultsSchemaError(f"{where}.runner", f"a unique runner name, got a repeated {acc['runner']!r}")
        runners.add(acc["runner"])
        n, correct = acc["n"], acc["correct"]
        if correct > n:
            raise ResultsSchemaError(f"{where}.correct", f"<= n = {n}, got {correct}")
        if abs(acc["accuracy"] - correct / n) > 1e-9:
            raise ResultsSchemaError(f"{where}.accuracy", f"correct / n = {correct / n!r}, got {acc['accuracy']!r}")
        _check_ci(acc["ci95"], acc["accuracy"], f"{where}.ci95")
        k = len(acc["confusion"])
        if k == 0 or any(len(row) != k for row in acc["confusion"]):
            raise ResultsSchemaError(f"{where}.confusion", "a non-empty square matrix (k x k list of lists)")
        cm = np.asarray(acc["confusion"], dtype=np.int64)
        if int(cm.sum()) != n or int(np.trace(cm)) != correct:
            raise ResultsSchemaError(
                f"{where}.confusion",
                f"counts summing to n = {n} with trace = correct = {correct}, got sum {int(cm.sum())}, "
                f"trace {int(np.trace(cm))}",
            )
    for i, nr in enumerate(results["accuracy_not_run"]):
        if nr["runner"] in runners:
            raise ResultsSchemaError(f"accuracy_not_run[{i}].runner", f"a runner not in accuracy, got {nr['runner']!r}")
    for i, ag in enumerate(results["agreement"]):
        for side in ("a", "b"):
            if ag[side] not in runners:
                raise ResultsSchemaError(f"agreement[{i}].{side}", f"a runner of accuracy, got {ag[side]!r}")

    variants: set[str] = set()
    for i, pv in enumerate(results["port_variants"]):
        if pv["variant"] in variants:
            raise ResultsSchemaError(f"port_variants[{i}].variant", f"a unique name, got a repeated {pv['variant']!r}")
        variants.add(pv["variant"])
        _check_ci(pv["ci95"], pv["accuracy"], f"port_variants[{i}].ci95")

    sample = results["sample"]
    if sample is not None:
        for runner, raster in sample["raster"].items():
            if len(raster["step"]) != len(raster["neuron"]):
                raise ResultsSchemaError(
                    f"sample.raster[{runner!r}]",
                    f"equal-length step and neuron lists, got {len(raster['step'])} and {len(raster['neuron'])}",
                )


def _check_precision(results: dict) -> None:
    """Precision cells: a summary only on float32 cells, reach in ms = steps x dt, a pass without real
    differences; precision accuracy entries: a movement unless errored, status fail exactly when it moved."""
    for i, cell in enumerate(results["scenarios"]):
        p = cell.get("precision")
        if p is None:
            continue
        where = f"scenarios[{i}].precision"
        if cell.get("dtype", "float64") == "float64" or p["dtype"] != cell.get("dtype"):
            raise ResultsSchemaError(f"{where}.dtype", f"the cell's dtype (not float64), got {p['dtype']!r}")
        if abs(p["max_reach_ms"] - p["max_reach_steps"] * cell["dt_ms"]) > 1e-9 * max(1.0, p["max_reach_ms"]):
            raise ResultsSchemaError(
                f"{where}.max_reach_ms", f"max_reach_steps x dt_ms = {p['max_reach_steps'] * cell['dt_ms']!r}"
            )
        if cell["status"] == "pass" and p["n_real_differences"]:
            raise ResultsSchemaError(f"{where}.n_real_differences", "0 in a passing cell")
    for i, entry in enumerate(results.get("precision_accuracy", [])):
        m = entry["movement"]
        if (m is None) != (entry["status"] == "error"):
            raise ResultsSchemaError(f"precision_accuracy[{i}].movement", "null exactly when the status is error")
        if m is not None and (entry["status"] == "fail") != m["moved"]:
            raise ResultsSchemaError(f"precision_accuracy[{i}].status", "fail exactly when movement.moved is true")


def _check_ci(ci: list[float], value: float, path: str) -> None:
    lo, hi = ci
    # A hair of tolerance: producers may round the bounds for display before writing them.
    if not (lo <= hi and lo - 1e-9 <= value <= hi + 1e-9):
        raise ResultsSchemaError(path, f"[lo, hi] with lo <= accuracy ({value}) <= hi, got {ci}")


# ------------------------------------------------------------------------------------------ typed records


class _Record:
    """to_json / from_json for flat dataclasses; nested records override ``_nested``."""

    _nested: dict[str, Any] = {}

    def to_json(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, data: dict):
        kwargs = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            sub = cls._nested.get(f.name)
            if sub is not None and value is not None:
                value = [sub.from_json(v) for v in value] if isinstance(value, list) else sub.from_json(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class Divergence(_Record):
    step: int
    neuron: int
    variable: str


@dataclass(frozen=True)
class Figures(_Record):
    max_abs_dV_mV: float | None
    mean_abs_dV_mV: float | None
    spikes_matched: int
    spikes_missing: int
    spikes_extra: int
    first_divergence: Divergence | None = None
    _nested = {"first_divergence": Divergence}


@dataclass(frozen=True)
class PrecisionSummary(_Record):
    """A float32 cell's precision tier (:func:`snnval.nightly_tasks.precision_fields`): flips and their reach."""

    dtype: str
    n_precision_flips: int
    n_real_differences: int
    max_reach_steps: int
    max_reach_ms: float
    reaches_end: bool
    spikes_mismatched_exact: int
    spikes_mismatched_tolerant: int
    statistics_passed: bool
    accuracy_moved: bool | None = None


@dataclass(frozen=True)
class ScoreCell(_Record):
    """One score-matrix cell: ``simulator`` against ``reference`` ("golden" or another runner)."""

    scenario: str
    simulator: str
    reference: str
    dt_ms: float
    status: str
    reason: str
    figures: Figures | None = None
    realtime_factor: float | None = None
    #: Optional (results before issue 7 have none; None = absent, left out by to_json): the device the
    #: candidate ran on (provenance; absent when it did not run), its dtype, a float32 cell's precision tier.
    device: str | None = None
    dtype: str | None = None
    precision: PrecisionSummary | None = None
    _nested = {"figures": Figures, "precision": PrecisionSummary}

    def to_json(self) -> dict:
        out = asdict(self)
        return {k: v for k, v in out.items() if v is not None or k not in _SCORE_CELL_OPTIONAL}


_SCORE_CELL_OPTIONAL = ("device", "dtype", "precision")


@dataclass(frozen=True)
class McNemar(_Record):
    b: int
    c: int
    p: float


@dataclass(frozen=True)
class AccuracyEntry(_Record):
    runner: str
    simulator: str
    profile: str
    n: int
    correct: int
    accuracy: float
    ci95: list[float]
    confusion: list[list[int]]
    realtime_factor: float | None = None


@dataclass(frozen=True)
class RunnerNotRun(_Record):
    runner: str
    simulator: str
    profile: str
    status: str
    reason: str


@dataclass(frozen=True)
class Agreement(_Record):
    """Prediction agreement of runners ``a`` and ``b`` on the same trials, with the exact McNemar test."""

    a: str
    b: str
    agreement: float
    mcnemar: McNemar
    _nested = {"mcnemar": McNemar}


@dataclass(frozen=True)
class PortVariant(_Record):
    variant: str
    description: str
    changes: list[str]
    accuracy: float
    ci95: list[float]
    delta_vs_faithful: float


@dataclass(frozen=True)
class Sample(_Record):
    index: int
    label: int
    dt_ms: float
    neuron: int
    voltage_mV: dict[str, list[float]]
    raster: dict[str, dict[str, list[int]]]


@dataclass(frozen=True)
class Simulator(_Record):
    name: str
    available: bool
    version: str | None
    reason: str


@dataclass(frozen=True)
class Machine(_Record):
    platform: str
    cpu: str
    cores: int


@dataclass(frozen=True)
class AccuracyFields(_Record):
    n: int
    correct: int
    accuracy: float
    ci95: list[float]


@dataclass(frozen=True)
class AccuracyMovement(_Record):
    """Float32 vs float64 accuracy on the same trials (:func:`snnval.precision.accuracy_movement`)."""

    reference: AccuracyFields
    candidate: AccuracyFields
    prediction_agreement: float
    mcnemar_b: int
    mcnemar_c: int
    mcnemar_p: float
    moved: bool
    _nested = {"reference": AccuracyFields, "candidate": AccuracyFields}


@dataclass(frozen=True)
class PrecisionAccuracy(_Record):
    """One runner's float32 accuracy run against its float64 run (status fail: accuracy moved)."""

    runner: str
    simulator: str
    profile: str
    dtype: str
    status: str
    reason: str
    movement: AccuracyMovement | None = None
    _nested = {"movement": AccuracyMovement}


@dataclass(frozen=True)
class NightResults(_Record):
    """A whole night. ``from_json`` validates first; ``extra`` keeps unknown top-level keys."""

    date: str
    created: str
    suite_version: str
    git_revision: str
    quick: bool
    machine: Machine
    command: str
    simulators: list[Simulator]
    scenarios: list[ScoreCell]
    accuracy: list[AccuracyEntry]
    accuracy_not_run: list[RunnerNotRun]
    agreement: list[Agreement]
    port_variants: list[PortVariant]
    sample: Sample | None
    regressions: list[str]
    synthetic: bool = False
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)
    #: optional: float32 vs float64 accuracy per runner (None = absent, left out by to_json)
    precision_accuracy: list[PrecisionAccuracy] | None = None
    _nested = {
        "precision_accuracy": PrecisionAccuracy,
        "machine": Machine,
        "simulators": Simulator,
        "scenarios": ScoreCell,
        "accuracy": AccuracyEntry,
        "accuracy_not_run": RunnerNotRun,
        "agreement": Agreement,
        "port_variants": PortVariant,
        "sample": Sample,
    }

    @classmethod
    def from_json(cls, data: dict) -> NightResults:
        validate_results(data)
        known = {f.name for f in fields(cls)}
        night = super().from_json(data)
        return NightResults(**{**night.__dict__, "extra": {k: v for k, v in data.items() if k not in known}})

    def to_json(self) -> dict:
        out = asdict(self)
        extra = out.pop("extra")
        out["scenarios"] = [c.to_json() for c in self.scenarios]
        if out["precision_accuracy"] is None:
            del out["precision_accuracy"]
        return {**out, **extra}
