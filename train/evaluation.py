"""PSNR/SSIM/colourfulness of a model on a split, with the runtime's recombination and
``colorbatch score``'s metric code, so the number ``train`` prints is the number ``score`` prints."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from colorbatch.recombine import recombine
from colorbatch.scoring.scores import AGGREGATE_BY_KEY, summarise

from .data import Split


@torch.no_grad()
def predict(model: nn.Module, gray_u8: np.ndarray, device: torch.device, batch_size: int = 256) -> np.ndarray:
    """Colorize uint8 gray ``(N, H, W)`` into uint8 RGB ``(N, H, W, 3)``, exactly as ``colorbatch
    run`` writes it: the runtime's own recombination with the input luminance, then 8 bits."""
    model.eval()
    outputs = []
    for start in range(0, len(gray_u8), batch_size):
        luma = gray_u8[start : start + batch_size].astype(np.float32) / 255
        rgb = model(torch.from_numpy(luma).to(device).unsqueeze(1)).float().cpu().numpy()
        outputs.extend(recombine(y, chw) for y, chw in zip(luma, rgb))
    return np.stack(outputs)


def evaluate(model: nn.Module, split: Split, device: torch.device) -> dict[str, Any]:
    """PSNR/SSIM/colourfulness of the model on a split, with ``colorbatch score``'s code."""
    return summarise(predict(model, split.gray, device), split.color)


LOGGED_AGGREGATES = ("psnr_mean", "psnr_pooled", "ssim_mean", "colourfulness_mean", "colourfulness_truth_mean")


def format_metrics(scores: dict[str, Any]) -> str:
    """The scores of a split in one log line, with ``colorbatch score``'s labels."""
    shown = (AGGREGATE_BY_KEY[key] for key in LOGGED_AGGREGATES)
    return ", ".join(f"{row.label} {row.format(scores[row.key])}" for row in shown) + f", {scores['scored']} images"
