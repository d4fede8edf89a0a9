"""The report of a colorize run (``.json``, ``.csv`` or ``.html``): one row per image, and a
header with how it was made, the counts and the scores. ``colorbatch run --report`` and
``Colorizer.run(..., report=...)`` both write it through this module; ``report_context`` (how a
report was made) serves ``score``'s reports too."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from colorbatch import __version__
from colorbatch.batch.jobs import Result, RunSummary, Status
from colorbatch.errors import printable
from colorbatch.scoring.report import ReportWriter, score_columns


def report_context(model: Path | None = None, **fields) -> dict:
    """What a report says about how it was made: when, by which colorbatch and model, from what."""
    context = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "colorbatch": __version__,
               "command line": printable(" ".join(["colorbatch", *sys.argv[1:]]))}
    if model is not None:
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
        context.update({"model": printable(Path(model).name), "model sha256": digest})
    context.update({key: printable(str(value)) if isinstance(value, Path) else value
                    for key, value in fields.items() if value is not None})
    return context


class RunReport:
    """Opened before the run (a bad report path fails before any work), fed each result, closed
    with the summary."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.writer = ReportWriter(self.path)

    def add(self, result: Result) -> None:
        if result.status is Status.UNSUPPORTED:
            return
        self.writer.add({"image": str(result.source), "input": str(result.source), "status": str(result.status),
                         "reason": _reason(result), **score_columns(result.score),
                         "prediction": str(result.target) if result.target else None,
                         "truth": str(result.truth) if result.truth else None})

    def close(self, summary: RunSummary, context: dict, model_name: str, vividness: float | None) -> None:
        scores = summary.scores.aggregate() if summary.scores is not None else {}
        self.writer.close({"command": "run", "context": context, "model": model_name, "vividness": vividness,
                           "aggregate": scores,
                           "counts": {"done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
                                      "unsupported": summary.unsupported, **_provenance_counts(summary)},
                           **({"redone reasons": summary.redone_reasons()} if summary.redone else {}),
                           **({"warnings": list(summary.warnings)} if summary.warnings else {})})


def _reason(result: Result) -> str:
    """The row's reason; an output made again over an earlier one says why ("redone: hint changed")."""
    if not result.redone:
        return result.reason
    return "; ".join(part for part in (f"redone: {result.redone}", result.reason) if part)


def _provenance_counts(summary: RunSummary) -> dict:
    """Redone and unrecorded outputs, where there were any (a first run's report is as before)."""
    return {key: value for key, value in (("redone", len(summary.redone)), ("unrecorded", summary.unrecorded))
            if value}
