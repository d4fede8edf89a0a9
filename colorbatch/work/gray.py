"""``colorbatch gray``: BT.601 gray copies of a colour tree, mirrored, to build evaluation pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from colorbatch.batch.engine import Distributor, Record, Stopped, TreeWork, run_bounded
from colorbatch.batch.jobs import Job, Result, RunOptions, RunSummary, Status
from colorbatch.batch.tree import run_tree
from colorbatch.color import gray_u8
from colorbatch.errors import ImageError
from colorbatch.files.imaging import peek_pixels, read_rgb_and_metadata, write_image


def gray_file(job: Job, max_pixels: int) -> Result:
    """Write the gray copy of one image."""
    try:
        rgb, metadata = read_rgb_and_metadata(job.source, max_pixels)
        write_image(job.target, gray_u8(rgb), None, metadata=metadata)
    except ImageError as exc:
        return Result(job.source, job.target, Status.FAILED, str(exc))
    return Result(job.source, job.target, Status.DONE)


@dataclass
class GrayWork(TreeWork):
    """Gray copies as the engine's kind of work: one file per thread (decoding and encoding
    release the GIL), at most 4 files per thread queued and within the pixel budget."""

    options: RunOptions

    def _gray(self, job: Job) -> Result:
        return gray_file(job, self.options.max_pixels)

    def process(self, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        def settle(job: Job, future: Future) -> None:
            record(future.result())

        with ThreadPoolExecutor(self.options.workers, "gray") as pool:
            run_bounded(pool, self._gray, jobs, settle, stopped, window=4 * self.options.workers,
                        weigh=lambda job: peek_pixels(job.source), budget=self.options.pixel_budget)


def gray_tree(source: Path, out: Path, options: RunOptions, on_result: Callable[[Result], None] | None = None,
              distributor: Distributor | None = None) -> RunSummary:
    """Write gray copies of every image under ``source`` to the mirrored path under ``out``."""
    observers = [on_result] if on_result is not None else []
    return run_tree(Path(source), Path(out), GrayWork(options), options, distributor, observers, provider="none")

