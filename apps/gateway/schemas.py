"""Wire schemas of the public API (DESIGN.md section 9), named in one place. The resources' own schemas are the
domain's, since the apps behind the gateway validate with them too (lemo/catalog.py, lemo/users.py, lemo/events.py,
lemo/scenarios.py, lemo/registry.py, lemo/experiments/readout.py); bodies only one route takes (the old BFF's
request, an event batch, the admin API's new tenant and key) stay beside that route."""

from __future__ import annotations

from lemo.catalog import Item, ItemFields
from lemo.events import EventBody, EventType
from lemo.experiments.readout import ExperimentList, ScenarioMetrics
from lemo.registry import ActivateBody, TrainOptions
from lemo.scenarios import Scenario
from lemo.users import BatchGet, UserFields

__all__ = [
    "ActivateBody",
    "BatchGet",
    "EventBody",
    "EventType",
    "ExperimentList",
    "Item",
    "ItemFields",
    "Scenario",
    "ScenarioMetrics",
    "TrainOptions",
    "UserFields",
]
