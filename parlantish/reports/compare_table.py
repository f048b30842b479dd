"""The table ``parlantish compare`` prints: run B against run A, per arm, per turn and overall.

Laid out like the eval summary (no vertical rules, numbers never broken, a long arm name
folds); where one line per row does not fit the terminal (80 columns do not hold three
intervals), each interval goes under its number. Rounding happens here only: the JSON keeps
full precision.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from parlantish.eval.compare_model import Delta, GroupDelta, RunComparison, RunRef

__all__ = ["comparison_table", "print_comparison", "verdict"]

ARM_WIDTH = (9, 24)  # the arm column's narrowest and widest: a longer name folds


def _interval(low: float, high: float, sign: str = "") -> str:
    return f"[{low:{sign}.2f}, {high:{sign}.2f}]"


def _cells(label: str, delta: Delta, stacked: bool) -> tuple[str, ...]:
    gap = "\n" if stacked else " "
    a, b = delta.a, delta.b
    difference = f"{delta.difference:+.2f}"
    if delta.difference_ci is not None:
        difference += gap + _interval(*delta.difference_ci, sign="+")
    return (
        label,
        str(delta.pairs),
        f"{a.pass_rate:.2f}{gap}{_interval(*a.ci)}",
        f"{b.pass_rate:.2f}{gap}{_interval(*b.ci)}",
        difference,
        f"{delta.mcnemar.p_value:.2g}",
    )


def _rows(label: str, delta: GroupDelta, stacked: bool) -> list[tuple[str, ...]]:
    turns = [_cells(f"  turn {t.turn}", t, stacked) for t in delta.per_turn]
    return [_cells(label, delta, stacked), *turns]


def comparison_table(comparison: RunComparison, *, stacked: bool = False) -> Table:
    """Per (arm, length) group, its turns, then all arms: pairs, the pass rate of A and of B
    with Wilson intervals, B - A with its bootstrap interval, and McNemar's p. ``stacked`` puts
    each interval under its number (for narrow terminals)."""
    table = Table(title="parlantish compare: B against A", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("arm", overflow="fold", min_width=ARM_WIDTH[0], max_width=ARM_WIDTH[1])
    for column in ("pairs", "A", "B", "B-A", "p"):  # numbers never break
        table.add_column(column, justify="right", no_wrap=True)
    groups = list(comparison.arms.items())
    for index, (label, delta) in enumerate(groups):
        rows = _rows(label, delta, stacked)
        for number, row in enumerate(rows):
            last = number == len(rows) - 1 and index == len(groups) - 1
            table.add_row(*row, end_section=last)
    for row in _rows("all arms", comparison.overall, stacked):
        table.add_row(*row)
    return table


def _legend(comparison: RunComparison) -> str:
    return (
        f"[low, high]: {comparison.confidence:.0%} intervals (Wilson; B-A: bootstrap resampling "
        "scenarios, none from one scenario); p: exact McNemar test on the pairs passed in one "
        "run only"
    )


def _run_line(name: str, run: RunRef) -> str:
    about = [f"suite {run.suite}" if run.suite else None, run.model and f"model {run.model}"]
    details = ", ".join(part for part in about if part)
    return f"{name}: {run.path}" + (f" ({details})" if details else "")


def verdict(comparison: RunComparison) -> str:
    """Over all arms, in words: a difference is called one only when McNemar's p < 0.05."""
    overall = comparison.overall
    p = overall.mcnemar.p_value
    if p >= 0.05:
        how = "no significant difference"
    else:
        how = "B passes more often" if overall.difference > 0 else "B passes less often"
    return (
        f"verdict: {how} ({overall.b.pass_rate:.2f} vs {overall.a.pass_rate:.2f} over "
        f"{overall.pairs} pairs, McNemar p={p:.2g})"
    )


def _left_out(comparison: RunComparison) -> str:
    excluded = comparison.excluded
    reasons = [
        (excluded.only_in_a, "only in A"),
        (excluded.only_in_b, "only in B"),
        (excluded.errored, "with a backend error"),
        (excluded.injected, "injected turns"),
    ]
    named = [f"{count} {why}" for count, why in reasons if count]
    return f"left out: {', '.join(named)}" if named else "left out: none"


def _one_line_width(console: Console, table: Table, comparison: RunComparison) -> int:
    """The width ``table`` needs with its arm column folded to the narrowest allowed."""
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    longest = max(len(label) for label in [*comparison.arms, "all arms"])
    return natural - max(0, min(longest, ARM_WIDTH[1]) - ARM_WIDTH[0])


def print_comparison(comparison: RunComparison, console: Console | None = None) -> None:
    """Print which runs, the verdict, the table and what was left out."""
    console = console or Console()
    for line in (_run_line("A", comparison.a), _run_line("B", comparison.b)):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(verdict(comparison), highlight=False, markup=False)
    table = comparison_table(comparison)
    if _one_line_width(console, table, comparison) > console.width:
        table = comparison_table(comparison, stacked=True)
    console.print(table)
    console.print(_legend(comparison), highlight=False, markup=False)
    console.print(_left_out(comparison), highlight=False, markup=False)
