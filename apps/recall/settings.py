from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class RecallSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="RECALL_", extra="ignore")

    # A served model version is checked against the registry at most this often, so a missed `models` event heals.
    registry_recheck_s: float = 30.0
    # Active model versions loaded at start-up (the most recently activated first); 0 loads on first use only.
    preload_versions: int = 200
    # How long a request waits for the tenant's stored histories on first use (they decide `seen`).
    history_wait_s: float = 5.0
    # Newest items of a user's history fed to the models (stored history + realtime recent items).
    history_max: int = 200
    # The catalog view (eligibility, latest, tag) is rebuilt from MongoDB this often; item changes arrive sooner
    # through the items topic.
    catalog_refresh_s: float = 300.0
    latest_max: int = 1000
    # The realtime hot list and the popularity workflow's list are shared by all users: cached this long per tenant.
    hot_cache_s: float = 1.0
    popular_state_cache_s: float = 30.0
    # Interests the tag channel reads (the strongest first).
    tag_interests: int = 5
    # Channels fetch this many times their quota, so exclusions and filters leave the quota filled.
    overfetch: float = 1.5
    # Vector kinds with at most this many items are searched exactly in memory (a [n, dim] float32 product: about
    # 1 ms for 50,000 x 64 on one core) rather than through Milvus, whose round trip alone costs more at that size.
    # The collection is still opened, so a larger version or a lowered limit searches Milvus at once.
    exact_search_max_items: int = 50_000
    # Threads for model scoring and ANN search. numpy, torch and Milvus release the GIL, but a request's products are
    # small and the rest of each channel holds it: on the read-path bench (tests/integration/bench_read_path.py,
    # 300 lists) 8 threads cost 10.5-11.1 ms of recall CPU per list and 1 thread 10.0-10.1 ms, at the same latency.
    # Two: one core's worth of overlap with the event loop, without threads queueing for the GIL. 0 scores on the
    # event loop itself: 0.8-0.9 ms less recall CPU per list again on MovieLens-100k (9.2 against 10.0-10.2 ms, same
    # wall), but a large catalog's products would then stall the loop (and the sidecar's health probe) per request.
    workers: int = Field(2, ge=0)
    # Models over at most this many items are scored on the event loop even with workers: the thread handoff
    # (about 0.8-0.9 ms of recall CPU per list on MovieLens-100k's 1,682 items, above) costs more than their
    # products, which stall the loop for well under a millisecond each. Bigger catalogs go to the workers.
    inline_max_items: int = Field(20_000, ge=0)
    torch_threads: int = 1
    sidecar_timeout_s: float = 2.0
