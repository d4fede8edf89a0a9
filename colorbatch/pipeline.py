"""Colorizing jobs: the kind of work behind ``colorbatch run``.

decode (thread pool) -> batch (by network shape) -> infer (one thread per inference stream) ->
encode and write (thread pool) -> per-image results. Queues between stages are bounded, so memory
does not grow with the number of files. ``ColorizeWork`` is what the engine distributes: in this
process it streams the whole plan through one ``Pipeline``; on a cluster worker it runs a chunk
with the model that worker process loaded once. Library code: it raises or returns results, never prints.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from colorbatch.colorize import ColorModel, ModelSpec
from colorbatch.engine import Record, Stopped, TreeWork
from colorbatch.errors import ImageError
from colorbatch.hints import with_hints
from colorbatch.imaging import Decoded, decode, peek_pixels, read_rgb
from colorbatch.jobs import ClipJob, Job, Result, RunOptions, Status
from colorbatch.pairing import find_partner
from colorbatch.summary import score_pair
from colorbatch.video.clips import ClipColorizer, FrameProgress
from colorbatch.writing import write_output

PENDING_PIXEL_LIMIT = 64_000_000  # flush batches before this many decoded pixels wait


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
    """One model's stream of jobs through the stages; ``peak_pixels_in_flight`` is the most
    pixels decoded-but-not-written at any time."""

    def __init__(self, colorizer: ColorModel, options: RunOptions) -> None:
        self.colorizer = colorizer
        self.options = options
        self.job_pixels: dict = {}  # pixels of each job between decode and write
        self.in_flight = 0
        self.peak_pixels_in_flight = 0

    def _decode(self, job: Job) -> Decoded:
        decoded = decode(job.source, self.options.max_pixels)
        if self.options.steered:
            decoded = with_hints(decoded, job.relative, self.options.hints, self.options.reference)
        return decoded

    def _write(self, job: Job, rgb: np.ndarray, decoded: Decoded) -> Result:
        result = write_output(job, rgb, decoded, self.options)
        if result.status is Status.DONE and self.options.truth is not None:
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
        result.truth, result.score, result.pixels = partner, score, rgb.shape[0] * rgb.shape[1]

    def _infer(self, batch: list[tuple[Job, Decoded]]) -> list[tuple[Job, Decoded, np.ndarray | None, str]]:
        try:
            outputs = self.colorizer.colorize_same_shape([d for _, d in batch])
            return [(job, d, rgb, "") for (job, d), rgb in zip(batch, outputs)]
        except Exception as exc:  # onnxruntime's own error types; retry one by one below
            if len(batch) == 1:
                return [(batch[0][0], batch[0][1], None, f"{batch[0][0].source}: inference failed: {str(exc)[:200]}")]
        return [item for single in batch for item in self._infer([single])]

    def process(self, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        """Colorize every job, ``record``-ing each result as it lands; after ``stopped()`` no new
        image is decoded or inferred, and the writes already under way finish and are recorded."""
        ahead = max(2 * self.options.batch_size, 2 * self.options.workers)
        streams = self.colorizer.streams.count
        batcher = _Batcher(self.colorizer, self.options.batch_size)
        decodes: deque[tuple[Job, Future]] = deque()
        inferences: deque[Future] = deque()
        writes: deque[Future] = deque()

        def finished(result: Result) -> None:
            self.in_flight -= self.job_pixels.pop(result.source, 0)
            record(result)

        with ThreadPoolExecutor(self.options.workers, "decode") as decode_pool, \
                ThreadPoolExecutor(streams, "infer") as infer_pool, \
                ThreadPoolExecutor(self.options.workers, "write") as write_pool:

            def finish_writes(limit: int) -> None:
                while len(writes) > limit:
                    result = writes[0].result()  # an interruption while waiting keeps it queued
                    writes.popleft()
                    finished(result)

            def finish_inferences(limit: int) -> None:
                """Hand the oldest inferred batches to the writers, in the order they were sent."""
                while len(inferences) > limit:
                    outputs = inferences[0].result()
                    inferences.popleft()
                    for job, decoded, rgb, reason in outputs:
                        if rgb is None:
                            finished(Result(job.source, job.target, Status.FAILED, reason))
                        else:
                            writes.append(write_pool.submit(self._write, job, rgb, decoded))
                    finish_writes(ahead)

            def dispatch(batches) -> None:
                for batch in batches:
                    inferences.append(infer_pool.submit(self._infer, batch))
                    finish_inferences(2 * streams - 1)  # every stream busy, one batch queued for each

            def finish_decodes(limit: int) -> None:
                while len(decodes) > limit and not stopped():
                    job, future = decodes.popleft()
                    try:
                        decoded = future.result()
                    except ImageError as exc:
                        finished(Result(job.source, job.target, Status.FAILED, str(exc)))
                        continue
                    dispatch(batcher.add(job, decoded))

            def make_room(pixels: int) -> None:
                """Finish the oldest work until ``pixels`` more fit the budget (or nothing is left)."""
                while self.in_flight + pixels > self.options.pixel_budget and not stopped():
                    if decodes:
                        finish_decodes(len(decodes) - 1)
                    elif batcher.groups:
                        dispatch(batcher.drain())
                    elif inferences:
                        finish_inferences(len(inferences) - 1)
                    elif writes:
                        finish_writes(len(writes) - 1)
                    else:
                        break

            try:
                for job in jobs:
                    if stopped():
                        break
                    pixels = peek_pixels(job.source)
                    make_room(pixels)
                    self.job_pixels[job.source] = pixels
                    self.in_flight += pixels
                    self.peak_pixels_in_flight = max(self.peak_pixels_in_flight, self.in_flight)
                    decodes.append((job, decode_pool.submit(self._decode, job)))
                    finish_decodes(ahead)
                finish_decodes(0)
                if not stopped():
                    dispatch(batcher.drain())
                finish_inferences(0)
            except KeyboardInterrupt:
                for future in [*(f for _, f in decodes), *inferences]:
                    future.cancel()
                finish_writes(0)  # writes in flight are atomic and short: let them land and count them
                raise
            finish_writes(0)


@functools.lru_cache(maxsize=4)
def load_model(spec: ModelSpec) -> ColorModel:
    """This process's model for ``spec``, loaded once: a cluster worker reuses it for every chunk."""
    return ColorModel(**spec.__dict__)


@dataclass
class ColorizeWork(TreeWork):
    """Colorizing as the engine's kind of work. ``model`` is this process's loaded model (never
    pickled: a worker loads its own from ``spec``, once per process). Clips (videos, frame
    sequences) run through ``clips.ClipColorizer`` as the plan reaches them; ``on_frames`` hears
    their progress in frames (in this process only)."""

    spec: ModelSpec | None
    options: RunOptions
    model: ColorModel | None = field(default=None, repr=False)
    peak_pixels_in_flight: int = 0
    on_frames: FrameProgress | None = field(default=None, repr=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "model": None, "on_frames": None}

    def process(self, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        if self.model is None:
            self.model = load_model(self.spec)
        pipeline = Pipeline(self.model, self.options)
        clips = ClipColorizer(self.model, self.options, self.on_frames)

        def images() -> Iterator[Job]:
            for job in jobs:
                if isinstance(job, ClipJob):
                    clips.run(job, record)
                else:
                    yield job

        try:
            pipeline.process(images(), record, stopped)
        finally:
            self.peak_pixels_in_flight = max(self.peak_pixels_in_flight, pipeline.peak_pixels_in_flight)

    def process_chunk(self, jobs: list[Job]) -> list[Result]:
        """One chunk on a cluster worker, whose model uses that worker's share of cores."""
        from colorbatch.cluster import worker_threads

        if self.model is None and self.spec.threads is None:
            self.spec = replace(self.spec, threads=worker_threads())
        return super().process_chunk(jobs)
