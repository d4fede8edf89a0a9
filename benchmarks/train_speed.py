"""Training speed of the real training step, fp32 against bf16 autocast, in one run.

    python benchmarks/train_speed.py [--widths 32 48] [--steps 20]

Each row times `Trainer._step` (forward, the loss the bundled model trains with: log-MSE +
50 x (1 - SSIM), backward, Adam) on batches of 64 CIFAR-sized images, after warm-up steps.
The ratio column is against fp32 at the same width, measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import write_results
from PIL import Image

from colorbatch.train.config import TrainConfig
from colorbatch.train.losses import LossWeights
from colorbatch.train.trainer import Trainer


def _tiny_tree(root: Path, count: int = 80) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")


def images_per_second(data: Path, width: int, precision: str, steps: int, batch: int = 64) -> float:
    config = TrainConfig(data=str(data), out=str(data / "run"), arch_kwargs={"width": width, "depth": 3},
                         batch_size=batch, precision=precision, device="cpu", pixel_loss="log-mse", schedule="constant",
                         loss=dataclasses.asdict(LossWeights(ssim_loss=50.0)))
    trainer = Trainer(config)
    trainer.model.train()
    gray, color = torch.rand(batch, 1, 32, 32), torch.rand(batch, 3, 32, 32)
    for _ in range(3):
        trainer._step(gray, color)
    started = time.perf_counter()
    for _ in range(steps):
        trainer._step(gray, color)
    return steps * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 48])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        _tiny_tree(Path(tmp))
        for width in args.widths:
            speeds = {p: images_per_second(Path(tmp), width, p, args.steps) for p in ("fp32", "bf16")}
            for precision, speed in speeds.items():
                rows.append({"width": width, "precision": precision, "img_per_s": round(speed, 1),
                             "vs_fp32": round(speed / speeds["fp32"], 2),
                             "epoch_45k_s": round(45_000 / speed)})
    write_results("train_speed", rows, {"threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
