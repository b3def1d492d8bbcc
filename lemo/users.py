"""Users: what a tenant may tell us about a user, shared by the public API and the profiles app."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from lemo.documents import Document
from lemo.events import Identifier


class UserFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Demographics and anything else the tenant knows (age, gender, locale, occupation, ...).
    attributes: Document | None = Field(default=None, max_length=64)


class User(UserFields):
    user_id: Identifier


class BatchGet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_ids: list[Identifier] = Field(min_length=1, max_length=500)
