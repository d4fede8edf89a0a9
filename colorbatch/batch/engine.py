"""The batch engine: one way to execute a plan, whatever the kind of job.

A plan (``plan.plan_jobs`` for run and gray, pairs for score) yields ``Job``s and the results
decided without work (skipped, not an image, refused). The engine hands the jobs to a
distributor, which runs them as their kind of work (``Work``) asks: in this process
(``LocalDistributor``, the default) or in chunks on a Dask cluster
(``colorbatch.batch.cluster.DaskDistributor``). Every result, decided or worked, reaches the observers
(the summary, the progress bar, a report) here, in the order it arrives; ``stop_on`` (--strict)
ends the plan at the first result it matches.

    plan -> distributor -> work -> results -> observers
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Protocol

from colorbatch.batch.jobs import ClipJob, Job, Result, Status
from colorbatch.batch.stage import Settle, Stage

Record = Callable[[Result], None]
Stopped = Callable[[], bool]


class Work(Protocol):
    """A kind of job: colorize (``pipeline.ColorizeWork``), gray (``grayscale.GrayWork``) or score
    (``scoring.ScoreWork``). It pickles, so that it can travel to cluster workers."""

    def process(self, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        """Run a stream of jobs in this process with the work's own parallelism, ``record`` each
        result as it finishes, and take no further job once ``stopped()``."""

    def process_chunk(self, jobs: list[Job]) -> list[Result]:
        """Run a few jobs where this is called (a cluster worker); the result of each."""

    def lost(self, job: Job, reason: str) -> Result:
        """The failed result of a job whose chunk could not run, with the reason."""


class TreeWork:
    """What the kinds of work that mirror a tree (colorize, gray) share: a chunk runs as a short
    stream in this process, and a lost job fails with its output named."""

    def process_chunk(self, jobs: list[Job]) -> list[Result]:
        results: list[Result] = []
        self.process(iter(jobs), results.append, lambda: False)
        return results

    def lost(self, job: Job, reason: str) -> Result:
        return Result(job.source, job.target, Status.FAILED, reason)


class Distributor(Protocol):
    description: str  # where the work ran, for the summary line

    def distribute(self, work: Work, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None: ...


class LocalDistributor:
    """This machine: the work streams the jobs through its own threads or processes."""

    description = ""

    def distribute(self, work: Work, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        work.process(jobs, record, stopped)


@dataclass
class Outcome:
    seconds: float
    interrupted: bool  # Ctrl-C: what was recorded is what finished before it


def execute(plan: Iterable, work: Work, distributor: Distributor | None = None,
            observers: Sequence[Record] = (), stop_on: Callable[[Result], bool] | None = None) -> Outcome:
    """Run every job of ``plan`` through ``distributor`` (default: this process) and pass each
    result, in the order it arrives, to every observer."""
    distributor = distributor or LocalDistributor()
    stop = False

    def record(result: Result) -> None:
        nonlocal stop
        for observer in observers:
            observer(result)
        stop = stop or (stop_on is not None and stop_on(result))

    def jobs() -> Iterator[Job]:
        for item in plan:
            if stop:
                return
            if isinstance(item, Job):
                yield item
            else:
                record(item)

    started = time.perf_counter()
    try:
        distributor.distribute(work, jobs(), record, lambda: stop)
    except KeyboardInterrupt:
        return Outcome(time.perf_counter() - started, interrupted=True)
    return Outcome(time.perf_counter() - started, interrupted=False)


def chunked(jobs: Iterable[Job], size: int) -> Iterator[list[Job]]:
    """Lists of ``size`` jobs (the last may be shorter), drawn lazily; a clip (a video, a piece
    of a sequence) is a chunk of its own, as it is many frames of work."""
    chunk: list[Job] = []
    for job in jobs:
        if isinstance(job, ClipJob):
            yield [job]
            continue
        chunk.append(job)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_bounded(executor: Executor, fn: Callable[[Any], Any], items: Iterable, settle: Settle,
                stopped: Stopped, window: int, weigh: Callable[[Any], int] | None = None,
                budget: int | None = None, lane: Callable[[Any], int] | None = None) -> None:
    """Submit ``fn(item)`` for each item with at most ``window`` in flight (and, with ``weigh``, at
    most ``budget`` of weight together; a heavier item runs alone), and ``settle(item, future)``
    each in the order submitted: a ``stage.Stage`` fed until ``stopped()``. With ``lane``, each
    lane number has a ``Stage`` of its own (its own window, settled in its own order, lanes
    finished in number order), so that slow items of one kind do not hold back the others.

    On Ctrl-C the queued items are cancelled, the ones already running are settled, and the
    interruption goes on up.
    """
    stages: dict[int, Stage] = {}
    try:
        for item in items:
            if stopped():
                break
            key = lane(item) if lane is not None else 0
            if key not in stages:  # window - 1 wait while the newest runs
                stages[key] = Stage(executor, fn, settle, window - 1, budget)
            stages[key].submit(item, weigh(item) if weigh is not None else 0)
    except KeyboardInterrupt:
        for stage in stages.values():
            stage.cancel()
        for key in sorted(stages):
            stages[key].finish()
        raise
    for key in sorted(stages):
        stages[key].finish()


def chunk_settler(work: Work, record: Record) -> Callable[[list[Job], Future], None]:
    """Settles a chunk's future: each of its results, or, when the chunk itself failed (its
    worker died, on every retry), one failed result per job naming the reason."""

    def settle(chunk: list[Job], future: Future) -> None:
        try:
            results = future.result()
        except Exception as exc:  # whatever killed the task: the jobs fail, the batch goes on
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            results = [work.lost(job, f"{job.source}: its task failed ({reason})") for job in chunk]
        for result in results:
            record(result)

    return settle
