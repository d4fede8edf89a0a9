"""``colorbatch gray``: BT.601 gray copies of a colour tree."""

from __future__ import annotations

from pathlib import Path

import click

from colorbatch.files.imaging import OUTPUT_FORMATS

from .common import Progress, distribute_options, distributor_from, finish, shard_from_text, walk_options


@click.command()
@click.argument("source", metavar="SRC", type=click.Path(path_type=Path))
@click.argument("dest", metavar="DST", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="png",
              show_default=True, help="Output format; png keeps the gray values exact.")
@walk_options
@distribute_options
def gray(source: Path, dest: Path, fmt: str, workers, overwrite, shard, strict, quiet, as_json, max_pixels,
         distributor, scheduler, retries) -> None:
    """Write BT.601 gray copies of every image under SRC to DST, mirroring the tree."""
    from colorbatch.batch.jobs import RunOptions
    from colorbatch.work.gray import gray_tree

    options = RunOptions(workers=workers, fmt=fmt, overwrite=overwrite, shard=shard_from_text(shard), strict=strict,
                         max_pixels=max_pixels)
    cluster = distributor_from(distributor, scheduler, retries)
    progress = Progress(quiet, source=source)
    try:
        summary = gray_tree(source, dest, options, on_result=progress, distributor=cluster)
    finally:
        progress.close()
    finish(summary, "gray", as_json)
