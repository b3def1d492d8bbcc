"""Work that several threads of one process want done once, and can share.

The train workflow fans a run's rankers out as concurrent activities on the trainer's thread pool, and each
needs the same expensive result first (the labelled examples, the evaluation pairs). With a plain lock one
thread builds it while the others wait, so the run's slowest steps used one core. Here every thread that asks
takes the next unclaimed batch until none is left, then all of them get the assembled result; numpy releases
the GIL in the heavy parts, so two threads use both cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class SharedBatches(Generic[T, R]):
    """`batch(i)` for i in range(n), computed by whichever callers of `result()` are present, then
    `assemble(results in order)` once. Deterministic as long as each batch is (seed batches by their index)."""

    def __init__(self, n: int, batch: Callable[[int], T], assemble: Callable[[list[T]], R]) -> None:
        self._n, self._batch, self._assemble = n, batch, assemble
        self._next = 0
        self._done = 0
        self._parts: list[T | None] = [None] * n
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._assembled: list[R] = []
        self._assemble_lock = threading.Lock()

    def _take(self) -> int | None:
        with self._cond:
            if self._error is not None or self._next >= self._n:
                return None
            self._next += 1
            return self._next - 1

    def result(self) -> R:
        while (index := self._take()) is not None:
            try:
                part = self._batch(index)
            except BaseException as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                raise
            with self._cond:
                self._parts[index] = part
                self._done += 1
                self._cond.notify_all()
        with self._cond:
            self._cond.wait_for(lambda: self._error is not None or self._done == self._n)
            if self._error is not None:
                raise RuntimeError("a shared batch failed in another thread") from self._error
        with self._assemble_lock:
            if not self._assembled:
                self._assembled.append(self._assemble([p for p in self._parts if p is not None]))
                self._parts = []  # the assembled result holds what is needed: parts would double the memory
            return self._assembled[0]
