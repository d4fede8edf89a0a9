"""Pairing files across two trees by relative path, ignoring the extension."""

from __future__ import annotations

from pathlib import Path

from colorbatch.files.discover import IMAGE_EXTENSIONS, same_file


class AmbiguousPartnerError(ValueError):
    """More than one file under the other tree has this relative path (with different extensions)."""


def find_partner(root: Path, relative: Path) -> Path | None:
    """The one file under ``root`` with ``relative``'s path and a supported image extension;
    ``AmbiguousPartnerError`` when several have (``a.png`` and ``a.jpg``): never pick one."""
    stem = root / relative.with_suffix("")
    folder = stem.parent
    if not folder.is_dir():
        return None
    found = []
    for suffix in dict.fromkeys((*IMAGE_EXTENSIONS, *(e.upper() for e in IMAGE_EXTENSIONS))):
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file() and not any(same_file(candidate, seen) for seen in found):
            found.append(candidate)
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise AmbiguousPartnerError(f"{relative.with_suffix('').as_posix()}: {len(found)} candidates under {root} "
                                    f"({names}); rename all but one")
    return found[0] if found else None


