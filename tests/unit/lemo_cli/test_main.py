"""The `lemo` command line: the commands and flags of the public contract (DESIGN.md section 9) parse as before
the move out of the domain, and `lemo load interactions` sends its file through the client SDK (a fake gateway
on httpx.MockTransport)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from lemo_cli.loaders import load_interactions
from lemo_cli.main import build_parser
from lemo_client import LemoClient


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--json"],
        ["deadletters", "replay", "--tenant", "t"],
        ["load", "movielens", "--tenant", "t", "--limit", "10", "--quiet"],
        ["load", "interactions", "f.csv", "--tenant", "t", "--api-key", "k"],
        ["train", "--tenant", "t", "--wait", "--kinds", "popular,ease", "--policy", "always"],
        ["models", "--tenant", "t", "activate", "ease", "3"],
        ["models", "--tenant", "t", "rollback", "ease"],
        ["eval", "--interactions", "f.csv"],
        ["bench", "ingest", "--events", "10", "--via", "kafka"],
        ["bench", "recommend", "--api-key", "k", "--modes", "online"],
        ["bench", "feeds", "--api-key", "k"],
        ["bench", "train", "--local", "--events", "100"],
    ],
)
def test_every_public_command_parses(argv: list[str]) -> None:
    args = build_parser(argv).parse_args(argv)
    assert callable(args.run)


def test_the_console_script_is_the_moved_entry_point() -> None:
    text = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert 'lemo = "lemo_cli.main:main"' in text


def test_load_interactions_creates_the_items_then_sends_the_events(tmp_path: Path) -> None:
    sent: dict[str, list[Any]] = {"items": [], "events": []}

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/items/batch":
            rows = [json.loads(line) for line in request.content.decode().splitlines()]
            sent["items"] += rows
            return httpx.Response(200, json={"accepted": len(rows), "rejected": 0, "errors": []})
        events = json.loads(request.content)["events"]
        sent["events"] += events
        results = [{"event_id": e["event_id"], "status": "accepted"} for e in events]
        return httpx.Response(200, json={"accepted": len(events), "rejected": 0, "results": results})

    csv = tmp_path / "interactions.csv"
    csv.write_text("user_id,item_id,timestamp,value\nalice,b1,1700000000,4\nbob,b2,1700000100000,\n")
    with LemoClient("http://gateway", api_key="k", transport=httpx.MockTransport(gateway)) as client:
        report = load_interactions(client, csv, quiet=True)
    assert (report.items, report.users, report.events_accepted, report.events_rejected) == (2, 2, 2, 0)
    assert [e["type"] for e in sent["events"]] == ["rate", "click"]
    assert sent["events"][1]["timestamp"] == 1700000100.0  # milliseconds read as such
