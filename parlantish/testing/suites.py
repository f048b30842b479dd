"""Suite files as pytest items: one item per scenario, arm (and length), named
``scenario[arm]``, so ``-k``, markers and ``--junitxml`` work as for any test.

An item samples like ``parlantish eval`` (the suite's sampling, seeds and checks) and decides
with the sequential test against the arm's ``thresholds.pass_rate`` (else
``thresholds.case_pass_rate``), at most ``samples`` samples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from parlantish.compiler import compile_plan
from parlantish.errors import ParlantishError
from parlantish.eval import LoadedSuite, load_suite
from parlantish.eval.scenario import LoadedScenario
from parlantish.eval.sequential import SequentialPlan
from parlantish.eval.suite import ArmSpec
from parlantish.testing.api import ConsistencyError, run_blocking, run_consistency
from parlantish.testing.sampling import sample_seed
from parlantish.testing.settings import active

__all__ = ["SUITE_MARGIN", "SuiteCollector", "SuiteItem", "is_suite_file"]

#: The sequential test's margin below a suite's threshold (suite files do not set one).
SUITE_MARGIN = 0.1
_SUITE_KEY = re.compile(r"^suite\s*:", re.MULTILINE)


def is_suite_file(path: Path, given: bool) -> bool:
    """``*.suite.yaml`` files, and YAML/JSON files given on the command line that are suites."""
    name = path.name.lower()
    if name.endswith((".suite.yaml", ".suite.yml")):
        return True
    if not given or path.suffix.lower() not in (".yaml", ".yml", ".json"):
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError:
        return False
    return bool(_SUITE_KEY.search(head) or '"suite"' in head)


class SuiteCollector(pytest.File):
    """A suite file: loaded (located errors are collection errors), then one item per
    scenario × length × arm."""

    def collect(self) -> Any:
        try:
            suite = load_suite(self.path)
        except ParlantishError as e:
            raise self.CollectError(f"{self.path}: {e}") from e
        lengths: list[int | None] = list(suite.spec.lengths) if suite.spec.lengths else [None]
        for scenario in suite.scenarios:
            for length in lengths:
                for arm in suite.arms:
                    label = arm.name if length is None else f"{arm.name}@{length}"
                    yield SuiteItem.from_parent(
                        self,
                        name=f"{scenario.id}[{label}]",
                        suite=suite,
                        scenario=scenario,
                        arm=arm,
                        length=length,
                    )


class SuiteItem(pytest.Item):
    """One scenario × arm (× length) of a suite, decided by the sequential test."""

    def __init__(
        self,
        *,
        suite: LoadedSuite,
        scenario: LoadedScenario,
        arm: ArmSpec,
        length: int | None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.suite = suite
        self.scenario = scenario
        self.arm = arm
        self.length = length
        self.add_marker("parlantish")
        self.result: Any = None

    def runtest(self) -> None:
        settings = active()
        spec = self.suite.spec
        blueprint = self.suite.arm_blueprints.get(self.arm.name, self.scenario.blueprint)
        plan = compile_plan(
            blueprint, self.scenario.variables, self.scenario.messages, arm=self.arm.kind
        )
        sampling = spec.sampling.settings(
            max_tokens=self.length or plan.budget(spec.sampling.max_tokens), seed=None
        )
        maximum = settings.samples or spec.samples
        seed = spec.seed if settings.seed is None else settings.seed
        threshold = spec.thresholds.pass_rate.get(self.arm.name, spec.thresholds.case_pass_rate)
        sequential = SequentialPlan.for_threshold(threshold, SUITE_MARGIN, 0.95, maximum)
        seeds = [sample_seed(seed, self.scenario.id, self.length, n) for n in range(maximum)]
        self.result = run_blocking(
            run_consistency(
                plan,
                settings.resolve(),
                sampling,
                self.scenario.checks,
                sequential,
                seeds,
                seed=seed,
                label=self.name,
                concurrency=min(spec.concurrency, 8),
            )
        )
        self.user_properties.append(("samples_used", self.result.samples_used))
        self.user_properties.append(("pass_rate", round(self.result.pass_rate, 4)))
        if not self.result.passed:
            raise ConsistencyError(self.result)

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, ConsistencyError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"suite {self.suite.name}: {self.name}"
