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


class Colorizer(colorize.ColorModel):
    """``Colorizer(model=None, device="auto")``: ``.colorize(image)`` and ``.run(input, out)``."""

    def run(self, source: str | Path, out: str | Path, options: RunOptions | None = None,
            on_result: Callable[[Result], None] | None = None, **overrides) -> RunSummary:
        """Colorize a tree (or one file) into ``out``; options as in ``RunOptions``."""
        options = options or RunOptions(**overrides)
        return Pipeline(self, options, on_result).run(Path(source), Path(out))
