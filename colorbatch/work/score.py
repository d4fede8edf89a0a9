"""``colorbatch score``: PSNR/SSIM/colourfulness of predictions against ground truth.

Predictions and truth pair by relative path, ignoring the extension. Each pair is a job of the
engine (``ScoreWork``): scored in chunks on this machine's processes (SSIM holds the GIL, so
threads would not help) or on a Dask cluster, from a lazy plan, and folded into ``ScoreSummary`` in
plan order as they arrive, so memory does not grow with the number of images and the numbers
do not depend on where they were computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from colorbatch.batch.engine import Distributor, Record, Stopped, chunk_settler, chunked, execute, run_bounded
from colorbatch.batch.jobs import Job, Result, Status
from colorbatch.errors import ImageError, InvalidPathError, printable
from colorbatch.files.discover import iter_images
from colorbatch.files.imaging import read_rgb
from colorbatch.files.pairing import AmbiguousPartnerError, find_partner
from colorbatch.scoring.report import ReportWriter, score_columns
from colorbatch.scoring.scores import ScoreSummary, gray_baseline, score_pair

CHUNK = 64  # pairs per task on a local process: a task costs more than one small pair


@dataclass
class ScoreResult:
    summary: ScoreSummary
    baseline: ScoreSummary | None
    unmatched_pred: list[str] = field(default_factory=list)
    unmatched_truth: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C: the scores are of the pairs finished before it
    header: dict = field(default_factory=dict)  # the report's header: context, aggregates, counts

    @property
    def unmatched_count(self) -> int:
        return len(self.unmatched_pred) + len(self.unmatched_truth)


def score_job(job: Job, baseline: bool = False) -> Result:
    """The metrics of one prediction file (``job.source``) against its truth file (``job.target``),
    and, with ``baseline``, of the truth's own gray copy."""
    result = Result(job.source, None, Status.DONE, truth=job.target)
    try:
        pred, truth = read_rgb(job.source), read_rgb(job.target)
        if pred.shape != truth.shape:
            raise ValueError(f"size mismatch: prediction {pred.shape[1]}x{pred.shape[0]}, "
                             f"truth {truth.shape[1]}x{truth.shape[0]}")
        result.score = score_pair(pred, truth)
    except (ImageError, ValueError) as exc:
        result.status, result.reason = Status.FAILED, str(exc)
        return result
    result.pixels = pred.shape[0] * pred.shape[1]
    if baseline:
        result.baseline = score_pair(gray_baseline(truth), truth)
    return result


def report_row(result: Result, relative: str) -> dict:
    """A scored pair as a row of score's report."""
    row: dict = {"image": relative, "prediction": str(result.source), "truth": str(result.truth)}
    if result.status is Status.FAILED:
        row["error"] = result.reason
        return row
    row.update(score_columns(result.score, result.baseline))
    return row


def iter_pairs(pred_dir: Path, truth_dir: Path, unmatched: list[str], failed: list[dict]) -> Iterator[Job]:
    """A job per pair (``source``: the prediction, ``target``: its truth); predictions without
    truth go to ``unmatched``, those with several candidate truths to ``failed``."""
    for pred in iter_images(pred_dir):
        relative = pred.relative_to(pred_dir)
        try:
            truth = find_partner(truth_dir, relative)
        except AmbiguousPartnerError as exc:
            failed.append({"image": relative.as_posix(), "error": f"ambiguous truth: {exc}"})
            continue
        if truth is None:
            unmatched.append(relative.as_posix())
        else:
            yield Job(pred, relative, truth)


def truth_without_prediction(pred_dir: Path, truth_dir: Path) -> Iterator[str]:
    for truth in iter_images(truth_dir):
        relative = truth.relative_to(truth_dir)
        try:
            partner = find_partner(pred_dir, relative)
        except AmbiguousPartnerError:
            continue  # reported from the prediction side
        if partner is None:
            yield relative.as_posix()


@dataclass
class ScoreWork:
    """Scoring as the engine's kind of work: a ``Result`` with the metrics of each pair."""

    baseline: bool = False
    jobs: int = -1  # processes on this machine; -1: all cores

    def process_chunk(self, jobs: list[Job]) -> list[Result]:
        return [score_job(job, self.baseline) for job in jobs]

    def process(self, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        from joblib import cpu_count
        from joblib.externals.loky import get_reusable_executor

        processes = cpu_count() if self.jobs == -1 else self.jobs
        if processes == 1:
            for job in jobs:
                if stopped():
                    break
                record(score_job(job, self.baseline))
            return
        run_bounded(get_reusable_executor(max_workers=processes), self.process_chunk, chunked(jobs, CHUNK),
                    chunk_settler(self, record), stopped, window=4 * processes)

    def lost(self, job: Job, reason: str) -> Result:
        return Result(job.source, None, Status.FAILED, reason, truth=job.target)


def score_trees(pred_dir: Path, truth_dir: Path, jobs: int = -1, baseline: bool = False,
                on_result: Callable[[Result], None] | None = None, report: Path | None = None,
                distributor: Distributor | None = None, context: dict | None = None) -> ScoreResult:
    """Score every prediction under ``pred_dir`` against ``truth_dir`` (on ``distributor``; by
    default on ``jobs`` processes here). ``on_result`` sees each pair's ``Result``; ``report``
    (.json, .csv or .html) is written as ``colorbatch score --report`` writes it, its header
    (also ``ScoreResult.header``) describing the run with ``context`` (default: how it was made)."""
    from colorbatch.work.run_report import report_context

    for folder, label in ((pred_dir, "prediction"), (truth_dir, "truth")):
        if not Path(folder).is_dir():
            raise InvalidPathError(f"{folder}: {label} folder does not exist")
    writer = ReportWriter(Path(report)) if report is not None else None
    result = ScoreResult(ScoreSummary(), ScoreSummary() if baseline else None)

    def fold(scored: Result) -> None:
        relative = scored.source.relative_to(pred_dir).as_posix()
        if scored.status is Status.FAILED:
            result.failed.append({"image": relative, "error": scored.reason})
        else:
            result.summary.add(scored.score, scored.pixels)
            if result.baseline is not None:
                result.baseline.add(scored.baseline, scored.pixels)
        if writer is not None:
            writer.add(report_row(scored, relative))
        if on_result is not None:
            on_result(scored)

    pairs = iter_pairs(Path(pred_dir), Path(truth_dir), result.unmatched_pred, result.failed)
    outcome = execute(pairs, ScoreWork(baseline, jobs), distributor, [fold])
    result.seconds, result.interrupted = outcome.seconds, outcome.interrupted
    if result.interrupted:
        return result  # no report: it would describe part of the pairs as if it were all of them
    result.unmatched_truth = list(truth_without_prediction(Path(pred_dir), Path(truth_dir)))
    result.header = score_header(result, context or report_context(predictions=pred_dir, truth=truth_dir))
    if writer is not None:
        writer.close(result.header)
    return result


def score_header(result: ScoreResult, context: dict) -> dict:
    """What a score report (and ``score --json``) says besides its rows."""
    return {
        "command": "score",
        "context": context,
        "aggregate": result.summary.aggregate(),
        "baseline": result.baseline.aggregate() if result.baseline else None,
        "counts": {"scored": result.summary.count, "infinite": result.summary.infinite,
                   "unmatched": result.unmatched_count, "failed": len(result.failed)},
        "unmatched": {"prediction_without_truth": [printable(n) for n in result.unmatched_pred],
                      "truth_without_prediction": [printable(n) for n in result.unmatched_truth]},
        "failed": [{k: printable(v) for k, v in failure.items()} for failure in result.failed],
    }
