"""What a batch is made of: its options, its jobs (one input file mapped to one output), the
typed result of each, and the run's summary. Types only: ``plan`` turns a tree into jobs (for
``run`` and ``gray``; ``score`` makes its jobs from pairs), and the engine (``colorbatch.batch.engine``)
executes any plan, on this machine or on a Dask cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from colorbatch import defaults
from colorbatch.batch.sources import HAND_CHANGED, UNRECORDED, Sources
from colorbatch.scoring.scores import ImageScore, ScoreSummary


@dataclass(frozen=True)
class RunOptions:
    batch_size: int = defaults.BATCH_SIZE
    workers: int = defaults.WORKERS
    fmt: str = "png"
    quality: int = defaults.QUALITY
    png_compression: int = defaults.PNG_COMPRESSION  # --png-compression: zlib level of PNG outputs
    overwrite: bool = False
    shard: tuple[int, int] | None = None
    strict: bool = False
    truth: Path | None = None
    max_pixels: int = defaults.MAX_PIXELS
    # Images between decode and the end of their write hold at most this many pixels together
    # (one image larger than that still runs, alone): memory is bounded by pixels, not file count.
    pixel_budget: int = defaults.MAX_PIXELS
    video: bool = False  # video files are jobs (run), not files to leave alone (gray)
    sequence: bool = False  # --sequence: each folder of frames is one clip
    temporal: bool = True  # --temporal: colour kept stable from frame to frame of a clip
    codec: str | None = None  # --codec (default: H.264; VP9 in .webm)
    crf: int = defaults.CRF  # --crf
    hints: Path | None = None  # --hints: a hint image (one-file run) or a tree mirroring INPUT
    reference: Path | None = None  # --reference: one colour photo for every input, or a tree mirroring INPUT
    keyframes: Path | None = None  # --keyframes: colour frames of clips (see colorbatch.video.keyframes)

    @property
    def steered(self) -> bool:
        """Whether the run gives the model colour (hints, references or keyframes)."""
        return self.hints is not None or self.reference is not None or self.keyframes is not None


@dataclass
class Job:
    source: Path
    relative: Path
    target: Path
    sources: Sources | None = None  # what its output is made from (run; None for gray)
    redo: str = ""  # why an existing output is made again ("hint changed"); empty for a new one


@dataclass
class SequenceFrame:
    job: Job
    done: bool  # a previous run wrote its output
    kept: Result | None = None  # then, the plan's result for it (kept, and why)

    def kept_result(self) -> Result:
        return self.kept or already_written(self.job)


@dataclass
class ClipJob(Job):
    """A clip, coloured in frame order: a video file (``frames`` None: ``target`` is a video), or
    a folder of numbered frames under ``--sequence`` (``source`` and ``target`` are folders).
    A piece of a long sequence starts with ``warmup`` frames of the piece before it: coloured to
    settle the temporal state, never written (the piece before writes them)."""

    frames: list[SequenceFrame] | None = None
    warmup: int = 0
    single: bool = False  # the run's INPUT is this video file itself


class Status(str, Enum):
    """What happened to one input. A ``str`` enum: reports and JSON show the plain word."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"  # not an image type colorbatch reads; counted, never an error

    def __str__(self) -> str:
        return self.value


@dataclass
class Result:
    """What happened to one input: its ``Status``, and the reason where it was not done."""

    source: Path
    target: Path | None
    status: Status
    reason: str = ""
    truth: Path | None = None
    score: ImageScore | None = None  # against ``truth`` (run --truth, score), when it was scored
    pixels: int = 0  # of the scored image (pooled PSNR weighs by pixels)
    baseline: ImageScore | None = None  # score --baseline: the truth's gray copy against the truth
    redone: str = ""  # DONE over an earlier output: why it was made again
    warnings: tuple[str, ...] = ()  # what steering could not do for it (a reference with no colour)


@dataclass
class RunSummary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    unsupported: int = 0
    seconds: float = 0.0
    provider: str = ""
    failures: list[Result] = field(default_factory=list)
    scores: ScoreSummary | None = None
    interrupted: bool = False  # Ctrl-C: the counts are what finished before it
    peak_pixels_in_flight: int = 0  # the most pixels decoded-but-not-written at any time
    redone: list[Result] = field(default_factory=list)  # done over an earlier output, each with its reason
    unrecorded: int = 0  # outputs kept without a record of their sources (written before the journal, by hand)
    warnings: dict[str, None] = field(default_factory=dict)  # distinct, in order of arrival
    unmatched_hints: list[Path] = field(default_factory=list)  # hint files no input of the run has

    def record(self, result: Result) -> None:
        """Count one result under its status (and fold in its scores, when it has any)."""
        self.warnings.update(dict.fromkeys(result.warnings))
        if result.status is Status.DONE:
            self.done += 1
            if result.redone:
                self.redone.append(result)
            if self.scores is not None and result.score is not None:
                self.scores.add(result.score, result.pixels)
        elif result.status is Status.SKIPPED:
            self.skipped += 1
            self.unrecorded += result.reason in (UNRECORDED, HAND_CHANGED)
        elif result.status is Status.UNSUPPORTED:
            self.unsupported += 1
        else:
            self.failed += 1
            self.failures.append(result)

    def redone_reasons(self) -> dict[str, int]:
        """How many outputs were redone for each reason ("hint changed": 2); one output may count
        under several."""
        counts: dict[str, int] = {}
        for result in self.redone:
            for reason in result.redone.split(", "):
                counts[reason] = counts.get(reason, 0) + 1
        return counts

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


OUTPUT_EXISTS = "output exists (use --overwrite)"


def already_written(job: Job) -> Result:
    """The result of a job whose output a previous run finished (kept unless ``--overwrite``)."""
    return Result(job.source, job.target, Status.SKIPPED, OUTPUT_EXISTS)
