"""What every app's deps.py hands out the same way: the clients and services its lifespan put on `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request


def from_state(name: str) -> Callable[[Request], Any]:
    """A dependency returning `app.state.<name>`, for `Annotated[T, Depends(from_state("name"))]` aliases."""

    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"state_{name}"
    return get
