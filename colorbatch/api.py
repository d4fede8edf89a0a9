"""The Python API the CLI itself uses.

    from colorbatch import Colorizer
    colorizer = Colorizer()                      # bundled model, CUDA when it really runs
    colour = colorizer.colorize(Image.open("old.jpg"))
    summary = colorizer.run("scans/", "coloured/")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from colorbatch import colorize
from colorbatch.pipeline import Pipeline, Result, RunOptions, RunSummary
from colorbatch.run_report import RunReport, report_context


class Colorizer(colorize.ColorModel):
    """``Colorizer(model=None, device="auto")``: ``.colorize(image)`` and ``.run(input, out)``."""

    def run(self, source: str | Path, out: str | Path, options: RunOptions | None = None,
            on_result: Callable[[Result], None] | None = None, report: str | Path | None = None,
            context: dict | None = None, **overrides) -> RunSummary:
        """Colorize a tree (or one file) into ``out``; options as in ``RunOptions``. ``report``
        (.json, .csv or .html) also writes the run's report, as ``colorbatch run --report`` does;
        ``context`` replaces the report's description of how it was made."""
        options = options or RunOptions(**overrides)
        if report is None:
            return Pipeline(self, options, on_result).run(Path(source), Path(out))
        writer = RunReport(Path(report))
        observer = on_result or (lambda result: None)

        def both(result: Result) -> None:
            writer.add(result)
            observer(result)

        summary = Pipeline(self, options, both).run(Path(source), Path(out))
        if context is None:
            context = report_context(input=Path(source), output=Path(out), truth=options.truth,
                                     model=self.model.path, vividness=self.vividness, provider=self.provider)
        writer.close(summary, context, self.model.path.name, self.vividness)
        return summary
