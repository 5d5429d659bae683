"""Fixtures of the validation suite: scenario runs, cached once per pytest worker.

Runs go through :func:`snnval.runner.run_scenario` isolated, like the CLI's and the nightly's: in
the runner's persistent per-adapter worker processes (TensorFlow and NEST are imported once per
pytest process), with the runner's timeout, so a hung or crashing simulator fails one test with
its reason instead of stalling or killing the pytest worker. Tests of one scenario share an xdist group, so
``-n 2 --dist loadgroup`` runs each scenario's simulations once.
"""

from __future__ import annotations

import pytest

from snnval.adapters import RunResult, get_adapter
from snnval.runner import run_scenario
from snnval.scenarios import SCENARIOS

_CACHE: dict[tuple, RunResult] = {}


def scenario_params(with_dt: bool = True) -> list:
    """pytest params over scenarios (x their dts), grouped per scenario for xdist."""
    params = []
    for name, sc in SCENARIOS.items():
        marks = [pytest.mark.xdist_group(name)]
        if with_dt:
            params += [pytest.param(name, dt, id=f"{name}-dt{dt:g}", marks=marks) for dt in sc.dts_ms]
        else:
            params.append(pytest.param(name, id=name, marks=marks))
    return params


def require(sim: str) -> None:
    avail = get_adapter(sim).availability()
    if not avail.available:
        pytest.skip(f"adapter '{sim}' is not available here: {avail.reason}")


@pytest.fixture(scope="session")
def scenario_run():
    """``scenario_run(scenario, sim, profile, dt, dtype="float64") -> RunResult`` (memoised)."""

    def get(scenario: str, sim: str, profile: str, dt_ms: float, dtype: str = "float64") -> RunResult:
        key = (scenario, sim, profile, float(dt_ms), dtype)
        if key not in _CACHE:
            require(sim)
            _CACHE[key] = run_scenario(scenario, sim, profile, dt_ms, dtype=dtype)
        return _CACHE[key]

    return get


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "golden_run" in metafunc.fixturenames:
        from snnval.acceptance import golden_runs

        runs = golden_runs(metafunc.config.getoption("--sim"))
        metafunc.parametrize("golden_run", runs, ids=[f"{s}-{p}" for s, p in runs])
    if "same_semantics_pair" in metafunc.fixturenames:
        from snnval.acceptance import same_semantics_pairs

        pairs = same_semantics_pairs(metafunc.config.getoption("--sim"), partners=True)
        metafunc.parametrize("same_semantics_pair", pairs, ids=[f"{p}-{r}-vs-{c}" for p, r, c in pairs])
