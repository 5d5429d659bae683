"""Command-line client of the external-process protocol (docs: adapters/EXTERNAL_PROCESS.md): bmtk pointnet.

``python -m snnval.adapters.bmtk_pointnet_run CONFIG`` runs bmtk's pointnet (which runs NEST) on a SONATA
simulation config and writes ``<output_dir>/version.json``. Exit status: 0 done, 3 not applicable (the
message on stderr says why), anything else a failure.

One change to how bmtk records: bmtk records spikes and multimeter samples through NEST's ASCII backend
and reads the files back; that backend prints 3 decimals by default (1 us, 1 uV), which would round every
precise spike time and every voltage. The runner asks the backend for 17 decimals (NEST's documented
``precision`` parameter of ASCII-recorded devices, set on the devices bmtk's two recorder factories
create); nothing else of bmtk or NEST is touched.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

#: decimals NEST's ASCII backend prints (its default is 3)
ASCII_PRECISION = 17
EXIT_NOT_APPLICABLE = 3


def _full_precision_ascii() -> None:
    """Give every ASCII recorder bmtk creates ``ASCII_PRECISION`` decimals (bmtk's two factory functions)."""
    from bmtk.simulator.pointnet.modules import multimeter_reporter, record_spikes

    def with_precision(factory):
        def create(*args, **kwargs):
            device = factory(*args, **kwargs)
            device.set(precision=ASCII_PRECISION)
            return device

        return create

    record_spikes.create_spike_detector = with_precision(record_spikes.create_spike_detector)
    multimeter_reporter.create_multimeter = with_precision(multimeter_reporter.create_multimeter)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m snnval.adapters.bmtk_pointnet_run CONFIG", file=sys.stderr)
        return 2
    os.environ.setdefault("PYNEST_QUIET", "1")
    import bmtk
    import nest
    from bmtk.simulator import pointnet

    _full_precision_ascii()
    config_path = Path(argv[0])
    conf = pointnet.Config.from_json(str(config_path))
    conf.build_env()
    net = pointnet.PointNetwork.from_config(conf)
    sim = pointnet.PointSimulator.from_config(conf, net)
    sim.run()
    out = Path(conf["output"]["output_dir"])
    (out / "version.json").write_text(
        json.dumps({"simulator": "bmtk-pointnet", "version": bmtk.__version__, "backend": f"NEST {nest.__version__}"})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
