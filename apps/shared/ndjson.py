"""NDJSON request bodies, read as a stream: one JSON document per line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import status
from pydantic import BaseModel, ValidationError

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


Model = TypeVar("Model", bound=BaseModel)

MAX_REPORTED_ERRORS = 100


@dataclass
class BatchReport:
    """What a batch endpoint answers: how many lines were taken, how many not, and why (the first 100)."""

    accepted: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors}


async def ndjson_models(
    chunks: AsyncIterator[bytes], model: type[Model], max_line_bytes: int, report: BatchReport
) -> AsyncIterator[Model]:
    """The valid lines of an NDJSON stream as `model`; invalid ones are counted and reported by line number."""
    async for number, line in ndjson_lines(chunks, max_line_bytes):
        try:
            yield model.model_validate_json(line)
        except ValidationError as exc:
            report.rejected += 1
            if len(report.errors) < MAX_REPORTED_ERRORS:
                report.errors.append(
                    {
                        "line": number,
                        "errors": exc.errors(include_url=False, include_context=False, include_input=False),
                    }
                )
