"""Colorizing clips: video files and folders of numbered frames (``--sequence``).

A clip is a stream in frame order: decode (a reader thread) -> batch (consecutive frames) ->
infer (the next batch while this one finishes) -> temporal consistency (``temporal.Stabiliser``,
in order) -> recombine -> encode and write (a writer thread for a video; a pool of atomic
per-frame writes for a sequence). Queues are bounded, so a film of any length never sits in
memory. A video is one result; a sequence has one result per frame.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, Status
from colorbatch.batch.stage import Stage, in_order
from colorbatch.batch.writing import write_output
from colorbatch.color import rgb_to_chroma
from colorbatch.errors import ImageError
from colorbatch.files.imaging import decode, peek_size, read_rgb
from colorbatch.hints import read_reference_cached
from colorbatch.inference.model import ColorModel
from colorbatch.recombine import lay_chroma, recombine_chroma
from colorbatch.video.io import VideoReader, VideoWriter
from colorbatch.video.keyframes import Key, KeyframeTrack, read_key, sequence_keyframes, video_keyframes
from colorbatch.video.temporal import Stabiliser

T = TypeVar("T")
FrameProgress = Callable[[ClipJob, int, int | None], None]  # (clip, frames finished, frames in all if known)
_END = object()


@dataclass
class ClipFrame:
    """A frame on its way through ``ClipColorizer.colour``: its luminance, what its writer needs,
    and, for the first frame after frames a previous run coloured, their colour to continue from."""

    luma: np.ndarray
    payload: Any
    seed: tuple[np.ndarray, np.ndarray] | None = None  # (luminance, chroma) of the frame before
    index: int = 0  # in the clip (a video's frame number; a sequence's place in its frame list)
    key: Key | None = None  # the keyframe standing for this frame
    reference: np.ndarray | None = None  # the reference of the keyframe's shot this frame is in


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """``items`` produced by a background thread at most ``depth`` ahead; its errors re-raised here."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put((_END, exc))

    thread = threading.Thread(target=produce, name="clip-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


class ClipColorizer:
    """Colours clips with one model; ``on_frames`` hears each clip's progress in frames."""

    def __init__(self, model: ColorModel, options: RunOptions, on_frames: FrameProgress | None = None) -> None:
        self.model = model
        self.options = options
        self.on_frames = on_frames

    def _stabiliser(self) -> Stabiliser | None:
        return Stabiliser() if self.options.temporal else None

    def colour(self, frames: Iterable[ClipFrame], stabiliser: Stabiliser | None,
               track: KeyframeTrack | None = None) -> Iterator[tuple[Any, np.ndarray]]:
        """Frames in order -> ``(payload, uint8 RGB)`` in the same order. The model infers the
        next batch while this one is stabilised and recombined; ``track`` brings keyframes in."""
        if track is not None:
            frames = _on_track(frames, track)
        def infer(batch: list[ClipFrame]) -> list[np.ndarray]:
            return self.model.predict_chroma([f.luma for f in batch], references=[f.reference for f in batch])

        with ThreadPoolExecutor(1, "clip-infer") as pool:
            for batch, done in in_order(pool, infer, _batches(frames, self.options.batch_size, self.model), window=1):
                yield from self._finish(batch, done, stabiliser)

    @staticmethod
    def _finish(batch: list[ClipFrame], future: Future,
                stabiliser: Stabiliser | None) -> Iterator[tuple[Any, np.ndarray]]:
        for frame, chroma in zip(batch, future.result()):
            if frame.key is not None:  # the keyframe's own colour, exactly, then carried on from here
                if stabiliser is not None:
                    stabiliser.seed(frame.luma, frame.key.chroma, keyframe=True)
                yield frame.payload, lay_chroma(frame.luma, frame.key.chroma)
                continue
            if stabiliser is not None:
                if frame.seed is not None:
                    stabiliser.seed(*frame.seed)
                chroma = stabiliser.step(frame.luma, chroma)
            yield frame.payload, recombine_chroma(frame.luma, chroma)

    def run(self, job: ClipJob, record: Callable[[Result], None]) -> None:
        if job.frames is None:
            record(self.video(job))
        else:
            self.sequence(job, record)

    def _track(self, job: ClipJob, keys: dict[int, Path]) -> KeyframeTrack | None:
        """The clip's steering: its keyframes and the run's reference (``--reference``), if any;
        ``HintError`` for a reference that cannot be used."""
        reference_path = job.sources.reference if job.sources is not None else None
        if not keys and reference_path is None:
            return None
        reference = None if reference_path is None else read_reference_cached(reference_path, self.options.max_pixels)
        track = KeyframeTrack(keys, self.options.max_pixels, None if reference is None else reference.distribution)
        if reference is not None:
            track.warnings.update(dict.fromkeys(reference.warning(reference_path)))
        return track

    def video(self, job: ClipJob) -> Result:
        """One video file into ``job.target``: all of it, or nothing and the reason."""
        track = None
        try:
            keys = {}
            if self.options.keyframes is not None:
                keys = video_keyframes(self.options.keyframes, job.relative, job.single)
            track = self._track(job, keys)
            with VideoReader(job.source, self.options.max_pixels) as reader:
                frames = (ClipFrame(frame.luma, frame, index=i) for i, frame in enumerate(reader.frames()))
                with VideoWriter(job.target, job.source, reader.info, self.options.codec, self.options.crf) as writer:
                    coloured = self.colour(prefetch(frames, 2 * self.options.batch_size), self._stabiliser(), track)
                    count = self._encode(job, writer, coloured, reader.info.frames or None)
                    if track is not None:
                        track.check_all_used()
        except ImageError as exc:
            return Result(job.source, job.target, Status.FAILED, str(exc), warnings=_warnings(track))
        if count == 0:
            return Result(job.source, job.target, Status.FAILED, f"{job.source}: no frame could be decoded")
        return Result(job.source, job.target, Status.DONE, redone=job.redo, warnings=_warnings(track))

    def _encode(self, job: ClipJob, writer: VideoWriter, coloured: Iterator, total: int | None) -> int:
        """Encode on a writer thread (x264 runs its own threads too) while the next frames are coloured."""
        count = 0

        def written(_, done: Future) -> None:
            nonlocal count
            done.result()
            count += 1
            self._progress(job, count, total)

        with ThreadPoolExecutor(1, "clip-encode") as encoder:
            writes = Stage(encoder, lambda item: writer.write(*item), written, window=4)
            for frame, rgb in coloured:
                writes.submit((rgb, frame.y_plane, frame.pts))
            writes.finish()
        return count

    def _progress(self, job: ClipJob, count: int, total: int | None) -> None:
        if self.on_frames is not None:
            self.on_frames(job, count, total)

    def sequence(self, job: ClipJob, record: Callable[[Result], None]) -> None:
        """A folder of frames in order, one output per frame. Frames a previous run finished are
        skipped, and the last of them before a missing one seeds the temporal state, so a resumed
        sequence continues its colour instead of starting again."""
        stabiliser = self._stabiliser()
        try:
            track = self._sequence_track(job)
        except ImageError as exc:  # a keyframe that cannot be used: the clip fails, once, nothing is written
            todo = sum(not frame.done for frame in job.frames[job.warmup:])
            record(Result(job.source, job.target, Status.FAILED,
                          f"{exc}; none of the {todo} frame(s) of {job.source} to colour were written"))
            return
        decided: queue.SimpleQueue[Result] = queue.SimpleQueue()  # skipped and unreadable frames, from the reader
        count = 0

        def settle(result: Result) -> None:
            nonlocal count
            while not decided.empty():
                record(decided.get())
            result.warnings = (*result.warnings, *_warnings(track))
            record(result)
            count += 1
            self._progress(job, count, len(job.frames) - job.warmup)

        with ThreadPoolExecutor(self.options.workers, "frame-write") as writers:
            writes = Stage(writers, lambda item: write_output(*item, self.options),
                           lambda _, done: settle(done.result()), window=2 * self.options.workers)
            frames = prefetch(self._sequence_frames(job, stabiliser, decided.put), 2 * self.options.batch_size)
            for (frame, decoded), rgb in self.colour(frames, stabiliser, track):
                if frame is not None:  # None: a warm-up frame of the piece before
                    writes.submit((frame, rgb, decoded))
            writes.finish()
        while not decided.empty():
            record(decided.get())

    def _sequence_frames(self, job: ClipJob, stabiliser: Stabiliser | None,
                         decided: Callable[[Result], None]) -> Iterator[ClipFrame]:
        """Runs on the reader thread: decoded frames to colour; the others go to ``decided``."""
        for index, frame in enumerate(job.frames[: job.warmup]):
            with contextlib.suppress(ImageError):  # the piece that owns it reports it
                yield ClipFrame(decode(frame.job.source, self.options.max_pixels).luma, (None, None), index=index)
        finished: Job | None = None
        for index, frame in enumerate(job.frames[job.warmup:], start=job.warmup):
            if frame.done:
                decided(frame.kept_result())
                finished = frame.job
                continue
            seed = None
            try:
                decoded = decode(frame.job.source, self.options.max_pixels)
                if finished is not None and stabiliser is not None:
                    seed = _seed(finished, self.options.max_pixels)
            except ImageError as exc:
                decided(Result(frame.job.source, frame.job.target, Status.FAILED, str(exc)))
                continue
            finally:
                finished = None
            yield ClipFrame(decoded.luma, (frame.job, decoded), seed, index=index)

    def _sequence_track(self, job: ClipJob) -> KeyframeTrack | None:
        """The clip's keyframes, each read once here so that one that cannot be used fails the clip
        before any frame is written."""
        keys = {}
        if self.options.keyframes is not None:
            keys = sequence_keyframes(self.options.keyframes, job.relative, [f.job.source for f in job.frames])
        for index, path in keys.items():
            size = peek_size(job.frames[index].job.source)
            if size is not None:  # an unreadable frame fails on its own
                read_key(path, (size[1], size[0]), self.options.max_pixels)
        return self._track(job, keys)


def _warnings(track: KeyframeTrack | None) -> tuple[str, ...]:
    return () if track is None else tuple(track.warnings)


def _seed(finished: Job, max_pixels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """What a frame a previous run wrote leaves to continue from: its input's luminance and its output's chroma."""
    rgb = read_rgb(finished.target, max_pixels)
    luma = decode(finished.source, max_pixels).luma
    return (luma, rgb_to_chroma(rgb.astype(np.float32) / 255.0)) if rgb.shape[:2] == luma.shape else None


def _on_track(frames: Iterable[ClipFrame], track: KeyframeTrack) -> Iterator[ClipFrame]:
    for frame in frames:
        frame.key, frame.reference = track.frame(frame.index, frame.luma)
        yield frame


def _batches(frames: Iterable[ClipFrame], size: int, model: ColorModel) -> Iterator[list[ClipFrame]]:
    """Consecutive frames in batches of ``size``; a change of network shape starts a new batch."""
    batch: list[ClipFrame] = []
    shape = None
    for frame in frames:
        frame_shape = model.shape_for(frame.luma)
        if batch and (len(batch) >= size or frame_shape != shape):
            yield batch
            batch = []
        shape = frame_shape
        batch.append(frame)
    if batch:
        yield batch
