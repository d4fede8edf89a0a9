"""Colour a person gives: local hints (a hint image's coloured dabs) and a reference photo.

A **hint plane** is float32 ``(H, W, 3)``: (Cb, Cr, mask) at an image's size, mask 1 where a hint
asks for that chroma and 0 elsewhere (chroma 0 there). A **reference** is float32 ``(Q,)``, a colour
photo's distribution over the model's chroma bins (``chroma_bins.chroma_histogram``); zeros mean
none. Hint models take both (``session.ModelSession``); training and the benchmarks draw hints
from the truth with ``sample_hints``, so hints mean the same thing everywhere.

A hint image is what an image editor makes: a transparent layer over the gray photo with a few
dabs of colour, saved as PNG (or WebP, TIFF). Pixels with alpha >= 128 are hints; only their chroma
is used. It has the photo's size or any size of the same aspect ratio (scaled to it).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.chroma_bins import chroma_histogram
from colorbatch.color import rgb_to_chroma, to_float
from colorbatch.defaults import MAX_PIXELS as DEFAULT_MAX_PIXELS
from colorbatch.errors import HintError

HINT_INPUTS = ("hints", "reference")  # a hint model's graph inputs after gray and the decoding inputs
ALPHA_THRESHOLD = 128
ASPECT_TOLERANCE = 0.01  # relative; a hint image scaled by an editor may round a side by a pixel
REFERENCE_SIDE = 256  # a reference photo is measured at most this large: its distribution, not its detail
COLOURLESS_CHROMA = 0.02  # chroma (Cb, Cr) closer to gray than this, about 5 levels of 255, is no colour


def no_hints(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.float32)


def hint_plane(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A hint plane from float RGB ``(H, W, 3)`` and a boolean mask ``(H, W)``."""
    plane = np.zeros((*mask.shape, 3), dtype=np.float32)
    plane[mask, :2] = rgb_to_chroma(rgb[mask])
    plane[mask, 2] = 1.0
    return plane


def read_hint_image(path: Path, size: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The hint plane of the hint image at ``path`` for a photo of ``size`` (width, height).

    Raises ``HintError`` naming the file: unreadable, over ``max_pixels``, no alpha channel, another
    aspect ratio; the size and aspect ratio are checked from the header, before any pixel is decoded."""
    try:
        with Image.open(path) as image:
            _check_header(image, path, "hint image", max_pixels)
            check_aspect(image.size, size, path, "hint image", "photo")
            image.load()
            return hint_plane_of(image, size, path)
    except HintError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise HintError(f"{path}: hint image cannot be read ({exc})") from None


def _check_header(image: Image.Image, path: Path, kind: str, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise HintError(f"{path}: {kind} is {width}x{height}, {width * height:,} pixels, over the limit of "
                        f"{max_pixels:,} (--max-pixels)")


def check_aspect(found: tuple[int, int], wanted: tuple[int, int], name, kind: str, of: str) -> None:
    """``HintError`` unless ``found`` (width, height) has ``wanted``'s aspect ratio, within an editor's rounding."""
    width, height = wanted
    if abs(found[0] / found[1] - width / height) > ASPECT_TOLERANCE * (width / height):
        raise HintError(f"{name}: {kind} is {found[0]}x{found[1]}, another aspect ratio than its {of} "
                        f"({width}x{height})")


def check_hint_image(image: Image.Image, size: tuple[int, int], name: Path | str = "hint image") -> None:
    """``HintError`` unless a (lazily opened) PIL image can be a hint image for a photo of ``size``:
    it has transparency and the photo's aspect ratio. Nothing is decoded."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        raise HintError(f"{name}: hint image has no alpha channel (paint hints on a transparent "
                        "layer and save it as PNG, WebP or TIFF with transparency)")
    check_aspect(image.size, size, name, "hint image", "photo")


def hint_plane_of(image: Image.Image, size: tuple[int, int], name: Path | str = "hint image") -> np.ndarray:
    """The hint plane of a hint image (a PIL image with transparency) for a photo of ``size``."""
    check_hint_image(image, size, name)
    rgba = image.convert("RGBA")
    width, height = size
    if rgba.size != (width, height):
        rgba = rgba.resize((width, height), Image.Resampling.NEAREST)  # dabs keep their exact colours
    pixels = np.asarray(rgba)
    return hint_plane(to_float(pixels[..., :3]), pixels[..., 3] >= ALPHA_THRESHOLD)


def has_colour(chroma: np.ndarray) -> bool:
    """Whether a colour image's chroma ``(..., 2)`` holds colour at all: at least a hundredth of
    its pixels further than ``COLOURLESS_CHROMA`` from gray (a gray scan saved as RGB has none)."""
    magnitude = np.hypot(chroma[..., 0], chroma[..., 1])
    return bool((magnitude > COLOURLESS_CHROMA).mean() >= 0.01)


def reference_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """The reference distribution of a colour photo, float RGB ``(H, W, 3)`` in [0, 1]."""
    return chroma_histogram(rgb_to_chroma(rgb))


@dataclass(frozen=True)
class Reference:
    """A reference photo as read: its distribution, and whether it had any colour."""

    distribution: np.ndarray
    colourless: bool

    def warning(self, path: Path) -> tuple[str, ...]:
        if not self.colourless:
            return ()
        return (f"{path}: the reference photo has no colour; it gives gray colours",)


def read_reference(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Reference:
    """The colour photo at ``path`` as a reference; ``HintError`` names the file (unreadable, or
    over ``max_pixels`` by its header, before decoding)."""
    try:
        with Image.open(path) as image:
            _check_header(image, path, "reference photo", max_pixels)
            image.draft("RGB", (REFERENCE_SIDE, REFERENCE_SIDE))
            image = image.convert("RGB")
            image.thumbnail((REFERENCE_SIDE, REFERENCE_SIDE), Image.Resampling.BILINEAR)
            rgb = to_float(np.asarray(image))
    except HintError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise HintError(f"{path}: reference photo cannot be read ({exc})") from None
    distribution = reference_from_rgb(rgb)
    distribution.setflags(write=False)
    return Reference(distribution, not has_colour(rgb_to_chroma(rgb)))


def read_reference_cached(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Reference:
    """``read_reference``, read once per file version: one reference serves a whole series."""
    stat = path.stat()
    return _reference_of_version(str(path), stat.st_mtime_ns, stat.st_size, max_pixels)


@functools.lru_cache(maxsize=64)
def _reference_of_version(path: str, mtime_ns: int, size: int, max_pixels: int) -> Reference:
    return read_reference(Path(path), max_pixels)


HINT_EXPECTED = ("a hint image: a path, a PIL image with transparency, or an RGBA array (H, W, 4) of uint8 or "
                 "uint16, transparent where there is no hint")
REFERENCE_EXPECTED = ("a colour photo: a path, a PIL image, or an RGB array (H, W, 3) of uint8, uint16 or float in "
                      "[0, 1]")


def hints_from(value, size: tuple[int, int]) -> np.ndarray:
    """A hint plane from a hint image: its path, a PIL image, or an RGBA array ``(H, W, 4)``
    (uint8 or uint16), as if read from a file; anything else is a ``HintError``."""
    if isinstance(value, np.ndarray):
        return hint_plane_of(Image.fromarray(_rgba_u8(value), "RGBA"), size, "hint array")
    if isinstance(value, Image.Image):
        return hint_plane_of(value, size)
    if isinstance(value, (str, os.PathLike)):
        return read_hint_image(Path(value), size)
    raise HintError(f"hints: got {type(value).__name__}; expected {HINT_EXPECTED}")


def _rgba_u8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 3:
        raise HintError(f"hint array of shape {array.shape} has no alpha channel; expected {HINT_EXPECTED}")
    if array.ndim != 3 or array.shape[2] != 4 or array.dtype not in (np.uint8, np.uint16):
        raise HintError(f"hint array of shape {array.shape} and dtype {array.dtype}; expected {HINT_EXPECTED}")
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.ascontiguousarray(array)


def reference_from(value) -> np.ndarray:
    """A reference distribution from a colour photo: its path, a PIL image, or an RGB array
    ``(H, W, 3)`` (uint8, uint16, or float in [0, 1]); anything else is a ``HintError``."""
    if isinstance(value, Image.Image):
        return reference_from_rgb(to_float(np.asarray(value.convert("RGB"))))
    if isinstance(value, np.ndarray):
        return reference_from_rgb(_rgb_float(value))
    if isinstance(value, (str, os.PathLike)):
        return read_reference(Path(value)).distribution
    raise HintError(f"reference: got {type(value).__name__}; expected {REFERENCE_EXPECTED}")


def _rgb_float(array: np.ndarray) -> np.ndarray:
    if array.ndim != 3 or array.shape[2] != 3:
        raise HintError(f"reference array of shape {array.shape}; expected {REFERENCE_EXPECTED}")
    if array.dtype in (np.uint8, np.uint16):
        return to_float(array)
    if array.dtype.kind != "f":
        raise HintError(f"reference array of dtype {array.dtype}; expected {REFERENCE_EXPECTED}")
    if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
        raise HintError(f"reference array of floats outside [0, 1]; expected {REFERENCE_EXPECTED}")
    return array.astype(np.float32)


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
