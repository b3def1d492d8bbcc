"""The data a rerank rule works on: ranked candidates, the request's context, and what each rule did."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(slots=True, eq=False)
class Candidate:
    """One ranked item with the metadata rules look at. Treat it as immutable: rules return rescored copies.

    (Not a frozen dataclass only because frozen construction costs about 7x more, paid per candidate per request.)
    """

    item_id: str
    score: float
    sources: Mapping[str, float] = field(default_factory=dict)  # recall channel -> that channel's raw score
    categories: Sequence[str] = ()
    tags: Sequence[str] = ()
    published_at: float | None = None  # epoch seconds
    attributes: Mapping[str, Any] = field(default_factory=dict)
    embedding: Sequence[float] | np.ndarray | None = None

    def with_score(self, score: float) -> Candidate:
        return Candidate(
            self.item_id,
            score,
            self.sources,
            self.categories,
            self.tags,
            self.published_at,
            self.attributes,
            self.embedding,
        )


@dataclass
class RerankContext:
    """One request's view: the clock, the user's consumed/disliked items, the list length asked for.

    `pinned_items` lets a caller supply pinned items that recall did not return (looked up in the catalog).
    `pins` is the chain's own state, item_id -> slot, filled by pin rules and honored by the rules after them;
    a context therefore serves one request.
    """

    now: float
    count: int
    seen: AbstractSet[str] = frozenset()
    pinned_items: Mapping[str, Candidate] = field(default_factory=dict)
    pins: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")


@dataclass(frozen=True, slots=True)
class RuleEffect:
    """What one rule did, for debug output.

    `moved`: items within the first `count` places of the rule's output whose position changed;
    `removed`: items the rule dropped; `pinned`: items the rule fixed to a slot.
    """

    rule: str
    moved: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    pinned: tuple[str, ...] = ()


class Rule(Protocol):
    name: str

    def apply(self, candidates: Sequence[Candidate], context: RerankContext) -> list[Candidate]: ...


def split_pinned(candidates: Sequence[Candidate], pins: Mapping[str, int]) -> tuple[list[Candidate], list[Candidate]]:
    """(free, pinned): rules that reorder work on the free items only, so a pin keeps its slot."""
    if not pins:
        return list(candidates), []
    free = [c for c in candidates if c.item_id not in pins]
    pinned = [c for c in candidates if c.item_id in pins]
    return free, pinned


def place_pins(candidates: Sequence[Candidate], pins: Mapping[str, int]) -> list[Candidate]:
    """Moves each pinned item that is present to its slot (or to the end when the list is shorter)."""
    if not pins:
        return list(candidates)
    present = {c.item_id: c for c in candidates if c.item_id in pins}
    if not present:
        return list(candidates)
    out = [c for c in candidates if c.item_id not in present]
    # Ascending slots: each insert lands exactly at its slot given the lower ones are already in place.
    for item_id in sorted(present, key=lambda i: pins[i]):
        out.insert(min(pins[item_id], len(out)), present[item_id])
    return out
