"""Free-form JSON a tenant attaches (user and item attributes, event context) is stored in MongoDB documents as it
is: keep it to what the document store accepts, so a bad value is a 422 at the door, not a failed write later
(a 500, or for an event an archive write retried forever)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _text(value: str, path: str) -> None:
    """JSON can escape a lone UTF-16 surrogate, which is not text: no UTF-8 store can hold it."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path}: a lone UTF-16 surrogate is not text") from None


def _check(value: Any, path: str, in_array: bool = False) -> None:
    if isinstance(value, str):
        _text(value, path)
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{path}: integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("$") or "." in key or "\x00" in key:
                raise ValueError(f"{path}: field name {key!r} may not start with '$' or contain '.' or NUL")
            _text(key, path)
            _check(item, f"{path}.{key}")
    elif isinstance(value, list):
        if in_array:  # FerretDB, the local MongoDB-wire store, stores no array directly inside an array
            raise ValueError(f"{path}: an array may not directly contain an array")
        for n, item in enumerate(value):
            _check(item, f"{path}[{n}]", in_array=True)


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    _check(value, "$")
    return value


# A JSON object that MongoDB (and FerretDB) store unchanged.
Document = Annotated[dict[str, Any], AfterValidator(_storable)]
