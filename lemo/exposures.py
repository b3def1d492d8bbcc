"""Exposures: one record per served list, the read path's log of what each user was shown.

The gateway writes one `Exposure` per answered recommendation request (request id, tenant, user, scenario,
experiment, variant, the item ids in the order served, how it was served, degraded or not, when) and sends them in
bulk onto the exposures topic. The events app archives them (keyed by tenant + request id, so a redelivery is a
no-op) for training and online metrics; the profiles app folds each list into the user's realtime profile once
(recently shown items; never interest). Clients echo `request_id` in the `context` of the events that follow a
list (click, view, purchase...), which is how a metric attributes them to a list, a scenario and a variant.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lemo.events import Identifier, user_actor_id

# A served list is at most the recommendation API's `count` limit.
MAX_ITEMS = 200


class ServedBy(StrEnum):
    """Which path produced the list (a cached or workflow request that fell back to online says `online`)."""

    ONLINE = "online"
    CACHED = "cached"
    WORKFLOW = "workflow"


class Exposure(BaseModel):
    """One served list. `items[i]` was shown at position i (0 = first)."""

    model_config = ConfigDict(extra="forbid")

    request_id: Identifier
    tenant_id: Identifier
    user_id: Identifier
    scenario: Identifier
    experiment: Identifier | None = None
    variant: Identifier | None = None
    items: list[Identifier] = Field(max_length=MAX_ITEMS)
    mode: ServedBy = ServedBy.ONLINE
    degraded: bool = False
    timestamp: float = Field(ge=0)

    @property
    def actor_id(self) -> str:
        """The user's realtime-profile actor (tenant first, as for events)."""
        return user_actor_id(self.tenant_id, self.user_id)
