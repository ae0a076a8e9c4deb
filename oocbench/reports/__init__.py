"""The comparison report: a static site (HTML + PNG, no script, no network) with the raw records beside it.

>>> from oocbench.reports import build_report, load_records  # doctest: +SKIP
>>> index = build_report(load_records("results"), "reports/quick")  # doctest: +SKIP
"""

from oocbench.reports.build import build_report
from oocbench.reports.load import JSON_LOADERS, load_records

__all__ = ["JSON_LOADERS", "build_report", "load_records"]
