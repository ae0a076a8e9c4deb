"""The comparison report: a static site (HTML + PNG, no script, no network) with the raw records beside it.

Usage (what ``oocbench report`` does)::

    from oocbench.reports import build_report, load_records
    index = build_report(load_records("results/default"), "reports/default")
"""

from oocbench.reports.build import build_report
from oocbench.reports.load import JSON_LOADERS, load_records

__all__ = ["JSON_LOADERS", "build_report", "load_records"]
