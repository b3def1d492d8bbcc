"""TrainingData: event aggregation and the per-user split every evaluation depends on."""

from __future__ import annotations

import random

import numpy as np

from lemo.models import Interaction, ItemMeta, TrainingData, UserMeta


def _events(n_users: int = 20, per_user: int = 9) -> list[Interaction]:
    return [
        Interaction(f"u{u}", f"i{(u * 7 + n) % 40}", "view", None, float(n))
        for u in range(n_users)
        for n in range(per_user)
    ]


def _pairs(data: TrainingData) -> set[tuple[int, int]]:
    return set(zip(data.rows.tolist(), data.cols.tolist(), strict=True))


def test_build_weights_types_drops_impressions_and_disliked_pairs() -> None:
    data = TrainingData.build(
        [
            Interaction("a", "x", "view", None, 5.0),
            Interaction("a", "x", "purchase", None, 3.0),
            Interaction("a", "y", "impression", None, 1.0),
            Interaction("a", "z", "like", None, 1.0),
            Interaction("a", "z", "dislike", None, 2.0),
            Interaction("b", "y", "rate", 1.0, 9.0),
        ]
    )
    weights = {
        (data.user_ids[r], data.item_ids[c]): w for r, c, w in zip(data.rows, data.cols, data.weights, strict=True)
    }
    assert weights == {("a", "x"): 4.0, ("b", "y"): 1.0}
    assert data.histories()[data.user_index["a"]] == ["x"]
    assert data.times[data.rows == data.user_index["a"]].tolist() == [3.0]  # the first positive event


def test_histories_are_ordered_by_time() -> None:
    data = TrainingData.build(
        [Interaction("a", "late", "click", None, 30.0), Interaction("a", "early", "click", None, 10.0)]
    )
    assert data.histories() == [["early", "late"]]


def test_split_is_per_user_disjoint_and_complete() -> None:
    data = TrainingData.build(_events())
    train, test = data.split(0.25, seed=42)
    assert train.item_ids == test.item_ids == data.item_ids and train.user_ids == data.user_ids
    train_pairs, test_pairs = _pairs(train), _pairs(test)
    assert not train_pairs & test_pairs
    assert len(train_pairs | test_pairs) == data.matrix.nnz
    per_user_train = np.bincount(train.rows, minlength=data.n_users)
    assert (per_user_train == round(0.75 * 9)).all()  # 7 of each user's 9 pairs stay in train


def test_split_is_deterministic_and_ignores_event_order() -> None:
    events = _events()
    shuffled = events[:]
    random.Random(3).shuffle(shuffled)
    a_train, _ = TrainingData.build(events).split(0.25, seed=42)
    b_train, _ = TrainingData.build(shuffled).split(0.25, seed=42)
    c_train, _ = TrainingData.build(events).split(0.25, seed=7)
    assert _pairs(a_train) == _pairs(b_train)
    assert _pairs(a_train) != _pairs(c_train)


def test_a_user_with_one_interaction_keeps_it_in_train() -> None:
    data = TrainingData.build([Interaction("solo", "x", "click", None, 1.0), *_events(3)])
    train, test = data.split(0.25)
    solo = data.user_index["solo"]
    assert (train.rows == solo).sum() == 1 and (test.rows == solo).sum() == 0


def test_catalog_items_and_users_without_interactions_are_indexed() -> None:
    data = TrainingData.build(
        [Interaction("a", "x", "click", None, 1.0)], items=[ItemMeta("cold")], users=[UserMeta("new")]
    )
    assert data.item_ids == ["cold", "x"] and data.user_ids == ["a", "new"]
    assert data.item_popularity().tolist() == [0.0, 1.0]
