"""The summary ``parlantish eval`` and ``parlantish report`` print: the verdict first, a table
per arm, then the length conclusions, the arm comparisons and the thresholds in plain words.

The table is laid out for an 80-column terminal (no vertical rules, the interval beside the
rate, k in the header) and folds a cell that does not fit rather than cutting it.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from parlantish.reports.numbers import number

__all__ = ["print_summary", "summary_table", "verdict"]


def verdict(report: dict[str, Any]) -> str:
    """Whether the thresholds held, then how the blueprint arm (else the first compared arm)
    did against each baseline: a difference is called one only when McNemar's p < 0.05."""
    failed = [t["name"] for t in report["thresholds"]["results"] if not t["passed"]]
    lines = [
        f"verdict: thresholds FAILED ({', '.join(failed)})"
        if failed
        else "verdict: thresholds passed"
    ]
    comparisons = report["comparisons"]
    chosen = [c for c in comparisons if c["arm"] == "blueprint"] or comparisons[:1]
    for c in chosen:
        p = c["mcnemar"]["p_value"]
        if p >= 0.05:
            how = "no significant difference"
        else:
            how = "passes more often" if c["difference"] > 0 else "passes less often"
        lines.append(
            f"  {c['arm']} vs {c['baseline']}: {how} "
            f"({c['pass_rate']:.2f} vs {c['baseline_pass_rate']:.2f}, McNemar p={p:.2g})"
        )
    return "\n".join(lines)


def _pass_k_header(report: dict[str, Any]) -> str:
    ks = {len(arm["consistency"]["pass_hat_k"]) for arm in report["arms"].values()}
    ks.discard(0)
    return f"pass^{ks.pop()}" if len(ks) == 1 else "pass^k"


def summary_table(report: dict[str, Any]) -> Table:
    """Per arm: samples, pass rate with its 95% interval, pass^k at the largest k, errors, mean
    completion tokens, e per token and the p-value of the constant-rate test."""
    table = Table(
        title=f"parlantish: {(report['run'].get('suite') or {}).get('name')}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,  # one space each side of a divider: 8 columns fit in 80
    )
    pass_k = _pass_k_header(report)
    uniform_k = pass_k != "pass^k"
    columns = ("arm", "n", "pass rate (95% CI)", pass_k, "errors", "tokens", "e/token", "LR p")
    for column in columns:
        if column == "arm":  # a long arm name folds; numbers never break
            table.add_column(column, overflow="fold", min_width=9)
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for name, arm in report["arms"].items():
        curve = arm["consistency"]["pass_hat_k"]
        length = arm["length"]
        if not curve:
            at_k = "-"
        else:
            at_k = f"{curve[-1]:.2f}" + ("" if uniform_k else f" (k={len(curve)})")
        table.add_row(
            name,
            str(arm["n"]),
            f"{arm['pass_rate']:.2f} [{arm['ci'][0]:.2f}, {arm['ci'][1]:.2f}]",
            at_k,
            str(arm["errors"]),
            f"{arm['cost'].get('completion_tokens_mean', 0):.0f}" if arm["cost"] else "-",
            f"{length['e']:.2g}" if length["outputs"] else "-",
            f"{length['lr_test']['p_value']:.2g}" if length["lr_test"]["df"] else "-",
        )
    return table


def print_summary(report: dict[str, Any], console: Console | None = None) -> None:
    """Print the verdict, the table and the conclusions."""
    console = console or Console()
    console.print(verdict(report), highlight=False, markup=False)
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
    for line in throughput_lines(report):
        console.print(line, highlight=False, markup=False)
    for t in report["thresholds"]["results"]:
        mark = "ok  " if t["passed"] else "FAIL"
        console.print(
            f"threshold {mark} {t['name']} (actual {number(t['actual'])})",
            highlight=False,
            markup=False,
        )


def throughput_lines(report: dict[str, Any]) -> list[str]:
    """A cluster run's throughput, per replica and in all (nothing for a local run)."""
    replicas = report.get("replicas") or []
    total = report.get("throughput")
    if not replicas or not total:
        return []

    def rate(entry: dict[str, Any]) -> str:
        speed = entry["tokens_per_s"]
        per_s = f"{speed:.1f} tok/s" if speed is not None else "under a second"
        return f"{entry['records']} rows, {entry['completion_tokens']} tokens, {per_s}"

    lines = [f"replica {r['replica']}: {rate(r)}" for r in replicas]
    return [*lines, f"run total: {rate(total)}"]
