"""The training, validation and test splits of a run, and batches of them as tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from colorbatch.errors import DataError

from .config import TrainConfig
from .data import Split, load_dataset, split_train_val


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split | None
    source: str
    class_names: tuple[str, ...]


def load_splits(config: TrainConfig) -> Splits:
    """Training, validation and test splits as ``config`` defines them, with a description of the
    source and the class names where the data layout gives them."""
    dataset = load_dataset(
        Path(config.data),
        Path(config.gray_dir) if config.gray_dir else None,
        size=config.image_size,
        cache_dir=Path(config.cache_dir) if config.cache_dir else None,
    )
    full = dataset.train
    if config.max_images:
        full = full.subset(np.arange(min(config.max_images, len(full))))
    train_split, val_split = split_train_val(full, config.seed, config.val_fraction)
    return Splits(train_split, val_split, dataset.test, dataset.source, dataset.class_names)


def to_tensors(split: Split, index: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gray = torch.from_numpy(split.gray[index]).to(device).float().div_(255).unsqueeze(1)
    color = torch.from_numpy(split.color[index]).to(device).float().div_(255).permute(0, 3, 1, 2)
    return gray, color.contiguous()


def class_count(config: TrainConfig, splits: Splits) -> int:
    """Classes for the auxiliary class loss; a layout without class labels is a clear error."""
    if config.arch not in ("chroma-unet", "chroma-bins"):
        raise DataError(f"--class-loss-weight needs --arch chroma-unet or chroma-bins (they have the class head), "
                        f"not {config.arch}")
    if splits.train.labels is None or not splits.class_names:
        raise DataError(
            f"{config.data}: --class-loss-weight needs class labels: one subfolder per class "
            "(as in CIFAR-10's JPEG tree) or CIFAR-10's python batches"
        )
    return len(splits.class_names)
