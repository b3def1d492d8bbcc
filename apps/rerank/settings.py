from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from apps.shared.settings import LemoSettings


class RerankSettings(LemoSettings):
    model_config = SettingsConfigDict(env_prefix="RERANK_", extra="ignore")

    # Item metadata (categories, tags, dates, attributes, hidden) is cached per tenant this long, found or not: a
    # catalog change reaches rerank within it.
    metadata_ttl_s: float = 30.0
    metadata_cache_items: int = 50_000  # per tenant; the least recently fetched go first
    # Candidates the tenant's catalog does not know (never registered, deleted, or another tenant's ids): "keep"
    # them with no metadata (a tenant may send events for items it never registered), or "drop" them.
    unknown_items: Literal["keep", "drop"] = "keep"
    # `mmr by=embedding` uses the item vectors of the first of these kinds with an active version, re-checked at
    # most this often; without one (or while loading) MMR compares categories.
    embedding_kinds: list[str] = Field(default_factory=lambda: ["content", "two_tower"])
    embeddings_refresh_s: float = 60.0
