"""An adapter that joins snnval from another distribution, through the ``snnval.adapters`` entry point.

It runs the real NEST simulator (it reuses the built-in NEST adapter's build and run) under its own
registry name. It declares no profiles of its own, so it is selectable everywhere with
``--sim nest-entrypoint`` without adding columns to the shipped goldens and reports; a third-party
adapter that declares ``profiles`` joins every derived grid the same way the built-in ones do.
"""

from snnval.adapters.nest_glif import NestGlifAdapter


class NestThroughEntryPoint(NestGlifAdapter):
    name = "nest-entrypoint"
    description = "NEST glif_psc, registered by the snnval-example-plugin distribution"
    profiles = ()
    port_target = False
