"""The Python API the CLI itself uses.

    from colorbatch import Colorizer
    colorizer = Colorizer()                      # bundled model, CUDA when it really runs
    colour = colorizer.colorize(Image.open("old.jpg"))
    summary = colorizer.run("scans/", "coloured/")
    summary = colorizer.run("scans/", "coloured/", distributor=DaskDistributor("tcp://head:8786"))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from colorbatch.batch.engine import Distributor
from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, RunSummary
from colorbatch.batch.plan import single_file_target
from colorbatch.batch.sources import Journal, journal_root, model_digest
from colorbatch.batch.steering import check_hint_paths, missing_hint_warning, unmatched_hint_files
from colorbatch.batch.tree import plan_tree, run_tree
from colorbatch.files.discover import is_image_path
from colorbatch.files.videofiles import is_video_path
from colorbatch.inference.model import ColorModel
from colorbatch.work.colorize import ColorizeWork
from colorbatch.work.run_report import RunReport, report_context

_PATH_OPTIONS = ("truth", "hints", "reference", "keyframes")


class Colorizer(ColorModel):
    """``Colorizer(model=None, device="auto")``: ``.colorize(image)`` and ``.run(input, out)``."""

    def run(self, source: str | Path, out: str | Path, options: RunOptions | None = None,
            on_result: Callable[[Result], None] | None = None, report: str | Path | None = None,
            context: dict | None = None, distributor: Distributor | None = None,
            on_frames: Callable[[ClipJob, int, int | None], None] | None = None, only: str | Path | None = None,
            **overrides) -> RunSummary:
        """Colorize a tree (or one file) into ``out``; options as in ``RunOptions``. ``report``
        (.json, .csv or .html) also writes the run's report, as ``colorbatch run --report`` does;
        ``context`` replaces the report's description of how it was made. ``distributor`` runs the
        work elsewhere (``colorbatch.batch.cluster.DaskDistributor``); by default, in this process.
        ``on_frames(clip, frames_done, frames_in_all)`` follows videos and frame sequences frame by frame.
        ``only`` (a path under the folder ``source``) colours that one input as the whole run would
        (its hint and reference from the same trees, recorded in the same journal)."""
        source, out = Path(source), Path(out)
        options = self._checked(source, out, options, overrides)
        writer = RunReport(Path(report)) if report is not None else None
        clips = _ClipCensus(options)
        observers = [o for o in (writer.add if writer else None, on_result, clips) if o is not None]
        work = ColorizeWork(self.spec, options, model=self, on_frames=on_frames)
        journal = self.journal_for(source, out)
        try:
            summary = run_tree(source, out, work, options, distributor, observers, provider=self.provider,
                               journal=journal, only=None if only is None else Path(only))
        finally:
            journal.close()
        summary.peak_pixels_in_flight = work.peak_pixels_in_flight
        summary.warnings.update(dict.fromkeys(missing_hint_warning(source, options.hints)))
        if options.keyframes is not None and not clips.seen:
            summary.warnings[f"--keyframes {options.keyframes}: the run had no video or --sequence clip; "
                             "keyframes were not used"] = None
        summary.unmatched_hints = unmatched_hint_files(source, options.hints)
        if writer is not None:
            if context is None:
                context = report_context(input=Path(source), output=Path(out), truth=options.truth,
                                         model=self.model.path, vividness=self.vividness, provider=summary.provider)
            writer.close(summary, context, self.model.path.name, self.vividness)
        return summary

    def plan(self, source: str | Path, out: str | Path, options: RunOptions | None = None,
             only: str | Path | None = None, **overrides) -> list[Job | Result]:
        """What ``run`` would do, writing nothing (``run --dry-run``): each job (with ``redo``, why
        an existing output would be made again) and each result decided without work (kept,
        refused), in plan order."""
        source, out = Path(source), Path(out)
        options = self._checked(source, out, options, overrides)
        journal = self.journal_for(source, out)
        try:
            return list(plan_tree(source, out, options, journal=journal, only=None if only is None else Path(only)))
        finally:
            journal.close()

    def journal_for(self, source: Path, out: Path) -> Journal:
        """The record of the sources of the outputs this model writes into ``out``
        (``colorbatch.batch.sources``): the model file, and the settings of this colorizer."""
        return Journal(journal_root(out, single_file_target(source, out)), model_digest(self.model.path),
                       {"vividness": self.vividness, "size": self.size})

    def _checked(self, source: Path, out: Path, options: RunOptions | None, overrides: dict) -> RunOptions:
        overrides = {k: Path(v) if k in _PATH_OPTIONS and v is not None else v for k, v in overrides.items()}
        options = options or RunOptions(**overrides)
        check_hint_paths(source, out, options)
        if options.steered:
            self.require_hints()
        return options


class _ClipCensus:
    """Whether a run's plan held any clip (a video, ``--sequence`` frames), from its results."""

    def __init__(self, options: RunOptions) -> None:
        self.sequence = options.sequence
        self.seen = False

    def __call__(self, result: Result) -> None:
        self.seen = self.seen or is_video_path(result.source) or (self.sequence and (
            is_image_path(result.source) or result.source.is_dir()))
