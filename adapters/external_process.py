"""External-process adapter: a simulator driven as a separate program through SONATA files.

Protocol (adapters/EXTERNAL_PROCESS.md): the suite writes the network and the frozen input of one trial as
a SONATA simulation (:mod:`snnval.sonata_write`), runs the configured command line with ``{config}``
replaced by the config path, waits at most ``timeout_s``, and reads back ``output/spikes.h5`` (SONATA
spikes of population ``net``; node id = spec neuron index), one ``output/rec_<var>.h5`` SONATA report per
recorded variable, and ``output/version.json`` (``{"simulator", "version", "backend"}``). Exit status 0:
results are there; 3: not applicable (stderr says why); anything else, or a timeout: a failure.

Times map back onto the step grid by NEST's stamp rule in tics (:mod:`snnval.time_grid`): a spike at
t ms is in step ceil(t/h) - 1 with offset t - step*h; report sample k (time (k+1) h) is the state at the
end of step k. The run lasts one extra (flush) step, whose spikes and samples are dropped.

:class:`BmtkPointnetAdapter` is the first client: bmtk pointnet (NEST 3.10 underneath) through
``python -m snnval.adapters.bmtk_pointnet_run``. Compiled engines plug in the same way with their own
command line (the protocol document says how NEST GPU, GeNN and brian2cuda would; none runs here).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from snnval.adapters.base import Adapter, Capabilities, RunConfig, RunResult
from snnval.adapters.nest_glif import PRECISE_MODELS
from snnval.errors import AdapterFailure, NotApplicable
from snnval.semantics import NEST_STEP_KNOBS
from snnval.sonata_spikes import read_spike_file
from snnval.sonata_write import NEURONS, REPORT_VARIABLES, write_simulation
from snnval.spec import NetworkSpec
from snnval.stimulus import FrozenStimulus
from snnval.time_grid import steps_from_spike_times

EXIT_NOT_APPLICABLE = 3


class ExternalProcessAdapter(Adapter):
    """Runs ``command`` (argv with a ``{config}`` placeholder) on the SONATA files of each trial."""

    name = "external"
    description = "a simulator run as a separate program through SONATA files"
    command: tuple[str, ...] = ()
    timeout_s: float = 1800.0
    #: models the external program runs (suite model names)
    models: tuple[str, ...] = ("glif3",)
    keep_dir: Path | None = None  # for debugging: keep the exchange files here

    def capabilities(self) -> Capabilities:
        return Capabilities(
            models=self.models,
            max_receptors=4,
            recordables=tuple(REPORT_VARIABLES),
            # bmtk pointnet runs NEST; the suite writes delays in whole steps and V_m into the files
            knobs=dict(NEST_STEP_KNOBS),
            dtypes=("float64",),
            event_amplitudes="integer",
            spike_times="precise",
        )

    def _run(self, spec: NetworkSpec, stimulus: FrozenStimulus, config: RunConfig) -> RunResult:
        dt, n_steps = float(stimulus.dt_ms), int(stimulus.n_steps)
        if np.any(np.asarray(spec.inputs.delay_ms) == 0.0):
            raise NotApplicable("inputs with delay 0 cannot be expressed in SONATA for NEST (minimum delay: one step)")
        rec = config.recorded_ids(spec)
        state = {v: np.full((stimulus.n_trials, n_steps, rec.size), np.nan) for v in config.record}
        parts: list[tuple[np.ndarray, ...]] = []
        version: dict = {}
        wall = 0.0
        for i in range(stimulus.n_trials):
            work = Path(tempfile.mkdtemp(prefix="snnval_ext_"))
            try:
                cfg = write_simulation(work, spec, stimulus.trial(i), config.semantics, config.record, rec)
                t0 = time.perf_counter()
                self._call(cfg)
                wall += time.perf_counter() - t0
                out = work / "output"
                step, neuron, offset = self._spikes(out, dt, n_steps)
                parts.append((np.full(step.size, i), step, neuron, offset))
                for var in config.record:
                    state[var][i] = self._report(out / f"rec_{var}.h5", rec, dt, n_steps, var)
                version = self._version(out)
            finally:
                if self.keep_dir is not None:
                    shutil.copytree(work, Path(self.keep_dir) / f"trial{i}", dirs_exist_ok=True)
                shutil.rmtree(work, ignore_errors=True)
        trial, step, neuron, offset = (np.concatenate(c) for c in zip(*parts, strict=True))
        precise = bool(set(np.asarray(spec.cells.models)[np.unique(spec.node_type)]) & set(PRECISE_MODELS))
        provenance = {"command": list(self.command), "run_wall_s": wall, "external": version}
        if version.get("version"):
            provenance["simulator_version"] = (
                f"{version.get('simulator')} {version['version']} ({version.get('backend', '')})"
            )
        return RunResult.from_spikes(
            dt, n_steps, stimulus.n_trials, trial, step, neuron, rec, state, provenance, offset if precise else None
        )

    def _call(self, config_path: Path) -> None:
        argv = [a.replace("{config}", str(config_path)) for a in self.command]
        try:
            proc = subprocess.run(argv, cwd=config_path.parent, capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise AdapterFailure(f"{self.name}: no result within {self.timeout_s:.0f} s ({' '.join(argv)})") from None
        if proc.returncode == EXIT_NOT_APPLICABLE:
            raise NotApplicable(f"{self.name}: {proc.stderr.strip()[-500:]}")
        if proc.returncode != 0:
            raise AdapterFailure(f"{self.name} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")

    @staticmethod
    def _spikes(out: Path, dt: float, n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        path = out / "spikes.h5"
        if not path.is_file():
            raise AdapterFailure(f"the external program wrote no {path}")
        table = read_spike_file(path)
        if len(table) and set(table.population.astype(str)) != {NEURONS}:
            raise AdapterFailure(f"{path}: spikes of populations other than '{NEURONS}'")
        step, offset = steps_from_spike_times(table.time_ms, dt)
        keep = step < n_steps  # the flush step
        return step[keep], table.node_id[keep], offset[keep]

    @staticmethod
    def _report(path: Path, rec: np.ndarray, dt: float, n_steps: int, var: str) -> np.ndarray:
        if not path.is_file():
            raise AdapterFailure(f"the external program wrote no report {path} for {var}")
        with h5py.File(path, "r") as f:
            g = f[f"report/{NEURONS}"]
            data = np.asarray(g["data"][()], dtype=float)
            ids = np.asarray(g["mapping/node_ids"][()], dtype=np.int64)
            start, _stop, step = (float(x) for x in g["mapping/time"][()])
        first = int(round(start / dt)) - 1  # sample at (k+1) dt is the end of step k
        out = np.full((n_steps, rec.size), np.nan)
        rows = np.arange(data.shape[0]) + first
        keep = (rows >= 0) & (rows < n_steps)
        order = np.argsort(ids)
        col = order[np.minimum(np.searchsorted(ids[order], rec), ids.size - 1)]
        if np.any(ids[col] != rec):
            raise AdapterFailure(f"{path}: the report lacks recorded neurons {rec[ids[col] != rec][:5].tolist()}")
        out[rows[keep]] = data[keep][:, col]
        if abs(step - dt) > 1e-9:
            raise AdapterFailure(f"{path}: samples every {step} ms, expected every dt = {dt} ms")
        return out

    @staticmethod
    def _version(out: Path) -> dict:
        path = out / "version.json"
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}


class BmtkPointnetAdapter(ExternalProcessAdapter):
    """bmtk pointnet (which runs NEST) as the first client of the external-process protocol."""

    name = "bmtk"
    package = "bmtk"
    description = "bmtk pointnet run as a separate program through SONATA files (external-process protocol)"
    profiles = ("nest-glif-psc",)
    command = (sys.executable, "-m", "snnval.adapters.bmtk_pointnet_run", "{config}")
    models = ("glif3", "iaf_psc_alpha", "iaf_psc_exp", "iaf_cond_exp", "iaf_psc_exp_ps", "iaf_psc_alpha_ps")

    def _import(self) -> None:
        import bmtk.simulator.pointnet  # noqa: F401
