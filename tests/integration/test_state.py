"""Dapr state through a real sidecar and Redis: save/get, optimistic concurrency, TTL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from apps.shared.settings import STATE_STORE
from apps.shared.sidecar import ConcurrencyConflict, SidecarState
from tests.integration.mesh import App


async def test_save_get_and_stale_etag_is_rejected(bare_sidecar: App) -> None:
    key = f"it:{uuid.uuid4().hex}"
    async with bare_sidecar.client() as client:
        state = SidecarState(client, STATE_STORE)
        assert await state.get(key) == (None, None)

        await state.save(key, {"version": 1})
        value, etag = await state.get(key)
        assert value == {"version": 1}
        assert etag

        await state.save(key, {"version": 2}, etag=etag)
        with pytest.raises(ConcurrencyConflict):
            await state.save(key, {"version": 3}, etag=etag)  # etag of the value that was replaced
        assert (await state.get(key))[0] == {"version": 2}

        await state.delete(key)
        assert await state.get(key) == (None, None)


async def test_ttl_expires_a_value(bare_sidecar: App) -> None:
    key = f"it:{uuid.uuid4().hex}"
    async with bare_sidecar.client() as client:
        state = SidecarState(client, STATE_STORE)
        await state.save(key, "short-lived", ttl_s=1)
        assert (await state.get(key))[0] == "short-lived"
        for _ in range(40):
            await asyncio.sleep(0.1)
            if (await state.get(key))[0] is None:
                break
        assert (await state.get(key))[0] is None
