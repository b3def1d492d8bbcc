"""NDJSON request bodies, read as a stream: one JSON document per line."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import status

from apps.shared.errors import ApiError


async def ndjson_lines(chunks: AsyncIterator[bytes], max_line_bytes: int) -> AsyncIterator[tuple[int, bytes]]:
    """Numbered non-empty lines, holding at most one line beyond the current chunk in memory."""
    buf = bytearray()
    number = 0
    async for chunk in chunks:
        buf += chunk
        while (end := buf.find(b"\n")) >= 0:
            number += 1
            line = bytes(buf[:end]).strip()
            del buf[: end + 1]
            if line:
                yield number, line
        if len(buf) > max_line_bytes:
            raise ApiError(
                status.HTTP_413_CONTENT_TOO_LARGE,
                "line_too_long",
                f"line {number + 1} exceeds {max_line_bytes} bytes",
            )
    if buf.strip():
        yield number + 1, bytes(buf).strip()
