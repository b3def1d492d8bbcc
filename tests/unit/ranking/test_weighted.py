from __future__ import annotations

import pytest
from pydantic import ValidationError

from lemo.ranking.weighted import Candidate, ScoreRequest, weighted_scores


def test_linear_blend_best_first_missing_features_are_zero() -> None:
    ranked = weighted_scores(
        [
            Candidate(item_id="a", features={"x": 1.0}),
            Candidate(item_id="b", features={"x": 0.5, "y": 2.0}),
            Candidate(item_id="c"),
        ],
        {"x": 2.0, "y": 1.0},
    )
    assert [(s.item_id, s.score) for s in ranked] == [("b", 3.0), ("a", 2.0), ("c", 0.0)]


def test_request_size_is_bounded() -> None:
    with pytest.raises(ValidationError):
        ScoreRequest(candidates=[Candidate(item_id=f"i{n}") for n in range(5001)])
