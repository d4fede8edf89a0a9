"""The batch as the studio sees it: every photo and clip of the plan ``run`` would make of INPUT,
each with a stable id, its path under INPUT and its state, from the journal of its output's
sources (``colorbatch.batch.sources``):

- ``not coloured``: no output yet;
- ``automatic`` / ``steered``: an output whose sources are unchanged, coloured without or with a
  hint file or reference;
- ``stale``: an output whose sources changed since it was written (the reason says which);
- ``failed``: the plan refuses it (the reason says why).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, Status
from colorbatch.batch.steering import partner_file
from colorbatch.files.imaging import peek_size

STATES = ("not coloured", "automatic", "steered", "stale", "failed")


def photo_id(relative: Path) -> str:
    """A stable id of an input: a digest of its path under INPUT (never a path a client could edit)."""
    return hashlib.blake2b(relative.as_posix().encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


@dataclass
class Entry:
    id: str
    relative: Path
    kind: str  # image or clip
    source: Path
    target: Path | None
    state: str
    reason: str = ""
    size: tuple[int, int] | None = field(default=None, repr=False)  # (width, height), read when first listed

    def listed(self) -> dict:
        if self.size is None and self.kind == "image":
            self.size = peek_size(self.source) or (0, 0)
        width, height = self.size or (None, None)
        return {"id": self.id, "path": self.relative.as_posix(), "kind": self.kind, "state": self.state,
                "reason": self.reason, "width": width, "height": height}


class Catalog:
    """The entries of a batch, in plan order; ``refresh`` plans one photo again after a save."""

    def __init__(self, colorizer, source: Path, out: Path, options: RunOptions) -> None:
        self.colorizer, self.source, self.out, self.options = colorizer, Path(source), Path(out), options
        self.entries: dict[str, Entry] = {}
        for item in colorizer.plan(self.source, self.out, options):
            entry = self._entry(item)
            if entry is not None:
                self.entries[entry.id] = entry

    def _entry(self, item: Job | Result) -> Entry | None:
        if isinstance(item, Result) and item.status is Status.UNSUPPORTED:
            return None
        relative = item.source.relative_to(self.source) if self.source.is_dir() else Path(item.source.name)
        kind = "clip" if isinstance(item, ClipJob) else "image"
        if isinstance(item, Job):
            state = "stale" if item.redo else "not coloured"
            return Entry(photo_id(relative), relative, kind, item.source, item.target, state, item.redo)
        if item.status is Status.FAILED:
            return Entry(photo_id(relative), relative, kind, item.source, item.target, "failed", item.reason)
        steered = partner_file(self.options.hints, relative) is not None or self.options.reference is not None
        return Entry(photo_id(relative), relative, kind, item.source, item.target,
                     "steered" if steered else "automatic", item.reason)

    def __getitem__(self, photo: str) -> Entry:
        return self.entries[photo]

    def listing(self, offset: int = 0, limit: int = 100, state: str | None = None,
                folder: str | None = None) -> dict:
        """A page of entries (filtered by state and by folder under INPUT), and how many match."""
        chosen = [entry for entry in self.entries.values()
                  if (state is None or entry.state == state) and (folder is None or _in_folder(entry.relative, folder))]
        return {"total": len(chosen), "offset": offset,
                "photos": [entry.listed() for entry in chosen[offset:offset + limit]]}

    def refresh(self, photo: str) -> Entry:
        """Plan one entry again (after its hint file was saved or removed, or its output written)."""
        entry = self.entries[photo]
        only = entry.relative if self.source.is_dir() else None
        for item in self.colorizer.plan(self.source, self.out, self.options, only=only):
            fresh = self._entry(item)
            if fresh is not None and fresh.id == photo:
                fresh.size = entry.size
                self.entries[photo] = fresh
        return self.entries[photo]


def _in_folder(relative: Path, folder: str) -> bool:
    """Whether ``relative`` lies in ``folder`` (a path under INPUT; "" is INPUT), not in a sibling
    that only begins with the same letters (``sub`` is not ``subway``)."""
    name = folder.strip("/")
    return not name or Path(name) in (relative.parent, *relative.parent.parents)
