"""Process settings for serving apps on few cores.

Garbage collection. A serving process holds large, long-lived object graphs (models, users' histories, catalog
views). CPython's cyclic collector walks every tracked object on each full collection, and request handling
allocates enough to trigger one every few hundred requests: with a few million objects loaded, each such
collection stalls the event loop for tens of milliseconds, which shows as p99 latency. `gc.freeze()` after a load
moves everything alive into a permanent generation that collections skip. Replaced models are still freed by
reference counting (they hold no reference cycles); only cyclic garbage alive at a freeze stays, which is small.

Math threads. numpy's OpenBLAS and torch's OpenMP start one thread per core each and spin while they wait for
work. A request's matrix products are small (a user against a catalog), the apps already run them in their own
worker threads, and the sidecars need the cores too: pools of spinning math threads on top of that burned more CPU
than the products themselves. Serving apps use one math thread per worker.
"""

from __future__ import annotations

import gc

from threadpoolctl import threadpool_limits


def freeze_loaded() -> None:
    """Call after loading long-lived data (a model version, histories, a catalog view)."""
    gc.freeze()


def ready_to_serve() -> None:
    """Call once start-up has imported and built what the process serves with, before it takes requests."""
    threadpool_limits(limits=1)
    freeze_loaded()
