"""Work several threads want done once (the run's rankers' examples and evaluation pairs): each batch is computed
once by whichever thread takes it, every thread gets the same assembled result, and a failure reaches all."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lemo.models import RankingExamples, train_recall
from lemo.models.shared_work import SharedBatches
from tests.unit.synthetic_data import planted


def test_every_batch_runs_once_and_every_thread_gets_the_result() -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def batch(i: int) -> int:
        with lock:
            calls.append(i)
        return i * i

    shared: SharedBatches[int, int] = SharedBatches(50, batch, sum)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: shared.result(), range(3)))
    assert results == [sum(i * i for i in range(50))] * 3
    assert sorted(calls) == list(range(50))


def test_a_failed_batch_fails_every_waiting_thread() -> None:
    def batch(i: int) -> int:
        if i == 3:
            raise ValueError("bad batch")
        return i

    shared: SharedBatches[int, int] = SharedBatches(8, batch, sum)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(shared.result) for _ in range(2)]
    for future in futures:
        with pytest.raises((ValueError, RuntimeError)):
            future.result()


def test_rankers_asking_at_once_share_examples_equal_to_one_build() -> None:
    data = planted()
    recall = {k: train_recall(k, data) for k in ("ease", "item_cf")}
    with ThreadPoolExecutor(3) as pool:
        built = list(pool.map(lambda _: RankingExamples.build(data, recall, {"max_users": 0}), range(3)))
    assert built[0] is built[1] is built[2]
    alone = RankingExamples.build(data.subset(np.ones(len(data.rows), bool)), recall, {"max_users": 0})
    np.testing.assert_array_equal(alone.labels, built[0].labels)
    np.testing.assert_array_equal(alone.features.dense, built[0].features.dense)
