"""``colorbatch info``: describe an ONNX model."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
def info(model: Path | None) -> None:
    """Describe an ONNX model (default: the bundled one): metadata, inputs, outputs, size."""
    from colorbatch.inference.modelinfo import describe

    for key, value in describe(model).items():
        click.echo(f"{key:<20} {value}")
