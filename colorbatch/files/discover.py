"""Finding images: lazy recursive walks, supported extensions, sharding, and whether two paths are one file."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from colorbatch.files.atomic import is_partial_write

RECORDS_FOLDER = ".colorbatch"  # colorbatch's own records in an OUT (colorbatch.batch.sources): never files of a tree
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def iter_files(root: Path, on_error: Callable[[OSError], None] | None = None) -> Iterator[Path]:
    """Every regular file under ``root`` (or ``root`` itself), in a stable order, lazily.

    Folders that cannot be listed go to ``on_error`` (an ``OSError`` naming the folder); leftover
    temporary files of interrupted writes and colorbatch's records folder are not files of the tree.
    """
    root = Path(root)
    if root.is_file():
        yield root
        return
    for folder, dirs, files in os.walk(root, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if d != RECORDS_FOLDER)
        for name in sorted(files):
            if not is_partial_write(name):
                yield Path(folder) / name


def natural_key(path: Path) -> tuple:
    """Sort key that orders numbered names by their numbers: frame_2 before frame_10."""
    # isdecimal, not isdigit: '²' is a digit that int() refuses
    return tuple(int(part) if part.isdecimal() else part for part in re.split(r"(\d+)", path.name.lower()))


def iter_images(root: Path) -> Iterator[Path]:
    """Files under ``root`` with a supported image extension."""
    return (p for p in iter_files(root) if is_image_path(p))


def in_shard(relative: Path, shard: tuple[int, int] | None) -> bool:
    """Whether ``relative`` belongs to shard ``(k, n)`` (1-based k), by a stable path hash."""
    if shard is None:
        return True
    k, n = shard
    digest = hashlib.sha1(relative.as_posix().encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` to ``(K, N)`` with 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like K/N, got {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (``a.PNG`` and ``a.png`` on a case-insensitive filesystem, a
    link); False when either cannot be read."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
