"""Atomic file writes, used for every file colorbatch produces (outputs, reports, checkpoints,
exported models): write to a temporary name beside the target, flush it to disk, rename. A file
that exists under its final name is complete, even after a crash or a power loss."""

from __future__ import annotations

import contextlib
import glob
import os
import threading
from collections.abc import Iterator
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def is_partial_write(name: str) -> bool:
    """A temporary file of an interrupted write: never an input, never an output."""
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


_folders_made: set[Path] | None = None  # inside sole_writer(): the folders this process made


@contextlib.contextmanager
def sole_writer() -> Iterator[None]:
    """A run in which this process is the only writer of its outputs (a local run, not a cluster's
    workers): a folder it makes can hold no other writer's leftovers, so writes there skip the
    search for them. Outside, every write searches, as a worker must when another one died."""
    global _folders_made
    _folders_made = set()
    try:
        yield
    finally:
        _folders_made = None


def _made_by_this_process(folder: Path) -> bool:
    """Create ``folder`` if needed; whether this sole writer made it in this run (looking for
    leftovers lists the folder: once per output in a full folder)."""
    if _folders_made is None:
        folder.mkdir(parents=True, exist_ok=True)
        return False
    if folder in _folders_made:
        if folder.is_dir():
            return True
        _folders_made.discard(folder)  # removed since (a test, a clean-up between two runs)
    try:
        folder.mkdir()
    except FileExistsError:
        return False
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
    _folders_made.add(folder)
    return True


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on leaving the block without an error it
    is flushed to disk and renamed to ``path``, otherwise removed. Temporary files that an
    interrupted earlier write left for the same target are removed first."""
    path = Path(path)
    if not _made_by_this_process(path.parent):
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(OSError):
                stale.unlink()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}{PARTIAL_SUFFIX}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
