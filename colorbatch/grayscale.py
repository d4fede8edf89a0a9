"""``colorbatch gray``: BT.601 gray copies of a colour tree, mirrored, to build evaluation pairs."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.color import gray_u8
from colorbatch.errors import ImageError
from colorbatch.imaging import DEFAULT_MAX_PIXELS, read_rgb, write_atomic
from colorbatch.pipeline import Job, Result, RunOptions, RunSummary, check_paths, plan_jobs


def _gray_file(job: Job, max_pixels: int) -> Result:
    try:
        with Image.open(job.source) as probe:
            if probe.width * probe.height > max_pixels:
                raise ImageError(f"{job.source}: {probe.width}x{probe.height} is over the pixel limit")
        rgb = read_rgb(job.source)
        buffer = io.BytesIO()
        Image.fromarray(gray_u8(np.ascontiguousarray(rgb)), "L").save(
            buffer, format={".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(job.target.suffix, "PNG"),
            **({"quality": 95} if job.target.suffix in (".jpg", ".jpeg", ".webp") else {}),
        )
        write_atomic(job.target, buffer.getvalue())
    except ImageError as exc:
        return Result(job.source, job.target, "failed", str(exc))
    except OSError as exc:
        return Result(job.source, job.target, "failed", f"{job.source}: {exc}")
    return Result(job.source, job.target, "done")


def gray_tree(source: Path, out: Path, options: RunOptions,
              on_result: Callable[[Result], None] | None = None) -> RunSummary:
    """Write gray copies of every image under ``source`` to the mirrored path under ``out``."""
    check_paths(source, out)
    summary = RunSummary(provider="none")
    started = time.perf_counter()

    def record(result: Result) -> None:
        summary.record(result)
        if on_result:
            on_result(result)

    with ThreadPoolExecutor(options.workers) as pool:
        pending = []
        for item in plan_jobs(source, out, options):
            if isinstance(item, Result):
                record(item)
                continue
            pending.append(pool.submit(_gray_file, item, options.max_pixels or DEFAULT_MAX_PIXELS))
            while len(pending) > 4 * options.workers:
                record(pending.pop(0).result())
        for future in pending:
            record(future.result())
    summary.seconds = time.perf_counter() - started
    return summary

