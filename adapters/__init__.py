"""Simulator adapters behind one interface (:mod:`adapters.base`).

Built-in adapters are listed in ``BUILTIN``; third parties register more through the
``snnval.adapters`` entry-point group (``name = "package.module:AdapterClass"``).
Modules are imported lazily so that a missing simulator only makes its adapter unavailable.
"""

from __future__ import annotations

import importlib
import importlib.metadata

from adapters.base import Adapter, Availability, Capabilities, RunConfig, RunResult
from snnval.errors import SpecError

BUILTIN: dict[str, str] = {
    "tf": "adapters.tf_reference:TFReferenceAdapter",
    "nest": "adapters.nest_glif:NestGlifAdapter",
}

__all__ = ["Adapter", "Availability", "Capabilities", "RunConfig", "RunResult", "adapter_names", "get_adapter"]


def _registry() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in importlib.metadata.entry_points(group="snnval.adapters"):
        found.setdefault(ep.name, ep.value)
    return found


def adapter_names() -> list[str]:
    return list(_registry())


def get_adapter(name: str) -> Adapter:
    registry = _registry()
    if name not in registry:
        raise SpecError("--sim", "sim", f"one of {sorted(registry)}, got {name!r}")
    module_name, _, cls_name = registry[name].partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls()
