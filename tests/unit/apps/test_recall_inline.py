"""Recall scores small catalogs on the event loop and big ones on its workers (RECALL_INLINE_MAX_ITEMS)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from apps.recall.channels import Channels


def _served(n_items: int) -> Any:
    return SimpleNamespace(model=SimpleNamespace(item_ids=[str(i) for i in range(n_items)]), item_ids=[])


async def test_small_catalogs_stay_on_the_event_loop_and_big_ones_go_to_the_workers() -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="recall") as workers:
        channels = Channels(None, None, None, None, workers, 3, inline_max_items=100)  # type: ignore[arg-type]

        def where(served: Any) -> str:
            return threading.current_thread().name

        loop_thread = threading.current_thread().name
        assert await channels._thread(where, _served(100)) == loop_thread
        assert (await channels._thread(where, _served(101))).startswith("recall")
        no_workers = Channels(None, None, None, None, None, 3, inline_max_items=0)  # type: ignore[arg-type]
        assert await no_workers._thread(where, _served(10_000)) == loop_thread
