"""Decoding input images and encoding/writing outputs; the only module that touches pixels on disk.

Decoding reduces every supported input to its luminance (float32, [0, 1]) plus an optional alpha
channel: 8- and 16-bit gray, RGB (its BT.601 luminance), palette, CMYK, LA/RGBA, 1-bit, with
the EXIF orientation applied. Any failure is an ``ImageError`` naming the file and the reason.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorbatch.color import luminance, to_float, to_uint8
from colorbatch.errors import ImageError

DEFAULT_MAX_PIXELS = 100_000_000
# --max-pixels is the one limit: Pillow's own guard (89 M, an error at twice that) would cap it.
Image.MAX_IMAGE_PIXELS = None
OUTPUT_FORMATS = ("png", "jpg", "webp", "same")
_PIL_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
               ".tif": "TIFF", ".tiff": "TIFF"}
_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}


@dataclass
class Decoded:
    """One input image reduced to what colorization needs."""

    luma: np.ndarray  # float32 (H, W) in [0, 1]
    alpha: np.ndarray | None  # uint8 (H, W) or None


def _luma_and_alpha(image: Image.Image) -> Decoded:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return Decoded(np.clip(values / peak, 0, 1), None)
    if mode in ("L", "LA", "1"):
        gray = np.asarray(image.getchannel(0).convert("L"))
        alpha = np.asarray(image.getchannel("A")) if mode == "LA" else None
        return Decoded(to_float(gray), alpha)
    alpha = np.asarray(image.getchannel("A")) if mode in ("RGBA", "RGBa", "PA") else None
    rgb = np.asarray(image.convert("RGB"))
    return Decoded(np.clip(luminance(to_float(rgb)), 0, 1), alpha)


def decoded_from_image(image) -> Decoded:
    """A PIL image or numpy array (gray ``(H, W)``, RGB/RGBA ``(H, W, 3|4)``; uint8, uint16 or
    float in [0, 1]) reduced to luminance and alpha."""
    if isinstance(image, Image.Image):
        return _luma_and_alpha(ImageOps.exif_transpose(image))
    array = np.asarray(image)
    if array.dtype.kind == "f":
        values = np.clip(array.astype(np.float32), 0, 1)
    elif array.dtype in (np.uint8, np.uint16):
        values = to_float(array)
    else:
        raise ImageError(f"unsupported array dtype {array.dtype} (uint8, uint16 or float)")
    if array.ndim == 2:
        return Decoded(values, None)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        alpha = to_uint8(values[..., 3]) if array.shape[-1] == 4 else None
        return Decoded(np.clip(luminance(values[..., :3]), 0, 1), alpha)
    raise ImageError(f"unsupported array shape {array.shape} (H, W) or (H, W, 3|4)")


@contextlib.contextmanager
def _opened(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """An image opened with the checks every reader needs (empty file, pixel limit, truncation),
    EXIF orientation applied; Pillow's errors become ``ImageError`` naming the file."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"{path}: {width}x{height} is {width * height:,} pixels, over the limit of "
                        f"{max_pixels:,} (possible decompression bomb; raise --max-pixels to allow)"
                    )
                image.load()
                yield ImageOps.exif_transpose(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can identify") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: rejected as a possible decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot decode ({exc})") from None


def decode(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Read ``path`` into luminance and alpha; raises ``ImageError`` with the reason."""
    with _opened(path, max_pixels) as image:
        return _luma_and_alpha(image)


def read_rgb(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A file as uint8 RGB ``(H, W, 3)``, EXIF orientation applied (scoring, gray copies)."""
    with _opened(path, max_pixels) as image:
        return np.asarray(image.convert("RGB"))


def output_suffix(input_path: Path, fmt: str) -> str:
    """The output file's extension for an input and ``--format``."""
    if fmt == "same":
        suffix = input_path.suffix.lower()
        return suffix if suffix in _PIL_FORMAT else ".png"  # gif etc.: palette would lose colour
    return f".{fmt}"


def encode(pixels: np.ndarray, alpha: np.ndarray | None, suffix: str, quality: int = 95) -> bytes:
    """uint8 RGB ``(H, W, 3)`` or gray ``(H, W)`` (+ alpha where the format keeps it) to file bytes."""
    pil_format = _PIL_FORMAT[suffix]
    image = Image.fromarray(pixels, "RGB" if pixels.ndim == 3 else "L")
    if alpha is not None and pil_format in _ALPHA_FORMATS:
        image.putalpha(Image.fromarray(alpha, "L"))
    buffer = io.BytesIO()
    options = {"quality": quality} if pil_format in ("JPEG", "WEBP") else {}
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()
