"""The summary ``parlantish eval`` and ``parlantish report`` print: a table per arm, then the
length conclusions, the arm comparisons and the thresholds in plain words."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_summary", "summary_table"]


def summary_table(report: dict[str, Any]) -> Table:
    """Per arm: samples, pass rate with its interval, pass^k at the largest k, errors, mean
    completion tokens, e per token and the p-value of the constant-rate test."""
    table = Table(title=f"parlantish: {(report['run'].get('suite') or {}).get('name')}")
    columns = ("arm", "n", "pass rate", "95% CI", "pass^k", "errors", "tokens", "e/token", "LR p")
    for column in columns:
        table.add_column(column, justify="left" if column == "arm" else "right")
    for name, arm in report["arms"].items():
        curve = arm["consistency"]["pass_hat_k"]
        length = arm["length"]
        table.add_row(
            name,
            str(arm["n"]),
            f"{arm['pass_rate']:.3f}",
            f"[{arm['ci'][0]:.2f}, {arm['ci'][1]:.2f}]",
            f"{curve[-1]:.2f} (k={len(curve)})" if curve else "-",
            str(arm["errors"]),
            f"{arm['cost'].get('completion_tokens_mean', 0):.0f}" if arm["cost"] else "-",
            f"{length['e']:.2g}" if length["outputs"] else "-",
            f"{length['lr_test']['p_value']:.2g}" if length["lr_test"]["df"] else "-",
        )
    return table


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    """Print the table and the conclusions."""
    console = console or Console()
    console.print(summary_table(report))
    for name, arm in report["arms"].items():
        console.print(
            f"length, {name}: {arm['length']['conclusion']}", highlight=False, markup=False
        )
    for c in report["comparisons"]:
        console.print(
            f"{c['arm']} vs {c['baseline']}: {c['difference']:+.3f} pass rate "
            f"(95% CI [{c['difference_ci'][0]:+.3f}, {c['difference_ci'][1]:+.3f}], "
            f"McNemar p={c['mcnemar']['p_value']:.3g}, "
            f"sign test p={c['sign_test']['p_value']:.3g})",
            highlight=False,
            markup=False,
        )
    for t in report["thresholds"]["results"]:
        mark = "ok  " if t["passed"] else "FAIL"
        console.print(
            f"threshold {mark} {t['name']} (actual {t['actual']})", highlight=False, markup=False
        )
