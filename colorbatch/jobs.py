"""What a batch is made of: its options, its jobs (one input file mapped to one output), the
typed result of each, the run's summary, and the plan that turns a tree into jobs.

``run`` and ``gray`` plan with ``plan_jobs``; ``score`` makes its jobs from pairs. The engine
(``colorbatch.engine``) executes any plan, on this machine or on a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from colorbatch.discover import (
    IMAGE_EXTENSIONS,
    PNG_COMPRESSION,
    in_shard,
    is_image_path,
    iter_files,
    natural_key,
    same_file,
)
from colorbatch.errors import InvalidPathError
from colorbatch.imaging import DEFAULT_MAX_PIXELS, output_suffix, peek_size
from colorbatch.integrity import is_whole
from colorbatch.summary import ImageScore, Summary
from colorbatch.video.io import DEFAULT_CRF, VIDEO_EXTENSIONS, is_video_path, is_whole_video, video_support


@dataclass(frozen=True)
class RunOptions:
    batch_size: int = 16
    workers: int = 4
    fmt: str = "png"
    quality: int = 95
    png_compression: int = PNG_COMPRESSION  # --png-compression: zlib level of PNG outputs
    overwrite: bool = False
    shard: tuple[int, int] | None = None
    strict: bool = False
    truth: Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Images between decode and the end of their write hold at most this many pixels together
    # (one image larger than that still runs, alone): memory is bounded by pixels, not file count.
    pixel_budget: int = DEFAULT_MAX_PIXELS
    video: bool = False  # video files are jobs (run), not files to leave alone (gray)
    sequence: bool = False  # --sequence: each folder of frames is one clip
    temporal: bool = True  # --temporal: colour kept stable from frame to frame of a clip
    codec: str | None = None  # --codec (default: H.264; VP9 in .webm)
    crf: int = DEFAULT_CRF  # --crf
    hints: Path | None = None  # --hints: a hint image (one-file run) or a tree mirroring INPUT
    reference: Path | None = None  # --reference: one colour photo for every input, or a tree mirroring INPUT
    keyframes: Path | None = None  # --keyframes: colour frames of clips (see colorbatch.video.keyframes)

    @property
    def steered(self) -> bool:
        """Whether the run gives the model colour (hints, references or keyframes)."""
        return self.hints is not None or self.reference is not None or self.keyframes is not None


@dataclass
class Job:
    source: Path
    relative: Path
    target: Path


@dataclass
class SequenceFrame:
    job: Job
    done: bool  # a previous run wrote its output


@dataclass
class ClipJob(Job):
    """A clip, coloured in frame order: a video file (``frames`` None: ``target`` is a video), or
    a folder of numbered frames under ``--sequence`` (``source`` and ``target`` are folders).
    A piece of a long sequence starts with ``warmup`` frames of the piece before it: coloured to
    settle the temporal state, never written (the piece before writes them)."""

    frames: list[SequenceFrame] | None = None
    warmup: int = 0
    single: bool = False  # the run's INPUT is this video file itself


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
    truth: Path | None = None
    score: ImageScore | None = None  # against ``truth`` (run --truth, score), when it was scored
    pixels: int = 0  # of the scored image (pooled PSNR weighs by pixels)
    baseline: ImageScore | None = None  # score --baseline: the truth's gray copy against the truth


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
        """Count one result under its status (and fold in its scores, when it has any)."""
        if result.status is Status.DONE:
            self.done += 1
            if self.scores is not None and result.score is not None:
                self.scores.add(result.score, result.pixels)
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


OUTPUT_EXISTS = "output exists (use --overwrite)"


def already_written(job: Job) -> Result:
    """The result of a job whose output a previous run finished (kept unless ``--overwrite``)."""
    return Result(job.source, job.target, Status.SKIPPED, OUTPUT_EXISTS)


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
    if source.is_file() and not out.is_dir() and (is_image_path(out) or (is_video_path(source) and is_video_path(out))):
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


def _not_an_image(path: Path, named: bool, videos: bool = False) -> Result:
    """In a tree a non-image is counted and left alone; a file the user named on its own is a
    failure, so that a script sees a non-zero exit."""
    if videos and is_video_path(path):
        kind = 'reading video needs PyAV: pip install "colorbatch[video]"'
    else:
        kind = f"{path.suffix or 'no extension'} is not a supported image type"
    if named:
        types = (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS) if videos else IMAGE_EXTENSIONS
        return Result(path, None, Status.FAILED, f"{path}: {kind} (supported: {', '.join(types)})")
    return Result(path, None, Status.UNSUPPORTED, kind)


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
        video = options.video and is_video_path(path) and video_support()
        if not is_image_path(path) and not video:
            yield _not_an_image(path, named=source.is_file(), videos=options.video)
            continue
        if not in_shard(relative, options.shard):
            continue
        if relative.parent != folder:
            folder, claimed = relative.parent, {}
        suffix = path.suffix if video else output_suffix(path, options.fmt)
        target = single_file_target(source, out) or out / relative.with_suffix(suffix)
        if same_file(target, path):
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
        if not options.overwrite and (is_whole_video(target, path) if video else _finished(target, path)):
            yield Result(path, target, Status.SKIPPED, OUTPUT_EXISTS)
            continue
        yield ClipJob(path, relative, target, single=source.is_file()) if video else Job(path, relative, target)
    while unreadable:
        yield _unreadable_folder(unreadable.pop(0))


def _finished(target: Path, source: Path) -> bool:
    """An output a previous run completed: a whole image file of its input's size. colorbatch's
    writes are atomic, but a file under the same name may be a copy cut short by another tool or
    a leftover from another input; those are redone."""
    return target.exists() and is_whole(target, peek_size(source))


SEQUENCE_OVERLAP = 32  # frames a piece of a cut sequence colours before its own, then discards


def plan_sequences(plan: Iterator[Job | Result], out: Path, piece: int | None = None) -> Iterator[Job | Result]:
    """``--sequence``: each folder's image jobs (and its frames already done) become one
    ``ClipJob`` in numeric frame order; a folder whose frames are all done is skipped frame by
    frame. Videos and the other results pass through. A plan lists a folder's files together.

    ``piece`` (a cluster's distributor) cuts a longer sequence into clips of that many frames,
    each starting with the ``SEQUENCE_OVERLAP`` frames before it as a warm-up, so that pieces run
    in parallel and none starts its colour from nothing."""
    folder: Path | None = None
    frames: list[SequenceFrame] = []

    def clip() -> Iterator[Job | Result]:
        if not frames:
            return
        frames.sort(key=lambda frame: natural_key(frame.job.source))
        target = frames[0].job.target.parent
        size = piece or len(frames)
        for start in range(0, len(frames), size):
            own = frames[start:start + size]
            if all(frame.done for frame in own):
                yield from (already_written(f.job) for f in own)
                continue
            first = max(0, start - SEQUENCE_OVERLAP)
            yield ClipJob(folder, target.relative_to(out), target, frames=frames[first:start + size],
                          warmup=start - first)
        frames.clear()

    for item in plan:
        frame = _as_frame(item)
        if frame is None:
            yield item
            continue
        if frame.job.source.parent != folder:
            yield from clip()
            folder = frame.job.source.parent
        frames.append(frame)
    yield from clip()


def _as_frame(item: Job | Result) -> SequenceFrame | None:
    if isinstance(item, ClipJob):
        return None
    if isinstance(item, Job):
        return SequenceFrame(item, done=False)
    if item.status is Status.SKIPPED and is_image_path(item.source):
        return SequenceFrame(Job(item.source, Path(), item.target), done=True)
    return None
