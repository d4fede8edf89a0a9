"""The run folder's pictures and tables: comparison grids, loss and metric curves, history.csv."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PIL import Image

HISTORY_FIELDS = (
    "epoch", "lr", "seconds", "train_loss", "train_mse", "train_vgg", "train_l1", "train_l2",
    "val_loss", "val_mse", "val_psnr", "val_ssim", "val_psnr_pooled", "val_colourfulness",
)


def comparison_grid(gray: np.ndarray, output: np.ndarray, truth: np.ndarray, scale: int = 4) -> Image.Image:
    """Rows of gray | output | truth (uint8, ``(N, H, W)`` / ``(N, H, W, 3)``), each upscaled."""
    gray_rgb = np.repeat(gray[..., None], 3, axis=-1)
    rows = [np.concatenate(triple, axis=1) for triple in zip(gray_rgb, output, truth)]
    grid = Image.fromarray(np.concatenate(rows, axis=0))
    return grid.resize((grid.width * scale, grid.height * scale), Image.Resampling.NEAREST)


def write_history(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in HISTORY_FIELDS})


def _curves(path: Path, rows: list[dict], series: dict[str, str], ylabel: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], series.items()):
        points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None and math.isfinite(r[key])]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel if len(series) == 1 else label)
        ax.grid(alpha=0.3)
        ax.set_title(label)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_losses(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("total loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Training and validation loss")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_metrics(path: Path, rows: list[dict]) -> None:
    _curves(path, rows, {"val_psnr": "PSNR (dB)", "val_ssim": "SSIM"}, "", "Validation metrics")
