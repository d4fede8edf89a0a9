"""Where steering files are and whether they can be used: ``--hints``, ``--reference`` and
``--keyframes`` paths checked against INPUT and OUT before a run, each input's hint and reference
file found in trees mirroring INPUT, a clip's keyframe files, a decoded photo given its hint plane
and reference, and what steering did not do (warnings). The formats of hint images and reference
photos are ``colorbatch.hints``'.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from colorbatch.defaults import MAX_PIXELS as DEFAULT_MAX_PIXELS
from colorbatch.errors import HintError, InvalidPathError
from colorbatch.files.discover import IMAGE_EXTENSIONS, is_image_path, iter_images, same_file
from colorbatch.files.imaging import Decoded
from colorbatch.files.pairing import AmbiguousPartnerError, find_partner, partners
from colorbatch.files.videofiles import VIDEO_EXTENSIONS, is_video_path
from colorbatch.hints import read_hint_image, read_reference_cached

STEERING_FLAGS = (("--hints", "hints"), ("--reference", "reference"), ("--keyframes", "keyframes"))


def check_hint_paths(source: Path, out: Path, options) -> None:
    """Refuse steering that cannot work, before anything is written (``InvalidPathError``, exit 2):
    ``--hints``, ``--reference`` or ``--keyframes`` paths that do not exist, or that are OUT, lie
    inside it or hold it (steering files are inputs: never written, never taken for outputs);
    keyframes that are not a folder; a single hint file for a folder of inputs; hints for clips
    (a video, ``--sequence`` frames: their colour frames are ``--keyframes``). ``options`` is a
    ``RunOptions``."""
    for flag, name in STEERING_FLAGS:
        given = getattr(options, name)
        if given is not None and not given.exists():
            raise InvalidPathError(f"{flag} {given}: no such file or folder")
        if given is not None and overlaps(given, out):
            raise InvalidPathError(f"{flag} {given} and OUT {out} overlap (the one is, holds or lies inside the "
                                   "other); steering files are inputs and are never written: choose another OUT")
    if options.keyframes is not None and not options.keyframes.is_dir():
        raise InvalidPathError(f"--keyframes {options.keyframes}: not a folder (keyframes are named as their frames)")
    if options.hints is None:
        return
    if options.sequence or (source.is_file() and is_video_path(source)):
        raise InvalidPathError(f"--hints {options.hints}: hint images steer photos; a clip's colour is given by "
                               "colour frames, with --keyframes")
    if options.hints.is_file() and source.is_dir():
        raise InvalidPathError(f"--hints {options.hints}: a hint image is for a one-file run; for the folder "
                               f"{source} give a folder of hint images mirroring it")


def overlaps(steering: Path, out: Path) -> bool:
    """Whether a steering path and OUT are one, or one holds the other (links and hard links resolved)."""
    given, target = steering.resolve(), out.resolve()
    return given == target or target in given.parents or given in target.parents or same_file(steering, out)


def missing_hint_warning(source: Path, hints: Path | None) -> tuple[str, ...]:
    """A one-file run with ``--hints FOLDER`` that has no hint file for the photo: say so."""
    if hints is None or not source.is_file() or not hints.is_dir() or is_video_path(source):
        return ()
    if partner_file(hints, Path(source.name)) is not None:
        return ()
    folder = f" ({hints} is a folder, not a hint image)" if is_image_path(hints) else ""
    return (f"--hints {hints}: no hint file for {source.name} in that folder{folder}; "
            f"looked for {Path(source.name).with_suffix('.png')} (any image extension); coloured automatically",)


def unmatched_hint_files(source: Path, hints: Path | None) -> list[Path]:
    """Hint files under the folder ``hints`` that no input under ``source`` has (by relative path,
    any extension): a typo, or a photo moved since it was dabbed."""
    if hints is None or not hints.is_dir() or not source.is_dir():
        return []
    return [path for path in iter_images(hints)
            if not _has_input(source, path.relative_to(hints))]


def _has_input(source: Path, relative: Path) -> bool:
    return bool(partners(source, relative, (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS)))


def partner_file(given: Path | None, relative: Path, kind: str = "hint") -> Path | None:
    """The hint or reference file for the input at ``relative`` (its path under INPUT): ``given``
    itself when it is a file; else the file under the folder ``given`` with the same relative path
    and any image extension (``a/b.jpg`` takes ``a/b.png``); None when there is none."""
    if given is None:
        return None
    if given.is_file():
        return given
    try:
        return find_partner(given, relative)
    except AmbiguousPartnerError as exc:
        raise HintError(f"{kind} files: {exc}") from None


def steering_files(job, options) -> tuple[Path | None, Path | None]:
    """A photo job's hint file and reference photo: as its plan found them (``job.sources``), or
    looked up now for a job made without (a ``Job`` of ``colorbatch.batch.jobs``, a ``RunOptions``)."""
    if job.sources is not None:
        return job.sources.hint, job.sources.reference
    return partner_file(options.hints, job.relative), partner_file(options.reference, job.relative, "reference")


def with_hints(decoded: Decoded, hint_path: Path | None, reference_path: Path | None,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """``decoded`` with the hint plane of the hint file ``hint_path`` and the reference photo
    ``reference_path`` (and a warning for a reference without colour); an input with neither is
    returned as it is."""
    if hint_path is None and reference_path is None:
        return decoded
    height, width = decoded.luma.shape
    plane = read_hint_image(hint_path, (width, height), max_pixels) if hint_path is not None else None
    reference = read_reference_cached(reference_path, max_pixels) if reference_path is not None else None
    return replace(decoded, hints=plane, reference=None if reference is None else reference.distribution,
                   warnings=() if reference is None else reference.warning(reference_path))


def image_files(folder: Path) -> list[Path]:
    """The image files of a keyframe folder, sorted; none when it is not a folder."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))


def video_keyframe_folder(root: Path, relative: Path, single: bool) -> Path:
    """Where a video's keyframes are: ``root/<relative without extension>/``, or ``root`` for a one-file run."""
    folder = root / relative.with_suffix("")
    return root if single and not folder.is_dir() else folder
