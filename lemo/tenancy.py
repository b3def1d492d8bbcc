"""Tenants and their API keys. A key is shown once at creation; only a hash of its secret is stored.

Key format: `lemo_<key_id>_<secret>`. The key id finds the record; the secret is checked against its SHA-256
in constant time. Secrets are 256 random bits, so a plain hash (no slow KDF) is the right tool, as for the
tokens of most API platforms.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

# No ':' in tenant ids: actor ids and state keys are "<tenant>:<rest>", which must split one way only.
TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
TenantId = Annotated[str, Field(min_length=1, max_length=63, pattern=TENANT_ID_PATTERN)]

_KEY_PREFIX = "lemo"


def validate_tenant_id(tenant_id: str) -> str:
    """The id itself when it is a valid tenant id (it becomes a path segment, a key prefix, a filter value)."""
    if not (0 < len(tenant_id) <= 63 and re.match(TENANT_ID_PATTERN, tenant_id)):
        raise ValueError(f"invalid tenant id {tenant_id!r}")
    return tenant_id


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


class Tenant(BaseModel):
    tenant_id: TenantId
    name: str = Field(default="", max_length=200)
    created_at: float = Field(default_factory=time.time)


class ApiKey(BaseModel):
    key_id: str
    tenant_id: TenantId
    secret_sha256: str
    scopes: list[Scope]
    created_at: float = Field(default_factory=time.time)
    revoked: bool = False


@dataclass(frozen=True)
class IssuedKey:
    """The one time the full key exists outside the client: returned by the admin API, never stored."""

    key: str
    record: ApiKey


def issue_key(tenant_id: str, scopes: list[Scope]) -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = ApiKey(key_id=key_id, tenant_id=tenant_id, secret_sha256=_sha256(secret), scopes=scopes)
    return IssuedKey(key=f"{_KEY_PREFIX}_{key_id}_{secret}", record=record)


def split_key(key: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(secret: str, record: ApiKey) -> bool:
    return hmac.compare_digest(_sha256(secret), record.secret_sha256)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
