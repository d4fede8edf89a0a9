"""``colorbatch run``: stream a tree of images through a colorizer.

discover (lazy walk) -> decode (thread pool) -> batch (by network shape) -> infer -> encode and
write (thread pool) -> per-image results. Queues between stages are bounded, so memory does not
grow with the number of files. Library code: it raises or returns results, never prints.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from colorbatch.atomic import write_atomic
from colorbatch.colorize import ColorModel
from colorbatch.discover import in_shard, is_image_path, iter_files
from colorbatch.errors import ImageError, InvalidPathError
from colorbatch.imaging import (
    DEFAULT_MAX_PIXELS,
    Decoded,
    decode,
    encode,
    output_suffix,
    peek_pixels,
    read_rgb,
)
from colorbatch.pairing import find_partner
from colorbatch.summary import Summary, score_pair

PENDING_PIXEL_LIMIT = 64_000_000  # flush batches before this many decoded pixels wait


@dataclass(frozen=True)
class RunOptions:
    batch_size: int = 16
    workers: int = 4
    fmt: str = "png"
    quality: int = 95
    overwrite: bool = False
    shard: tuple[int, int] | None = None
    strict: bool = False
    truth: Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Images between decode and the end of their write hold at most this many pixels together
    # (one image larger than that still runs, alone): memory is bounded by pixels, not file count.
    pixel_budget: int = DEFAULT_MAX_PIXELS


@dataclass
class Job:
    source: Path
    relative: Path
    target: Path


class Status(str, Enum):
    """What happened to one input. A ``str`` enum: reports and JSON show the plain word."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"  # not an image type colorbatch reads; counted, never an error

    def __str__(self) -> str:
        return self.value


@dataclass
class Result:
    """What happened to one input: its ``Status``, and the reason where it was not done."""

    source: Path
    target: Path | None
    status: Status
    reason: str = ""
    psnr: float | None = None
    ssim: float | None = None
    truth: Path | None = None
    colourfulness: float | None = None
    colourfulness_truth: float | None = None


@dataclass
class RunSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    unsupported: int = 0
    seconds: float = 0.0
    provider: str = ""
    failures: list[Result] = field(default_factory=list)
    scores: Summary | None = None
    interrupted: bool = False  # Ctrl-C: the counts are what finished before it
    peak_pixels_in_flight: int = 0  # the most pixels decoded-but-not-written at any time

    def record(self, result: Result) -> None:
        """Count one result under its status."""
        if result.status is Status.DONE:
            self.done += 1
        elif result.status is Status.SKIPPED:
            self.skipped += 1
        elif result.status is Status.UNSUPPORTED:
            self.unsupported += 1
        else:
            self.failed += 1
            self.failures.append(result)

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def check_paths(source: Path, out: Path) -> None:
    """Refuse a missing input, an output folder that is the input folder, inside it or around it,
    and an output that exists and is not a folder."""
    if not source.exists():
        raise InvalidPathError(f"{source}: no such file or folder")
    src, dst = source.resolve(), out.resolve()
    if src.is_dir():
        if dst == src or src in dst.parents:
            raise InvalidPathError(f"output folder {out} is inside the input folder {source}; choose another")
        if dst in src.parents:
            raise InvalidPathError(f"input folder {source} is inside the output folder {out}; choose another")
    if dst.exists() and not dst.is_dir() and single_file_target(source, out) is None:
        raise InvalidPathError(f"output {out} exists and is not a folder")


def single_file_target(source: Path, out: Path) -> Path | None:
    """``run photo.png out.png``: a single-file INPUT with an image file name as OUT writes that
    file (its format from its extension); None when OUT is a folder."""
    if source.is_file() and is_image_path(out) and not out.is_dir():
        return out
    return None


def _linked_folder(target: Path, out: Path) -> Path | None:
    """The first folder between ``out`` and ``target`` that is a symbolic link, if any: writing
    through it would land outside OUT."""
    folder = target.parent
    while folder != out and out in folder.parents:
        if folder.is_symlink():
            return folder
        folder = folder.parent
    return None


def _is_same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _unreadable_folder(error: OSError) -> Result:
    folder = Path(error.filename) if error.filename else Path("?")
    return Result(folder, None, Status.FAILED, f"{folder}: cannot list folder ({error.strerror or error})")


def plan_jobs(source: Path, out: Path, options: RunOptions) -> Iterator[Job | Result]:
    """Lazily map inputs to outputs; yields ``Result`` for files decided without work.

    An output that would replace its own input is refused: for a single-file INPUT as an
    ``InvalidPathError`` before anything is written, in a tree as that file's failure.
    """
    base = source if source.is_dir() else source.parent
    claimed: dict[Path, Path] = {}  # outputs of the current folder only: collisions are per folder
    folder = None
    unreadable: list[OSError] = []
    for path in iter_files(source, on_error=unreadable.append):
        while unreadable:
            yield _unreadable_folder(unreadable.pop(0))
        relative = path.relative_to(base)
        if not is_image_path(path):
            reason = f"{path.suffix or 'no extension'} is not a supported image type"
            yield Result(path, None, Status.UNSUPPORTED, reason)
            continue
        if not in_shard(relative, options.shard):
            continue
        if relative.parent != folder:
            folder, claimed = relative.parent, {}
        target = single_file_target(source, out) or out / relative.with_suffix(output_suffix(path, options.fmt))
        if _is_same_file(target, path):
            if source.is_file():
                raise InvalidPathError(f"output {target} is the input {source} itself; choose another OUT")
            yield Result(path, target, Status.FAILED, f"output {target} is its own input; refused")
            continue
        if (link := _linked_folder(target, out)) is not None:
            yield Result(path, target, Status.FAILED, f"output folder {link} is a symbolic link; colorbatch never "
                                                 "writes through links inside OUT")
            continue
        if target in claimed:
            yield Result(path, target, Status.FAILED, f"output {target} would also be written from {claimed[target]}")
            continue
        claimed[target] = path
        if _finished(target) and not options.overwrite:
            yield Result(path, target, Status.SKIPPED, "output exists (use --overwrite)")
            continue
        yield Job(path, relative, target)
    while unreadable:
        yield _unreadable_folder(unreadable.pop(0))


def _finished(target: Path) -> bool:
    """An output a previous run completed: writes are atomic, so a non-empty file under the final
    name is whole (an empty one is from elsewhere and is redone)."""
    try:
        return target.stat().st_size > 0
    except OSError:
        return False


class _Batcher:
    """Groups decoded images by network shape; hands out full batches, or the largest group
    when too many pixels are waiting."""

    def __init__(self, colorizer: ColorModel, batch_size: int) -> None:
        self.colorizer = colorizer
        self.batch_size = batch_size
        self.groups: dict[tuple[int, int], list[tuple[Job, Decoded]]] = {}
        self.pixels = 0

    def add(self, job: Job, decoded: Decoded) -> list[list[tuple[Job, Decoded]]]:
        shape = self.colorizer.shape_for(decoded)
        group = self.groups.setdefault(shape, [])
        group.append((job, decoded))
        self.pixels += decoded.luma.size
        ready = []
        if len(group) >= self.batch_size:
            ready.append(self._take(shape))
        while self.pixels > PENDING_PIXEL_LIMIT and self.groups:
            ready.append(self._take(max(self.groups, key=lambda k: len(self.groups[k]))))
        return ready

    def drain(self) -> list[list[tuple[Job, Decoded]]]:
        return [self._take(key) for key in list(self.groups)]

    def _take(self, key: tuple[int, int]) -> list[tuple[Job, Decoded]]:
        group = self.groups.pop(key)
        self.pixels -= sum(d.luma.size for _, d in group)
        return group


class Pipeline:
    def __init__(self, colorizer: ColorModel, options: RunOptions,
                 on_result: Callable[[Result], None] | None = None) -> None:
        self.colorizer = colorizer
        self.options = options
        self.on_result = on_result or (lambda result: None)
        self.summary = RunSummary(provider=colorizer.provider,
                                  scores=Summary() if options.truth is not None else None)
        self._stop = False
        self.job_pixels: dict[Path, int] = {}  # pixels of each job between decode and write
        self.in_flight = 0

    def record(self, result: Result) -> None:
        self.in_flight -= self.job_pixels.pop(result.source, 0)
        self.summary.record(result)
        if result.status is Status.FAILED and self.options.strict:
            self._stop = True
        self.on_result(result)

    def _decode(self, job: Job) -> Decoded:
        return decode(job.source, self.options.max_pixels)

    def _write(self, job: Job, rgb: np.ndarray, decoded: Decoded) -> Result:
        try:
            data = encode(rgb, decoded.alpha, job.target.suffix, self.options.quality, decoded.metadata)
            write_atomic(job.target, data)
        except (OSError, ValueError, KeyError) as exc:
            return Result(job.source, job.target, Status.FAILED, f"cannot write {job.target}: {exc}")
        result = Result(job.source, job.target, Status.DONE)
        if self.options.truth is not None:
            self._score(job, rgb, result)
        return result

    def _score(self, job: Job, rgb: np.ndarray, result: Result) -> None:
        try:
            partner = find_partner(self.options.truth, job.relative)
            if partner is None:
                return
            truth = read_rgb(partner)
            score = score_pair(rgb, truth)
        except (ImageError, ValueError) as exc:
            result.reason = f"not scored: {exc}"
            return
        result.psnr, result.ssim, result.truth = score.psnr, score.ssim, partner
        result.colourfulness, result.colourfulness_truth = score.colourfulness, score.colourfulness_truth
        self.summary.scores.add(score, rgb.shape[0] * rgb.shape[1])

    def _infer(self, batch: list[tuple[Job, Decoded]]) -> list[tuple[Job, Decoded, np.ndarray | None, str]]:
        try:
            outputs = self.colorizer.colorize_same_shape([d for _, d in batch])
            return [(job, d, rgb, "") for (job, d), rgb in zip(batch, outputs)]
        except Exception as exc:  # onnxruntime's own error types; retry one by one below
            if len(batch) == 1:
                return [(batch[0][0], batch[0][1], None, f"{batch[0][0].source}: inference failed: {str(exc)[:200]}")]
        return [item for single in batch for item in self._infer([single])]

    def run(self, source: Path, out: Path) -> RunSummary:
        check_paths(source, out)
        started = time.perf_counter()
        ahead = max(2 * self.options.batch_size, 2 * self.options.workers)
        batcher = _Batcher(self.colorizer, self.options.batch_size)
        decodes: deque[tuple[Job, Future]] = deque()
        writes: deque[Future] = deque()
        with ThreadPoolExecutor(self.options.workers, "decode") as decode_pool, \
                ThreadPoolExecutor(self.options.workers, "write") as write_pool:

            def finish_writes(limit: int) -> None:
                while len(writes) > limit:
                    result = writes[0].result()  # an interruption while waiting keeps it queued
                    writes.popleft()
                    self.record(result)

            def dispatch(batches) -> None:
                for batch in batches:
                    for job, decoded, rgb, reason in self._infer(batch):
                        if rgb is None:
                            self.record(Result(job.source, job.target, Status.FAILED, reason))
                        else:
                            writes.append(write_pool.submit(self._write, job, rgb, decoded))
                    finish_writes(ahead)

            def finish_decodes(limit: int) -> None:
                while len(decodes) > limit and not self._stop:
                    job, future = decodes.popleft()
                    try:
                        decoded = future.result()
                    except ImageError as exc:
                        self.record(Result(job.source, job.target, Status.FAILED, str(exc)))
                        continue
                    dispatch(batcher.add(job, decoded))

            def make_room(pixels: int) -> None:
                """Finish the oldest work until ``pixels`` more fit the budget (or nothing is left)."""
                while self.in_flight + pixels > self.options.pixel_budget and not self._stop:
                    if decodes:
                        finish_decodes(len(decodes) - 1)
                    elif batcher.groups:
                        dispatch(batcher.drain())
                    elif writes:
                        finish_writes(len(writes) - 1)
                    else:
                        break

            try:
                for item in plan_jobs(source, out, self.options):
                    if self._stop:
                        break
                    if isinstance(item, Result):
                        self.record(item)
                        continue
                    pixels = peek_pixels(item.source)
                    make_room(pixels)
                    self.job_pixels[item.source] = pixels
                    self.in_flight += pixels
                    self.summary.peak_pixels_in_flight = max(self.summary.peak_pixels_in_flight, self.in_flight)
                    decodes.append((item, decode_pool.submit(self._decode, item)))
                    finish_decodes(ahead)
                finish_decodes(0)
                if not self._stop:
                    dispatch(batcher.drain())
            except KeyboardInterrupt:
                self.summary.interrupted = True
            for _, future in decodes:
                future.cancel()
            finish_writes(0)  # writes in flight are atomic and short: let them land and count them
        self.summary.seconds = time.perf_counter() - started
        return self.summary
