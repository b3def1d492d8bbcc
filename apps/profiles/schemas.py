"""Wire schemas of the profiles app: a user as the public API takes it and a batch read (lemo/users.py, which the
gateway validates with too), named here so the routes read their schemas from one module."""

from __future__ import annotations

from lemo.users import BatchGet, User, UserFields

__all__ = ["BatchGet", "User", "UserFields"]
