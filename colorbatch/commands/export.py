"""``colorbatch export``: a checkpoint to a verified, self-describing ONNX model."""

from __future__ import annotations

from pathlib import Path

import click

from colorbatch import defaults

from .common import require_torch


@click.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="ONNX file (default: CHECKPOINT with .onnx).")
@click.option("--opset", type=int, default=defaults.OPSET, show_default=True, help="ONNX opset.")
@click.option("--simplify/--no-simplify", default=True, show_default=True, help="Run onnxscript's optimizer.")
@click.option("--working-size", type=click.IntRange(min=1),
              help="Network short side for large inputs (default: training size).")
@click.option("--min-size", type=click.IntRange(min=1),
              help="Network short side for small inputs, scaled up to it (default: training size).")
@click.option("--test-flip/--no-test-flip", default=None,
              help="chroma models: average with the mirrored prediction (2x compute; default: as trained).")
@click.option("--fp16", is_flag=True, help="Also write a half-precision copy (float32 inputs/outputs kept).")
@click.option("--fp16-weights", is_flag=True,
              help="Also write a copy (.fp16w.onnx) that stores weights as fp16 and computes in fp32: half the file.")
@click.option("--int8", is_flag=True, help="Also write a static QDQ int8 copy, calibrated on --calib.")
@click.option("--calib", type=click.Path(path_type=Path), help="Calibration images for --int8 (and for reporting).")
@click.option("--vividness-curve", metavar="JSON",
              help="chroma-bins: [[vividness, temperature, correction], ...] from vividness 0 to 1 "
                   "(default: [[0,1,1],[0.5,1,0],[1,0.4,0]]).")
@click.option("--default-vividness", type=click.FloatRange(0, 1), default=defaults.EXPORT_VIVIDNESS, show_default=True,
              help="chroma-bins: the vividness colorbatch run uses when none is given.")
@click.option("--terms", metavar="TEXT",
              help="The terms of use the model inherits from its training data (ImageNet's are non-commercial), "
                   "written into its metadata and shown by `colorbatch info`.")
def export(checkpoint: Path, output, opset, simplify, working_size, min_size, test_flip, fp16, fp16_weights, int8,
           calib, vividness_curve, default_vividness, terms) -> None:
    """Export a training checkpoint to a verified, self-describing ONNX model.

    Needs the train extra and a runtime to verify with: pip install "colorbatch[cpu,train]".
    """
    require_torch("export")
    from colorbatch.export.onnx_export import export_checkpoint

    if int8 and calib is None:
        raise click.UsageError("--int8 needs --calib DIR with calibration images")
    from colorbatch.inference.vividness import CurveError

    try:
        result = export_checkpoint(checkpoint, output, opset=opset, simplify=simplify, working_size=working_size,
                                   test_flip=test_flip, vividness_curve=vividness_curve,
                                   default_vividness=default_vividness, min_size=min_size, terms=terms)
    except CurveError as exc:
        raise click.BadParameter(str(exc), param_hint="--vividness-curve") from None
    for line in result.checks:
        click.echo(f"  {line}")
    click.echo(f"verified: max |onnxruntime - pytorch| = {result.max_abs_diff:.2e} (limit 1e-4)")
    click.echo(f"wrote {result.path}")
    if fp16 or fp16_weights or int8:
        from colorbatch.export.quantize import quantize_variants

        for line in quantize_variants(result.path, fp16=fp16, int8=int8, calib=calib, fp16_weights=fp16_weights):
            click.echo(line)
