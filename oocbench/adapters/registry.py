"""Find adapters: the built-in ones and third-party ones declared under the ``oocbench.adapters`` entry point.

An adapter whose module or library cannot be imported is listed as ``not-installed`` with the reason; it
never breaks listing or a suite.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache

from oocbench.adapters.base import Adapter

ENTRY_POINT_GROUP = "oocbench.adapters"

#: Built-in adapters, ``name -> "module:Class"``; modules are imported only when listed or used.
BUILTIN: dict[str, str] = {
    "sklearn.sgd": "oocbench.adapters.sklearn:SGD",
    "sklearn.passive-aggressive": "oocbench.adapters.sklearn:PassiveAggressive",
    "sklearn.batch": "oocbench.adapters.sklearn:Batch",
    "vw.linear": "oocbench.adapters.vw:VWLinear",
    "river.linear": "oocbench.adapters.river:Linear",
    "river.linear-many": "oocbench.adapters.river:LinearMany",
    "river.hoeffding-tree": "oocbench.adapters.river:HoeffdingTree",
    "dask-ml.incremental": "oocbench.adapters.dask_ml:Incremental",
    "dask-ml.glm": "oocbench.adapters.dask_ml:GLM",
    "tf.linear": "oocbench.adapters.tensorflow:Linear",
    "tf.mlp": "oocbench.adapters.tensorflow:MLP",
    "xgboost.external-memory": "oocbench.adapters.xgboost:ExternalMemory",
    "xgboost.in-memory": "oocbench.adapters.xgboost:InMemory",
    "xgboost.dask": "oocbench.adapters.xgboost_dask:Dask",
    "spark.linear": "oocbench.adapters.spark:Linear",
    "sklearn.hist-gbdt": "oocbench.adapters.sklearn_gbdt:HistGBDT",
    "lightgbm.gbdt": "oocbench.adapters.lightgbm:GBDT",
}


class UnknownAdapterError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class AdapterEntry:
    name: str
    target: str  # "module:Class"
    source: str  # "builtin" or "entry-point (<distribution>)"
    cls: type[Adapter] | None = None
    status: str = "installed"  # or "not-installed"
    reason: str = ""

    @property
    def installed(self) -> bool:
        return self.status == "installed"


def _load(entry: AdapterEntry) -> AdapterEntry:
    module_name, _, attr = entry.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        entry.status, entry.reason = "not-installed", f"cannot import {entry.target}: {exc}"
        return entry
    except Exception as exc:  # a broken third-party module must not break listing
        entry.status, entry.reason = "not-installed", f"loading {entry.target} failed: {type(exc).__name__}: {exc}"
        return entry
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        entry.status, entry.reason = "not-installed", f"{entry.target} is not an oocbench Adapter subclass"
        return entry
    entry.cls = cls
    if reason := cls.skip():
        entry.status, entry.reason = "not-installed", reason
    return entry


@cache
def discover() -> dict[str, AdapterEntry]:
    """All known adapters by name, built-in first, then entry points (which may not shadow built-ins)."""
    entries = {name: _load(AdapterEntry(name, target, "builtin")) for name, target in BUILTIN.items()}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in entries:
            continue
        # the adapter package's own name and version: its library's version (numpy's, for a numpy learner) says
        # nothing about which release of the adapter ran
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
        entries[ep.name] = _load(AdapterEntry(ep.name, ep.value, f"entry-point ({dist})"))
    return dict(sorted(entries.items()))


def adapter_names() -> list[str]:
    return list(discover())


def get_entry(name: str) -> AdapterEntry:
    try:
        return discover()[name]
    except KeyError:
        raise UnknownAdapterError(f"unknown adapter {name!r}; valid adapters: {', '.join(adapter_names())}") from None


def get_adapter(name: str) -> type[Adapter]:
    """The adapter class for ``name``; raises ``UnknownAdapterError`` (listing valid names) or ``ImportError``."""
    entry = get_entry(name)
    if entry.cls is None or not entry.installed:
        raise ImportError(f"adapter {name!r} is not installed: {entry.reason}")
    return entry.cls
