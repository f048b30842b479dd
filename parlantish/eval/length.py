"""The length analysis of one group: where along the reply its checks were first broken.

Survival and hazard per unit, the constant per-token rate e of the (1-e)^n model with its
interval, and the likelihood-ratio test of a constant rate against rates that change with
position (``parlantish.eval.stats`` holds the statistics; this module assembles them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parlantish.eval import stats
from parlantish.eval.records import SampleRecord, as_records
from parlantish.eval.report_model import CheckLength, HazardEntry, LengthAnalysis, LrBin, LrTest

__all__ = ["MAX_CURVE_POINTS", "length_analysis"]

MAX_CURVE_POINTS = 200
Records = Sequence[SampleRecord]


def _thin(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_CURVE_POINTS:
        return [(float(x), float(y)) for x, y in points]
    step = len(points) / MAX_CURVE_POINTS
    chosen = [points[int(i * step)] for i in range(MAX_CURVE_POINTS)] + [points[-1]]
    return [(float(x), float(y)) for x, y in chosen]


def _exposures(records: Records, check: str | None) -> list[stats.Exposure]:
    exposures = []
    for record in records:
        units = record.length_units
        if record.error or units is None or not units.locatable_checks or not units.tokens:
            continue
        if check is None:
            event = units.first_violation
        else:
            matching = [c for c in record.checks if c.name == check and c.locatable]
            if not matching:
                continue
            located = [c.first_violation for c in matching if c.first_violation]
            event = min(located) if located else None
        exposures.append(stats.Exposure(tuple(units.tokens), event))
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


def length_analysis(records: Sequence[SampleRecord | Mapping[str, Any]]) -> LengthAnalysis:
    """Survival, hazard, the constant-rate fit and its likelihood-ratio test for one group."""
    records = as_records(records)
    exposures = _exposures(records, None)
    fit = stats.fit_constant_rate(exposures)
    test = stats.constant_rate_lr_test(exposures)
    longest = max((x.end_token for x in exposures), default=0)
    per_check = {}
    names = sorted({c.name for r in records for c in r.checks if c.locatable})
    for name in names:
        check_exposures = _exposures(records, name)
        check_fit = stats.fit_constant_rate(check_exposures)
        per_check[name] = CheckLength(
            outputs=len(check_exposures),
            violations=check_fit.events,
            e=check_fit.e,
            e_ci=(check_fit.low, check_fit.high),
        )
    return LengthAnalysis(
        units=sorted({r.length_units.kind for r in records if r.length_units}),
        outputs=len(exposures),
        violations=fit.events,
        tokens_observed=fit.tokens,
        e=fit.e,
        e_ci=(fit.low, fit.high),
        survival=_thin(stats.kaplan_meier(exposures)),
        predicted=[(n, fit.survival(n)) for n in _grid(longest)],
        hazard=[
            HazardEntry(
                unit=p.unit,
                start_token=p.start_token,
                end_token=p.end_token,
                at_risk=p.at_risk,
                events=p.events,
                per_token=p.per_token,
            )
            for p in stats.hazard_by_unit(exposures)
        ],
        lr_test=LrTest(
            statistic=test.statistic,
            df=test.df,
            p_value=test.p_value,
            trend=test.trend,  # type: ignore[arg-type]
            bins=[
                LrBin(units=(first, last), e=f.e, events=f.events, tokens=f.tokens)
                for first, last, f in test.bins
            ],
        ),
        conclusion=_conclusion(fit, test, len(exposures)),
        per_check=per_check,
    )


def _grid(longest: float, points: int = 50) -> list[float]:
    if longest <= 0:
        return [0.0]
    return [longest * i / points for i in range(points + 1)]
