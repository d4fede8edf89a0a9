"""Mirroring a tree (``run`` and ``gray``): its plan, executed by the engine, each result counted
into the run's summary, each output's sources recorded in OUT's journal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from colorbatch.batch.engine import Distributor, Record, Work, execute
from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, RunSummary, Status
from colorbatch.batch.plan import check_paths, plan_jobs, plan_sequences
from colorbatch.batch.sources import Journal
from colorbatch.files.atomic import sole_writer
from colorbatch.scoring.scores import ScoreSummary

SEQUENCE_PIECE = 512  # frames of a sequence per cluster task


def plan_tree(source: Path, out: Path, options: RunOptions, distributor: Distributor | None = None,
              journal: Journal | None = None, only: Path | None = None) -> Iterator[Job | Result]:
    """The plan of mirroring ``source`` into ``out``: jobs and the results decided without work
    (of the one input ``only``, its path under ``source``, when given)."""
    check_paths(source, out)
    plan = plan_jobs(source, out, options, journal, only)
    if options.sequence:  # on a cluster, long sequences are cut into pieces that run in parallel
        plan = plan_sequences(plan, out, piece=None if distributor is None else SEQUENCE_PIECE)
    return plan


def run_tree(source: Path, out: Path, work: Work, options: RunOptions, distributor: Distributor | None = None,
             observers: Sequence[Record] = (), provider: str = "", journal: Journal | None = None,
             only: Path | None = None) -> RunSummary:
    """Mirror the tree ``source`` into ``out`` with ``work`` (run and gray): plan, execute, and
    count every result into the returned summary. With a ``journal``, each output's sources are
    recorded: pending before a job leaves the plan, complete when its output is written."""
    summary = RunSummary(provider=provider, scores=ScoreSummary() if options.truth is not None else None)
    plan = plan_tree(source, out, options, distributor, journal, only)
    if journal is not None:
        plan = _begun(plan, journal)
        observers = [*observers, journal.observe]
    with sole_writer() if distributor is None else contextlib.nullcontext():
        outcome = execute(plan, work, distributor, [summary.record, *observers],
                          stop_on=_failed if options.strict else None)
    summary.seconds, summary.interrupted = outcome.seconds, outcome.interrupted
    if distributor is not None and distributor.description:  # the workers chose their own providers
        summary.provider = distributor.description
    return summary


def _begun(plan: Iterable[Job | Result], journal: Journal) -> Iterator[Job | Result]:
    """The plan, each job's outputs marked pending in the journal before the job goes on."""
    for item in plan:
        if isinstance(item, ClipJob) and item.frames is not None:
            journal.begin((f.job.target, f.job.sources) for f in item.frames[item.warmup:] if not f.done)
        elif isinstance(item, Job):
            journal.begin([(item.target, item.sources)])
        yield item


def _failed(result: Result) -> bool:
    return result.status is Status.FAILED
