"""Colorizing jobs: the kind of work behind ``colorbatch run``.

decode (thread pool) -> batch (by network shape) -> infer (one thread per inference stream) ->
recombine, encode and write (thread pool) -> per-image results. Each pool is a bounded
``stage.Stage`` and the pixels between decode and write stay within a budget, so memory does not
grow with the number of files. Clips (videos, ``--sequence`` folders) run after the images, through
``video.clips``. ``ColorizeWork`` is what the engine distributes: in this process it streams the
whole plan through one ``Pipeline``; on a cluster worker it runs a chunk with the model that
worker process loaded once. Library code: it raises or returns results, never prints.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from colorbatch.batch.engine import Record, Stopped, TreeWork
from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, Status
from colorbatch.batch.stage import Stage
from colorbatch.batch.steering import steering_files, with_hints
from colorbatch.batch.writing import write_output
from colorbatch.errors import ImageError
from colorbatch.files.imaging import Decoded, decode, peek_pixels, read_rgb
from colorbatch.files.pairing import find_partner
from colorbatch.inference.model import ColorModel, ModelSpec
from colorbatch.scoring.scores import score_pair
from colorbatch.video.clips import ClipColorizer, FrameProgress

PENDING_PIXEL_LIMIT = 64_000_000  # flush batches before this many decoded pixels wait
WAITING_FRAME_LIMIT = 20_000  # frames of clips held back while the images run (a video counts one)


class _Batcher:
    """Groups decoded images by network shape and hands each full batch to ``on_batch``; when
    asked to ``advance`` (too many pixels wait), it hands on every group."""

    def __init__(self, colorizer: ColorModel, batch_size: int, on_batch: Callable[[list], None]) -> None:
        self.colorizer = colorizer
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.groups: dict[tuple[int, int], list[tuple[Job, Decoded]]] = {}
        self.pixels = 0

    def __len__(self) -> int:
        return len(self.groups)

    def add(self, job: Job, decoded: Decoded) -> None:
        shape = self.colorizer.shape_for(decoded.luma)
        group = self.groups.setdefault(shape, [])
        group.append((job, decoded))
        self.pixels += decoded.luma.size
        if len(group) >= self.batch_size:
            self._hand_on(shape)
        while self.pixels > PENDING_PIXEL_LIMIT and self.groups:
            self._hand_on(max(self.groups, key=lambda k: len(self.groups[k])))

    def advance(self) -> None:
        for key in list(self.groups):
            self._hand_on(key)

    finish = advance

    def _hand_on(self, key: tuple[int, int]) -> None:
        group = self.groups.pop(key)
        self.pixels -= sum(d.luma.size for _, d in group)
        self.on_batch(group)


class Pipeline:
    """One model's stream of jobs through the stages; ``peak_pixels_in_flight`` is the most
    pixels decoded-but-not-written at any time."""

    def __init__(self, colorizer: ColorModel, options: RunOptions) -> None:
        self.colorizer = colorizer
        self.options = options
        self.job_pixels: dict = {}  # pixels of each job between decode and write
        self.in_flight = 0
        self.peak_pixels_in_flight = 0

    def process(self, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        """Colorize every job, ``record``-ing each result as it lands; after ``stopped()`` no new
        image is decoded or inferred, and the writes already under way finish and are recorded."""
        ahead = max(2 * self.options.batch_size, 2 * self.options.workers)
        streams = self.colorizer.streams.count
        with ThreadPoolExecutor(self.options.workers, "decode") as decode_pool, \
                ThreadPoolExecutor(streams, "infer") as infer_pool, \
                ThreadPoolExecutor(self.options.workers, "write") as write_pool:
            writing = Stage(write_pool, self._write, lambda _, done: self._finished(done.result(), record), ahead)
            inferring = Stage(infer_pool, self._infer, lambda _, done: self._to_writers(done.result(), writing, record),
                              2 * streams - 1)  # every stream busy, one batch queued for each
            batching = _Batcher(self.colorizer, self.options.batch_size, inferring.submit)
            decoding = Stage(decode_pool, self._decode,
                             lambda job, done: stopped() or self._to_batcher(job, done, batching, record), ahead)
            try:
                for job in jobs:
                    if stopped():
                        break
                    self._make_room(job, (decoding, batching, inferring, writing), stopped)
                    decoding.submit(job)
                decoding.finish()
                if not stopped():
                    batching.finish()
                inferring.finish()
            except KeyboardInterrupt:
                decoding.cancel()
                inferring.cancel()
                writing.finish()  # writes in flight are atomic and short: let them land and count them
                raise
            writing.finish()

    def _make_room(self, job: Job, stages: tuple, stopped: Stopped) -> None:
        """Take ``job``'s pixels into the budget, first moving the oldest work on until they fit
        (or nothing is left: an image over the budget runs alone)."""
        pixels = peek_pixels(job.source)
        while self.in_flight + pixels > self.options.pixel_budget and not stopped():
            busy = next((stage for stage in stages if len(stage)), None)
            if busy is None:
                break
            busy.advance()
        self.job_pixels[job.source] = pixels
        self.in_flight += pixels
        self.peak_pixels_in_flight = max(self.peak_pixels_in_flight, self.in_flight)

    def _decode(self, job: Job) -> Decoded:
        decoded = decode(job.source, self.options.max_pixels)
        if self.options.steered:
            hint, reference = steering_files(job, self.options)
            decoded = with_hints(decoded, hint, reference, self.options.max_pixels)
        return decoded

    def _to_batcher(self, job: Job, done: Future, batching: _Batcher, record: Record) -> None:
        try:
            decoded = done.result()
        except ImageError as exc:
            self._finished(Result(job.source, job.target, Status.FAILED, str(exc)), record)
            return
        batching.add(job, decoded)

    def _infer(self, batch: list[tuple[Job, Decoded]]) -> list[tuple[Job, Decoded, np.ndarray | None, str]]:
        try:
            outputs = self.colorizer.colorize_same_shape([d for _, d in batch])
            return [(job, d, rgb, "") for (job, d), rgb in zip(batch, outputs)]
        except Exception as exc:  # onnxruntime's own error types; retry one by one below
            if len(batch) == 1:
                return [(batch[0][0], batch[0][1], None, f"{batch[0][0].source}: inference failed: {str(exc)[:200]}")]
        return [item for single in batch for item in self._infer([single])]

    def _to_writers(self, outputs: list, writing: Stage, record: Record) -> None:
        for job, decoded, rgb, reason in outputs:
            if rgb is None:
                self._finished(Result(job.source, job.target, Status.FAILED, reason), record)
            else:
                writing.submit((job, rgb, decoded))

    def _write(self, item: tuple[Job, np.ndarray, Decoded]) -> Result:
        job, rgb, decoded = item
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

    def _finished(self, result: Result, record: Record) -> None:
        self.in_flight -= self.job_pixels.pop(result.source, 0)
        record(result)


class _WaitingClips:
    """The clips of a plan, held back while its images stream, then run in the plan's order. So
    that memory stays bounded, at most ``WAITING_FRAME_LIMIT`` frames wait (a video counts one):
    past that, the oldest clip runs when the plan reaches the next one."""

    def __init__(self, clips: ClipColorizer, record: Record) -> None:
        self.clips = clips
        self.record = record
        self.waiting: deque[ClipJob] = deque()
        self.frames = 0

    def images_of(self, jobs: Iterator[Job]) -> Iterator[Job]:
        for job in jobs:
            if not isinstance(job, ClipJob):
                yield job
                continue
            self.waiting.append(job)
            self.frames += _frames(job)
            while self.frames > WAITING_FRAME_LIMIT:
                self._run_oldest()

    def run_all(self, stopped: Stopped) -> None:
        while self.waiting and not stopped():
            self._run_oldest()

    def _run_oldest(self) -> None:
        job = self.waiting.popleft()
        self.frames -= _frames(job)
        self.clips.run(job, self.record)


def _frames(job: ClipJob) -> int:
    return 1 if job.frames is None else len(job.frames)


@functools.lru_cache(maxsize=4)
def load_model(spec: ModelSpec) -> ColorModel:
    """This process's model for ``spec``, loaded once: a cluster worker reuses it for every chunk."""
    return ColorModel(**spec.__dict__)


@dataclass
class ColorizeWork(TreeWork):
    """Colorizing as the engine's kind of work. ``model`` is this process's loaded model (never
    pickled: a worker loads its own from ``spec``, once per process). Clips (videos, frame
    sequences) run through ``clips.ClipColorizer`` after the images, in the plan's order, so that
    a film never keeps the images of the same run waiting (``_WaitingClips``); ``on_frames`` hears
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
        waiting = _WaitingClips(clips, record)
        try:
            pipeline.process(waiting.images_of(jobs), record, stopped)
        finally:
            self.peak_pixels_in_flight = max(self.peak_pixels_in_flight, pipeline.peak_pixels_in_flight)
        waiting.run_all(stopped)

    def process_chunk(self, jobs: list[Job]) -> list[Result]:
        """One chunk on a cluster worker, whose model uses that worker's share of cores."""
        from colorbatch.batch.cluster import worker_threads

        if self.model is None and self.spec.threads is None:
            self.spec = replace(self.spec, threads=worker_threads())
        return super().process_chunk(jobs)
