"""CPU of encoding and decoding one request's candidates at every hop of the read path, per-object (the contract
before columns, one object with a dict of channel scores per candidate) against columns (lemo.serving.contract).

    python -m lemo.serving.bench_codec [--candidates 500] [--repeat 300]

Prints milliseconds of process CPU per operation; docs/benchmarks.md ("Read path: the stage contract") keeps the
figures. Each line is one side of one hop, as the app on that side does it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic import BaseModel, Field, TypeAdapter

from lemo.rerank.config import RuleConfig
from lemo.scenarios import default_scenario, resolve
from lemo.serving.contract import (
    Candidates,
    ChannelReport,
    RankRequest,
    RankResponse,
    RecallResponse,
    RerankRequest,
    RerankResponse,
    RuleEffectOut,
    UserContext,
)

CHANNELS = ("item_cf", "two_tower", "content", "popular", "tag")


class _PerObject(BaseModel):
    """A candidate as the contract carried it before columns."""

    item_id: str
    score: float
    sources: dict[str, float] = Field(default_factory=dict)


class _OldRecallResponse(BaseModel):
    candidates: list[_PerObject]
    channels: list[ChannelReport]
    seen: list[str] = Field(default_factory=list)


class _OldRankCall(BaseModel):
    tenant_id: str
    user: UserContext
    ranker: str
    candidates: list[_PerObject]
    context: dict[str, Any] = Field(default_factory=dict)


class _OldRerankRequest(BaseModel):
    user_id: str
    count: int
    rules: list[RuleConfig] = Field(default_factory=list)
    candidates: list[_PerObject]
    seen: list[str] = Field(default_factory=list)


class _OldRerankResponse(BaseModel):
    items: list[_PerObject]
    effects: list[RuleEffectOut] = Field(default_factory=list)


def _fastapi_answer(adapter: TypeAdapter[Any], value: object) -> bytes:
    """What FastAPI does with a route's returned model under `-> Model`: validate it again, dump, json.dumps."""
    checked = adapter.validate_python(value, from_attributes=True)
    return json.dumps(adapter.dump_python(checked, mode="json"), separators=(",", ":")).encode()


def _fastapi_body(model: type[BaseModel], body: bytes) -> BaseModel:
    """What FastAPI does with a JSON request body: json.loads, then validate the dict."""
    return model.model_validate(json.loads(body))


def _cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat * 1000


def run(n: int, repeat: int) -> list[tuple[str, float, float]]:
    """(operation, per-object ms, columns ms) for each hop's encode and decode."""
    rng = random.Random(7)
    ids = [str(100_000 + i) for i in range(n)]
    scores = [rng.random() for _ in ids]
    sources = [{c: rng.random() for c in rng.sample(CHANNELS, 2)} for _ in ids]
    objects = [_PerObject(item_id=i, score=s, sources=src) for i, s, src in zip(ids, scores, sources, strict=True)]
    columns = Candidates(item_ids=ids, scores=scores)
    with_channels = Candidates(
        item_ids=ids, scores=scores, channels={c: [src.get(c) for src in sources] for c in CHANNELS}
    )
    user = UserContext(user_id="42", recent_items=[str(i) for i in range(50)])
    rules = resolve(default_scenario("home"), "t", "42").rerank_rules()
    seen = [str(i) for i in range(100)]
    ranked = RankResponse(scores=scores, ranker="fusion", version=3)
    ranked_json = ranked.model_dump_json().encode()

    old_recall = _OldRecallResponse(candidates=objects, channels=[], seen=seen)
    new_recall = RecallResponse(candidates=columns, channels=[], seen=seen)
    new_recall_debug = RecallResponse(candidates=with_channels, channels=[], seen=seen)
    old_recall_adapter: TypeAdapter[Any] = TypeAdapter(_OldRecallResponse)
    old_recall_body, new_recall_body = old_recall.model_dump_json(), new_recall.model_dump_json()
    old_rank = _OldRankCall(tenant_id="t", user=user, ranker="fusion", candidates=objects)
    new_rank = RankRequest(user=user, ranker="fusion", candidates=columns)
    old_rank_body = old_rank.model_dump_json()
    new_rank_body = pydantic_core.to_json({"tenant_id": "t", **dict(new_rank)})
    old_rerank = _OldRerankRequest(user_id="42", count=10, rules=rules, candidates=objects[:100], seen=seen)
    new_rerank = RerankRequest(user_id="42", count=10, rules=rules, candidates=columns.head(100), seen=seen)
    old_rerank_body, new_rerank_body = old_rerank.model_dump_json().encode(), new_rerank.model_dump_json().encode()
    old_rerank_answer = _OldRerankResponse(items=objects[:10])
    new_rerank_answer = RerankResponse(items=columns.head(10))
    old_rerank_adapter: TypeAdapter[Any] = TypeAdapter(_OldRerankResponse)

    def reorder_objects() -> object:
        got = RankResponse.model_validate_json(ranked_json).scores
        pairs = sorted(zip(objects, got, strict=True), key=lambda cs: -cs[1])
        return [c.model_copy(update={"score": s}) for c, s in pairs]

    def reorder_columns() -> object:
        got = RankResponse.model_validate_json(ranked_json).scores
        order = sorted(range(len(got)), key=got.__getitem__, reverse=True)
        return columns.take(order, [got[i] for i in order])

    ops: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            "recall app: encode its answer (FastAPI response_model before)",
            lambda: _fastapi_answer(old_recall_adapter, old_recall),
            new_recall.model_dump_json,
        ),
        (
            "recall app: encode its answer with channel scores (debug)",
            lambda: _fastapi_answer(old_recall_adapter, old_recall),
            new_recall_debug.model_dump_json,
        ),
        (
            "gateway: decode recall's answer",
            lambda: _OldRecallResponse.model_validate_json(old_recall_body),
            lambda: RecallResponse.model_validate_json(new_recall_body),
        ),
        (
            "gateway: encode the rank request",
            lambda: pydantic_core.to_json({"tenant_id": "t", **dict(old_rank)}),
            lambda: pydantic_core.to_json({"tenant_id": "t", **dict(new_rank)}),
        ),
        (
            "ranking app: decode the rank request",
            lambda: _OldRankCall.model_validate_json(old_rank_body),
            lambda: RankRequest.model_validate_json(new_rank_body),
        ),
        (
            "ranking app: encode its answer (json.dumps before)",
            lambda: json.dumps(ranked.model_dump()),
            ranked.model_dump_json,
        ),
        ("gateway: decode ranking's answer and reorder", reorder_objects, reorder_columns),
        ("gateway: encode the rerank request (100)", old_rerank.model_dump_json, new_rerank.model_dump_json),
        (
            "rerank app: decode the rerank request (FastAPI body)",
            lambda: _fastapi_body(_OldRerankRequest, old_rerank_body),
            lambda: _fastapi_body(RerankRequest, new_rerank_body),
        ),
        (
            "rerank app: encode its answer (FastAPI response_model before)",
            lambda: _fastapi_answer(old_rerank_adapter, old_rerank_answer),
            new_rerank_answer.model_dump_json,
        ),
    ]
    return [(name, _cpu_ms(old, repeat), _cpu_ms(new, repeat)) for name, old, new in ops]


def sizes(n: int) -> list[tuple[str, int, int]]:
    """Bytes of the candidate part of recall's answer (what crosses the sidecars twice per hop)."""
    rng = random.Random(7)
    ids = [str(100_000 + i) for i in range(n)]
    scores = [rng.random() for _ in ids]
    sources = [{c: rng.random() for c in rng.sample(CHANNELS, 2)} for _ in ids]
    objects = [_PerObject(item_id=i, score=s, sources=src) for i, s, src in zip(ids, scores, sources, strict=True)]
    plain = Candidates(item_ids=ids, scores=scores)
    full = Candidates(item_ids=ids, scores=scores, channels={c: [src.get(c) for src in sources] for c in CHANNELS})
    as_objects = len(pydantic_core.to_json(objects))
    return [
        (f"bytes: {n} candidates", as_objects, len(plain.model_dump_json())),
        (f"bytes: {n} candidates with channel scores", as_objects, len(full.model_dump_json())),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    rows = run(args.candidates, args.repeat)
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'operation':<{width}}  per-object ms  columns ms"]
    lines += [f"{name:<{width}}  {old:13.3f}  {new:10.3f}" for name, old, new in rows]
    counted = [r for r in rows if "(debug)" not in r[0]]
    old, new = sum(r[1] for r in counted), sum(r[2] for r in counted)
    lines.append(f"{'total (without the debug line)':<{width}}  {old:13.3f}  {new:10.3f}")
    lines += [f"{name:<{width}}  {o:13d}  {c:10d}" for name, o, c in sizes(args.candidates)]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
