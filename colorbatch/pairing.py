"""Pairing files across two trees by relative path, ignoring the extension."""

from __future__ import annotations

from pathlib import Path

from colorbatch.discover import IMAGE_EXTENSIONS


def find_partner(root: Path, relative: Path) -> Path | None:
    """The file under ``root`` with ``relative``'s path and any supported image extension."""
    stem = root / relative.with_suffix("")
    folder = stem.parent
    if not folder.is_dir():
        return None
    for suffix in (relative.suffix, *IMAGE_EXTENSIONS, *(e.upper() for e in IMAGE_EXTENSIONS)):
        candidate = stem.with_name(stem.name + suffix)
        if suffix and candidate.is_file():
            return candidate
    return None
