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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorbatch import defaults
from colorbatch.color import luminance, to_float, to_uint8
from colorbatch.errors import ImageError
from colorbatch.files.atomic import write_atomic
from colorbatch.files.integrity import png_header

OUTPUT_FORMATS = ("png", "jpg", "webp", "same")  # --format: same keeps the input's extension
PNG_COMPRESSION = defaults.PNG_COMPRESSION  # --png-compression, zlib's level (why 4: colorbatch.defaults)
DEFAULT_MAX_PIXELS = defaults.MAX_PIXELS
# --max-pixels is the one limit: Pillow's own guard (89 M, an error at twice that) would cap it.
Image.MAX_IMAGE_PIXELS = None
_PIL_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
               ".tif": "TIFF", ".tiff": "TIFF"}
_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}


@dataclass
class Metadata:
    """What an archive expects an output to keep from its input: EXIF (orientation reset, as the
    rotation is applied to the pixels), resolution, colour profile, PNG text chunks, TIFF tags."""

    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    icc_profile: bytes | None = None
    text: dict[str, str] = field(default_factory=dict)  # PNG tEXt/iTXt chunks
    tiff_tags: dict[int, object] = field(default_factory=dict)  # descriptive TIFF tags


# Descriptive TIFF tags carried over: ImageDescription, Make, Model, Software, DateTime, Artist, Copyright.
_TIFF_TAGS = (270, 271, 272, 305, 306, 315, 33432)
_ORIENTATION = 0x0112


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def read_metadata(image: Image.Image) -> Metadata:
    """The metadata of an image as opened (before ``exif_transpose``); the orientation tag is reset
    to 1, because the readers apply the rotation to the pixels."""
    exif = image.getexif()
    if image.format == "TIFF":  # a TIFF's "EXIF" is its own tag directory: keep the descriptive tags only
        kept = Image.Exif()
        for tag in (*_TIFF_TAGS, _ORIENTATION):
            if tag in exif:
                kept[tag] = exif[tag]
        exif = kept
    exif_bytes = None
    if len(exif):
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        exif_bytes = exif.tobytes()
    dpi = image.info.get("dpi")
    tags = {}
    if hasattr(image, "tag_v2"):
        tags = {tag: image.tag_v2[tag] for tag in _TIFF_TAGS if tag in image.tag_v2}
    text = {k: v for k, v in getattr(image, "text", {}).items() if isinstance(v, str)} if image.format == "PNG" else {}
    return Metadata(exif_bytes, tuple(float(v) for v in dpi) if dpi else None, image.info.get("icc_profile"),
                    text, tags)


def _icc_for(metadata: Metadata, mode: str) -> bytes | None:
    """The input's profile where it describes the output; a gray profile cannot describe colour,
    so an RGB output from a gray-profiled input gets sRGB."""
    profile = metadata.icc_profile
    if not profile:
        return None
    space = profile[16:20]
    if mode == "RGB" and space == b"GRAY":
        return _srgb_profile()
    if mode == "L" and space != b"GRAY":
        return None
    return profile


@dataclass
class Decoded:
    """One input image reduced to what colorization needs, and the metadata its output keeps."""

    luma: np.ndarray  # float32 (H, W) in [0, 1]
    alpha: np.ndarray | None  # uint8 (H, W) or None
    metadata: Metadata | None = None
    hints: np.ndarray | None = None  # a hint plane (H, W, 3) of colorbatch.hints, or None
    reference: np.ndarray | None = None  # a reference distribution (Q,), or None
    warnings: tuple[str, ...] = ()  # what its steering could not do (a reference without colour)


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
def _opened(path: Path, max_pixels: int) -> Iterator[tuple[Image.Image, Metadata]]:
    """An image opened with the checks every reader needs (empty file, pixel limit, truncation),
    EXIF orientation applied, and its metadata; Pillow's errors become ``ImageError`` naming the file."""
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
                orientation = image.getexif().get(_ORIENTATION, 1)  # Pillow's TIFF loader drops it at load
                metadata = read_metadata(image)
                image.load()
                yield _oriented(image, orientation), metadata
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can identify") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: rejected as a possible decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot decode ({exc})") from None


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
              5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _oriented(image: Image.Image, orientation: int) -> Image.Image:
    """The image as a viewer shows it: its EXIF orientation applied to the pixels."""
    if image.getexif().get(_ORIENTATION, 1) != 1:
        return ImageOps.exif_transpose(image)
    return image.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else image


def peek_pixels(path: Path) -> int:
    """The pixel count in a file's header (no decoding); 0 when it cannot be read (decoding will
    then report why)."""
    try:
        if (header := png_header(path)) is not None:
            return header[0] * header[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return image.width * image.height
    except Exception:
        return 0


def peek_size(path: Path) -> tuple[int, int] | None:
    """The (width, height) an image is shown at, its EXIF orientation applied, from its header
    (no decoding); None when it cannot be read. A PNG's EXIF is read only from before its pixel
    data, where Pillow writes it: looking further would decode the whole file."""
    try:
        if (header := png_header(path)) is not None and not header[2]:
            return header[:2]  # the common case of a resume pass, without Pillow's parsing
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                width, height = image.size
                has_exif = image.format != "PNG" or "exif" in image.info
                orientation = image.getexif().get(_ORIENTATION, 1) if has_exif else 1
    except Exception:
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def decode(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Decoded:
    """Read ``path`` into luminance, alpha and metadata; raises ``ImageError`` with the reason."""
    with _opened(path, max_pixels) as (image, metadata):
        decoded = _luma_and_alpha(image)
        decoded.metadata = metadata
        return decoded


def read_rgb(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A file as uint8 RGB ``(H, W, 3)``, EXIF orientation applied (scoring, gray copies)."""
    return read_rgb_and_metadata(path, max_pixels)[0]


def read_rgb_and_metadata(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, Metadata]:
    with _opened(path, max_pixels) as (image, metadata):
        return np.asarray(image.convert("RGB")), metadata


def output_suffix(input_path: Path, fmt: str) -> str:
    """The output file's extension for an input and ``--format``."""
    if fmt == "same":
        suffix = input_path.suffix.lower()
        return suffix if suffix in _PIL_FORMAT else ".png"  # gif etc.: palette would lose colour
    return f".{fmt}"


def encode(pixels: np.ndarray, alpha: np.ndarray | None, suffix: str, quality: int = 95,
           metadata: Metadata | None = None, png_compression: int = PNG_COMPRESSION) -> bytes:
    """uint8 RGB ``(H, W, 3)`` or gray ``(H, W)`` (+ alpha where the format keeps it) to file bytes,
    with the input's ``metadata`` wherever the format can hold it. ``quality`` is JPEG's and
    WebP's, ``png_compression`` PNG's zlib level (0-9); each format ignores the other's."""
    pil_format = _PIL_FORMAT[suffix]
    mode = "RGB" if pixels.ndim == 3 else "L"
    image = Image.fromarray(pixels, mode)
    if alpha is not None and pil_format in _ALPHA_FORMATS:
        image.putalpha(Image.fromarray(alpha, "L"))
    buffer = io.BytesIO()
    options: dict = {}
    if pil_format in ("JPEG", "WEBP"):
        options["quality"] = quality
    elif pil_format == "PNG":
        options["compress_level"] = png_compression
    if metadata is not None:
        options.update(_save_options(metadata, pil_format, mode))
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def write_image(target: Path, pixels: np.ndarray, alpha: np.ndarray | None, quality: int = 95,
                metadata: Metadata | None = None, png_compression: int = PNG_COMPRESSION) -> None:
    """``encode`` for ``target``'s format, written atomically; an ``ImageError`` when it cannot be."""
    try:
        write_atomic(target, encode(pixels, alpha, target.suffix, quality, metadata, png_compression))
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(f"cannot write {target}: {exc}") from None


def _save_options(metadata: Metadata, pil_format: str, mode: str) -> dict:
    """Pillow's save options that carry ``metadata`` into ``pil_format``."""
    options: dict = {}
    if metadata.exif and pil_format in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["exif"] = metadata.exif
    if metadata.dpi and pil_format in ("JPEG", "PNG", "TIFF", "BMP"):
        options["dpi"] = metadata.dpi
    icc = _icc_for(metadata, mode)
    if icc and pil_format in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["icc_profile"] = icc
    if metadata.text and pil_format == "PNG":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        for key, value in metadata.text.items():
            info.add_itxt(key, value)
        options["pnginfo"] = info
    if pil_format == "TIFF" and (metadata.tiff_tags or metadata.exif):
        # TIFF keeps EXIF's descriptive tags in its own directory; Pillow writes tiffinfo, not exif, there
        tags = Image.Exif()
        if metadata.exif:
            tags.load(metadata.exif)
        options.pop("exif", None)
        options["tiffinfo"] = {**{t: v for t, v in tags.items() if t in (*_TIFF_TAGS, _ORIENTATION)},
                               **metadata.tiff_tags}
    return options
