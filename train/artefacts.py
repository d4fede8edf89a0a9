"""The run folder's pictures and tables: comparison grids, loss and metric curves, history.csv."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PIL import Image

from .losses import LOGGED_TERMS

LABELS = {"mse": "pixel MSE", "vgg": "VGG-16 perceptual", "l1": "L1 of the weights", "l2": "L2 of the weights",
          "ssim_loss": "1 - SSIM", "class_loss": "class cross-entropy", "bins": "chroma-bin cross-entropy"}
HISTORY_FIELDS = (
    "epoch", "lr", "seconds", "train_loss", *(f"train_{term}" for term in LOGGED_TERMS),
    "val_loss", *(f"val_{term}" for term in LOGGED_TERMS), "val_class_accuracy",
    "val_psnr", "val_ssim", "val_psnr_pooled", "val_colourfulness",
)


def comparison_grid(gray: np.ndarray, output: np.ndarray, truth: np.ndarray, scale: int = 4) -> Image.Image:
    """Rows of gray | output | truth (uint8, ``(N, H, W)`` / ``(N, H, W, 3)``), each upscaled."""
    gray_rgb = np.repeat(gray[..., None], 3, axis=-1)
    rows = [np.concatenate(triple, axis=1) for triple in zip(gray_rgb, output, truth)]
    grid = Image.fromarray(np.concatenate(rows, axis=0))
    return grid.resize((grid.width * scale, grid.height * scale), Image.Resampling.NEAREST)


def write_history(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        for row in rows:
            # a term the run did not compute is blank, never 0
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in HISTORY_FIELDS})


def _plot(path: Path, rows: list[dict], title: str, panels: list[tuple[str, dict[str, str], bool]]) -> None:
    """One PNG of side-by-side panels; each panel is (y label, {history key: line label}, log y)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 1, 3.8), squeeze=False)
    for ax, (ylabel, lines, log_y) in zip(axes[0], panels):
        for key, label in lines.items():
            points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None and math.isfinite(r[key])]
            if points:
                ax.plot(*zip(*points), marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if log_y and all(v > 0 for line in ax.get_lines() for v in line.get_ydata()):
            ax.set_yscale("log")
        if len(lines) > 1:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def trained_terms(rows: list[dict]) -> list[str]:
    """The loss terms a run computed (in ``LOGGED_TERMS`` order)."""
    return [term for term in LOGGED_TERMS if any(row.get(f"train_{term}") is not None for row in rows)]


def plot_losses(path: Path, rows: list[dict]) -> None:
    """The total loss, then one panel for each term the run computed (only those)."""
    panels = [("total loss", {"train_loss": "train", "val_loss": "validation"}, True)]
    panels += [(LABELS.get(term, term), {f"train_{term}": "train", f"val_{term}": "validation"}, True)
               for term in trained_terms(rows)]
    _plot(path, rows, "Training and validation loss", panels)


def plot_metrics(path: Path, rows: list[dict]) -> None:
    _plot(path, rows, "Validation metrics",
          [("PSNR (dB)", {"val_psnr": "PSNR"}, False), ("SSIM", {"val_ssim": "SSIM"}, False)])
