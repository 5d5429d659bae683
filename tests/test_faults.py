"""Fault injection: the reliability guarantees of issue 10, each checked against a real fault.

Faulty simulators are the real NEST adapter followed by a fault (tests/fault_adapters.py): a hang,
an abort, a segfault, a malformed result. Disk faults use a real read-only or full tmpfs where this
process may mount one (root), else a read-only directory by permissions or a write that raises
ENOSPC. Each test fails on the code before issue 10 (no timeout parameter, no checks before the
run, no lock, no checksums, truthy trust_pickle) and passes now.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import fault_adapters
import h5py
import numpy as np
import pytest

from snnval.cli import main
from snnval.errors import AdapterFailure, SpecError
from snnval.golden import CorruptGolden, read_golden
from snnval.runner import run_scenario, shutdown_workers, worker_pids

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
SMALL = "single_neuron_step"  # 5 neurons x 300 steps at dt 1 ms: NEST runs it in well under a second
#: a hang is killed after this many seconds: long enough for a worker start, the NEST import and the
#: small run on a loaded 2-core machine (2.2 s at load average 15, benchmarks/bench_runner.py), short
#: enough to keep the test quick
HANG_TIMEOUT_S = 10.0


@pytest.fixture
def faulty(monkeypatch):
    fault_adapters.register(monkeypatch)
    yield
    shutdown_workers()  # the faulty adapters' workers do not outlive the test


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie awaiting its reaper)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


# --- hung, crashing and lying simulators ----------------------------------------------------------


def test_hanging_simulator_is_killed_after_its_timeout(faulty, monkeypatch):
    monkeypatch.setenv("SNNVAL_TIMEOUT_S", str(HANG_TIMEOUT_S))  # the environment's timeout applies
    t0 = time.monotonic()
    with pytest.raises(AdapterFailure, match=r"no result within the timeout of 10 s.*killed") as info:
        run_scenario(SMALL, "nest-hang", "nest-glif-psc", 1.0)
    elapsed = time.monotonic() - t0
    assert HANG_TIMEOUT_S <= elapsed < HANG_TIMEOUT_S + 20, elapsed  # no retry multiplies the wait
    assert "--timeout" in str(info.value)
    assert not any(k.startswith("nest-hang") for k in worker_pids()), "the hung worker must be gone"


@pytest.mark.parametrize(
    ("faulty_sim", "signal_name"), [("nest-abort", "SIGABRT"), ("nest-segfault", "SIGSEGV")], ids=["abort", "segfault"]
)
def test_crashing_simulator_is_a_failure_with_its_exit_code(faulty, faulty_sim, signal_name):
    with pytest.raises(AdapterFailure) as info:
        run_scenario(SMALL, faulty_sim, "nest-glif-psc", 1.0, timeout_s=120)
    msg = str(info.value)
    assert signal_name in msg and f"exit code -{int(getattr(signal, signal_name))}" in msg, msg
    # the next run of a healthy adapter is unaffected, and the crashed adapter's next run starts afresh
    assert run_scenario(SMALL, "nest", "nest-glif-psc", 1.0).n_spikes >= 10
    with pytest.raises(AdapterFailure, match=signal_name):
        run_scenario(SMALL, faulty_sim, "nest-glif-psc", 1.0, timeout_s=120)


@pytest.mark.parametrize(
    ("faulty_sim", "reason"),
    [("nest-garbage", r"malformed result: state\['V_m'\] has shape"), ("nest-dict", "AttributeError|RunResult")],
    ids=["short-trace", "not-a-runresult"],
)
def test_garbage_result_is_a_failure_not_a_result(faulty, faulty_sim, reason):
    with pytest.raises(AdapterFailure, match=reason):
        run_scenario(SMALL, faulty_sim, "nest-glif-psc", 1.0, timeout_s=120)


def test_cli_hang_exits_1_with_the_reason(faulty, capsys, monkeypatch):
    monkeypatch.setenv("SNNVAL_TIMEOUT_S", "3600")  # the flag wins over the environment
    code = main(["run", SMALL, "--sim", "nest-hang", "--timeout", str(HANG_TIMEOUT_S)])
    err = capsys.readouterr().err
    assert code == 1 and "no result within the timeout of 10 s" in err and "Traceback" not in err, err
    assert os.environ["SNNVAL_TIMEOUT_S"] == "3600"  # main() leaves the caller's environment as it was


def test_reused_worker_gives_the_same_numbers_as_a_fresh_process():
    """A persistent worker is only an optimisation: NEST resets its kernel per run."""
    shutdown_workers()
    a = run_scenario(SMALL, "nest", "nest-glif-psc", 1.0)
    pid = worker_pids()["nest/threads=1"]
    b = run_scenario(SMALL, "nest", "nest-glif-psc", 0.1)  # another run in between, other resolution
    c = run_scenario(SMALL, "nest", "nest-glif-psc", 1.0)
    assert worker_pids()["nest/threads=1"] == pid  # the same process served all three runs
    assert a.n_spikes >= 10 and b.n_steps == 3000
    assert np.array_equal(a.spike_step, c.spike_step) and np.array_equal(a.state["V_m"], c.state["V_m"])
    from snnval.adapters import get_adapter
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    fresh_spec, fresh_stim = get_scenario(SMALL).build(1.0)
    from snnval.contract import RunConfig

    fresh = get_adapter("nest").run(
        fresh_spec, fresh_stim, RunConfig(semantics=profile("nest-glif-psc"), record=("V_m", "ASC"))
    )
    assert np.array_equal(fresh.state["V_m"], c.state["V_m"])


# --- signals reach the isolated children ----------------------------------------------------------


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out |= {int(t) for t in text}
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_the_cli_ends_the_simulator_process(sig):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    env["SNNVAL_EXTRA_ADAPTERS"] = ",".join(f"{k}={v}" for k, v in fault_adapters.FAULTY.items())
    proc = subprocess.Popen(
        [sys.executable, "-m", "snnval.cli", "run", SMALL, "--sim", "nest-hang", "--timeout", "600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and not workers:
            time.sleep(0.5)
            workers = {c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()}
        assert workers, "the CLI never started a simulator worker"
        time.sleep(3)  # let the worker import NEST and enter the hang
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + int(sig), (proc.returncode, err)
    time.sleep(1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # do not leave the orphan behind even when the test fails
        os.kill(w, signal.SIGKILL)
    assert not left, f"simulator worker(s) {left} outlived the CLI"


_KILLED_PARENT = """
import sys, time
from snnval.runner import run_scenario

if __name__ == "__main__":
    try:
        run_scenario("single_neuron_step", "nest-hang", "nest-glif-psc", 1.0, timeout_s=600)
    finally:
        time.sleep(600)
"""


def test_worker_dies_with_a_sigkilled_parent(tmp_path):
    """No handler runs on SIGKILL: the kernel ends the worker (PR_SET_PDEATHSIG)."""
    script = tmp_path / "parent.py"
    script.write_text(_KILLED_PARENT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    env["SNNVAL_EXTRA_ADAPTERS"] = ",".join(f"{k}={v}" for k, v in fault_adapters.FAULTY.items())
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline, workers = time.monotonic() + 60, set()
        while time.monotonic() < deadline and not workers:
            time.sleep(0.5)
            workers = {c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()}
        assert workers, "the parent never started a simulator worker"
        proc.kill()
        proc.wait(timeout=30)
        time.sleep(2)
        left = [w for w in workers if _alive(w)]
        for w in left:
            os.kill(w, signal.SIGKILL)
        assert not left, f"simulator worker(s) {left} outlived their SIGKILLed parent"
    finally:
        if proc.poll() is None:
            proc.kill()


def _run_small_in_dask() -> int:
    return run_scenario(SMALL, "nest", "nest-glif-psc", 1.0).n_spikes


def test_isolated_run_from_a_daemonic_dask_worker():
    """The nightly's Dask workers are daemonic processes; the runner must still start its worker there."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        assert client.submit(_run_small_in_dask).result(timeout=300) >= 10


# --- bad input refused before any work ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--dt", "0"], "dt_ms"),
        (["--dt", "nan"], "dt_ms"),
        (["--dt", "-1"], "dt_ms"),
        (["--dt", "0.0005"], "NEST's time grid"),
        (["--dt", "0.7"], "divides scenario 'single_neuron_step''s duration"),
        (["--threads", "0"], "threads"),
        (["--threads", "-2"], "threads"),
        (["--out", "/nonexistent-dir-snnval/x.h5"], "does not exist"),
        (["--timeout", "0"], "timeout"),
        (["--timeout", "inf"], "timeout"),
    ],
    ids=[
        "dt0",
        "dtnan",
        "dtneg",
        "dt-off-tic-grid",
        "dt-not-dividing",
        "threads0",
        "threadsneg",
        "out-missing-dir",
        "timeout0",
        "timeout-inf",
    ],
)
def test_bad_run_flags_exit_2_with_field(args, needle, capsys):
    code = main(["run", SMALL, "--sim", "nest", *args])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err, err


def test_out_naming_a_directory_exits_2(tmp_path, capsys):
    assert main(["run", SMALL, "--sim", "nest", "--out", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err


def test_memory_estimate_refused_before_anything_is_allocated(capsys):
    """The issue's OOM: a fine dt on the network (1e6 steps) is refused by estimate, in well under a second."""
    t0 = time.monotonic()
    code = main(["run", "glif3_network", "--sim", "nest", "--dt", "0.001"])
    err = capsys.readouterr().err
    assert code == 2 and "memory bound" in err and "9.6 GB" in err, err
    assert time.monotonic() - t0 < 30  # no network was built (a build at this dt takes minutes and 10 GB)


def test_memory_bound_is_configurable(monkeypatch, capsys):
    monkeypatch.setenv("SNNVAL_MAX_RUN_GB", "0.00001")  # 10 kB: even the small scenario exceeds it
    assert main(["run", SMALL, "--sim", "nest"]) == 2
    assert "memory bound of 0.0 GB" in capsys.readouterr().err


# --- disk faults -----------------------------------------------------------------------------------


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    )


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


@pytest.fixture
def readonly_dir(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    if _mount_tmpfs(d, "ro,size=16k"):  # root ignores permissions: a read-only file system is real
        yield d
        _umount(d)
        return
    if os.geteuid() == 0:
        pytest.skip("running as root without permission to mount a read-only tmpfs: no read-only directory")
    d.chmod(0o555)
    yield d
    d.chmod(0o755)


def test_readonly_output_directory_is_refused_before_the_run(readonly_dir, capsys):
    t0 = time.monotonic()
    code = main(["run", SMALL, "--sim", "nest", "--out", str(readonly_dir / "run.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "writable directory" in err and "Traceback" not in err, err
    assert time.monotonic() - t0 < 10  # refused by the check, not after a simulation


@pytest.fixture
def full_disk(tmp_path, monkeypatch):
    """A directory whose next large write fails with ENOSPC: an 8 kB tmpfs if mountable, else patched."""
    d = tmp_path / "full"
    d.mkdir()
    if _mount_tmpfs(d, "size=8k"):  # two pages: the old file fits, a golden does not
        yield d
        _umount(d)
        return
    import snnval.golden as golden

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(golden, "_write_result", no_space)
    yield d


def test_full_disk_keeps_the_old_file_and_exits_2(full_disk, capsys):
    target = full_disk / "run.h5"
    target.write_bytes(b"previous content")
    code = main(["run", SMALL, "--sim", "nest", "--out", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err, err
    assert target.read_bytes() == b"previous content"  # the old file is whole
    assert sorted(p.name for p in full_disk.iterdir()) == ["run.h5"]  # no temporary file left behind


# --- goldens ---------------------------------------------------------------------------------------


def _golden_copy(tmp_path: Path, name: str = "synaptic_events") -> Path:
    """A fresh golden of the small synaptic scenario (NEST, both dts), written by this code."""
    from snnval.golden_workflow import update_golden
    from snnval.scenarios import get_scenario

    path = tmp_path / f"{name}.h5"
    update_golden(get_scenario(name), ["nest"], path=path)
    return path


def test_edited_golden_value_is_reported_as_corrupt_not_as_a_regression(tmp_path):
    path = _golden_copy(tmp_path)
    with h5py.File(path, "r+") as f:
        group = next(iter(f["results"].values()))
        ds = group["state/V_m"]
        data = ds[()]
        data[0, 10, 0] += 0.5  # a half-millivolt edit: would look like a simulator regression
        ds[...] = data
    with pytest.raises(CorruptGolden, match=r"state/V_m.*edited or\s+damaged"):
        read_golden(path)


def test_golden_check_reports_an_edited_golden_as_corrupt_exit_2(tmp_path, monkeypatch, capsys):
    """Through the CLI: an edit of a stored trace is exit 2 "edited or damaged", not exit 1 "regression"."""
    import snnval.golden_workflow as workflow

    path = _golden_copy(tmp_path)
    with h5py.File(path, "r+") as f:
        ds = f["results"][next(iter(f["results"]))]["state/V_m"]
        ds[0, 10, 0] = ds[0, 10, 0] + 0.5
    monkeypatch.setattr(workflow, "golden_path", lambda scenario: path)
    code = main(["golden", "check", "synaptic_events", "--sim", "nest"])
    err = capsys.readouterr().err
    assert code == 2 and "edited or" in err and "not a simulator regression" in err, err


def test_golden_without_checksums_loads_with_a_warning(tmp_path):
    path = _golden_copy(tmp_path)
    with h5py.File(path, "r+") as f:  # as written before checksums existed
        f.visititems(lambda name, obj: obj.attrs.pop("sha256", None) if isinstance(obj, h5py.Dataset) else None)
    with pytest.warns(UserWarning, match="without SHA-256 checksums"):
        golden = read_golden(path)
    assert golden.results


def test_fresh_golden_reads_without_warning(tmp_path):
    path = _golden_copy(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        golden = read_golden(path)
    assert {k.split("/")[0] for k in golden.results} == {"nest"}


def test_corrupt_golden_is_regenerated_by_update(tmp_path):
    from snnval.golden_workflow import update_golden
    from snnval.scenarios import get_scenario

    path = tmp_path / "synaptic_events.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # an HDF5 signature and nothing else
    summary = update_golden(get_scenario("synaptic_events"), ["nest"], path=path)
    assert "regenerating it from scratch" in summary
    golden = read_golden(path)
    assert any(k.startswith("nest/") for k in golden.results)


_CONCURRENT = """
import sys, time
from pathlib import Path
from snnval.golden_workflow import update_golden
from snnval.runner import run_scenario
from snnval.scenarios import get_scenario

def slow_run(scenario, sim, profile, dt):
    result = run_scenario(scenario, sim, profile, dt)
    time.sleep(2.0)  # widens the read-modify-write window so the two updates overlap
    return result

if __name__ == "__main__":
    Path(sys.argv[3]).touch()
    print(update_golden(get_scenario("synaptic_events"), [sys.argv[1]], run_fn=slow_run, path=Path(sys.argv[2])))
"""


def test_concurrent_golden_updates_keep_both_results(tmp_path):
    """Two `golden update` processes on one file, for two adapters: both adapters' runs survive.

    ``nest`` declares the nest-glif-psc profile; the second process writes runs of the same NEST under
    a third registry name, so each process contributes keys the other does not have.
    """
    script = tmp_path / "update.py"
    script.write_text(_CONCURRENT)
    path = tmp_path / "synaptic_events.h5"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    env["SNNVAL_EXTRA_ADAPTERS"] = f"nest-second={fault_adapters.__name__}:SecondNest"
    procs = []
    for sim in ("nest", "nest-second"):
        started = tmp_path / f"started-{sim}"
        procs.append(
            subprocess.Popen(
                [sys.executable, str(script), sim, str(path), str(started)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    keys = set(read_golden(path).results)
    assert {k.split("/")[0] for k in keys} == {"nest", "nest-second"}, keys


# --- trust_pickle, damaged model files, delays, plausibility -------------------------------------------


class _Marker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("value", ["false", "no", 1, "True"], ids=["str-false", "str-no", "int-1", "str-True"])
def test_trust_pickle_accepts_only_the_boolean_true(tmp_path, value):
    from snnval.loaders.tf_pickle import load_tf_model

    marker = tmp_path / "pickled-code-ran"
    for name in ("network_dat.pkl", "input_dat.pkl"):
        (tmp_path / name).write_bytes(pickle.dumps(_Marker(str(marker))))
    with pytest.raises(SpecError, match="trust_pickle"):
        load_tf_model(tmp_path / "network_dat.pkl", tmp_path / "input_dat.pkl", trust_pickle=value)
    assert not marker.exists(), "pickled code ran"


def test_truncated_model_file_is_a_spec_error(tmp_path):
    from snnval.loaders import load_model_file

    path = tmp_path / "model.h5"
    path.write_bytes((REPO / "references" / "v1_digits.h5").read_bytes()[:20000])
    with pytest.raises(SpecError, match="model.h5.*complete HDF5"):
        load_model_file(path)


def test_sonata_config_that_includes_itself_is_a_spec_error(tmp_path):
    from snnval.loaders import load_model_file

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"network": "b.json"}')
    b.write_text('{"network": "a.json"}')
    with pytest.raises(SpecError, match="does not include itself"):
        load_model_file(a)


def _network_with_delays(delay_ms: np.ndarray):
    from snnval.scenarios import get_scenario

    spec = get_scenario("glif3_network").build_spec()
    syn = spec.synapses
    delays = np.resize(np.asarray(delay_ms, float), len(syn))
    return replace(spec, synapses=replace(syn, delay_ms=delays))


@pytest.mark.parametrize("delay", [0.0, -1.0, 5e3], ids=["zero", "negative", "absurd"])
def test_delays_outside_the_stated_range_are_refused_at_validation(delay):
    spec = _network_with_delays(np.array([1.0, 2.0, delay]))
    with pytest.raises(SpecError, match="delay_ms"):
        spec.validated()


def test_delay_below_dt_is_refused_before_any_runner_clips_it():
    from snnval.contract import RunConfig
    from snnval.runner import run_adapter
    from snnval.scenarios import get_scenario
    from snnval.semantics import profile

    spec = _network_with_delays(np.array([1.0, 0.5]))  # 0.5 ms at dt 1 ms: the TF rule would clip it to 1
    _, stimulus = get_scenario("glif3_network").build(1.0)
    with pytest.raises(SpecError, match=r"delays >= dt = 1 ms"):
        run_adapter("tf", spec, stimulus, RunConfig(semantics=profile("tf-billeh")))


def test_absurd_weight_is_refused_and_unit_mistakes_are_named():
    from snnval.plausibility import PlausibilityWarning
    from snnval.scenarios import get_scenario

    spec = get_scenario("synaptic_events").build_spec()
    syn = spec.inputs
    huge = replace(syn, weight_pA=np.array([60.0, -60.0, 1e300, -60.0]))
    with pytest.raises(SpecError, match=r"weight_pA.*1e\+300"):
        replace(spec, inputs=huge).validated()
    c = spec.cells
    volts = replace(c, V_th_mV=c.V_th_mV / 1000, E_L_mV=c.E_L_mV / 1000, V_reset_mV=c.V_reset_mV / 1000)
    with pytest.warns(PlausibilityWarning, match="volts"):
        replace(spec, cells=volts).validated()
    with pytest.warns(PlausibilityWarning, match="nF"):
        replace(spec, cells=replace(c, C_m_pF=c.C_m_pF / 1000)).validated()
    with pytest.warns(PlausibilityWarning, match="nA"):
        replace(spec, inputs=replace(syn, weight_pA=syn.weight_pA / 1000)).validated()
    with warnings.catch_warnings():  # and the scenario as it is raises nothing
        warnings.simplefilter("error")
        spec.validated()


def test_tf_honours_threads_and_records_them():
    result = run_scenario(SMALL, "tf", "tf-billeh", 1.0, threads=2)
    assert result.provenance["tf_intra_op_threads"] == 2 and result.provenance["tf_inter_op_threads"] == 2
