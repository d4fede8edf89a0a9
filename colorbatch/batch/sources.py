"""Where each output came from: its sources, their fingerprints, and the journal in OUT that
records them, so that a re-run redoes exactly the outputs whose sources changed.

An output's **sources** (``Sources``) are the files it is made from (the input, its hint file,
its reference photo, its clip's keyframes) and the settings that change its pixels (the model
file, vividness, working size, lossy quality, temporal settings, video codec and quality). Each
file is fingerprinted by size, modification time and a BLAKE2b digest of its content: a re-run
reads a file again only when its size or time changed, so a touched but unchanged file is not
redone, and an unchanged tree costs a ``stat`` per file.

The **journal** is a SQLite database, ``OUT/.colorbatch/journal.sqlite`` (for a one-file run
that names its output, beside that file), one row per output, keyed by the output's path
relative to OUT:

    outputs(target BLOB PRIMARY KEY, sources TEXT (JSON), size INTEGER, mtime_ns INTEGER)

It never lies after a kill: a row is written once its output is in place (outputs are written
atomically), with the output's size and modification time and the sources' fingerprints taken
before the inputs were read; a row that already exists is first marked *pending* (size NULL,
committed) before its output is written again. A pending row, or an output whose size or time is
not the row's, is not trusted as a record: a pending one is redone; one changed since colorbatch
wrote it (by hand, or by another tool) is judged as an output without a record. A kill between
writing a new output and recording it leaves an output without a record: kept, and said so. An output without a
record (written before the journal existed, or put there by hand) is kept when it is whole, as
before, and counted (``UNRECORDED``) so that the run says so once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from colorbatch.files.discover import RECORDS_FOLDER as JOURNAL_FOLDER  # never a file of a walk

JOURNAL_NAME = "journal.sqlite"
UNRECORDED = "output exists, no record of its sources (kept; --overwrite redoes it)"
UP_TO_DATE = "output up to date (its sources are unchanged)"
HAND_CHANGED = "output changed since colorbatch wrote it (kept; --overwrite redoes it)"
INTERRUPTED = "its last run stopped before it was recorded"
INCOMPLETE = "output incomplete"
NEW = "new"
OVERWRITE = "--overwrite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS outputs (target BLOB PRIMARY KEY, sources TEXT NOT NULL, size INTEGER, " \
          "mtime_ns INTEGER)"


@dataclass
class Sources:
    """What one output is made from. ``settings``: the options that change its pixels, by name."""

    input: Path
    hint: Path | None = None
    reference: Path | None = None
    keyframes: tuple[Path, ...] = ()
    settings: dict = field(default_factory=dict)

    def fingerprint(self, model: str) -> dict:
        """The JSON record of these sources as they are now (digests read where not cached)."""
        return {"input": file_mark(self.input), "hint": _optional_mark(self.hint),
                "reference": _optional_mark(self.reference),
                "keyframes": {path.name: file_mark(path) for path in self.keyframes},
                "model": model, "settings": self.settings}

    def changes_since(self, recorded: dict, model: str) -> list[str]:
        """Why an output recorded with ``recorded`` is out of date against these sources: "hint
        changed", "model changed", "vividness changed", ...; empty when nothing changed."""
        reasons = [] if same_file_as(recorded.get("input"), self.input) else ["input changed"]
        for name in ("hint", "reference"):
            was, now = recorded.get(name), getattr(self, name)
            if was is None and now is not None:
                reasons.append(f"{name} added")
            elif was is not None and now is None:
                reasons.append(f"{name} removed")
            elif now is not None and not same_file_as(was, now):
                reasons.append(f"{name} changed")
        was_keys = recorded.get("keyframes") or {}
        now_keys = {path.name: path for path in self.keyframes}
        if set(was_keys) != set(now_keys) or not all(same_file_as(was_keys[n], p) for n, p in now_keys.items()):
            reasons.append("keyframes changed")
        if recorded.get("model") != model:
            reasons.append("model changed")
        was_settings = recorded.get("settings") or {}
        reasons += [f"{name} changed" for name in sorted(set(was_settings) | set(self.settings))
                    if was_settings.get(name) != self.settings.get(name)]
        return reasons


def file_digest(path: Path, stat: os.stat_result | None = None) -> str:
    """BLAKE2b (128 bits) of a file's content, read once per version of the file in this process
    (``stat``: the file's, when the caller has it)."""
    stat = stat or os.stat(path)
    return _digest_of_version(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


@functools.lru_cache(maxsize=1024)
def _digest_of_version(path: str, size: int, mtime_ns: int, inode: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def file_mark(path: Path) -> dict:
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "digest": file_digest(path, stat)}


def _optional_mark(path: Path | None) -> dict | None:
    return None if path is None else file_mark(path)


def same_file_as(mark: dict | None, path: Path) -> bool:
    """Whether ``path`` still holds what ``mark`` recorded: by size and time when they match,
    else by content (a touched file is not a changed one)."""
    if not mark:
        return False
    try:
        stat = os.stat(path)
        if stat.st_size != mark["size"]:
            return False
        return stat.st_mtime_ns == mark["mtime_ns"] or file_digest(path, stat) == mark["digest"]
    except OSError:
        return False


def journal_root(out: Path, single_target: Path | None) -> Path:
    """Where the journal of a run into ``out`` lives: OUT, or the folder of a named one-file output."""
    return single_target.parent if single_target is not None else out


class Journal:
    """The journal of one OUT. Reading never creates it (``--dry-run`` writes nothing); the first
    recorded output does. ``model`` is the model file's digest, ``settings`` the run's pixel settings
    that every output shares (each job adds its own, see ``plan``)."""

    def __init__(self, root: Path, model: str, settings: dict | None = None) -> None:
        self.root = Path(root)
        self.path = self.root / JOURNAL_FOLDER / JOURNAL_NAME
        self.model = model
        self.settings = dict(settings or {})
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._prefix = os.path.join(os.fspath(self.root), "")
        self._missing = False  # no journal on disk when last looked (until this run records an output)
        self._started: dict[bytes, str] = {}  # the fingerprints of outputs begun in this run, until written

    def _key(self, target: Path) -> bytes:
        """The row's key: the output's path under the root, as the file system's bytes (a name
        need not be UTF-8)."""
        text = os.fspath(target)  # string slicing: pathlib's relative_to was most of a resume pass
        relative = text[len(self._prefix):] if text.startswith(self._prefix) else os.path.abspath(text)
        return os.fsencode(relative.replace(os.sep, "/"))

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._connection is None:
            if not create and (self._missing or not self.path.is_file()):
                self._missing = True
                return None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")  # a commit is a short append, not an fsync of the file
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            self._connection = connection
        return self._connection

    def row(self, target: Path) -> tuple[dict, int | None, int | None] | None:
        """(sources, output size, output mtime_ns) recorded for ``target``; size None while pending."""
        with self._lock:
            connection = self._connect(create=False)
            if connection is None:
                return None
            found = connection.execute("SELECT sources, size, mtime_ns FROM outputs WHERE target = ?",
                                       (self._key(target),)).fetchone()
        if found is None:
            return None
        return json.loads(found[0]), found[1], found[2]

    def judge(self, target: Path, sources: Sources, whole: Callable[[], bool]) -> tuple[bool, str]:
        """Whether the existing output ``target`` is kept, and why (or why it is redone).
        ``whole()`` is the check for an output without a trustworthy record."""
        row = self.row(target)
        if row is None:
            return (True, UNRECORDED) if whole() else (False, INCOMPLETE)
        recorded, size, mtime_ns = row
        if size is None:
            return False, INTERRUPTED
        try:
            stat = os.stat(target)
        except OSError:
            return False, NEW
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
            return (True, HAND_CHANGED) if whole() else (False, INCOMPLETE)
        reasons = sources.changes_since(recorded, self.model)
        return (False, ", ".join(reasons)) if reasons else (True, UP_TO_DATE)

    def begin(self, targets_and_sources: Iterable[tuple[Path, Sources]]) -> None:
        """Outputs about to be written: their sources' fingerprints are taken now (before the
        inputs are read), and a row that already exists is marked pending, committed before the
        output is written again, so that a kill can never leave it vouching for the new file."""
        rows = [(json.dumps(sources.fingerprint(self.model)), self._key(target))
                for target, sources in targets_and_sources]
        with self._lock:
            self._started.update((key, fingerprint) for fingerprint, key in rows)
            connection = self._connect(create=False)
            if connection is not None and rows:
                connection.executemany("UPDATE outputs SET sources = ?, size = NULL, mtime_ns = NULL "
                                       "WHERE target = ?", rows)

    def complete(self, target: Path) -> None:
        """Record ``target``, now written, with the sources taken when it began. The journal is
        made by the first output it records: a run that writes nothing leaves nothing in OUT."""
        key = self._key(target)
        with self._lock:
            fingerprint = self._started.pop(key, None)
            if fingerprint is None:
                return
            try:
                stat = os.stat(target)
            except OSError:
                return
            self._connect(create=True).execute("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?)",
                                               (key, fingerprint, stat.st_size, stat.st_mtime_ns))

    def observe(self, result) -> None:
        """An engine observer: a ``Result`` that is DONE completes its output's row."""
        if str(result.status) == "done" and result.target is not None:
            self.complete(result.target)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def model_digest(path: Path) -> str:
    return file_digest(Path(path))
