"""oocbench: benchmark out-of-core / incremental learning libraries side by side.

The data flow is ``datasets -> features -> adapters -> runner -> records -> reports``.
"""

__version__ = "0.1.0"
