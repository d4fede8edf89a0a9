"""Combine checkpoints by averaging: their weights (one run) or their predictions (an ensemble).

    colorbatch average runs/ft22/param/epoch_*.pth --data data/cifar10 -o runs/ft22/averaged.pth
    colorbatch ensemble runs/ft22/averaged.pth runs/w48-swa/averaged.pth --data data/cifar10 -o runs/ensemble.pth

Averaging weights at points along one training trajectory lands in a flatter, better-generalising
spot than any single point of a run that has started to overfit. Batch-norm statistics of the
averaged weights are not the average of the statistics, so they are measured again on training
images. Models trained apart do not share a weight space; their chroma predictions are averaged
instead (a ``chroma-ensemble``), at the cost of running each of them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from colorbatch.errors import CheckpointError

from .checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import Split
from .evaluation import evaluate
from .models import create_model
from .splits import load_splits, to_tensors


def average_weights(payloads: list[dict[str, Any]]) -> nn.Module:
    """The model whose floating-point weights are the mean of the checkpoints' (same architecture)."""
    first = payloads[0]
    for payload in payloads[1:]:
        if (payload["arch"], payload["arch_kwargs"]) != (first["arch"], first["arch_kwargs"]):
            raise CheckpointError(
                f"cannot average {first['arch']} {first['arch_kwargs']} with {payload['arch']} {payload['arch_kwargs']}"
            )
    model = model_from_checkpoint(first)
    state = model.state_dict()
    for name, value in state.items():
        if value.is_floating_point():
            state[name] = sum(p["state_dict"][name] for p in payloads) / len(payloads)
    model.load_state_dict(state)
    return model


@torch.no_grad()
def recompute_batch_norm(model: nn.Module, images: Split, batch_size: int = 256) -> nn.Module:
    """Replace running mean/variance of every batch-norm layer by their exact values on ``images``."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over all batches
    model.train()
    for start in range(0, len(images), batch_size):
        gray, _ = to_tensors(images, np.arange(start, min(start + batch_size, len(images))), torch.device("cpu"))
        model(gray)
    return model.eval()


def _run_config(payload: dict[str, Any], data: Path, out: Path, cache_dir: Path | None) -> TrainConfig:
    """The training configuration a checkpoint was made with, pointed at ``data``."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    config = payload.get("config", {})
    return TrainConfig(**{**{k: v for k, v in config.items() if k in known}, "data": str(data), "out": str(out),
                          "cache_dir": str(cache_dir) if cache_dir else None})


def _load_several(paths: list[Path], what: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The checkpoints at ``paths`` (at least two) and the newest of them."""
    if len(paths) < 2:
        raise CheckpointError(f"{what} needs at least two checkpoints")
    payloads = [load_checkpoint(path) for path in paths]
    return payloads, max(payloads, key=lambda p: p["epoch"])


def _lineage(paths: list[Path], payloads: list[dict[str, Any]]) -> list[str]:
    return [f"{path} (epoch {p['epoch']})" for path, p in zip(paths, payloads)]


def _measure_and_save(model: nn.Module, val_split: Split, test_split: Split | None, newest: dict[str, Any],
                      out: Path, data: Path, **fields: Any) -> dict[str, Any]:
    device = torch.device("cpu")
    metrics: dict[str, Any] = {"validation": evaluate(model, val_split, device), "epoch": newest["epoch"]}
    if test_split is not None:
        metrics["test"] = evaluate(model, test_split, device)
    save_checkpoint(
        out,
        state_dict=model.state_dict(),
        epoch=newest["epoch"],
        metrics=metrics,
        history=newest.get("history", []),
        config=newest.get("config", {}),
        train_size=newest.get("train_size", newest.get("config", {}).get("image_size", 32)),
        data_source=newest.get("data_source", str(data)),
        **fields,
    )
    return metrics


def average_checkpoints(
    paths: list[Path], out: Path, data: Path, cache_dir: Path | None = None, bn_images: int = 12_800
) -> dict[str, Any]:
    """Average the weights of ``paths`` into a new self-describing checkpoint at ``out``; returns its metrics."""
    payloads, newest = _load_several(paths, "averaging")
    splits = load_splits(_run_config(newest, data, out, cache_dir))
    train_split, val_split, test_split = splits.train, splits.val, splits.test
    model = average_weights(payloads)
    rng = np.random.default_rng(0)
    # Shuffled, not sorted: the per-batch variances must come from mixed batches (files often come in class order).
    sample = rng.permutation(len(train_split))[: min(bn_images, len(train_split))]
    recompute_batch_norm(model, train_split.subset(sample))
    return _measure_and_save(
        model, val_split, test_split, newest, out, data, arch=newest["arch"], arch_kwargs=newest["arch_kwargs"],
        averaged_from=_lineage(paths, payloads),
    )


def ensemble_checkpoints(paths: list[Path], out: Path, data: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """A ``chroma-ensemble`` of the chroma-unets in ``paths`` at ``out``; returns its metrics.

    The members must share one validation split (same data and seed), or the ensemble's
    validation figures would include images some member trained on.
    """
    payloads, newest = _load_several(paths, "an ensemble")
    for path, payload in zip(paths, payloads):
        if payload["arch"] != "chroma-unet":
            raise CheckpointError(f"{path}: an ensemble takes chroma-unet checkpoints, not {payload['arch']}")
    split_keys = {(p.get("config", {}).get("seed"), p.get("config", {}).get("max_images")) for p in payloads}
    if len(split_keys) > 1:
        raise CheckpointError("the checkpoints were trained on different validation splits (seed or "
                              f"max_images differ: {sorted(split_keys, key=str)}); their ensemble cannot be validated")
    members = [{k: v for k, v in p["arch_kwargs"].items() if k != "flip_average"} for p in payloads]
    model = create_model("chroma-ensemble", members=members)
    for member, payload in zip(model.members, payloads):
        member.load_state_dict(payload["state_dict"])
    splits = load_splits(_run_config(newest, data, out, cache_dir))
    return _measure_and_save(
        model, splits.val, splits.test, newest, out, data, arch="chroma-ensemble", arch_kwargs={"members": members},
        ensemble_of=_lineage(paths, payloads),
    )
