"""The training loop: read it top to bottom.

    colorbatch train --data data/cifar10 --out runs/default --epochs 20
    colorbatch train --data data/cifar10 --out runs/exp3 --arch seed-unet --preset exp3 \
        --vgg-weights ~/.cache/torch/hub/checkpoints/vgg16-397923af.pth
    colorbatch train --data data/cifar10 --out runs/default --resume runs/default/param/last.pth

``train`` builds a ``Trainer`` and calls ``fit``: epochs of shuffled steps (each step: the model's
``train_outputs`` -> ``ColorizationLoss`` -> an optimizer step), a validation loss every epoch,
PSNR/SSIM every ``eval_every`` epochs with a comparison grid, and after every epoch a checkpoint
and the curves. Ctrl-C or SIGTERM saves the epoch under way (``EpochProgress``), so ``--resume``
goes on from the next step. Below the loop: one step, validation, artefacts, checkpoints, and the
set-up helpers. The run folder gets comparison/, loss/, metrics/, param/, output.log and history.csv.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from colorbatch.errors import DataError

from . import artefacts
from .bins import rebalancing_weights, smoothed_prior, soft_encode
from .checkpoint import load_weights, save_checkpoint
from .color import rgb_to_chroma
from .config import TrainConfig, with_arch_kwargs
from .data import Split
from .device import autocast_dtype, pick_device
from .encoders import load_pretrained_lite0
from .evaluation import evaluate, format_metrics, predict
from .losses import ColorizationLoss, LossWeights, load_vgg16_features
from .models import TrainOutputs, count_parameters, create_model, predicts_bins
from .splits import class_count, load_splits, to_tensors

log = logging.getLogger("colorbatch.train")


def train(config: TrainConfig, resume: Path | None = None, init: Path | None = None) -> dict[str, Any]:
    """Train per ``config``; returns the final metrics. Artefacts land in ``config.out``.

    ``resume`` continues a run (epoch count, optimizer, schedule); ``init`` only takes its weights.
    """
    setup_logging(Path(config.out))
    # A background job (nohup ... &) ignores Ctrl-C; `kill` (SIGTERM) then saves param/last.pth the same way.
    signal.signal(signal.SIGTERM, _interrupt)
    trainer = Trainer(config)
    if init is not None:
        trainer.init_weights(init)
    if resume is not None:
        trainer.resume(resume)
    return trainer.fit()


class Trainer:
    """One run: the data, the model, the loss, the optimizer and schedule, and where it is."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config  # replaced, never changed: the caller's object stays as it was
        self.out = Path(config.out)
        self.device = pick_device(config.device)
        self.amp_dtype = autocast_dtype(config.precision, self.device)
        torch.manual_seed(config.seed)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.progress: EpochProgress | None = None  # the epoch under way, saved when interrupted
        splits = load_splits(config)
        self.train_split, self.val_split, self.test_split = splits.train, splits.val, splits.test
        self.source = splits.source
        if len(self.train_split) < config.batch_size:
            raise DataError(
                f"{config.data}: {len(self.train_split)} training images, fewer than one batch "
                f"({config.batch_size}); lower --batch-size"
            )
        weights = LossWeights(**config.loss)
        self.uses_classes = weights.class_loss > 0
        if self.uses_classes:  # recorded in the run's config, so checkpoints rebuild the head
            config = self.config = with_arch_kwargs(config, num_classes=class_count(config, splits))
        self.model = create_model(config.arch, **config.arch_kwargs)
        self.binned = predicts_bins(self.model)
        if self.binned:
            prepare_binned_model(self.model, self.train_split, config)
        # channels_last: the layout oneDNN's and cuDNN's fastest convolutions take
        self.model = self.model.to(self.device, memory_format=torch.channels_last)
        # Pixel terms need decoded colour; a chroma-bins model trained on its bin loss alone skips that.
        self.needs_rgb = not self.binned or any(
            getattr(weights, name) > 0 for name in ("mse", "vgg", "ssim_loss"))
        vgg = load_vgg16_features(config.vgg_weights).to(self.device) if weights.vgg > 0 else None
        self.loss = ColorizationLoss(weights, vgg, pixel=config.pixel_loss)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.steps_per_epoch = len(self.train_split) // config.batch_size
        self.scheduler = self._make_scheduler()
        # Loss scaling is for fp16's narrow range only; bf16 has fp32's.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.epoch = 0
        self.history: list[dict] = []
        self.metrics: dict[str, Any] = {}

    # --- the loop ----------------------------------------------------------------------------

    def fit(self) -> dict[str, Any]:
        log.info(
            "data: %s | train %d, validation %d, test %s | %s %s, %d parameters | device %s",
            self.source, len(self.train_split), len(self.val_split),
            len(self.test_split) if self.test_split is not None else "none",
            self.config.arch, self.config.arch_kwargs, count_parameters(self.model), self.device,
        )
        try:
            while self.epoch < self.config.epochs:
                self.run_epoch()
        except KeyboardInterrupt:
            path = self.save(numbered=False)
            log.warning("interrupted during epoch %d: saved %s (resume with --resume)", self.epoch + 1, path)
            raise TrainingInterrupted(path) from None
        if self.test_split is not None:
            self.metrics["test"] = evaluate(self.model, self.test_split, self.device)
            log.info("test: %s", format_metrics(self.metrics["test"]))
            self.save(numbered=False)
        return self.metrics

    def run_epoch(self) -> None:
        started = time.time()
        train = self.train_epoch()
        val = self.validation_loss()
        self.epoch += 1
        row: dict[str, Any] = {
            "epoch": self.epoch,
            "lr": self.optimizer.param_groups[0]["lr"],
            **{f"train_{k}": v for k, v in train.items()},
            **{f"val_{k}": v for k, v in val.items()},
        }
        is_eval = self.epoch % self.config.eval_every == 0 or self.epoch == self.config.epochs
        if is_eval:
            scores = evaluate(self.model, self.val_split, self.device)
            self.metrics["validation"] = scores
            self.metrics["epoch"] = self.epoch
            row.update(
                val_psnr=scores["psnr_mean"], val_ssim=scores["ssim_mean"],
                val_psnr_pooled=scores["psnr_pooled"], val_colourfulness=scores["colourfulness_mean"],
            )
            self.write_comparison()
        row["seconds"] = round(time.time() - started, 1)
        self.history.append(row)
        self.save(numbered=is_eval)
        self.write_curves()
        message = f"epoch {self.epoch}/{self.config.epochs} train {train['loss']:.5f} val {val['loss']:.5f}"
        if is_eval:
            message += " | " + format_metrics(self.metrics["validation"])
        log.info("%s | %.0fs", message, row["seconds"])

    # --- one epoch ---------------------------------------------------------------------------

    def train_epoch(self) -> dict[str, float]:
        self.model.train()
        progress = self._start_epoch()
        order, sums = progress.order.numpy(), progress.sums
        batches = range(progress.step, self.steps_per_epoch)
        bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{self.config.epochs}", leave=False,
                       initial=progress.step, total=self.steps_per_epoch)
            batches = bar
        for i in batches:
            index = np.sort(order[i * self.config.batch_size : (i + 1) * self.config.batch_size])
            gray, color = _augment(*to_tensors(self.train_split, index, self.device), self.config, self.rng)
            for key, value in self._step(gray, color, self._labels(self.train_split, index)).items():
                sums[key] = sums.get(key, 0.0) + value
            progress.step = i + 1
            if bar is not None:
                bar.set_postfix(loss=f"{sums['loss'] / (i + 1):.4f}")
            elif (i + 1) % max(1, self.steps_per_epoch // 10) == 0:  # a log without a terminal still shows progress
                log.info("epoch %d: step %d/%d, loss %.4f", self.epoch + 1, i + 1, self.steps_per_epoch,
                         sums["loss"] / (i + 1))
        self.progress = None
        return {key: value / self.steps_per_epoch for key, value in sums.items()}

    def _step(self, gray: torch.Tensor, color: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        outputs = self._outputs(gray, rgb=self.needs_rgb)
        total, terms = self.loss(outputs.rgb, color, self.model, outputs.class_logits, labels, outputs.bin_logits)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return {"loss": float(total.detach()), **terms}

    def _outputs(self, gray: torch.Tensor, mixed: bool = True, rgb: bool = True) -> TrainOutputs:
        """The model's ``train_outputs``, under the training precision's autocast when ``mixed``."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=mixed and self.amp_dtype is not None):
            outputs = self.model.train_outputs(gray.contiguous(memory_format=torch.channels_last), rgb)
        return outputs.float()

    def _labels(self, split: Split, index: np.ndarray) -> torch.Tensor | None:
        return torch.from_numpy(split.labels[index]).to(self.device) if self.uses_classes else None

    def _start_epoch(self) -> EpochProgress:
        """The epoch's progress: the one an interrupted run saved, or a new shuffle from step 0."""
        progress = self.progress
        if progress is None or len(progress.order) != len(self.train_split):
            progress = EpochProgress(torch.randperm(len(self.train_split), generator=self.rng))
        self.progress = progress
        return progress

    @torch.no_grad()
    def validation_loss(self) -> dict[str, float]:
        self.model.eval()
        sums: dict[str, float] = {}
        batches = 0
        for start in range(0, len(self.val_split), 256):
            index = np.arange(start, min(start + 256, len(self.val_split)))
            gray, color = to_tensors(self.val_split, index, self.device)
            outputs = self._outputs(gray, mixed=False)
            labels = self._labels(self.val_split, index)
            total, terms = self.loss(outputs.rgb, color, self.model, outputs.class_logits, labels, outputs.bin_logits)
            if outputs.class_logits is not None and labels is not None:
                terms["class_accuracy"] = float((outputs.class_logits.argmax(1) == labels).float().mean())
            for key, value in {"loss": float(total), **terms}.items():
                sums[key] = sums.get(key, 0.0) + value
            batches += 1
        return {key: value / batches for key, value in sums.items()}

    # --- artefacts ---------------------------------------------------------------------------

    def write_comparison(self) -> None:
        count = min(self.config.compare_count, len(self.val_split))
        index = np.linspace(0, len(self.val_split) - 1, count).astype(int)
        sample = self.val_split.subset(index)
        grid = artefacts.comparison_grid(sample.gray, predict(self.model, sample.gray, self.device), sample.color)
        (self.out / "comparison").mkdir(parents=True, exist_ok=True)
        grid.save(self.out / "comparison" / f"epoch_{self.epoch:03d}.png")

    def write_curves(self) -> None:
        artefacts.write_history(self.out / "history.csv", self.history)
        artefacts.plot_losses(self.out / "loss" / "loss.png", self.history)
        artefacts.plot_metrics(self.out / "metrics" / "metrics.png", self.history)

    # --- checkpoints -------------------------------------------------------------------------

    def checkpoint_fields(self) -> dict[str, Any]:
        return {
            "arch": self.config.arch,
            "arch_kwargs": dict(self.config.arch_kwargs),
            "state_dict": self.model.state_dict(),
            "epoch": self.epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "metrics": self.metrics,
            "history": self.history,
            "config": dataclasses.asdict(self.config),
            "train_size": self.config.image_size,
            "data_source": self.source,
            "epoch_progress": None if self.progress is None else dataclasses.asdict(self.progress),
            "rng_state": self.rng.get_state(),
        }

    def save(self, numbered: bool) -> Path:
        param = self.out / "param"
        fields = self.checkpoint_fields()
        if numbered:
            save_checkpoint(param / f"epoch_{self.epoch:03d}.pth", **fields)
        save_checkpoint(param / "last.pth", **fields)
        return param / "last.pth"

    def init_weights(self, path: Path) -> None:
        """Start from another run's weights (fine-tuning): epoch count, optimizer and schedule start fresh.
        A chroma-bins model keeps this run's rebalancing weights (its data's prior at its ``--rebalance``):
        they are training settings, not learned weights. The auxiliary class head may differ (none in
        an exported model, other classes in other data): this run's own freshly initialised head is kept."""
        own_weights = self.model.log_weights.clone() if self.binned else None
        payload = load_weights(self.model, self.config.arch, self.config.arch_kwargs, path, own_class_head=True)
        if own_weights is not None:
            self.model.log_weights.copy_(own_weights)
        self.source = f"{self.source}; weights from {path} (epoch {payload['epoch']})"
        log.info("starting from the weights of %s (epoch %d)", path, payload["epoch"])

    def resume(self, path: Path) -> None:
        payload = load_weights(self.model, self.config.arch, self.config.arch_kwargs, path)
        self.optimizer.load_state_dict(payload["optimizer"])
        self.epoch = payload["epoch"]
        saved_epochs = payload.get("config", {}).get("epochs")
        if saved_epochs == self.config.epochs:
            self.scheduler.load_state_dict(payload["scheduler"])
        else:
            for group in self.optimizer.param_groups:  # the new schedule starts from --lr, not the old one's state
                group["lr"] = group["initial_lr"] = self.config.lr
            self.scheduler = self._make_scheduler(max(1, self.config.epochs - self.epoch))
            log.warning("epochs changed from %s to %d: the learning-rate schedule restarts over the "
                        "remaining %d epochs", saved_epochs, self.config.epochs, self.config.epochs - self.epoch)
        self.history = list(payload.get("history", []))
        self.metrics = dict(payload.get("metrics", {}))
        saved = payload.get("epoch_progress")
        self.progress = None if saved is None else EpochProgress(**saved)
        if payload.get("rng_state") is not None:
            self.rng.set_state(payload["rng_state"])
        if self.progress is not None:
            log.info("resumed from %s in epoch %d at step %d/%d", path, self.epoch + 1, self.progress.step,
                     self.steps_per_epoch)
        else:
            log.info("resumed from %s at epoch %d", path, self.epoch)

    def _make_scheduler(self, epochs: int | None = None):
        total = max(1, (self.config.epochs if epochs is None else epochs) * self.steps_per_epoch)
        if self.config.schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(self.optimizer, self.config.lr, total_steps=total)
        if self.config.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, total)
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: 1.0)


@dataclasses.dataclass
class EpochProgress:
    """The epoch under way: its shuffled order, the steps done and their loss sums. An interrupted
    run saves it in its checkpoint, so that a resumed one goes on from the next step."""

    order: torch.Tensor
    step: int = 0
    sums: dict[str, float] = dataclasses.field(default_factory=dict)


def prepare_binned_model(model: nn.Module, train_split: Split, config: TrainConfig, sample: int = 4096) -> None:
    """Measure the chroma-bin prior on (a sample of) the training images and set the model's
    rebalancing weights from it; an ImageNet-pretrained encoder when ``config.pretrained``."""
    index = np.linspace(0, len(train_split) - 1, min(sample, len(train_split))).astype(int)
    counts = torch.zeros(len(model.centres))
    for start in range(0, len(index), 256):
        color = torch.from_numpy(train_split.color[index[start : start + 256]]).float().div_(255)
        chroma = rgb_to_chroma(color.permute(0, 3, 1, 2))
        counts += soft_encode(chroma, model.centres, model.step, pool=model.output_stride).sum(dim=(0, 2, 3))
    prior = smoothed_prior(counts, model.centres, model.step)
    model.log_weights.copy_(rebalancing_weights(prior, config.rebalance).log())
    if config.pretrained:
        load_pretrained_lite0(model.encoder)


def _augment(gray: torch.Tensor, color: torch.Tensor, config: TrainConfig, rng: torch.Generator):
    if config.flip:
        flip = torch.rand(gray.shape[0], generator=rng) < 0.5
        gray[flip], color[flip] = gray[flip].flip(-1), color[flip].flip(-1)
    if config.crop:
        size = gray.shape[-1]
        pad = size // 8
        both = torch.nn.functional.pad(torch.cat([gray, color], 1), (pad,) * 4, mode="reflect")
        dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=rng))
        both = both[..., dy : dy + size, dx : dx + size]
        gray, color = both[:, :1].contiguous(), both[:, 1:].contiguous()
    return gray, color


def setup_logging(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "output.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler, console]
    log.setLevel(logging.INFO)
    log.propagate = False


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during training, after ``path`` was saved; a bare KeyboardInterrupt
    means the run stopped before its loop began (loading data), with nothing saved."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
