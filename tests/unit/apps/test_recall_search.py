"""The recall app's exact in-memory vector search, against a plain full sort."""

from __future__ import annotations

import numpy as np

from apps.recall.channels import exact_search


def _data(n: int = 300, dim: int = 16) -> tuple[np.ndarray, list[str], dict[str, int], np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    ids = [f"i{n}" for n in range(n)]
    return vectors, ids, {i: n for n, i in enumerate(ids)}, rng.normal(size=dim).astype(np.float32)


def test_returns_the_k_best_inner_products_best_first() -> None:
    vectors, ids, index, query = _data()
    expected = [ids[n] for n in np.argsort(-(vectors @ query), kind="stable")[:10]]
    found = exact_search(vectors, ids, index, query, 10, frozenset())
    assert [i for i, _ in found] == expected
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_leaves_out_excluded_items_and_still_fills_k() -> None:
    vectors, ids, index, query = _data()
    best = [i for i, _ in exact_search(vectors, ids, index, query, 5, frozenset())]
    found = [i for i, _ in exact_search(vectors, ids, index, query, 5, frozenset(best[:3]) | {"unknown"})]
    assert len(found) == 5 and not set(found) & set(best[:3])
    assert found[:2] == best[3:]


def test_k_beyond_the_collection_returns_every_allowed_item() -> None:
    vectors, ids, index, query = _data(n=6)
    assert len(exact_search(vectors, ids, index, query, 50, frozenset())) == 6
    assert len(exact_search(vectors, ids, index, query, 50, frozenset({"i0", "i1"}))) == 4
    assert exact_search(vectors, ids, index, query, 50, frozenset(ids)) == []


def test_ties_keep_row_order() -> None:
    vectors = np.ones((5, 2), dtype=np.float32)
    ids = ["a", "b", "c", "d", "e"]
    found = exact_search(vectors, ids, {i: n for n, i in enumerate(ids)}, np.ones(2, dtype=np.float32), 3, frozenset())
    assert [i for i, _ in found] == ["a", "b", "c"]
