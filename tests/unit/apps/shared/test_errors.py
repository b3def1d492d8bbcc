"""The one error envelope: text that is not Unicode is the client's 422, never a 500."""

from __future__ import annotations

import bson
from fastapi import FastAPI
from fastapi.testclient import TestClient

from apps.shared.errors import install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/store")
    async def store(body: dict[str, str]) -> dict[str, int]:
        return {"bytes": len(bson.encode(body))}  # as a store write encodes it

    @app.get("/bug")
    async def bug() -> None:
        "é".encode("ascii")

    return app


def test_a_lone_surrogate_is_a_client_error() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    answer = client.post("/store", content=b'{"title": "a\\udb69"}', headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_text"
    assert client.post("/store", json={"title": "a 🎬"}).status_code == 200


def test_other_encoding_errors_stay_server_errors() -> None:
    assert TestClient(_app(), raise_server_exceptions=False).get("/bug").status_code == 500


def test_a_405_allows_every_method_of_the_path() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def read() -> None: ...

    @app.post("/things")
    async def create() -> None: ...

    @app.delete("/things/{thing_id}")
    async def delete(thing_id: str) -> None: ...

    answer = TestClient(app).put("/things")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["error"]["code"] == "http_405"
    assert TestClient(app).get("/things/1").headers["allow"] == "DELETE"
