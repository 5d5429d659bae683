"""pytest options and shared fixtures for the validation suite and the library's unit tests.

Options: ``--sim NAME`` (repeatable; default: every registered adapter), ``--tier quick|nightly``,
``--golden check|update``, ``--checkpoint PATH`` (the trained model for the accuracy tier).
Tests that take a ``sim`` argument run once per selected adapter (Brian2-style: one suite, many
targets); an adapter that is not available here is skipped with its reason.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYNEST_QUIET", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from snnval.adapters import adapter_names, get_adapter  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("snnval")
    group.addoption("--sim", action="append", default=None, help="adapter to validate (repeatable)")
    group.addoption(
        "--tier",
        choices=("quick", "nightly"),
        default="quick",
        help="quick (CI default) or nightly (everything, incl. the whole held-out set)",
    )
    group.addoption(
        "--golden",
        choices=("check", "update"),
        default="check",
        help="check against references/*.h5, or regenerate them atomically and print what changed",
    )
    group.addoption("--checkpoint", default=None, help="trained model (.h5) for the accuracy tier")


#: Fixtures through which a test runs once per selected adapter (``--sim``); such tests get the marker
#: ``per_adapter``, so ``pytest validation -m per_adapter --sim NAME`` runs exactly a new adapter's checks.
PER_ADAPTER_FIXTURES = frozenset({"sim", "golden_run", "same_semantics_pair"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nightly: slow checks run with --tier nightly")
    config.addinivalue_line("markers", "per_adapter: parametrised over the adapters selected with --sim")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if PER_ADAPTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.per_adapter)
    if config.getoption("--tier") == "nightly":
        return
    skip = pytest.mark.skip(reason="nightly tier: run with --tier nightly")
    for item in items:
        if item.get_closest_marker("nightly"):
            item.add_marker(skip)


def selected_sims(config: pytest.Config) -> list[str]:
    return config.getoption("--sim") or adapter_names()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sim" in metafunc.fixturenames:
        metafunc.parametrize("sim", selected_sims(metafunc.config), indirect=True)


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> str:
    name = request.param
    avail = get_adapter(name).availability()
    if not avail.available:
        pytest.skip(f"adapter '{name}' is not available here: {avail.reason}")
    return name


@pytest.fixture(scope="session")
def tier(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--tier")


@pytest.fixture(scope="session")
def golden_mode(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--golden")


@pytest.fixture(scope="session")
def checkpoint_path(request: pytest.FixtureRequest):
    return request.config.getoption("--checkpoint")
