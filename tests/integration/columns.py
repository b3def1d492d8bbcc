"""Candidates on the stage wire are columns (lemo.serving.contract.Candidates); tests state them as rows."""

from __future__ import annotations

from typing import Any

from lemo.serving.contract import Candidates


def columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """[{"item_id", "score", "sources"?}] -> the wire's columns (with channel columns when any row has sources)."""
    names = list(dict.fromkeys(name for r in rows for name in r.get("sources", {})))
    body: dict[str, Any] = {"item_ids": [r["item_id"] for r in rows], "scores": [r["score"] for r in rows]}
    if names:
        body["channels"] = {n: [r.get("sources", {}).get(n) for r in rows] for n in names}
    return body


def rows(wire: dict[str, Any]) -> list[dict[str, Any]]:
    """The wire's columns -> [{"item_id", "score", "sources"}] (sources empty without channel columns)."""
    return [item.model_dump() for item in Candidates.model_validate(wire).served()]
