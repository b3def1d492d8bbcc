"""Free-form JSON a tenant attaches (user and item attributes, event context) is stored in MongoDB documents as it
is: keep it to what the document store accepts, so a bad value is a 422 at the door, not a failed write later
(a 500, or for an event an archive write retried forever)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler, TypeAdapter
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A JSON Schema integer, exactly, as `Annotated[int, Strict(), Field(ge=..., le=...), AS_WHOLE]`: 5 and 5.0 (a
# number without a fraction is an integer there, and clients that send every number as a double do send 5.0), but
# not true, "5" or 5.5, which are a client's bug, not a number. The bounds go before AS_WHOLE, so the schema states
# them as minimum/maximum.
AS_WHOLE = BeforeValidator(_whole)


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
            if not key or key.startswith("$") or "." in key or "\x00" in key:
                # an empty name is no update path either: "attributes." (a user's attributes are set field by field)
                raise ValueError(f"{path}: field name {key!r} may not be empty, start with '$' or contain '.' or NUL")
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


# The same rules as a JSON Schema, so the OpenAPI document states them (validation stays with _check: one walk).
_KEY = r"^[^$.\x00][^.\x00]*$"
_Scalar = (
    str | bool | None | Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | Annotated[float, Field(allow_inf_nan=False)]
)
StoredValue = TypeAliasType(
    "StoredValue", "_Scalar | dict[Annotated[str, Field(pattern=_KEY)], StoredValue] | list[StoredItem]"
)
StoredItem = TypeAliasType("StoredItem", "_Scalar | dict[Annotated[str, Field(pattern=_KEY)], StoredValue]")
_STORED_OBJECT = TypeAdapter(dict[Annotated[str, Field(pattern=_KEY)], StoredValue]).core_schema


class _StoredObjectSchema:
    @classmethod
    def __get_pydantic_json_schema__(cls, _: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(_STORED_OBJECT)
        _name_keys(schema, handler, set())
        return schema


def _name_keys(node: Any, handler: GetJsonSchemaHandler, seen: set[str]) -> None:
    """pydantic states a dict's key pattern as patternProperties, which leaves other keys free: say propertyNames."""
    if isinstance(node, list):
        for item in node:
            _name_keys(item, handler, seen)
    if not isinstance(node, dict):
        return
    if "$ref" in node and node["$ref"] not in seen:
        seen.add(node["$ref"])
        _name_keys(handler.resolve_ref_schema(node), handler, seen)
    if node.get("type") == "object" and "patternProperties" in node:
        ((pattern, value),) = node.pop("patternProperties").items()
        node["propertyNames"] = {"pattern": pattern}
        node["additionalProperties"] = value
    for item in node.values():
        _name_keys(item, handler, seen)


# A JSON object that MongoDB (and FerretDB) store unchanged.
Document = Annotated[dict[str, Any], AfterValidator(_storable), _StoredObjectSchema]
