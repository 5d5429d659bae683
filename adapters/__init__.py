"""Simulator adapters behind one interface (:mod:`snnval.adapters.base`), installed as ``snnval.adapters``.

Built-in adapters are listed in ``BUILTIN``; third parties register more through the
``snnval.adapters`` entry-point group (``name = "package.module:AdapterClass"``). Modules are
imported lazily so that a missing simulator only makes its adapter unavailable. Every grid the
suite runs (golden runs, score matrix, accuracy runners, port ladder, validation tests) is derived
from this registry and the adapters' declared ``profiles`` and capabilities.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os

from snnval.adapters.base import Adapter
from snnval.contract import Availability, Capabilities, RunConfig, RunResult
from snnval.errors import SpecError

BUILTIN: dict[str, str] = {
    "tf": "snnval.adapters.tf_reference:TFReferenceAdapter",
    "nest": "snnval.adapters.nest_glif:NestGlifAdapter",
    "brian2": "snnval.adapters.brian2_sim:Brian2Adapter",
    "bmtk": "snnval.adapters.external_process:BmtkPointnetAdapter",
    "bmtk-dpointnet": "snnval.adapters.bmtk_dpointnet:BmtkDPointNetAdapter",
    "pynn-nest": "snnval.adapters.pynn:PyNNNestAdapter",
    "pynn-neuron": "snnval.adapters.pynn:PyNNNeuronAdapter",
    "pynn-brian2": "snnval.adapters.pynn:PyNNBrian2Adapter",
    "snntorch": "snnval.adapters.snntorch_sim:SnnTorchAdapter",
    "norse": "snnval.adapters.norse_sim:NorseAdapter",
    "brainpy": "snnval.adapters.brainpy_sim:BrainPyAdapter",
}

__all__ = [
    "Adapter",
    "Availability",
    "Capabilities",
    "RunConfig",
    "RunResult",
    "adapter_names",
    "adapter_profiles",
    "get_adapter",
]


#: Environment variable registering more adapters without packaging them (adapters under
#: development, fault-injection tests): ``name=module:Class`` entries separated by commas. It is
#: inherited by the runner's worker processes, so such adapters also run isolated.
EXTRA_ADAPTERS_ENV = "SNNVAL_EXTRA_ADAPTERS"


def _registry() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in importlib.metadata.entry_points(group="snnval.adapters"):
        found.setdefault(ep.name, ep.value)
    for entry in filter(None, (e.strip() for e in os.environ.get(EXTRA_ADAPTERS_ENV, "").split(","))):
        name, sep, target = entry.partition("=")
        if not (sep and name.strip() and ":" in target):
            raise SpecError(f"environment variable {EXTRA_ADAPTERS_ENV}", entry, "name=module:Class entries")
        found.setdefault(name.strip(), target.strip())
    return found


def adapter_names() -> list[str]:
    return list(_registry())


@functools.cache
def _adapter_class(target: str) -> type[Adapter]:
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise SpecError("adapter registry", target, "a subclass of snnval.adapters.base.Adapter")
    return cls


def get_adapter(name: str) -> Adapter:
    registry = _registry()
    if name not in registry:
        raise SpecError("--sim", "sim", f"one of {sorted(registry)}, got {name!r}")
    adapter = _adapter_class(registry[name])()
    if adapter.name != name:  # the registry name is the adapter's identity in goldens and reports
        adapter.name = name
    return adapter


def adapter_profiles(names: list[str] | None = None) -> list[tuple[str, str]]:
    """(adapter, profile) for every registered adapter (or ``names``) and each profile it declares."""
    return [(name, prof) for name in (names or adapter_names()) for prof in get_adapter(name).profiles]
