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

from colorbatch.engine import Distributor, run_tree
from colorbatch.hints import check_hint_paths
from colorbatch.jobs import ClipJob, Result, RunOptions, RunSummary
from colorbatch.model import ColorModel
from colorbatch.pipeline import ColorizeWork
from colorbatch.run_report import RunReport, report_context


class Colorizer(ColorModel):
    """``Colorizer(model=None, device="auto")``: ``.colorize(image)`` and ``.run(input, out)``."""

    def run(self, source: str | Path, out: str | Path, options: RunOptions | None = None,
            on_result: Callable[[Result], None] | None = None, report: str | Path | None = None,
            context: dict | None = None, distributor: Distributor | None = None,
            on_frames: Callable[[ClipJob, int, int | None], None] | None = None, **overrides) -> RunSummary:
        """Colorize a tree (or one file) into ``out``; options as in ``RunOptions``. ``report``
        (.json, .csv or .html) also writes the run's report, as ``colorbatch run --report`` does;
        ``context`` replaces the report's description of how it was made. ``distributor`` runs the
        work elsewhere (``colorbatch.cluster.DaskDistributor``); by default, in this process.
        ``on_frames(clip, frames_done, frames_in_all)`` follows videos and frame sequences frame by frame."""
        paths = ("truth", "hints", "reference", "keyframes")
        overrides = {k: Path(v) if k in paths and v is not None else v for k, v in overrides.items()}
        options = options or RunOptions(**overrides)
        check_hint_paths(Path(source), options)
        if options.steered:
            self.require_hints()
        writer = RunReport(Path(report)) if report is not None else None
        observers = [observer for observer in (writer.add if writer else None, on_result) if observer is not None]
        work = ColorizeWork(self.spec, options, model=self, on_frames=on_frames)
        summary = run_tree(Path(source), Path(out), work, options, distributor, observers, provider=self.provider)
        summary.peak_pixels_in_flight = work.peak_pixels_in_flight
        if writer is not None:
            if context is None:
                context = report_context(input=Path(source), output=Path(out), truth=options.truth,
                                         model=self.model.path, vividness=self.vividness, provider=summary.provider)
            writer.close(summary, context, self.model.path.name, self.vividness)
        return summary
