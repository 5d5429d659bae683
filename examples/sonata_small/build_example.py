"""Build the small SONATA example the nightly runs (``snnval/nightly_sonata.py``): bmtk's NetworkBuilder writes it.

Run from the repository root: ``python examples/sonata_small/build_example.py``. It rewrites the files in this
folder (network, components, inputs, ``config.simulation.json``); the nightly only reads them. The network
and inputs are the ones tests/test_sonata_sim.py and tests/test_sonata_inputs.py build
(``tests/sonata_networks.py``): 12 + 8 GLIF3 ``glif_psc``, 6 ``iaf_psc_alpha``, 5 ``iaf_psc_exp``, 40 LGN
fibres with off-grid spike times (a SONATA spike file), an IClamp pulse onto the ``iaf_psc_alpha`` cells and
a CSV clamp waveform onto the ``iaf_psc_exp`` cells; 300 ms at dt 0.1 ms.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests"))

from sonata_networks import build_network, write_clamp_csv, write_lgn_spikes  # noqa: E402

DT_MS = 0.1
TSTOP_MS = 300.0


def main() -> None:
    for sub in ("network", "components", "inputs"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    circuit = build_network(HERE)
    (HERE / "inputs").mkdir()
    # no input spike in the first step (t <= dt): pyNN.nest cannot deliver one there (its adapter says so)
    write_lgn_spikes(HERE / "inputs" / "lgn_spikes.h5", TSTOP_MS, min_time_ms=2.5 * DT_MS)
    write_clamp_csv(HERE / "inputs" / "clamp.csv")
    config = {
        "manifest": {"$BASE_DIR": "${configdir}", "$INPUT_DIR": "$BASE_DIR/inputs"},
        "target_simulator": "NEST",
        "run": {"dt": DT_MS, "tstop": TSTOP_MS},
        "network": f"$BASE_DIR/{circuit.name}",
        "node_sets": {
            "x_cells": {"population": "v1", "node_id": list(range(20, 26))},
            "y_cells": {"population": "v1", "node_id": list(range(26, 31))},
            "lgn_all": {"population": "lgn"},
        },
        "inputs": {
            "lgn_spikes": {"input_type": "spikes", "module": "sonata", "input_file": "$INPUT_DIR/lgn_spikes.h5",
                           "node_set": "lgn_all"},
            "pulse": {"input_type": "current_clamp", "module": "IClamp", "node_set": "x_cells",
                      "amp": [300.0, 150.0], "delay": [50.0, 200.0], "duration": [100.0, 60.0]},
            "waveform": {"input_type": "csv", "module": "IClamp", "node_set": "y_cells",
                         "file": "$INPUT_DIR/clamp.csv"},
        },
        "output": {"output_dir": "$BASE_DIR/output", "spikes_file": "spikes.h5"},
    }  # fmt: skip
    (HERE / "config.simulation.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    main()
