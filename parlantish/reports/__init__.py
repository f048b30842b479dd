"""Reports of an evaluation: report.json, report.html, junit.xml and a summary table."""

from parlantish.reports.junit import junit_xml
from parlantish.reports.table import print_summary, summary_table
from parlantish.reports.writer import REPORT_FILES, rebuild_reports, write_reports

__all__ = [
    "REPORT_FILES",
    "junit_xml",
    "print_summary",
    "rebuild_reports",
    "summary_table",
    "write_reports",
]
