"""oocbench: benchmark out-of-core / incremental learning libraries side by side.

The data flow is ``datasets -> features -> adapters -> harness -> records -> reports`` (``tests/test_architecture.py``
holds every module to it).
"""

__version__ = "0.1.0"


def __getattr__(name: str):  # PEP 562: the public API, imported on first use (``import oocbench`` stays light)
    if name == "load_results":
        from oocbench.api import load_results

        return load_results
    raise AttributeError(f"module 'oocbench' has no attribute {name!r}")


__all__ = ["__version__", "load_results"]
