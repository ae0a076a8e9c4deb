"""The stage between adapters and records: running cases.

- :mod:`~oocbench.harness.case`: the child process that runs one case (phases and entry point);
- :mod:`~oocbench.harness.runner`: the parent that starts the child with limits and turns its end into a record;
- :mod:`~oocbench.harness.suites`: named grids of cases, run with resume;
- :mod:`~oocbench.harness.dispatch`: the same cases on a dask.distributed cluster;
- :mod:`~oocbench.harness.measure` and :mod:`~oocbench.harness.watchdog`: process measurement and control,
  imported by both sides.
"""
