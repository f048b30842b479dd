"""From result records to the report: every number ``report.json`` holds, at full precision.

A pure function of the records (and the run's manifest when there is one), so ``parlantish
report OUT`` rebuilds exactly what ``parlantish eval`` wrote. Samples are grouped by (arm,
length). Samples whose backend failed (``error_kind: backend``) are counted as errors and left
out of rates; samples whose output was cut or malformed are failures of the model and count as
not passed. Nothing here rounds: renderers round what they show.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from parlantish.checks.text import DegenerationParams, not_degenerate
from parlantish.errors import UserError
from parlantish.eval import stats
from parlantish.eval.length import length_analysis
from parlantish.eval.records import ArmGroup, SampleRecord, as_records, first_validation_error
from parlantish.eval.report_model import (
    REPORT_SCHEMA_VERSION,
    ArmSummary,
    Comparison,
    Consistency,
    Cost,
    IfevalScores,
    McNemar,
    Overhead,
    Rate,
    Report,
    RunInfo,
    ScenarioCell,
    SignTest,
    ThresholdResult,
    ThresholdsOutcome,
)
from parlantish.eval.suite import Thresholds
from parlantish.eval.throughput import replica_throughput, run_throughput
from parlantish.eval.turns import per_turn, recovery

__all__ = ["REPORT_VERSION", "as_records", "build_report", "length_analysis", "per_turn"]

REPORT_VERSION = REPORT_SCHEMA_VERSION
BASELINE_KINDS = ("direct", "cot")
OUTPUT_ERRORS = ("cut", "malformed")

Records = Sequence[SampleRecord]


def _rate(passed: int, n: int) -> Rate:
    low, high = stats.wilson_interval(passed, n)
    return Rate(n=n, passed=passed, pass_rate=passed / n if n else 0.0, ci=(low, high))


def _judged(records: Iterable[SampleRecord]) -> list[SampleRecord]:
    """The records with a verdict: not backend errors, not injected turns."""
    return [r for r in records if r.error_kind != "backend" and not r.injected]


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _per_check(records: Records) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        for check in record.checks:
            counts[check.name][0] += check.passed
            counts[check.name][1] += 1
    return {name: _rate(passed, n) for name, (passed, n) in sorted(counts.items())}


def _per_tier(records: Records) -> dict[str, Rate]:
    """Check verdicts pooled by how the plan held each check."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        for check in record.checks:
            counts[check.tier][0] += check.passed
            counts[check.tier][1] += 1
    return {tier: _rate(passed, n) for tier, (passed, n) in sorted(counts.items())}


def _enforced_broken(records: Records) -> int:
    return sum(1 for r in records for c in r.checks if c.tier == "enforced" and not c.passed)


def _ifeval(records: Records) -> IfevalScores | None:
    scored = [r for r in records if any(c.passed_loose is not None for c in r.checks)]
    if not scored:
        return None
    strict_prompts = loose_prompts = strict_items = loose_items = items = 0
    for record in scored:
        checks = [c for c in record.checks if c.passed_loose is not None]
        strict = [c.passed for c in checks]
        loose = [bool(c.passed_loose) for c in checks]
        strict_prompts += all(strict)
        loose_prompts += all(loose)
        strict_items += sum(strict)
        loose_items += sum(loose)
        items += len(checks)
    return IfevalScores(
        prompts=len(scored),
        instructions=items,
        prompt_level_strict=strict_prompts / len(scored),
        prompt_level_loose=loose_prompts / len(scored),
        instruction_level_strict=strict_items / items if items else 0.0,
        instruction_level_loose=loose_items / items if items else 0.0,
    )


def _by_scenario(records: Records) -> dict[str, list[bool]]:
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.scenario, r.sample)):
        outcomes[record.scenario].append(record.passed)
    return dict(outcomes)


def _consistency(records: Records) -> Consistency:
    outcomes = _by_scenario(records)
    if not outcomes:
        return Consistency(pass_hat_k=[], agreement=None, scenarios=0)
    smallest = min(len(v) for v in outcomes.values())
    curves = [stats.pass_hat_k_curve(len(v), sum(v))[:smallest] for v in outcomes.values()]
    mean_curve = [statistics.fmean(c[k] for c in curves) for k in range(smallest)]
    agreement = statistics.fmean(
        stats.pairwise_agreement(len(v), sum(v)) for v in outcomes.values()
    )
    return Consistency(pass_hat_k=mean_curve, agreement=agreement, scenarios=len(outcomes))


def _cost(records: Records) -> Cost | None:
    if not records:
        return None
    completion = [r.usage.completion_tokens for r in records]
    latency = [r.latency_s for r in records]
    return Cost(
        prompt_tokens_mean=statistics.fmean(r.usage.prompt_tokens for r in records),
        completion_tokens_mean=statistics.fmean(completion),
        completion_tokens_total=sum(completion),
        latency_s_mean=statistics.fmean(latency),
        latency_s_p50=_percentile(latency, 0.5),
        latency_s_p95=_percentile(latency, 0.95),
    )


def _arm_summary(group: ArmGroup, records: Records) -> ArmSummary:
    judged = _judged(records)
    rate = _rate(sum(1 for r in judged if r.passed), len(judged))
    return ArmSummary(
        group=group,
        **dict(rate),
        samples=len(records),
        errors=sum(1 for r in records if r.error_kind == "backend"),
        output_errors=sum(1 for r in judged if r.error_kind in OUTPUT_ERRORS),
        per_check=_per_check(judged),
        per_tier=_per_tier(judged),
        enforced_broken=_enforced_broken(judged),
        consistency=_consistency(judged),
        cost=_cost(judged),
        length=length_analysis(judged),
        ifeval=_ifeval(judged),
        per_turn=per_turn(judged),
        recovery=recovery(records),
        degenerate=sum(1 for r in judged if _loops(r.text)),
    )


def _loops(text: str) -> bool:
    """Whether a reply loops, by the ``not_degenerate`` check with its defaults."""
    verdict = not_degenerate(text, DegenerationParams())
    return not (verdict[0] if isinstance(verdict, tuple) else verdict)


def _compare(
    ours_records: Records, theirs_records: Records, group: ArmGroup, baseline: str, seed: int
) -> Comparison:
    ours = {(r.scenario, r.sample, r.turn): r.passed for r in _judged(ours_records)}
    theirs = {(r.scenario, r.sample, r.turn): r.passed for r in _judged(theirs_records)}
    pairs = sorted(set(ours) & set(theirs))
    only_ours = sum(1 for p in pairs if ours[p] and not theirs[p])
    only_theirs = sum(1 for p in pairs if theirs[p] and not ours[p])
    scenario_diffs = []
    for scenario in sorted({p[0] for p in pairs}):
        keys = [p for p in pairs if p[0] == scenario]
        scenario_diffs.append(
            statistics.fmean(ours[k] for k in keys) - statistics.fmean(theirs[k] for k in keys)
        )
    rate_ours = statistics.fmean(ours[p] for p in pairs) if pairs else 0.0
    rate_theirs = statistics.fmean(theirs[p] for p in pairs) if pairs else 0.0
    sign = stats.sign_test(scenario_diffs)
    low, high = (
        stats.paired_bootstrap_ci(scenario_diffs, seed=seed) if scenario_diffs else (0.0, 0.0)
    )
    return Comparison(
        arm=group.arm,
        baseline=baseline,
        length=group.length,
        pairs=len(pairs),
        scenarios=len(scenario_diffs),
        pass_rate=rate_ours,
        baseline_pass_rate=rate_theirs,
        difference=rate_ours - rate_theirs,
        difference_ci=(low, high),
        mcnemar=McNemar(
            only_arm_passed=only_ours,
            only_baseline_passed=only_theirs,
            p_value=stats.mcnemar_exact(only_ours, only_theirs),
        ),
        sign_test=SignTest(
            better=sign.positive, worse=sign.negative, ties=sign.ties, p_value=sign.p_value
        ),
        cohens_h=stats.cohens_h(rate_ours, rate_theirs),
    )


def _kinds(by_group: dict[ArmGroup, list[SampleRecord]]) -> dict[ArmGroup, str]:
    return {group: records[0].arm_kind for group, records in by_group.items() if records}


def _comparisons(by_group: dict[ArmGroup, list[SampleRecord]], seed: int) -> list[Comparison]:
    """Each non-baseline arm against each baseline arm (``direct``, ``cot``) of the same length;
    ``cot`` against ``direct``."""
    kinds = _kinds(by_group)
    result = []
    for group, kind in kinds.items():
        for baseline, baseline_kind in kinds.items():
            if group == baseline or group.length != baseline.length:
                continue
            if baseline_kind not in BASELINE_KINDS:
                continue
            if kind in BASELINE_KINDS and (kind, baseline_kind) != ("cot", "direct"):
                continue
            result.append(_compare(by_group[group], by_group[baseline], group, baseline.arm, seed))
    return result


def _overhead(arms: dict[ArmGroup, ArmSummary], kinds: dict[ArmGroup, str]) -> dict[str, Overhead]:
    """Completion tokens of each blueprint arm against each ``cot`` arm of the same length."""
    cot = [g for g, k in kinds.items() if k == "cot"]
    overhead = {}
    for group, kind in kinds.items():
        if kind != "blueprint":
            continue
        ours = arms[group].cost
        for baseline in (b for b in cot if b.length == group.length):
            theirs = arms[baseline].cost
            mean = ours.completion_tokens_mean if ours else 0.0
            baseline_mean = theirs.completion_tokens_mean if theirs else 0.0
            overhead[f"{group.label}_vs_{baseline.label}"] = Overhead(
                arm=group.arm,
                baseline=baseline.arm,
                length=group.length,
                completion_tokens_mean=mean,
                baseline_completion_tokens_mean=baseline_mean,
                ratio=mean / baseline_mean if baseline_mean else None,
            )
    return overhead


def _scenario_cell(records: Records) -> ScenarioCell:
    outcomes = [r.passed for r in sorted(_judged(records), key=lambda r: r.sample)]
    n, c = len(outcomes), sum(outcomes)
    failed_checks: dict[str, int] = defaultdict(int)
    for r in records:
        for check in r.checks:
            failed_checks[check.name] += not check.passed
    return ScenarioCell(
        n=n,
        passed=c,
        pass_rate=c / n if n else 0.0,
        pass_hat_k=stats.pass_hat_k_curve(n, c) if n else [],
        agreement=stats.pairwise_agreement(n, c) if n else None,
        errors=sum(1 for r in records if r.error_kind == "backend"),
        failed_checks={k: v for k, v in sorted(failed_checks.items()) if v},
        latency_s=sum(r.latency_s for r in records),
    )


def _scenarios(by_group: dict[ArmGroup, list[SampleRecord]]) -> dict[str, dict[str, ScenarioCell]]:
    table: dict[str, dict[str, ScenarioCell]] = defaultdict(dict)
    for group, records in by_group.items():
        by_scenario: dict[str, list[SampleRecord]] = defaultdict(list)
        for r in records:
            by_scenario[r.scenario].append(r)
        for scenario, rs in by_scenario.items():
            table[scenario][group.label] = _scenario_cell(rs)
    return {s: dict(sorted(cells.items())) for s, cells in sorted(table.items())}


def _thresholds(
    thresholds: Thresholds, arms: dict[ArmGroup, ArmSummary], comparisons: list[Comparison]
) -> ThresholdsOutcome:
    """A threshold on an arm name holds for every length of that arm (a group's label names
    one length)."""
    results = []
    for name, minimum in thresholds.pass_rate.items():
        groups = [g for g in arms if name in (g.arm, g.label)] or [ArmGroup(arm=name)]
        for group in groups:
            actual = arms[group].pass_rate if group in arms else None
            results.append(
                ThresholdResult(
                    name=f"pass_rate[{group.label}] >= {minimum}",
                    passed=actual is not None and actual >= minimum,
                    actual=actual,
                )
            )
    for rule in thresholds.improvement:
        matches = [c for c in comparisons if c.arm == rule.arm and c.baseline == rule.over]
        found: list[tuple[int | None, float | None]] = [(c.length, c.difference) for c in matches]
        for length, actual in found or [(None, None)]:
            arm = ArmGroup(arm=rule.arm, length=length)
            over = ArmGroup(arm=rule.over, length=length)
            results.append(
                ThresholdResult(
                    name=f"{arm.label} - {over.label} >= {rule.by}",
                    passed=actual is not None and actual >= rule.by,
                    actual=actual,
                )
            )
    errors = sum(a.errors for a in arms.values())
    if errors:
        results.append(ThresholdResult(name="no backend errors", passed=False, actual=errors))
    return ThresholdsOutcome(
        results=results,
        passed=all(r.passed for r in results),
        case_pass_rate=thresholds.case_pass_rate,
    )


def build_report(
    records: Sequence[SampleRecord | Mapping[str, Any]], manifest: Mapping[str, Any] | None = None
) -> Report:
    """The report of a run: per (arm, length) group (pass rate with Wilson interval, per-check
    rates, IFEval accuracies, pass^k, cost, length analysis), per scenario, arm comparisons,
    overhead and thresholds. Arms appear in the order of the manifest (or of the records)."""
    rows = as_records(records)
    by_group: dict[ArmGroup, list[SampleRecord]] = defaultdict(list)
    for record in rows:
        by_group[record.group].append(record)
    by_group = {group: by_group[group] for group in _group_order(manifest or {}, rows)}
    arms = {group: _arm_summary(group, rs) for group, rs in by_group.items()}
    try:
        run = RunInfo.model_validate(dict(manifest or {}))
        thresholds = Thresholds.model_validate(run.thresholds)
    except ValidationError as e:
        raise UserError(
            f"the run's manifest (run.json) is not readable: {first_validation_error(e)}",
            hint="run.json is written by `parlantish eval`",
        ) from e
    if rows:  # a run without run.json (or an older one) is named by its records
        run.suite.name = run.suite.name or rows[0].suite
        run.backend = run.backend or rows[0].backend
    comparisons = _comparisons(by_group, run.seed or 0)
    return Report(
        run=run,
        samples=len(rows),
        arms={group.label: summary for group, summary in arms.items()},
        comparisons=comparisons,
        overhead=_overhead(arms, _kinds(by_group)),
        scenarios=_scenarios(by_group),
        thresholds=_thresholds(thresholds, arms, comparisons),
        throughput=run_throughput(rows),
        replicas=replica_throughput(rows),
    )


def _group_order(manifest: Mapping[str, Any], records: Records) -> list[ArmGroup]:
    seen: list[ArmGroup] = []
    for record in records:
        if record.group not in seen:
            seen.append(record.group)
    declared = [a["name"] for a in manifest.get("arms", []) if isinstance(a, dict)]
    ordered = [group for name in declared for group in seen if group.arm == name]
    return ordered + [group for group in seen if group not in ordered]
