"""A train request's `evaluation_users`: bounded at the API's edge (the gateway and the trainer share
`TrainOptions`), documented in the gateway's OpenAPI, and carried into the train workflow's input."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from apps.gateway.routers import ROUTERS
from apps.trainer.service import Trainer
from apps.trainer.settings import TrainerSettings
from lemo.evaluation.protocol import EVALUATION_USERS
from lemo.registry import MAX_EVALUATION_USERS, TrainOptions
from workflows.training import TRAIN_WORKFLOW


class _Workflows:
    """The one call of DaprWorkflowClient that starting a run makes."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []

    async def schedule_new_workflow(self, name: str, *, input: dict[str, Any], instance_id: str) -> str:
        self.started.append((name, input))
        return instance_id


def _start(body: dict[str, Any]) -> dict[str, Any]:
    workflows = _Workflows()
    trainer = Trainer(TrainerSettings(), cast(Any, workflows), *([cast(Any, None)] * 6))
    asyncio.run(trainer.start_training("t1", TrainOptions.model_validate(body)))
    [(name, request)] = workflows.started
    assert name == TRAIN_WORKFLOW
    return request


@pytest.mark.parametrize("value", [0, 1, 200, MAX_EVALUATION_USERS])
def test_evaluation_users_within_bounds_reach_the_workflow(value: int) -> None:
    assert _start({"evaluation_users": value})["evaluation_users"] == value


def test_unset_evaluation_users_takes_the_workflow_default() -> None:
    assert _start({"kinds": ["als"]})["evaluation_users"] == EVALUATION_USERS


def test_evaluation_users_given_as_a_whole_double_is_that_integer() -> None:
    """5000.0 is an integer in JSON Schema (what the OpenAPI document says), and clients that send every number as
    a double send it so."""
    assert TrainOptions.model_validate_json('{"evaluation_users": 5000.0}').evaluation_users == 5000


@pytest.mark.parametrize("value", [-1, MAX_EVALUATION_USERS + 1, "all", "5000", 2.5, True])
def test_evaluation_users_out_of_bounds_or_not_an_integer_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        TrainOptions.model_validate({"evaluation_users": value})
    assert refused.value.errors()[0]["loc"] == ("evaluation_users",)


def test_the_gateway_openapi_documents_evaluation_users_with_its_bounds() -> None:
    app = FastAPI()
    for router in ROUTERS:
        app.include_router(router)
    schema = app.openapi()["components"]["schemas"]["TrainOptions"]["properties"]["evaluation_users"]
    integer = next(s for s in schema["anyOf"] if s.get("type") == "integer")
    assert (integer["minimum"], integer["maximum"]) == (0, MAX_EVALUATION_USERS)
    assert "5,000" in schema["description"]
