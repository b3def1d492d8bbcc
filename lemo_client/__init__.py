"""The Python client (SDK) of Lemo's public HTTP API: `LemoClient` for blocking code, `AsyncLemoClient` for
asyncio, both sending the same operations through one request layer (retries of what is safe, errors as typed
exceptions). It lives outside the domain (`lemo/`): callers of the API need neither the models nor the stores.
docs/client.md shows it in use."""

from lemo_client.async_client import AsyncLemoClient
from lemo_client.client import LemoClient, ModelsApi
from lemo_client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    LemoError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    TransportFailure,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from lemo_client.request import NO_RETRIES, Call, RetryPolicy

__all__ = [
    "NO_RETRIES",
    "ApiError",
    "AsyncLemoClient",
    "BadRequest",
    "Call",
    "Conflict",
    "Forbidden",
    "LemoClient",
    "LemoError",
    "ModelsApi",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "TransportFailure",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
]
