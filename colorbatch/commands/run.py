"""``colorbatch run``: colorize a tree (or one file) with an ONNX model."""

from __future__ import annotations

from pathlib import Path

import click

from colorbatch import defaults
from colorbatch.files.imaging import OUTPUT_FORMATS

from .common import (
    Progress,
    distribute_options,
    distributor_from,
    finish,
    print_json,
    print_scores,
    shard_from_text,
    walk_options,
)


def show_plan(plan: list, as_json: bool) -> None:
    """``run --dry-run``: one line per job and per decided result (stdout), then the counts."""
    from colorbatch.batch.jobs import ClipJob, Job, Status
    from colorbatch.errors import printable

    rows = []
    for item in plan:
        if isinstance(item, ClipJob) and item.frames is not None:
            frames = [f for f in item.frames[item.warmup:] if not f.done]
            reasons = sorted({f.job.redo or "new" for f in frames})
            rows.append(("colour", item.source, item.target, f"{len(frames)} frame(s): {', '.join(reasons)}"))
        elif isinstance(item, Job):
            rows.append(("colour", item.source, item.target, item.redo or "new"))
        elif item.status is Status.SKIPPED:
            rows.append(("keep", item.source, item.target, item.reason))
        elif item.status is Status.FAILED:
            rows.append(("fail", item.source, item.target, item.reason))
    if as_json:
        print_json({"command": "run", "dry_run": True,
                    "items": [{"action": a, "input": printable(str(s)), "output": printable(str(t)) if t else None,
                               "reason": printable(r)} for a, s, t, r in rows]})
    else:
        for action, source, _, reason in rows:
            click.echo(f"{action:<7}{printable(str(source))}  ({printable(reason)})")
    counts = {action: sum(row[0] == action for row in rows) for action in ("colour", "keep", "fail")}
    redone = sum(1 for row in rows if row[0] == "colour" and row[3] != "new")
    click.echo(f"dry run: {counts['colour']} to colour ({redone} over an existing output), {counts['keep']} kept, "
               f"{counts['fail']} refused; nothing written", err=True)


def _check_device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from colorbatch.errors import DeviceError
    from colorbatch.inference.session import parse_device

    try:
        parse_device(value)
    except DeviceError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("out_dir", metavar="OUT", type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), help="ONNX model (default: the bundled one).")
@click.option("--device", default="auto", show_default=True, callback=_check_device,
              help="auto, cpu, cuda or cuda:N (the N-th GPU CUDA_VISIBLE_DEVICES leaves visible). auto uses "
                   "CUDA only when it really runs; cuda fails if it cannot.")
@click.option("--batch-size", type=click.IntRange(min=1), default=defaults.BATCH_SIZE, show_default=True,
              help="Images per inference batch.")
@click.option("--threads", type=click.IntRange(min=1),
              help="CPU threads for inference in all (default: every core this process may use).")
@click.option("--streams", type=click.IntRange(min=1),
              help="Batches inferred at once, each on threads/streams onnxruntime threads (default: one per "
                   "thread on CPU, 1 on CUDA).")
@click.option("--size", type=click.IntRange(min=1),
              help="Network short side for large inputs (default: the model's working size).")
@click.option("--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="png",
              show_default=True, help="Output format; same keeps the input's extension.")
@click.option("--quality", type=click.IntRange(1, 100), default=defaults.QUALITY, show_default=True,
              help="JPEG/WebP quality.")
@click.option("--png-compression", type=click.IntRange(0, 9), default=defaults.PNG_COMPRESSION, show_default=True,
              help="PNG outputs' zlib level: 9 is smallest and slowest, 1 fastest (about 20 % larger than 6).")
@click.option("--vividness", type=click.FloatRange(0, 1),
              help="0 (conservative) to 1 (the most vivid setting shipped); default: the model's own. "
                   "Models that predict a colour distribution only (the bundled one does).")
@click.option("--hints", type=click.Path(path_type=Path),
              help="Colour hints: a hint image (PNG/WebP/TIFF with transparency: opaque dabs give their colour) "
                   "for a one-file run, or a folder mirroring INPUT (a/b.jpg takes a/b.png). Hint models only.")
@click.option("--reference", type=click.Path(path_type=Path),
              help="A colour photo whose colours every input should take (a series, a film, a place), or a "
                   "folder mirroring INPUT. Hint models only.")
@click.option("--keyframes", type=click.Path(path_type=Path),
              help="Videos and --sequence: colour frames that set their shot's colour, named as the frames they "
                   "stand for (a sequence's frame file name; a video's 0-based frame number, 000120.png, in "
                   "KEYFRAMES/<video path without extension>/). Hint models only.")
@click.option("--truth", type=click.Path(path_type=Path), help="Colour originals: score outputs on the fly.")
@click.option("--sequence", is_flag=True,
              help="Each folder of numbered frames (frame_0001.png, ...) is one clip, coloured in frame order.")
@click.option("--temporal", type=click.Choice(["on", "off"]), default="on", show_default=True,
              help="Videos and --sequence: keep colour stable from frame to frame along the motion (off: each "
                   "frame on its own).")
@click.option("--codec", help="Video codec of video outputs (default: libx264, H.264 yuv420p; libvpx-vp9 in .webm).")
@click.option("--crf", type=click.IntRange(0, 63), default=defaults.CRF, show_default=True,
              help="Video outputs' constant quality (lower is better and larger; x264's 18 looks lossless).")
@click.option("--report", type=click.Path(path_type=Path), help="Per-image report (.json, .csv or .html).")
@click.option("--dry-run", is_flag=True,
              help="List what the run would do and why (new, which source changed, kept, refused); write nothing.")
@walk_options
@distribute_options
def run(input_path: Path, out_dir: Path, model, device, batch_size, threads, streams, size, fmt, quality,
        png_compression, vividness, hints, reference, keyframes, truth, sequence, temporal, codec, crf, report,
        dry_run, workers, overwrite, shard, strict, quiet, as_json, max_pixels, distributor, scheduler,
        retries) -> None:
    """Colorize every image under INPUT (a folder tree or one file) into OUT, mirroring the tree.

    The network sees each large image at the model's working size and scales small ones up to its
    minimum size (short sides; `colorbatch info` shows both: 224 and 128 px for the bundled model),
    and the colour is laid onto the full-resolution luminance, so outputs keep their input's size
    and brightness. One file with an image name as OUT writes that file.

    Videos (.mp4, .mov, .mkv, .avi, .webm; pip install "colorbatch[video]") come out as videos of the
    same frames, rate, time stamps and audio, their colour kept stable from frame to frame
    (--temporal); `run film.mp4 film-colour.mp4` names the output.
    """
    from colorbatch.api import Colorizer
    from colorbatch.batch.jobs import RunOptions

    options = RunOptions(batch_size=batch_size, workers=workers, fmt=fmt, quality=quality,
                         png_compression=png_compression,
                         overwrite=overwrite, shard=shard_from_text(shard), strict=strict, truth=truth,
                         max_pixels=max_pixels, video=True, sequence=sequence, temporal=temporal == "on",
                         codec=codec, crf=crf, hints=hints, reference=reference,
                         keyframes=keyframes)
    cluster = distributor_from(distributor, scheduler, retries)
    colorizer = Colorizer(model, device=device, threads=threads, size=size, vividness=vividness, streams=streams)
    if dry_run:
        show_plan(colorizer.plan(input_path, out_dir, options), as_json)
        return
    if not quiet:
        shown = "" if colorizer.vividness is None else f", vividness {colorizer.vividness:g}"
        where = colorizer.provider if cluster is None else f"Dask workers ({scheduler or 'a cluster on this machine'})"
        click.echo(f"model {colorizer.model.path.name} ({colorizer.model.info.arch}{shown}) on {where}", err=True)
    progress = Progress(quiet, source=input_path, videos=True)
    try:
        summary = colorizer.run(input_path, out_dir, options, on_result=progress, report=report, distributor=cluster,
                                on_frames=progress.frames)
    finally:
        progress.close()
    scores = summary.scores.aggregate() if summary.scores is not None else None
    if scores is not None:
        print_scores(scores, None, err=as_json)
    if report is not None:
        click.echo(f"report: {report}", err=as_json)
    finish(summary, "run", as_json, {"model": str(colorizer.model.path), "vividness": colorizer.vividness,
                                      "scores": scores,
                                      "report": str(report) if report else None})
