"""Pairing files across two trees by relative path, ignoring the extension."""

from __future__ import annotations

from pathlib import Path

from colorbatch.files.discover import IMAGE_EXTENSIONS, same_file


class AmbiguousPartnerError(ValueError):
    """More than one file under the other tree has this relative path (with different extensions)."""


def partners(root: Path, relative: Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """The files under ``root`` with ``relative``'s path and one of ``extensions`` (either case),
    each file once (a case-insensitive file system or a link may name one file twice)."""
    stem = root / relative.with_suffix("")
    if not stem.parent.is_dir():
        return []
    found: list[Path] = []
    for suffix in dict.fromkeys((*extensions, *(e.upper() for e in extensions))):
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file() and not any(same_file(candidate, seen) for seen in found):
            found.append(candidate)
    return found


def find_partner(root: Path, relative: Path) -> Path | None:
    """The one file under ``root`` with ``relative``'s path and a supported image extension;
    ``AmbiguousPartnerError`` when several have (``a.png`` and ``a.jpg``): never pick one."""
    found = partners(root, relative)
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise AmbiguousPartnerError(f"{relative.with_suffix('').as_posix()}: {len(found)} candidates under {root} "
                                    f"({names}); rename all but one")
    return found[0] if found else None


