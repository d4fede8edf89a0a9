"""Whether an output already on disk is whole: what resuming trusts before it skips an input.

colorbatch's own writes are atomic, but a file under an output's name may come from elsewhere: a
copy or sync that died half way, a full disk in another tool, a leftover from an older version. A
file counts as done only when its structure is complete and its header has the expected size.
The checks are cheap, so a resume pass over many outputs stays fast:

- PNG: every chunk's CRC, and IEND last;
- JPEG: the end-of-image marker;
- WebP: the RIFF size field equals the file's size;
- other formats (TIFF, BMP): a full decode.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_END = b"\xff\xd9"


def _png_size_if_whole(data: bytes) -> tuple[int, int] | None:
    """(width, height) from IHDR when every chunk's CRC holds and IEND ends the file, else None."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33:
        return None
    position = len(PNG_SIGNATURE)
    view = memoryview(data)
    while position + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, position)
        end = position + 12 + length
        if end > len(data):
            return None
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[position + 4:end - 4]) != crc:
            return None
        if data[position + 4:position + 8] == b"IEND":
            return struct.unpack_from(">II", data, 16) if end == len(data) else None
        position = end
    return None


def png_header(path: Path) -> tuple[int, int, bool] | None:
    """(width, height, has EXIF) of a PNG file from its chunk headers before the pixel data, where
    the PNG specification puts eXIf; None when it is not a PNG file."""
    with open(path, "rb") as handle:
        if handle.read(8) != PNG_SIGNATURE:
            return None
        head = handle.read(8)
        if head[4:] != b"IHDR":
            return None
        width, height = struct.unpack(">II", handle.read(8))
        handle.seek(struct.unpack_from(">I", head)[0] - 8 + 4, 1)
        while len(head := handle.read(8)) == 8 and head[4:] not in (b"IDAT", b"IEND"):
            if head[4:] == b"eXIf":
                return width, height, True
            handle.seek(struct.unpack_from(">I", head)[0] + 4, 1)
    return width, height, False


def _whole_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a structurally complete image file, else None."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        return _png_size_if_whole(path.read_bytes())
    with open(path, "rb") as handle:
        if suffix in (".jpg", ".jpeg"):
            handle.seek(-2, 2)
            whole = handle.read(2) == JPEG_END
        elif suffix == ".webp":
            header = handle.read(12)
            size = handle.seek(0, 2)
            whole = (len(header) == 12 and header[:4] == b"RIFF" and header[8:] == b"WEBP"
                     and struct.unpack_from("<I", header, 4)[0] + 8 == size)
        else:
            whole = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as image:
            if whole is None:
                image.load()
            elif not whole:
                return None
            return image.size


def is_whole(path: Path, size: tuple[int, int] | None) -> bool:
    """Whether ``path`` is a complete image file whose header says ``size`` (width, height);
    ``size`` None skips the size check (the input's size could not be read)."""
    try:
        found = _whole_size(path)
    except (OSError, ValueError, SyntaxError, struct.error):
        return False
    return found is not None and (size is None or tuple(found) == tuple(size))
