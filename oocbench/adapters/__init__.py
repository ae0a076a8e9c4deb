"""Backend adapters (one module per library) behind the :class:`~oocbench.adapters.base.Adapter` contract."""

from oocbench.adapters.base import Adapter
from oocbench.adapters.registry import AdapterEntry, UnknownAdapterError, adapter_names, discover, get_adapter

__all__ = ["Adapter", "AdapterEntry", "UnknownAdapterError", "adapter_names", "discover", "get_adapter"]
