"""One exception type per failure kind. Library code raises these; the CLI turns each into a
one-line message and the exit code below (documented in the README)."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` safe to print or store: bytes that are not UTF-8 (file names decoded with Python's
    surrogate escapes) and control characters (a newline in a file name) become visible escapes,
    so a name can neither break a report's encoding nor forge a line of a log."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ColorbatchError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InvalidPathError(ColorbatchError):
    """A path given on the command line cannot be used (missing, OUT inside INPUT, not writable)."""

    exit_code = 2


class BatchFailedError(ColorbatchError):
    """Some images in a batch failed; the others were processed."""

    exit_code = 3


class ModelError(ColorbatchError):
    """A model file is missing, unreadable or does not follow the colorbatch contract."""

    exit_code = 4


class DeviceError(ColorbatchError):
    """The requested device (CUDA) cannot run here."""

    exit_code = 5


class DataError(ColorbatchError):
    """A training data folder is empty, inconsistent or of an unknown layout."""

    exit_code = 6


class CheckpointError(ColorbatchError):
    """A checkpoint is missing, not a colorbatch checkpoint, or from a newer format."""

    exit_code = 7


class ExportError(ColorbatchError):
    """An exported model failed verification or could not be written."""

    exit_code = 8


class WeightsError(ColorbatchError):
    """External weights (VGG-16) are missing or of the wrong layout."""

    exit_code = 9


class NothingScoredError(ColorbatchError):
    """``score`` found no prediction with a truth partner (or none could be scored)."""

    exit_code = 10


class RuntimeMissingError(ColorbatchError):
    """ONNX Runtime is not installed (it is an extra: colorbatch[cpu] or colorbatch[gpu])."""

    exit_code = 11


class ClusterError(ColorbatchError):
    """``--distributor dask`` cannot run: Dask is not installed, the scheduler cannot be reached,
    or no worker joined it."""

    exit_code = 12


class HintsUnsupportedError(ColorbatchError):
    """``--hints``, ``--reference`` or ``--keyframes`` was given for a model without hint inputs."""

    exit_code = 13


class ImageError(ColorbatchError):
    """One image cannot be read or written; reported per file, never fatal to a batch."""


class VideoError(ImageError):
    """One video (or frame sequence) cannot be read or written, or video support is not installed;
    reported per file, never fatal to a batch."""


class HintError(ImageError):
    """One hint file, reference photo or keyframe cannot be used (unreadable, no alpha channel,
    another aspect ratio); its photo fails, reported per file, never fatal to a batch."""
