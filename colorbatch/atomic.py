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


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on leaving the block without an error it
    is flushed to disk and renamed to ``path``, otherwise removed. Temporary files that an
    interrupted earlier write left for the same target are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
