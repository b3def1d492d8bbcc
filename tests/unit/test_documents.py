"""Tenant-supplied JSON (attributes, event context) is refused at validation when the document store could not
store it: such values used to fail later as a 500 (found by schemathesis, tests/integration/test_faults.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lemo.catalog import ItemFields
from lemo.events import EventBody
from lemo.users import UserFields


@pytest.mark.parametrize(
    "bad",
    [
        {"n": 2**63},
        {"n": -(2**63) - 1},
        {"n": float("nan")},
        {"n": {"deep": [float("inf")]}},
        {"a.b": 1},
        {"$where": 1},
        {"nul\x00": 1},
        {"": 1},
        {"inner": {"": 1}},
        {"grid": [[1, 2], [3, 4]]},
        {"inner": [{"$set": 1}]},
        {"lone": "a\udb69"},
        {"\udb69": 1},
        {"list": [{"deep": "\udfff"}]},
    ],
)
def test_unstorable_json_is_a_validation_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        UserFields(attributes=bad)
    with pytest.raises(ValidationError):
        ItemFields(attributes=bad)
    with pytest.raises(ValidationError):
        EventBody(user_id="u", item_id="i", type="view", context=bad)


def test_ordinary_json_passes_unchanged() -> None:
    good = {
        "age": 31,
        "big": 2**63 - 1,
        "émoji 🎬": "a clapperboard 🎬",
        "tags": ["a", 1, None, {"x": [1.5]}],
        "nested": {"k": {"v": True}},
    }
    assert UserFields(attributes=good).attributes == good
    assert EventBody(user_id="u", item_id="i", type="view", context=good).context == good


def test_an_event_value_must_be_finite() -> None:
    with pytest.raises(ValidationError):
        EventBody(user_id="u", item_id="i", type="rate", value=float("nan"))


def test_a_whole_number_is_a_json_schema_integer_exactly() -> None:
    from typing import Annotated

    from pydantic import Field, Strict, TypeAdapter, ValidationError

    from lemo.documents import AS_WHOLE

    whole = TypeAdapter(Annotated[int, Strict(), Field(ge=0, le=10), AS_WHOLE])
    assert whole.validate_json("5") == 5
    assert whole.validate_json("5.0") == 5  # an integer in JSON Schema; clients that send doubles send this
    for bad in ("true", '"5"', "5.5", "11", "-1"):
        with pytest.raises(ValidationError):
            whole.validate_json(bad)
    assert whole.json_schema() == {"type": "integer", "minimum": 0, "maximum": 10}
