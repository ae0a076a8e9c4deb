"""oocbench: benchmark out-of-core / incremental learning libraries side by side.

The data flow is ``datasets -> features -> adapters -> harness -> records -> reports`` (``tests/test_architecture.py``
holds every module to it).
"""

__version__ = "0.1.0"
