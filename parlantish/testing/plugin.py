"""The pytest plugin (entry point ``pytest11: parlantish``): options, fixtures, suite files as
items, and record/replay of every generation.

Options: ``--parlantish-backend SPEC`` (``embedded``, a vLLM server URL, ``scripted``),
``--parlantish-samples N`` (the most samples any consistency test draws),
``--parlantish-seed S``, ``--parlantish-record DIR`` and ``--parlantish-replay DIR`` (no model;
a missing recording fails the test that needed it). Under pytest-xdist every worker is its own
process with its own backend; give a server URL to have them share one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parlantish.backends import Backend
from parlantish.checks.judge import judge_backends
from parlantish.runtime import Guard
from parlantish.testing.settings import RunSettings, activate, active
from parlantish.testing.suites import SuiteCollector, is_suite_file

__all__ = ["guard", "parlantish_backend", "parlantish_settings"]

_PREVIOUS = pytest.StashKey[tuple[RunSettings, Any]]()
_MISSES = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parlantish", "parlantish consistency tests")
    group.addoption(
        "--parlantish-backend",
        metavar="SPEC",
        help="backend of consistency tests: embedded, http://host:port/v1, scripted "
        "(default: $PARLANTISH_BACKEND or embedded)",
    )
    group.addoption(
        "--parlantish-samples", type=int, metavar="N", help="the most samples any test draws"
    )
    group.addoption("--parlantish-seed", type=int, metavar="S", help="base seed of the samples")
    group.addoption(
        "--parlantish-record", metavar="DIR", help="store every generation in DIR by request hash"
    )
    group.addoption(
        "--parlantish-replay",
        metavar="DIR",
        help="answer every generation from DIR (no model; a missing one fails its test)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "parlantish: a consistency test from a suite file")
    option = config.getoption
    record, replay = option("parlantish_record"), option("parlantish_replay")
    if record and replay:
        raise pytest.UsageError("--parlantish-record and --parlantish-replay exclude each other")
    samples = option("parlantish_samples")
    if samples is not None and samples < 1:
        raise pytest.UsageError("--parlantish-samples must be at least 1")
    settings = RunSettings(
        samples=samples,
        seed=option("parlantish_seed"),
        record=Path(record) if record else None,
        replay=Path(replay) if replay else None,
    )
    if option("parlantish_backend"):
        settings.backend = option("parlantish_backend")
    # Judges call their own backends: routed through the recordings when recording or
    # replaying, left alone otherwise.
    routed = settings.resolve if record or replay else None
    config.stash[_PREVIOUS] = (activate(settings), judge_backends(routed))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PREVIOUS not in config.stash:
        return
    active().close()
    settings, resolver = config.stash[_PREVIOUS]
    activate(settings)
    judge_backends(resolver)


def pytest_report_header(config: pytest.Config) -> str:
    settings = active()
    mode = (
        f"replay {settings.replay}"
        if settings.replay
        else f"record {settings.record}"
        if settings.record
        else "live"
    )
    samples = settings.samples or "per test"
    return f"parlantish: backend {settings.backend}, samples {samples}, {mode}"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_suite_file(file_path, parent.session.isinitpath(file_path)):
        return SuiteCollector.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    settings = active()
    settings.current_test = item.nodeid
    replayer = settings.replayer
    item.stash[_MISSES] = len(replayer.misses) if replayer is not None else 0
    try:
        return (yield)
    finally:
        settings.current_test = ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    replayer = active().replayer
    if call.when == "call" and report.passed and replayer is not None:
        missed = replayer.misses[item.stash.get(_MISSES, 0) :]
        if missed:  # a test that caught the error still fails: replays never go live
            report.outcome = "failed"
            lines = [f"no recording for test {test}: request key {key}" for test, key in missed]
            more = f"\n… and {len(lines) - 3} more" if len(lines) > 3 else ""
            report.longrepr = "\n".join(lines[:3]) + more
    return report


@pytest.fixture(scope="session")
def parlantish_settings() -> RunSettings:
    """The run's settings (backend spec, samples, seed, record or replay folder)."""
    return active()


@pytest.fixture(scope="session")
def parlantish_backend(parlantish_settings: RunSettings) -> Iterator[Backend]:
    """One backend for the whole run (recording or replaying as the options say), closed at
    the end of the session."""
    yield parlantish_settings.resolve()
    parlantish_settings.close()


@pytest.fixture
def guard(parlantish_backend: Backend) -> Callable[..., Guard]:
    """A factory of Guards on the run's backend: ``guard("blueprints/x.yaml", retries=1)``."""

    def make(blueprint: Any, **options: Any) -> Guard:
        backend = options.pop("backend", None)
        chosen = parlantish_backend if backend is None else active().resolve(backend)
        return Guard(blueprint, chosen, **options)

    return make
