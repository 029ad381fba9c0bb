"""Storage behind one small interface: in-memory for the simulation and tests, SQLite for the
server. The service holds the rules; stores only keep and find records."""

from reference_api.store.base import OrderQuery, Store
from reference_api.store.memory import MemoryStore

__all__ = ["MemoryStore", "OrderQuery", "Store"]
