"""A bounded stage: the one place where the run path waits for work it handed to a thread pool.

Every step of the run path that runs on a pool (decode, infer, write in ``pipeline``; a clip's
inference, encoding and frame writes in ``video.clips``; gray, score and cluster chunks through
``engine.run_bounded``) is a ``Stage``: ``submit`` hands an item to the pool, and once more than
``window`` items wait (or, with a ``budget``, their weight would pass it) the oldest is
``settle``-d, in the order submitted. So memory stays bounded however many items come, and
back-pressure and Ctrl-C are handled here, once.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Executor, Future
from typing import Any

Settle = Callable[[Any, Future], None]  # (item, its finished future)


class Stage:
    """``fn(item)`` on ``executor`` for each submitted item; ``settle(item, future)`` for each in
    the order submitted, once it is finished and more than ``window`` wait behind it (or when
    asked: ``advance``, ``finish``)."""

    def __init__(self, executor: Executor, fn: Callable[[Any], Any], settle: Settle, window: int,
                 budget: int | None = None) -> None:
        self.executor = executor
        self.fn = fn
        self.settle = settle
        self.window = window
        self.budget = budget  # the most weight in flight; a heavier item runs alone
        self.pending: deque[tuple[Any, Future, int]] = deque()
        self.weight = 0

    def __len__(self) -> int:
        return len(self.pending)

    def submit(self, item: Any, weight: int = 0) -> None:
        """Start ``item``, first settling the oldest while its weight would not fit the budget,
        then while more than ``window`` wait."""
        while self.pending and self.budget is not None and self.weight + weight > self.budget:
            self.advance()
        self.pending.append((item, self.executor.submit(self.fn, item), weight))
        self.weight += weight
        while len(self.pending) > self.window:
            self.advance()

    def advance(self) -> None:
        """Wait for the oldest item and settle it (a cancelled one is dropped). An interruption
        while waiting leaves it queued, so that it can still be settled or cancelled."""
        item, future, weight = self.pending[0]
        with contextlib.suppress(CancelledError):
            future.exception()
        self.pending.popleft()
        self.weight -= weight
        if not future.cancelled():
            self.settle(item, future)

    def finish(self) -> None:
        """Settle every item still waiting."""
        while self.pending:
            self.advance()

    def cancel(self) -> None:
        """Cancel the items the pool has not started; ``finish`` then settles only the others."""
        for _, future, _ in self.pending:
            future.cancel()


def in_order(executor: Executor, fn: Callable[[Any], Any], items: Iterable,
             window: int) -> Iterator[tuple[Any, Future]]:
    """``(item, finished future)`` for each of ``items`` in order, with at most ``window`` more
    running ahead: a ``Stage`` for a consumer that iterates. Leaving early cancels the rest."""
    settled: deque[tuple[Any, Future]] = deque()
    stage = Stage(executor, fn, lambda item, future: settled.append((item, future)), window)
    try:
        for item in items:
            stage.submit(item)
            while settled:
                yield settled.popleft()
        stage.finish()
        while settled:
            yield settled.popleft()
    finally:
        stage.cancel()
