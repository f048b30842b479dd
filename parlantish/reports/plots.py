"""The report's figures, drawn with matplotlib and embedded in the HTML as SVG text.

Drawing is deterministic (fixed SVG ids, no date in the metadata), so rebuilding a report from the
same results gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from parlantish.eval.report_model import ArmSummary, Report

__all__ = ["figures"]

MAX_CHECK_BARS = 25


def _svg(draw: Callable[[Axes], None], width: float = 7.0, height: float = 3.6) -> str:
    with matplotlib.rc_context({"svg.hashsalt": "parlantish", "svg.fonttype": "none"}):
        figure, axes = plt.subplots(figsize=(width, height))
        try:
            draw(axes)
            figure.tight_layout()
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        finally:
            plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _legend(ax: Axes, **options: str) -> None:
    if ax.get_legend_handles_labels()[0]:  # no empty legend box (and no warning)
        ax.legend(**options)


def _pass_rates(arms: dict[str, ArmSummary]) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        names = list(arms)
        rates = [arms[n].pass_rate for n in names]
        low = [arms[n].pass_rate - arms[n].ci[0] for n in names]
        high = [arms[n].ci[1] - arms[n].pass_rate for n in names]
        ax.bar(names, rates, yerr=[low, high], capsize=6, color="#4c72b0")
        ax.set_ylim(0, 1)
        ax.set_ylabel("pass rate (95% Wilson CI)")
        ax.set_title("Samples passing every check")

    return draw


def _pass_hat_k(arms: dict[str, ArmSummary]) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        for name, arm in arms.items():
            curve = arm.consistency.pass_hat_k
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, marker="o", label=name)
        ax.set_ylim(0, 1)
        ax.set_xlabel("k")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("pass^k (mean over scenarios)")
        ax.set_title("Probability that k samples all pass")
        _legend(ax)

    return draw


def _survival(arms: dict[str, ArmSummary]) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        for index, (name, arm) in enumerate(arms.items()):
            length = arm.length
            color = f"C{index}"
            if length.survival:
                xs, ys = zip(*length.survival, strict=True)
                ax.step(xs, ys, where="post", color=color, label=f"{name} (Kaplan–Meier)")
            if length.predicted and length.violations:
                xs, ys = zip(*length.predicted, strict=True)
                ax.plot(
                    xs,
                    ys,
                    linestyle="--",
                    color=color,
                    label=f"{name} (1-e)^n, e={length.e:.2g}",
                )
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("tokens n")
        ax.set_ylabel("S(n) = P(no violation in first n)")
        ax.set_title("Survival of the instructions along the output")
        _legend(ax, fontsize="small")

    return draw


def _hazard(arms: dict[str, ArmSummary]) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        for index, (name, arm) in enumerate(arms.items()):
            points = arm.length.hazard
            if points:
                xs = [(p.start_token + p.end_token) / 2 for p in points]
                ys = [p.per_token for p in points]
                ax.plot(xs, ys, marker="o", color=f"C{index}", label=name)
            if arm.length.violations:
                ax.axhline(arm.length.e, color=f"C{index}", linestyle="--", linewidth=0.8)
        ax.set_xlabel("token position (unit midpoint)")
        ax.set_ylabel("per-token hazard")
        ax.set_title("Hazard by position (dashed: constant-rate fit)")
        _legend(ax, fontsize="small")

    return draw


def _per_check(arms: dict[str, ArmSummary]) -> Callable[[Axes], None]:
    names = sorted({c for arm in arms.values() for c in arm.per_check})[:MAX_CHECK_BARS]

    def draw(ax: Axes) -> None:
        width = 0.8 / max(len(arms), 1)
        for index, (arm_name, arm) in enumerate(arms.items()):
            ys = [arm.per_check[n].pass_rate if n in arm.per_check else 0.0 for n in names]
            ax.barh(
                [i + index * width for i in range(len(names))], ys, height=width, label=arm_name
            )
        ax.set_yticks([i + 0.4 - width / 2 for i in range(len(names))], names, fontsize="small")
        ax.set_xlim(0, 1)
        ax.set_xlabel("pass rate")
        ax.set_title("Per instruction (check)")
        _legend(ax, fontsize="small")

    return draw


def figures(report: Report) -> dict[str, str]:
    """Figure name → SVG markup."""
    arms = report.arms
    if not arms:
        return {}
    checks = len({c for arm in arms.values() for c in arm.per_check})
    return {
        "pass_rates": _svg(_pass_rates(arms)),
        "pass_hat_k": _svg(_pass_hat_k(arms)),
        "survival": _svg(_survival(arms)),
        "hazard": _svg(_hazard(arms)),
        "per_check": _svg(
            _per_check(arms), height=max(2.5, 0.3 * min(checks, MAX_CHECK_BARS) + 1.2)
        ),
    }
