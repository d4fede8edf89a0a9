"""Average the weights of several checkpoints of one run (stochastic weight averaging, after the fact).

    colorbatch average runs/ft22/param/epoch_*.pth --data data/cifar10 -o runs/ft22/averaged.pth

Averaging points along one training trajectory lands in a flatter, better-generalising spot than any
single point of a run that has started to overfit. Batch-norm statistics of the averaged weights
are not the average of the statistics, so they are measured again on training images.
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
from .data import Split
from .trainer import TrainConfig, evaluate, load_splits, to_tensors


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


def average_checkpoints(
    paths: list[Path], out: Path, data: Path, cache_dir: Path | None = None, bn_images: int = 12_800
) -> dict[str, Any]:
    """Average ``paths`` into a new self-describing checkpoint at ``out``; returns its metrics."""
    if len(paths) < 2:
        raise CheckpointError("averaging needs at least two checkpoints")
    payloads = [load_checkpoint(path) for path in paths]
    newest = max(payloads, key=lambda p: p["epoch"])
    config = newest.get("config", {})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    run = TrainConfig(**{**{k: v for k, v in config.items() if k in known}, "data": str(data), "out": str(out),
                         "cache_dir": str(cache_dir) if cache_dir else None})
    train_split, val_split, test_split, _ = load_splits(run)
    model = average_weights(payloads)
    rng = np.random.default_rng(0)
    # Shuffled, not sorted: the per-batch variances must come from mixed batches (files often come in class order).
    sample = rng.permutation(len(train_split))[: min(bn_images, len(train_split))]
    recompute_batch_norm(model, train_split.subset(sample))
    device = torch.device("cpu")
    metrics: dict[str, Any] = {"validation": evaluate(model, val_split, device), "epoch": newest["epoch"]}
    if test_split is not None:
        metrics["test"] = evaluate(model, test_split, device)
    save_checkpoint(
        out,
        arch=newest["arch"],
        arch_kwargs=newest["arch_kwargs"],
        state_dict=model.state_dict(),
        epoch=newest["epoch"],
        metrics=metrics,
        history=newest.get("history", []),
        config=config,
        train_size=newest.get("train_size", run.image_size),
        data_source=newest.get("data_source", str(data)),
        averaged_from=[f"{path} (epoch {p['epoch']})" for path, p in zip(paths, payloads)],
    )
    return metrics
