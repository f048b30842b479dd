"""``report.html``: one self-contained page (tables + matplotlib figures inlined as SVG).

Numbers are rounded here, for reading; ``report.json`` keeps them at full precision.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from parlantish.eval.records import ArmGroup
from parlantish.eval.report_model import Report
from parlantish.reports.numbers import number
from parlantish.reports.plots import figures

__all__ = ["report_html"]


def _label(arm: str, length: int | None) -> str:
    return ArmGroup(arm=arm, length=length).label


_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters["number"] = number
_TEMPLATES.globals["label"] = _label


def report_html(report: Report) -> str:
    """The HTML page of a report built by ``parlantish.eval.analysis.build_report``."""
    drawn = {name: Markup(svg) for name, svg in figures(report).items()}
    check_names = sorted({c for arm in report.arms.values() for c in arm.per_check})
    fields = {name: getattr(report, name) for name in type(report).model_fields}
    return _TEMPLATES.get_template("report.html.j2").render(
        **fields, figures=drawn, check_names=check_names
    )
