"""Colour a person gives: local hints (a hint image's coloured dabs) and a reference photo.

A **hint plane** is float32 ``(H, W, 3)``: (Cb, Cr, mask) at an image's size, mask 1 where a hint
asks for that chroma and 0 elsewhere (chroma 0 there). A **reference** is float32 ``(Q,)``, a colour
photo's distribution over the model's chroma bins (``chroma_bins.chroma_histogram``); zeros mean
none. Hint models take both (``session.OnnxColorModel``); training and the benchmarks draw hints
from the truth with ``sample_hints``, so hints mean the same thing everywhere.

A hint image is what an image editor makes: a transparent layer over the gray photo with a few
dabs of colour, saved as PNG (or WebP, TIFF). Pixels with alpha >= 128 are hints; only their chroma
is used. It has the photo's size or any size of the same aspect ratio (scaled to it).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from .chroma_bins import chroma_histogram
from .color import rgb_to_chroma, to_float
from .errors import HintError, InvalidPathError
from .imaging import Decoded
from .pairing import AmbiguousPartnerError, find_partner

HINT_INPUTS = ("hints", "reference")  # a hint model's graph inputs after gray and the decoding inputs
ALPHA_THRESHOLD = 128
ASPECT_TOLERANCE = 0.01  # relative; a hint image scaled by an editor may round a side by a pixel
REFERENCE_SIDE = 256  # a reference photo is measured at most this large: its distribution, not its detail


def no_hints(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.float32)


def hint_plane(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A hint plane from float RGB ``(H, W, 3)`` and a boolean mask ``(H, W)``."""
    plane = np.zeros((*mask.shape, 3), dtype=np.float32)
    plane[mask, :2] = rgb_to_chroma(rgb[mask])
    plane[mask, 2] = 1.0
    return plane


def read_hint_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The hint plane of the hint image at ``path`` for a photo of ``size`` (width, height).

    Raises ``HintError`` naming the file: unreadable, no alpha channel, another aspect ratio."""
    try:
        with Image.open(path) as image:
            image.load()
            return hint_plane_of(image, size, path)
    except HintError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise HintError(f"{path}: hint image cannot be read ({exc})") from None


def hint_plane_of(image: Image.Image, size: tuple[int, int], name: Path | str = "hint image") -> np.ndarray:
    """The hint plane of a hint image (a PIL image with transparency) for a photo of ``size``."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        raise HintError(f"{name}: hint image has no alpha channel (paint hints on a transparent "
                        "layer and save it as PNG, WebP or TIFF with transparency)")
    rgba = image.convert("RGBA")
    width, height = size
    if abs(rgba.width / rgba.height - width / height) > ASPECT_TOLERANCE * (width / height):
        raise HintError(f"{name}: hint image is {rgba.width}x{rgba.height}, another aspect ratio than its "
                        f"photo ({width}x{height})")
    if rgba.size != (width, height):
        rgba = rgba.resize((width, height), Image.Resampling.NEAREST)  # dabs keep their exact colours
    pixels = np.asarray(rgba)
    return hint_plane(to_float(pixels[..., :3]), pixels[..., 3] >= ALPHA_THRESHOLD)


def reference_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """The reference distribution of a colour photo, float RGB ``(H, W, 3)`` in [0, 1]."""
    return chroma_histogram(rgb_to_chroma(rgb))


def read_reference(path: Path) -> np.ndarray:
    """The reference distribution of the colour photo at ``path``; ``HintError`` names the file."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (REFERENCE_SIDE, REFERENCE_SIDE))
            image = image.convert("RGB")
            image.thumbnail((REFERENCE_SIDE, REFERENCE_SIDE), Image.Resampling.BILINEAR)
            return reference_from_rgb(to_float(np.asarray(image)))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise HintError(f"{path}: reference photo cannot be read ({exc})") from None


def read_reference_cached(path: Path) -> np.ndarray:
    """``read_reference``, read once per file version: one reference serves a whole series."""
    stat = path.stat()
    return _reference_of_version(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _reference_of_version(path: str, mtime_ns: int, size: int) -> np.ndarray:
    reference = read_reference(Path(path))
    reference.setflags(write=False)
    return reference


def hints_from(value, size: tuple[int, int]) -> np.ndarray:
    """A hint plane from a hint image's path, a PIL image, or a hint plane ``(H, W, 3)`` itself."""
    if isinstance(value, np.ndarray):
        if value.shape != (size[1], size[0], 3):
            raise HintError(f"a hint plane of shape {value.shape} for a {size[0]}x{size[1]} image")
        return value.astype(np.float32)
    if isinstance(value, Image.Image):
        return hint_plane_of(value, size)
    return read_hint_image(Path(value), size)


def reference_from(value) -> np.ndarray:
    """A reference distribution from a photo's path, a PIL image, an RGB array, or a distribution."""
    if isinstance(value, Image.Image):
        value = np.asarray(value.convert("RGB"))
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            return value.astype(np.float32)
        return reference_from_rgb(to_float(value) if value.dtype != np.float32 else value)
    return read_reference(Path(value))


def check_hint_paths(source: Path, options) -> None:
    """Refuse ``--hints``, ``--reference`` or ``--keyframes`` paths that do not exist, keyframes that are
    not a folder, and a single hint file for a folder of inputs (a hint image belongs to one photo);
    ``options`` is a ``RunOptions``."""
    for flag, given in (("--hints", options.hints), ("--reference", options.reference),
                        ("--keyframes", options.keyframes)):
        if given is not None and not given.exists():
            raise InvalidPathError(f"{flag} {given}: no such file or folder")
    if options.keyframes is not None and not options.keyframes.is_dir():
        raise InvalidPathError(f"--keyframes {options.keyframes}: not a folder (keyframes are named as their frames)")
    if options.hints is not None and options.hints.is_file() and source.is_dir():
        raise InvalidPathError(f"--hints {options.hints}: a hint image is for a one-file run; for the folder "
                               f"{source} give a folder of hint images mirroring it")


def partner_file(given: Path | None, relative: Path) -> Path | None:
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
        raise HintError(str(exc)) from None


def with_hints(decoded: Decoded, relative: Path, hints: Path | None, reference: Path | None) -> Decoded:
    """``decoded`` with the hint plane and reference its input has under ``hints`` and ``reference``
    (files or trees mirroring INPUT); an input with neither is returned as it is."""
    hint_path, reference_path = partner_file(hints, relative), partner_file(reference, relative)
    height, width = decoded.luma.shape
    plane = read_hint_image(hint_path, (width, height)) if hint_path is not None else None
    distribution = read_reference_cached(reference_path) if reference_path is not None else None
    if plane is None and distribution is None:
        return decoded
    return replace(decoded, hints=plane, reference=distribution)


def resize_hints(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A hint plane at another size (height, width): each output pixel takes the mean chroma of the
    hinted input pixels it covers, and is hinted when at least half of it was."""
    if plane.shape[:2] == tuple(shape):
        return plane
    height, width = shape
    mask = plane[..., 2]
    channels = [plane[..., 0] * mask, plane[..., 1] * mask, mask]
    scaled = [np.asarray(Image.fromarray(c).resize((width, height), Image.Resampling.BOX)) for c in channels]
    coverage = scaled[2]
    keep = coverage >= 0.5
    out = np.zeros((height, width, 3), dtype=np.float32)
    safe = np.maximum(coverage, 1e-6)
    out[..., 0] = np.where(keep, scaled[0] / safe, 0.0)
    out[..., 1] = np.where(keep, scaled[1] / safe, 0.0)
    out[..., 2] = keep
    return out


def sample_hints(chroma: np.ndarray, count: int, rng: np.random.Generator, patch: int | tuple[int, int] = 7,
                 around_centre: bool = False) -> np.ndarray:
    """A hint plane of ``count`` square patches drawn from the truth's chroma ``(H, W, 2)``: each
    patch gives the truth's mean chroma over it (Zhang et al. 2017). ``patch`` is a side or a
    range (low, high) drawn from per patch; positions are uniform, or Gaussian around the centre
    (sigma a quarter of each side) with ``around_centre``."""
    height, width = chroma.shape[:2]
    plane = no_hints(height, width)
    for _ in range(count):
        side = patch if isinstance(patch, int) else int(rng.integers(patch[0], patch[1] + 1))
        side = min(side, height, width)
        if around_centre:
            y = int(np.clip(rng.normal(height / 2, height / 4), 0, height - 1))
            x = int(np.clip(rng.normal(width / 2, width / 4), 0, width - 1))
        else:
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        top = int(np.clip(y - side // 2, 0, height - side))
        left = int(np.clip(x - side // 2, 0, width - side))
        window = (slice(top, top + side), slice(left, left + side))
        plane[(*window, slice(0, 2))] = chroma[window].reshape(-1, 2).mean(axis=0)
        plane[(*window, 2)] = 1.0
    return plane
