"""From result records to the report: every number ``report.json`` holds.

A pure function of the records (and the run's manifest when there is one), so ``parlantish
report OUT`` rebuilds exactly what ``parlantish eval`` wrote. Samples whose backend failed
(``error_kind: backend``) are counted as errors and left out of rates; samples whose output could
not be read (``error_kind: output``) are failures of the model and count as not passed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from parlantish.eval import stats

__all__ = ["REPORT_VERSION", "build_report", "length_analysis"]

REPORT_VERSION = 1
MAX_CURVE_POINTS = 200


def _r(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


def _p(value: float) -> float:
    """A p-value to 6 significant digits (tiny ones must not round to 0)."""
    return float(f"{float(value):.6g}")


def _rate(passed: int, n: int) -> dict[str, Any]:
    low, high = stats.wilson_interval(passed, n)
    return {
        "n": n,
        "passed": passed,
        "pass_rate": _r(passed / n if n else 0.0),
        "ci": [_r(low), _r(high)],
    }


def _judged(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("error_kind") != "backend"]


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _per_check(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        for check in record.get("checks", []):
            counts[check["name"]][0] += bool(check["passed"])
            counts[check["name"]][1] += 1
    return {name: _rate(passed, n) for name, (passed, n) in sorted(counts.items())}


def _ifeval(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [r for r in records if any("passed_loose" in c for c in r.get("checks", []))]
    if not scored:
        return None
    strict_prompts = loose_prompts = strict_items = loose_items = items = 0
    for record in scored:
        checks = [c for c in record["checks"] if "passed_loose" in c]
        strict = [bool(c["passed"]) for c in checks]
        loose = [bool(c["passed_loose"]) for c in checks]
        strict_prompts += all(strict)
        loose_prompts += all(loose)
        strict_items += sum(strict)
        loose_items += sum(loose)
        items += len(checks)
    return {
        "prompts": len(scored),
        "instructions": items,
        "prompt_level_strict": _r(strict_prompts / len(scored)),
        "prompt_level_loose": _r(loose_prompts / len(scored)),
        "instruction_level_strict": _r(strict_items / items) if items else 0.0,
        "instruction_level_loose": _r(loose_items / items) if items else 0.0,
    }


def _by_scenario(records: Sequence[dict[str, Any]]) -> dict[str, list[bool]]:
    outcomes: dict[str, list[bool]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r["scenario"], r["sample"])):
        outcomes[record["scenario"]].append(bool(record["passed"]))
    return dict(outcomes)


def _consistency(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    outcomes = _by_scenario(records)
    if not outcomes:
        return {"pass_hat_k": [], "agreement": None, "scenarios": 0}
    smallest = min(len(v) for v in outcomes.values())
    curves = [stats.pass_hat_k_curve(len(v), sum(v))[:smallest] for v in outcomes.values()]
    mean_curve = [_r(statistics.fmean(c[k] for c in curves)) for k in range(smallest)]
    agreement = statistics.fmean(
        stats.pairwise_agreement(len(v), sum(v)) for v in outcomes.values()
    )
    return {"pass_hat_k": mean_curve, "agreement": _r(agreement), "scenarios": len(outcomes)}


def _cost(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    prompt = [r["usage"].get("prompt_tokens", 0) for r in records]
    completion = [r["usage"].get("completion_tokens", 0) for r in records]
    latency = [float(r.get("latency_s") or 0.0) for r in records]
    if not records:
        return {}
    return {
        "prompt_tokens_mean": _r(statistics.fmean(prompt), 2),
        "completion_tokens_mean": _r(statistics.fmean(completion), 2),
        "completion_tokens_total": sum(completion),
        "latency_s_mean": _r(statistics.fmean(latency), 4),
        "latency_s_p50": _r(_percentile(latency, 0.5), 4),
        "latency_s_p95": _r(_percentile(latency, 0.95), 4),
    }


def _thin(points: Sequence[tuple[float, float]]) -> list[list[float]]:
    if len(points) <= MAX_CURVE_POINTS:
        chosen = list(points)
    else:
        step = len(points) / MAX_CURVE_POINTS
        chosen = [points[int(i * step)] for i in range(MAX_CURVE_POINTS)] + [points[-1]]
    return [[_r(x, 3), _r(y)] for x, y in chosen]


def _exposures(records: Sequence[dict[str, Any]], check: str | None) -> list[stats.Exposure]:
    exposures = []
    for record in records:
        units = record.get("length_units")
        if record.get("error") or not units or not units.get("locatable_checks"):
            continue
        tokens = tuple(int(t) for t in units["tokens"])
        if not tokens:
            continue
        if check is None:
            event = units.get("first_violation")
        else:
            matching = [c for c in record["checks"] if c["name"] == check and c.get("locatable")]
            if not matching:
                continue
            located = [c["first_violation"] for c in matching if c.get("first_violation")]
            event = min(located) if located else None
        exposures.append(stats.Exposure(tokens, event))
    return exposures


def _conclusion(fit: stats.RateFit, test: stats.LikelihoodRatioTest, outputs: int) -> str:
    if outputs == 0:
        return "no output has a check that can be located along the text"
    if fit.events == 0:
        return f"no violation in {outputs} outputs (e <= {fit.high:.2g} per token at 95%)"
    if test.df == 0:
        return (
            f"e = {fit.e:.3g} per token; too few positions observed to test whether it is constant"
        )
    if test.p_value >= 0.05:
        return (
            f"errors compound at a constant rate: not rejected (p={test.p_value:.3g}); "
            f"e = {fit.e:.3g} per token"
        )
    return f"hazard {test.trend} with position: a constant rate is rejected (p={test.p_value:.3g})"


def length_analysis(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Survival, hazard, the constant-rate fit and its likelihood-ratio test for one arm."""
    exposures = _exposures(records, None)
    fit = stats.fit_constant_rate(exposures)
    test = stats.constant_rate_lr_test(exposures)
    survival = stats.kaplan_meier(exposures)
    longest = max((x.end_token for x in exposures), default=0)
    kinds = sorted({r["length_units"]["kind"] for r in records if r.get("length_units")})
    per_check = {}
    names = sorted({c["name"] for r in records for c in r.get("checks", []) if c.get("locatable")})
    for name in names:
        check_exposures = _exposures(records, name)
        check_fit = stats.fit_constant_rate(check_exposures)
        per_check[name] = {
            "outputs": len(check_exposures),
            "violations": check_fit.events,
            "e": _r(check_fit.e, 8),
            "e_ci": [_r(check_fit.low, 8), _r(check_fit.high, 8)],
        }
    return {
        "units": kinds,
        "outputs": len(exposures),
        "violations": fit.events,
        "tokens_observed": fit.tokens,
        "e": _r(fit.e, 8),
        "e_ci": [_r(fit.low, 8), _r(fit.high, 8)],
        "survival": _thin(survival),
        "predicted": [[_r(n, 3), _r(fit.survival(n))] for n in _grid(longest)],
        "hazard": [
            {
                "unit": p.unit,
                "start_token": _r(p.start_token, 2),
                "end_token": _r(p.end_token, 2),
                "at_risk": p.at_risk,
                "events": p.events,
                "per_token": _r(p.per_token, 8),
            }
            for p in stats.hazard_by_unit(exposures)
        ],
        "lr_test": {
            "statistic": _r(test.statistic),
            "df": test.df,
            "p_value": _p(test.p_value),
            "trend": test.trend,
            "bins": [
                {"units": [first, last], "e": _r(f.e, 8), "events": f.events, "tokens": f.tokens}
                for first, last, f in test.bins
            ],
        },
        "conclusion": _conclusion(fit, test, len(exposures)),
        "per_check": per_check,
    }


def _grid(longest: float, points: int = 50) -> list[float]:
    if longest <= 0:
        return [0.0]
    return [longest * i / points for i in range(points + 1)]


def _arm_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    judged = _judged(records)
    passed = sum(1 for r in judged if r["passed"])
    summary = _rate(passed, len(judged))
    summary.update(
        samples=len(records),
        errors=len(records) - len(judged),
        output_errors=sum(1 for r in judged if r.get("error_kind") == "output"),
        per_check=_per_check(judged),
        consistency=_consistency(judged),
        cost=_cost(judged),
        length=length_analysis(judged),
    )
    ifeval = _ifeval(judged)
    if ifeval is not None:
        summary["ifeval"] = ifeval
    return summary


def _compare(
    arm: str, baseline: str, by_arm: dict[str, list[dict[str, Any]]], seed: int
) -> dict[str, Any]:
    ours = {(r["scenario"], r["sample"]): bool(r["passed"]) for r in _judged(by_arm[arm])}
    theirs = {(r["scenario"], r["sample"]): bool(r["passed"]) for r in _judged(by_arm[baseline])}
    pairs = sorted(set(ours) & set(theirs))
    only_ours = sum(1 for p in pairs if ours[p] and not theirs[p])
    only_theirs = sum(1 for p in pairs if theirs[p] and not ours[p])
    scenario_diffs = []
    for scenario in sorted({s for s, _ in pairs}):
        keys = [p for p in pairs if p[0] == scenario]
        scenario_diffs.append(
            statistics.fmean(ours[k] for k in keys) - statistics.fmean(theirs[k] for k in keys)
        )
    rate_ours = statistics.fmean(ours[p] for p in pairs) if pairs else 0.0
    rate_theirs = statistics.fmean(theirs[p] for p in pairs) if pairs else 0.0
    sign = stats.sign_test(scenario_diffs)
    low, high = stats.paired_bootstrap_ci(scenario_diffs, seed=seed) if scenario_diffs else (0, 0)
    return {
        "arm": arm,
        "baseline": baseline,
        "pairs": len(pairs),
        "scenarios": len(scenario_diffs),
        "pass_rate": _r(rate_ours),
        "baseline_pass_rate": _r(rate_theirs),
        "difference": _r(rate_ours - rate_theirs),
        "difference_ci": [_r(low), _r(high)],
        "mcnemar": {
            "only_arm_passed": only_ours,
            "only_baseline_passed": only_theirs,
            "p_value": _p(stats.mcnemar_exact(only_ours, only_theirs)),
        },
        "sign_test": {
            "better": sign.positive,
            "worse": sign.negative,
            "ties": sign.ties,
            "p_value": _p(sign.p_value),
        },
        "cohens_h": _r(stats.cohens_h(rate_ours, rate_theirs)),
    }


def _comparisons(by_arm: dict[str, list[dict[str, Any]]], seed: int) -> list[dict[str, Any]]:
    """Each non-baseline arm against each baseline arm (``direct``, ``cot``) of the same length."""
    kinds = {name: records[0].get("arm_kind", name) for name, records in by_arm.items() if records}
    result = []
    for arm, kind in kinds.items():
        for baseline, baseline_kind in kinds.items():
            same_length = arm.partition("@")[2] == baseline.partition("@")[2]
            if arm == baseline or not same_length or baseline_kind not in ("direct", "cot"):
                continue
            if kind in ("direct", "cot") and (kind, baseline_kind) != ("cot", "direct"):
                continue
            result.append(_compare(arm, baseline, by_arm, seed))
    return result


def _overhead(arms: dict[str, Any], by_arm: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    kinds = {name: records[0].get("arm_kind") for name, records in by_arm.items() if records}
    cot = [n for n, k in kinds.items() if k == "cot"]
    overhead = {}
    for name, kind in kinds.items():
        if kind != "blueprint":
            continue
        ours = arms[name]["cost"].get("completion_tokens_mean", 0.0)
        for baseline in cot:
            theirs = arms[baseline]["cost"].get("completion_tokens_mean", 0.0)
            overhead[f"{name}_vs_{baseline}"] = {
                "completion_tokens_mean": ours,
                "baseline_completion_tokens_mean": theirs,
                "ratio": _r(ours / theirs, 4) if theirs else None,
            }
    return overhead


def _scenarios(by_arm: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = defaultdict(dict)
    for arm, records in by_arm.items():
        for scenario, outcomes in _by_scenario(_judged(records)).items():
            n, c = len(outcomes), sum(outcomes)
            failed_checks: dict[str, int] = defaultdict(int)
            for r in records:
                if r["scenario"] == scenario:
                    for check in r.get("checks", []):
                        failed_checks[check["name"]] += not check["passed"]
            table[scenario][arm] = {
                "n": n,
                "passed": c,
                "pass_rate": _r(c / n if n else 0.0),
                "pass_hat_k": [_r(v) for v in stats.pass_hat_k_curve(n, c)] if n else [],
                "agreement": _r(stats.pairwise_agreement(n, c)),
                "errors": sum(
                    1
                    for r in records
                    if r["scenario"] == scenario and r.get("error_kind") == "backend"
                ),
                "failed_checks": {k: v for k, v in sorted(failed_checks.items()) if v},
                "latency_s": _r(
                    sum(
                        float(r.get("latency_s") or 0) for r in records if r["scenario"] == scenario
                    ),
                    4,
                ),
            }
        for scenario in {r["scenario"] for r in records} - set(table):
            table[scenario][arm] = {"n": 0, "passed": 0, "pass_rate": 0.0, "errors": 0}
    return {s: dict(sorted(arms.items())) for s, arms in sorted(table.items())}


def _thresholds(
    thresholds: dict[str, Any], arms: dict[str, Any], comparisons: list[dict[str, Any]]
) -> dict[str, Any]:
    results = []
    for arm, minimum in (thresholds.get("pass_rate") or {}).items():
        actual = arms.get(arm, {}).get("pass_rate")
        results.append(
            {
                "name": f"pass_rate[{arm}] >= {minimum}",
                "passed": actual is not None and actual >= minimum,
                "actual": actual,
            }
        )
    for rule in thresholds.get("improvement") or []:
        match = [
            c for c in comparisons if c["arm"] == rule["arm"] and c["baseline"] == rule["over"]
        ]
        actual = match[0]["difference"] if match else None
        results.append(
            {
                "name": f"{rule['arm']} - {rule['over']} >= {rule.get('by', 0.0)}",
                "passed": actual is not None and actual >= rule.get("by", 0.0),
                "actual": actual,
            }
        )
    errors = sum(a.get("errors", 0) for a in arms.values())
    if errors:
        results.append({"name": "no backend errors", "passed": False, "actual": errors})
    return {
        "results": results,
        "passed": all(r["passed"] for r in results),
        "case_pass_rate": thresholds.get("case_pass_rate", 1.0),
    }


def build_report(
    records: Sequence[dict[str, Any]], manifest: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The report of a run: per arm (pass rate with Wilson interval, per-check rates, IFEval
    accuracies, pass^k, cost, length analysis), per scenario, arm comparisons, overhead and
    thresholds. Arms appear in the order of the manifest (or of the records)."""
    manifest = dict(manifest or {})
    by_arm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_arm[record["arm"]].append(record)
    order = [a for a in _arm_order(manifest, records) if a in by_arm]
    by_arm = {name: by_arm[name] for name in order}
    arms = {name: _arm_summary(rs) for name, rs in by_arm.items()}
    seed = int(manifest.get("seed") or 0)
    comparisons = _comparisons(by_arm, seed)
    if not manifest:
        first = records[0] if records else {}
        manifest = {"suite": {"name": first.get("suite")}, "backend": first.get("backend")}
    return {
        "report_version": REPORT_VERSION,
        "run": manifest,
        "samples": len(records),
        "arms": arms,
        "comparisons": comparisons,
        "overhead": _overhead(arms, by_arm),
        "scenarios": _scenarios(by_arm),
        "thresholds": _thresholds(manifest.get("thresholds") or {}, arms, comparisons),
    }


def _arm_order(manifest: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for record in records:
        if record["arm"] not in seen:
            seen.append(record["arm"])
    declared = [a["name"] for a in manifest.get("arms", []) if isinstance(a, dict)]
    ordered = [name for base in declared for name in seen if name.partition("@")[0] == base]
    return ordered + [name for name in seen if name not in ordered]
