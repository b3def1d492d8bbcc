"""Which events (and served lists) a user's realtime profile has already taken, in a few hundred bytes, with no
small window: a redelivery changes nothing however many newer events came between.

The profile keeps 4-byte digests of the ids it took in two generations of `GENERATION` each (so it holds the last
12 to 24), and a watermark, `floor`: when the older generation is forgotten, `floor` rises to the highest order key
it held. Every forgotten id therefore had an order key <= floor, and an id that is neither held nor above the floor
is taken as seen. A redelivered message carries the order key it first had, so it is either held or at/below the
floor: never taken twice.

The order key is the events app's acceptance stamp (`Event.accepted_at`, strictly increasing per events process)
or a list's serving time (`Exposure.timestamp`), not the client's own event time: a backfill of old history in
any order stays above the floor. Its limit, stated rather than hidden: a message the broker holds back while 12-24
newer ones of the same user are taken (a redelivery after a failed turn, under a burst of that one user) is taken
as seen and left out of the realtime profile (it is still archived and counted). Events that reach the topic
without the stamp (published straight to it) are deduped by the digests alone, as before.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from pydantic import BaseModel, model_serializer, model_validator

DIGEST_BYTES = 4
# Digests per generation; two generations are held. Sized for the 1 KB state budget (lemo/realtime/profile.py).
GENERATION = 12


def digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=DIGEST_BYTES).digest()


def _holds(packed: str, wanted: bytes) -> bool:
    raw = base64.b64decode(packed)
    return any(raw[i : i + DIGEST_BYTES] == wanted for i in range(0, len(raw), DIGEST_BYTES))


class SeenIds(BaseModel):
    """Stored as one compact list, `[floor, old_max, new_max, old, new]`: it is most of a user's state."""

    # Every id forgotten so far had an order key <= floor.
    floor: float = 0.0
    # base64 of 4-byte digests, oldest first, and the highest order key of each generation.
    old: str = ""
    old_max: float = 0.0
    new: str = ""
    new_max: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _from_stored(cls, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            # State written before generations: a plain list of hex digests.
            return {"new": base64.b64encode(b"".join(bytes.fromhex(h) for h in value)).decode()}
        if isinstance(value, list):
            return dict(zip(("floor", "old_max", "new_max", "old", "new"), value, strict=True))
        return value

    @model_serializer
    def _stored(self) -> list[float | str]:
        return [self.floor, self.old_max, self.new_max, self.old, self.new]

    def first_time(self, key: str, order: float | None) -> bool:
        """True, and remembered, the first time `key` is offered; False for one held or at/below the floor."""
        wanted = digest(key)
        if _holds(self.new, wanted) or _holds(self.old, wanted):
            return False
        if order is not None and self.floor and order <= self.floor:  # (orders are clock times, never 0)
            return False
        packed = base64.b64decode(self.new) + wanted
        if order is not None:
            self.new_max = max(self.new_max, order)
        if len(packed) < GENERATION * DIGEST_BYTES:
            self.new = base64.b64encode(packed).decode()
            return True
        # The newer generation is full: it becomes the older one, and the older one is forgotten.
        self.floor = max(self.floor, self.old_max)
        self.old, self.old_max = base64.b64encode(packed).decode(), self.new_max
        self.new, self.new_max = "", 0.0
        return True

    def __len__(self) -> int:
        return (len(base64.b64decode(self.old)) + len(base64.b64decode(self.new))) // DIGEST_BYTES
