"""Scenarios: a network, a frozen stimulus per dt, and how to compare runs of it.

Registered once here; validation tests, the CLI and the nightly report parametrise
over ``SCENARIOS`` x adapters, and an adapter whose capabilities do not cover a scenario
is "not applicable" with the reason. Every random number comes from the scenario's seed.
One module per family: :mod:`.glif3` (GLIF3 cells and the V1-like network), :mod:`.lif`
(LIF single neurons, continuous and discrete-time), :mod:`.networks` (E/I networks).
"""

from __future__ import annotations

from snnval.scenarios.base import Scenario
from snnval.scenarios.glif3 import GLIF3_SCENARIOS, SINGLE_NEURON_VARIANTS
from snnval.scenarios.lif import LIF_SCENARIOS
from snnval.scenarios.lif_delta import LIF_DELTA_SCENARIOS
from snnval.scenarios.networks import NETWORK_SCENARIOS

__all__ = ["SCENARIOS", "SINGLE_NEURON_VARIANTS", "Scenario", "get_scenario"]

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (*GLIF3_SCENARIOS, *LIF_SCENARIOS, *NETWORK_SCENARIOS, *LIF_DELTA_SCENARIOS)
}


def get_scenario(name: str) -> Scenario:
    from snnval.errors import SpecError

    if name not in SCENARIOS:
        raise SpecError("scenario", "name", f"one of {sorted(SCENARIOS)}, got {name!r}")
    return SCENARIOS[name]
