"""Wire schemas of the catalog app: an item as the public API takes it (lemo/catalog.py, which the gateway
validates with too), named here so the routes read their schemas from one module."""

from __future__ import annotations

from lemo.catalog import MAX_BATCH_LINE_BYTES, Item, ItemFields

__all__ = ["MAX_BATCH_LINE_BYTES", "Item", "ItemFields"]
