"""lemo/serving/pipeline.py against a fake StageClient: the served list when every stage answers, and each
fallback (ranking down -> recall order, rerank down -> ranked order minus seen, recall down or empty -> popular,
too few items -> topped up) with the reasons a degraded answer gives."""

from __future__ import annotations

from lemo.serving.contract import Candidates, RankRequest, RecallRequest, RerankRequest
from lemo.serving.pipeline import Pipeline, Trace
from tests.unit.serving.fakes import DOWN, FAST, STALL, FakeStages, home


def ids(items: list) -> list[str]:  # type: ignore[type-arg]
    return [i.item_id for i in items]


async def test_every_stage_answering_serves_reranked_items_in_ranked_order() -> None:
    stages = FakeStages(rank_scores={"i5": 5.0, "i9": 4.0}, seen=["i0"], recent=["i1"])
    observed: list[tuple[str, bool]] = []
    pipeline = Pipeline(stages, FAST, observe=lambda stage, _s, _t, degraded: observed.append((stage, degraded)))
    result = await pipeline.recommend("t1", "u1", home(), 4)
    assert ids(result.items) == ["i5", "i9", "i2", "i3"]  # ranked, minus seen (stored i0, recent i1)
    assert not result.degraded and result.reasons == [] and result.debug == {}
    assert observed == [("profile", False), ("recall", False), ("ranking", False), ("rerank", False)]


async def test_the_stages_get_columns_without_channel_scores_and_rerank_a_shortlist() -> None:
    stages = FakeStages(recalled={f"i{n}": 1.0 - n / 1000 for n in range(500)})
    await Pipeline(stages, FAST).recommend("t1", "u1", home(), 10, debug=True)
    (recall,) = stages.calls["recall"]
    (rank,) = stages.calls["ranking"]
    (rerank,) = stages.calls["rerank"]
    assert isinstance(recall, RecallRequest) and recall.channel_scores  # debug asks recall for them ...
    assert isinstance(rank, RankRequest) and rank.candidates.channels is None  # ... and they stay at the caller
    assert len(rank.candidates) == 500
    assert isinstance(rerank, RerankRequest) and rerank.candidates.channels is None
    assert len(rerank.candidates) == 100


async def test_debug_explains_sources_channels_ranker_rules_and_timings() -> None:
    result = await Pipeline(FakeStages(), FAST).recommend("t1", "u1", home(), 3, debug=True)
    assert [i.sources for i in result.items] == [
        {"item_cf": 0.0, "popular": 0.5},
        {"item_cf": 1.0},
        {"item_cf": 2.0, "popular": 0.5},
    ]
    assert result.debug["channels"][0]["version"] == 3
    assert result.debug["ranker"] == {"requested": "fusion", "used": "fusion", "version": 7}
    assert result.debug["rules"][0]["rule"] == "exclude_seen"
    assert set(result.debug["timings_ms"]) == {"profile", "recall", "ranking", "rerank", "total"}


async def test_without_debug_recall_is_not_asked_for_channel_scores() -> None:
    stages = FakeStages()
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3)
    (recall,) = stages.calls["recall"]
    assert isinstance(recall, RecallRequest) and not recall.channel_scores
    assert all(i.sources == {} for i in result.items)


async def test_ranking_down_serves_the_recall_order() -> None:
    stages = FakeStages(rank_scores={"i9": 9.0}, broken={"ranking": DOWN})
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3, debug=True)
    assert ids(result.items) == ["i0", "i1", "i2"]
    assert result.degraded
    assert result.reasons == ["ranking unavailable (ranking answered 500: boom); serving the recall order"]
    assert "ranker" not in result.debug


async def test_ranking_past_its_deadline_is_cut_and_says_so() -> None:
    stages = FakeStages(broken={"ranking": STALL})
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3)
    assert ids(result.items) == ["i0", "i1", "i2"]
    assert result.reasons == ["ranking unavailable (ranking took longer than 50 ms); serving the recall order"]


async def test_rerank_down_serves_the_ranked_order_minus_seen_items() -> None:
    stages = FakeStages(rank_scores={"i7": 7.0, "i8": 8.0}, seen=["i8"], recent=["i0"], broken={"rerank": DOWN})
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3, debug=True)
    assert ids(result.items) == ["i7", "i1", "i2"]
    assert result.items[0].sources == {"item_cf": 7.0}  # explanations survive the fallback
    assert result.reasons == ["rerank unavailable (rerank answered 500: boom); serving the ranked order"]
    assert "rules" not in result.debug


async def test_recall_down_serves_stored_popular_items_the_user_has_not_seen() -> None:
    stages = FakeStages(recent=["s1"], stored_popular_list=[("s1", 3.0), ("s2", 2.0), ("s3", 1.0)])
    stages.broken["recall"] = DOWN
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 5, debug=True)
    assert ids(result.items) == ["s2", "s3"]
    assert all(i.sources == {"popular": 1.0} for i in result.items)
    assert result.reasons == ["recall unavailable (recall answered 500: boom)", "served popular items"]
    assert "ranking" not in stages.calls and set(result.debug["timings_ms"]) == {
        "profile",
        "recall",
        "popular",
        "total",
    }


async def test_recall_empty_falls_back_to_the_recall_apps_popular_list() -> None:
    stages = FakeStages(recalled={})
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3)
    assert ids(result.items) == ["p0", "p1", "p2"]
    assert result.reasons == ["no candidates from any channel", "served popular items"]


async def test_no_popular_items_either_is_an_empty_degraded_list_not_an_error() -> None:
    stages = FakeStages(broken={"recall": STALL, "stored_popular": DOWN, "popular": DOWN})
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3)
    assert result.items == []
    assert result.reasons == [
        "recall unavailable (recall took longer than 50 ms)",
        "no popular items either (popular answered 500: boom)",
        "served popular items",
    ]


async def test_too_few_items_after_rerank_are_topped_up_with_unseen_popular_items() -> None:
    stages = FakeStages(rerank_keeps=2, recent=["p0"], recall_popular_list=[("p0", 3.0), ("i0", 2.0), ("p2", 1.0)])
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3)
    assert ids(result.items) == ["i0", "i1", "p2"]  # p0 seen, i0 already served
    assert not result.degraded


async def test_profile_down_recommends_as_for_a_new_user() -> None:
    stages = FakeStages(recent=["i0"], broken={"profile": DOWN})
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 2)
    assert ids(result.items) == ["i0", "i1"]  # the recent item is unknown, so not excluded
    assert result.reasons == ["user profile unavailable (profile answered 500: boom); recommending as for a new user"]


async def test_the_steps_and_a_trace_serve_what_recommend_serves() -> None:
    """The workflow runs the steps one activity each and assembles the answer with a Trace."""
    stages, scenario = FakeStages(seen=["i2"], rank_scores={"i4": 4.0}), home()
    pipeline = Pipeline(stages, FAST)
    trace = Trace()
    profile = await pipeline.user_context("t1", "u1")
    trace.add("profile", profile)
    recalled = await pipeline.recall("t1", profile.user, scenario, channel_scores=True)
    trace.add("recall", recalled)
    ranked = await pipeline.rank("t1", profile.user, scenario, recalled.candidates)
    trace.add("ranking", ranked)
    seen = set(recalled.seen)
    reranked = await pipeline.rerank("t1", "u1", scenario, 3, ranked.candidates, seen)
    trace.add("rerank", reranked)
    stepped = trace.answer(scenario, await pipeline.top_up("t1", 3, reranked.items, seen), debug=True)
    online = await pipeline.recommend("t1", "u1", scenario, 3, debug=True)
    assert stepped.items == online.items
    assert {k: v for k, v in stepped.debug.items() if k != "timings_ms"} == {
        k: v for k, v in online.debug.items() if k != "timings_ms"
    }


def test_candidate_columns_must_line_up() -> None:
    good = Candidates(item_ids=["a", "b"], scores=[1.0, 0.5], channels={"tag": [None, 2.0]})
    assert good.take([1, 0], [3.0, 1.0]).model_dump() == {
        "item_ids": ["b", "a"],
        "scores": [3.0, 1.0],
        "channels": {"tag": [2.0, None]},
    }
    assert good.sources(0) == {} and good.sources(1) == {"tag": 2.0}
    for bad in (
        {"item_ids": ["a"], "scores": []},
        {"item_ids": ["a"], "scores": [1.0], "channels": {"tag": [1.0, 2.0]}},
    ):
        try:
            Candidates.model_validate(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


async def test_a_channel_the_ranker_guard_chose_is_explained_not_degraded() -> None:
    """A training run whose ranker did not beat a channel on validation serves that channel's order: every answer
    would read as degraded if the planned choice were reported as a fallback."""
    stages = FakeStages(guard_serves="fusion v3: ease alone scored higher on validation")
    result = await Pipeline(stages, FAST).recommend("t1", "u1", home(), 3, debug=True)
    assert not result.degraded and result.reasons == []
    assert result.debug["ranker"]["serves"] == "fusion v3: ease alone scored higher on validation"
