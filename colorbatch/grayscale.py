"""``colorbatch gray``: BT.601 gray copies of a colour tree, mirrored, to build evaluation pairs."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from colorbatch.atomic import write_atomic
from colorbatch.color import gray_u8
from colorbatch.errors import ImageError
from colorbatch.imaging import encode, peek_pixels, read_rgb_and_metadata
from colorbatch.pipeline import Job, Result, RunOptions, RunSummary, Status, check_paths, plan_jobs


def _gray_file(job: Job, max_pixels: int) -> Result:
    try:
        rgb, metadata = read_rgb_and_metadata(job.source, max_pixels)
        write_atomic(job.target, encode(gray_u8(rgb), None, job.target.suffix, metadata=metadata))
    except ImageError as exc:
        return Result(job.source, job.target, Status.FAILED, str(exc))
    except OSError as exc:
        return Result(job.source, job.target, Status.FAILED, f"cannot write {job.target}: {exc}")
    return Result(job.source, job.target, Status.DONE)


def gray_tree(source: Path, out: Path, options: RunOptions,
              on_result: Callable[[Result], None] | None = None) -> RunSummary:
    """Write gray copies of every image under ``source`` to the mirrored path under ``out``."""
    check_paths(source, out)
    summary = RunSummary(provider="none")
    started = time.perf_counter()

    stop = False

    def record(result: Result) -> None:
        nonlocal stop
        summary.record(result)
        stop = stop or (result.status is Status.FAILED and options.strict)
        if on_result:
            on_result(result)

    with ThreadPoolExecutor(options.workers) as pool:
        pending = []
        try:
            for item in plan_jobs(source, out, options):
                if stop:  # --strict: no new work after the first failure
                    break
                if isinstance(item, Result):
                    record(item)
                    continue
                pixels = peek_pixels(item.source)
                # at most 4 files per worker queued, and together within the pixel budget (one may exceed it alone)
                while pending and (len(pending) >= 4 * options.workers
                                   or sum(p for _, p in pending) + pixels > options.pixel_budget):
                    record(pending.pop(0)[0].result())
                pending.append((pool.submit(_gray_file, item, options.max_pixels), pixels))
        except KeyboardInterrupt:
            summary.interrupted = True
            for future, _ in pending:
                future.cancel()
        for future, _ in pending:
            if not future.cancelled():
                record(future.result())
    summary.seconds = time.perf_counter() - started
    return summary

