"""Planning a batch: a tree (or one file) into ``Job``s and the results decided without work
(skipped, not an image, refused), lazily, in a stable order; ``--sequence`` folders into clips.
``run`` and ``gray`` plan here; the engine (``colorbatch.batch.engine``) executes the plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, SequenceFrame, Status, already_written
from colorbatch.batch.sources import NEW, OVERWRITE, Journal, Sources
from colorbatch.batch.steering import image_files, partner_file, video_keyframe_folder
from colorbatch.errors import HintError, InvalidPathError
from colorbatch.files.discover import IMAGE_EXTENSIONS, in_shard, is_image_path, iter_files, natural_key, same_file
from colorbatch.files.imaging import output_suffix, peek_size
from colorbatch.files.integrity import is_whole
from colorbatch.files.videofiles import VIDEO_EXTENSIONS, is_video_path, is_whole_video, video_support

LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")  # --quality changes their pixels


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


def plan_jobs(source: Path, out: Path, options: RunOptions, journal: Journal | None = None,
              only: Path | None = None) -> Iterator[Job | Result]:
    """Lazily map inputs to outputs; yields ``Result`` for files decided without work.

    An output that would replace its own input is refused: for a single-file INPUT as an
    ``InvalidPathError`` before anything is written, in a tree as that file's failure. With a
    ``journal`` (run), each job knows its sources, and an existing output is kept only when the
    journal says they are unchanged (else the job says why it is redone); without one (gray), an
    existing whole output is kept. ``only`` (a path under a folder INPUT) plans that one input as
    the whole tree's plan would, without walking the rest (the studio saving one photo).
    """
    keyframes = _KeyframeLister()
    base = source if source.is_dir() else source.parent
    claimed: dict[Path, Path] = {}  # outputs of the current folder only: collisions are per folder
    folder = None
    unreadable: list[OSError] = []
    paths = iter_files(source, on_error=unreadable.append) if only is None else iter([source / only])
    for path in paths:
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
        job = ClipJob(path, relative, target, single=source.is_file()) if video else Job(path, relative, target)
        if journal is not None:
            try:
                job.sources = _sources(job, video, options, journal, keyframes)
            except HintError as exc:  # an ambiguous hint or reference tree
                yield Result(path, target, Status.FAILED, str(exc))
                continue
            if video and job.sources.hint is not None:
                yield Result(path, target, Status.FAILED, f"{job.sources.hint}: a hint image for the video {path}; "
                                                          "hint images steer photos, a clip takes --keyframes")
                continue
        yield _decided(job, video, options, journal)
    while unreadable:
        yield _unreadable_folder(unreadable.pop(0))


def _decided(job: Job, video: bool, options: RunOptions, journal: Journal | None) -> Job | Result:
    """``job`` to run (with why, over an existing output), or the result of keeping its output."""
    if not job.target.exists():
        job.redo = ""  # a new output
        return job
    if options.overwrite:
        job.redo = OVERWRITE
        return job

    def whole() -> bool:
        return is_whole_video(job.target, job.source) if video else _finished(job.target, job.source)

    if journal is None:
        return already_written(job) if whole() else job
    keep, why = journal.judge(job.target, job.sources, whole)
    if keep:
        return Result(job.source, job.target, Status.SKIPPED, why)
    job.redo = "" if why == NEW else why
    return job


class _KeyframeLister:
    """The keyframe files of the folder a plan is in, listed once per folder (a sequence's frames
    come together)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.files: tuple[Path, ...] = ()

    def __call__(self, folder: Path) -> tuple[Path, ...]:
        if folder != self.folder:
            self.folder, self.files = folder, tuple(image_files(folder))
        return self.files


def _sources(job: Job, video: bool, options: RunOptions, journal: Journal, keyframes: _KeyframeLister) -> Sources:
    """What ``job``'s output is made from: its input, hint file, reference, keyframes, settings.
    A video's or a ``--sequence`` clip's reference and keyframes are its clip's."""
    settings = dict(journal.settings)
    if job.target.suffix.lower() in LOSSY_SUFFIXES:
        settings["quality"] = options.quality
    if not (video or options.sequence):
        return Sources(job.source, partner_file(options.hints, job.relative),
                       partner_file(options.reference, job.relative, "reference"), settings=settings)
    settings["temporal"] = options.temporal
    clip = job.relative if video else job.relative.parent
    reference = None
    if options.reference is not None and (options.reference.is_file() or clip.name):
        reference = partner_file(options.reference, clip, "reference")
    folder = None
    if options.keyframes is not None:
        folder = video_keyframe_folder(options.keyframes, clip, job.single) if video else options.keyframes / clip
    if video:
        settings.update(codec=options.codec, crf=options.crf)
    hint = partner_file(options.hints, job.relative) if video else None
    return Sources(job.source, hint, reference, keyframes(folder) if folder is not None else (), settings)


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
                yield from (f.kept_result() for f in own)
                continue
            first = max(0, start - SEQUENCE_OVERLAP)
            yield ClipJob(folder, target.relative_to(out), target, sources=frames[0].job.sources,
                          frames=frames[first:start + size], warmup=start - first)
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
        return SequenceFrame(Job(item.source, Path(), item.target), done=True, kept=item)
    return None
