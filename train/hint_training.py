"""Teach a chroma-bins model to take hints: the bundled (or any exported) model's weights, frozen,
with the hint layers of ``hint_layers.py`` trained on hints drawn from the truth.
``colorbatch train-hints`` is the command:

    colorbatch train-hints --init colorbatch/models/colorbatch-default.onnx \\
        --data data/photos-large/train --out runs/hints --samples 48000
    colorbatch train-hints ... --resume          # continue from runs/hints/last.pth after an interruption

Each step takes a batch of random crops (side drawn from ``--sizes``) of photos decoded once to
``--square`` px squares and cached; each photo gets local hints as Zhang et al. (2017) drew them
(a geometric number with p = 1/8, so one in eight has none; P x P patches, P from 1 to 9, the
truth's mean chroma there, half around the centre, half uniform) and, for half the photos, the
colour distribution of its whole square (more than the crop: not copied pixel for pixel) as the
reference. The loss is the mean squared chroma error at the model's default vividness.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from colorbatch.architectures import CHROMA_BINS_HINTS
from colorbatch.color import luminance as luminance_np
from colorbatch.color import rgb_to_chroma, to_float
from colorbatch.errors import CheckpointError, DataError
from colorbatch.files.discover import iter_images
from colorbatch.hints import reference_from_rgb, sample_hints
from colorbatch.inference.vividness import decoding_for, parse_curve
from colorbatch.recombine import lay_chroma

from .checkpoint import load_checkpoint, save_checkpoint
from .color import luminance
from .color import rgb_to_chroma as torch_chroma
from .data import decode_square
from .models import create_model
from .onnx_import import network_from_onnx
from .trainer import TrainingInterrupted, setup_logging

log = logging.getLogger("colorbatch.train")

HINT_PREFIXES = ("reference_branch.", "hint_attention.")
NO_HINT_CHANCE = 1 / 8
REFERENCE_CHANCE = 0.5  # the default share of crops given their photo's reference
RECOLOUR_SHARE = (0.02, 0.4)  # a recoloured region holds this share of its crop
RECOLOUR_CHROMA = 40 / 255  # and at least this chroma, as the containment benchmark's dabs


@dataclass
class HintTrainConfig:
    """A hint-layer training run; saved in its checkpoints, so that ``--resume`` goes on as it began."""

    init: str  # an exported chroma-bins model (its weights are frozen)
    data: list[str]  # folders of colour photos
    out: str  # the run folder: last.pth, log.jsonl, output.log
    samples: int = 48000  # crops to train on in all
    batch_size: int = 32
    sizes: str = "128,160,192,224"  # crop sides, one drawn per batch
    square: int = 224  # photos are decoded once to centre squares of this side (cached)
    cache: str = "data/cache/hint-squares.npy"
    lr: float = 1e-3
    seed: int = 0
    log_every: int = 20  # steps between log records
    save_every: int = 100  # steps between checkpoints
    weights: str | None = None  # a second stage: start from this hint checkpoint's weights
    reference_chance: float = REFERENCE_CHANCE  # share of crops given their photo's distribution as reference
    recolour_chance: float = 0.0  # share of crops whose truth has a region recoloured, with a dab inside it


def hinted_model_from_onnx(path: Path) -> tuple[torch.nn.Module, dict, dict[str, str]]:
    """A hint model holding the weights of the chroma-bins export at ``path`` (hint layers fresh,
    or the export's own when it has them), its architecture's arguments and the export's metadata."""
    base, kwargs, meta = network_from_onnx(path)
    model = create_model(CHROMA_BINS_HINTS, **kwargs)
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(not key.startswith(HINT_PREFIXES) for key in missing):
        raise CheckpointError(f"{path}: weights do not fit a hint model ({unexpected or missing})")
    return model, kwargs, meta


SCALE_WEIGHTS = ("hint_attention.reach", "hint_attention.luminance")  # weights of size ~100: a larger step
SCALE_LR_FACTOR = 100.0


def freeze_all_but_hints(model: torch.nn.Module, lr: float) -> list[dict]:
    """Freeze every weight but the hint layers'; their optimizer parameter groups at ``lr``."""
    trained, scales = [], []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(HINT_PREFIXES))
        if parameter.requires_grad:
            (scales if name in SCALE_WEIGHTS else trained).append(parameter)
    return [{"params": trained, "lr": lr}, {"params": scales, "lr": lr * SCALE_LR_FACTOR}]


def load_squares(folders: list[Path], side: int, cache: Path) -> np.ndarray:
    """Every photo under ``folders`` as a uint8 ``side`` x ``side`` centre square, cached as .npy;
    ``DataError`` for a folder that is missing or holds no photo."""
    if cache.exists():
        return np.load(cache, mmap_mode="r")
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"--data {folder}: no such folder")
    paths = sorted(p for folder in folders for p in iter_images(folder))
    if not paths:
        raise DataError(f"--data {' '.join(map(str, folders))}: no photos to train on")
    with ThreadPoolExecutor(2) as pool:
        squares = np.stack(list(pool.map(lambda p: decode_square(p, "RGB", side), paths)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache.with_suffix(".tmp.npy"), squares)
    cache.with_suffix(".tmp.npy").rename(cache)
    return squares


def recolour_region(crop: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """The crop (float RGB) with one region, a Felzenszwalb segment of its true colours holding
    ``RECOLOUR_SHARE`` of it, given another colour on its own luminance: the region's chroma shifted
    so that its mean turns by 90 to 270 degrees (at least ``RECOLOUR_CHROMA`` strong before it is
    fitted into the gamut at the region's luminance), its texture
    kept. With the region's mask; None when no segment fits. A dab in that region is then the only
    way to its colour, so a model learns to fill the region with the dab and stop at its edges."""
    from skimage.segmentation import felzenszwalb

    labels = felzenszwalb(crop, scale=200, sigma=0.8, min_size=50)
    share = np.bincount(labels.ravel()) / labels.size
    candidates = np.nonzero((share >= RECOLOUR_SHARE[0]) & (share <= RECOLOUR_SHARE[1]))[0]
    if not len(candidates):
        return None
    mask = labels == rng.choice(candidates)
    chroma = rgb_to_chroma(crop)
    mean = chroma[mask].mean(axis=0)
    strength = max(float(np.hypot(*mean)), RECOLOUR_CHROMA)
    angle = float(np.arctan2(mean[1], mean[0])) + rng.uniform(np.pi / 2, 3 * np.pi / 2)
    turned = strength * np.array([np.cos(angle), np.sin(angle)], np.float32)
    shifted = chroma[mask] - mean + turned
    out = crop.copy()
    out[mask] = to_float(lay_chroma(luminance_np(crop)[mask], shifted.astype(np.float32)))
    return out, mask


def dab_inside(plane: np.ndarray, chroma: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
    """Add to a hint plane one square dab (3 to 7 px) lying inside ``mask``, of the mean ``chroma`` there."""
    side = int(rng.integers(3, 8))
    square = np.ones((3, 3), bool)  # chessboard erosion: the whole square window stays inside
    inside = np.argwhere(ndimage.binary_erosion(mask, structure=square, iterations=side // 2))
    if not len(inside):
        return
    y, x = inside[int(rng.integers(len(inside)))]
    window = (slice(y - side // 2, y - side // 2 + side), slice(x - side // 2, x - side // 2 + side))
    plane[(*window, slice(0, 2))] = chroma[window].reshape(-1, 2).mean(axis=0)
    plane[(*window, 2)] = 1.0


def make_batch(squares: np.ndarray, size: int, batch: int, bins: int, rng: np.random.Generator,
               reference_chance: float = REFERENCE_CHANCE, recolour_chance: float = 0.0) -> tuple[torch.Tensor, ...]:
    """Gray ``(B, 1, S, S)``, true RGB ``(B, 3, S, S)``, hints ``(B, 3, S, S)``, references ``(B, Q)``.
    With ``recolour_chance``, a crop's truth has one region recoloured (``recolour_region``) and a
    dab inside it, besides its usual hints; such a crop has no reference."""
    side = squares.shape[1]
    rgb, hints, references = [], [], []
    for index in rng.integers(0, len(squares), batch):
        square = to_float(squares[index])
        if rng.random() < 0.5:
            square = square[:, ::-1]
        top, left = rng.integers(0, side - size + 1, 2)
        crop = np.ascontiguousarray(square[top:top + size, left:left + size])
        recoloured = recolour_region(crop, rng) if rng.random() < recolour_chance else None
        if recoloured is not None:
            crop = recoloured[0]
        count = 0 if rng.random() < NO_HINT_CHANCE else int(rng.geometric(NO_HINT_CHANCE))
        chroma = rgb_to_chroma(crop)
        plane = sample_hints(chroma, count, rng, patch=(1, 9), around_centre=rng.random() < 0.5)
        if recoloured is not None:
            dab_inside(plane, chroma, recoloured[1], rng)
        hints.append(plane)
        given = recoloured is None and rng.random() < reference_chance
        references.append(reference_from_rgb(square[::2, ::2]) if given else np.zeros(bins, np.float32))
        rgb.append(crop)
    rgb_t = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).contiguous()
    hints_t = torch.from_numpy(np.stack(hints)).permute(0, 3, 1, 2).contiguous()
    return luminance(rgb_t), rgb_t, hints_t, torch.from_numpy(np.stack(references))


def train_hints(config: HintTrainConfig, resume: bool = False) -> dict:
    """Train the hint layers for ``config.samples`` crops; with ``resume``, go on from
    ``config.out/last.pth`` with the configuration saved there (only ``samples`` may grow). Ctrl-C
    or SIGTERM saves the checkpoint and raises ``TrainingInterrupted``. Returns the last record."""
    out = Path(config.out)
    checkpoint = out / "last.pth"
    saved = None
    if resume:
        if not checkpoint.is_file():
            raise CheckpointError(f"{checkpoint}: nothing to resume (train without --resume first)")
        saved = load_checkpoint(checkpoint)
        config = dataclasses.replace(HintTrainConfig(**saved["config"]), samples=config.samples)
    setup_logging(out)
    model, kwargs, meta = hinted_model_from_onnx(Path(config.init))
    decoding = decoding_for(float(meta.get("default_vividness", 0.0)), parse_curve(meta["vividness_curve"]))
    temperature, correction = (torch.from_numpy(decoding[k]) for k in ("temperature", "correction"))
    optimizer = torch.optim.AdamW(freeze_all_but_hints(model, config.lr), weight_decay=0.0)
    model.eval()  # the frozen network's BatchNorms keep their statistics
    steps = math.ceil(config.samples / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _warm_cosine(s, steps))
    step = _resume(saved, model, optimizer, schedule) if saved is not None else 0
    if config.weights and saved is None:  # a second stage: the hint layers of an earlier run, a fresh schedule
        model.load_state_dict(load_checkpoint(Path(config.weights))["state_dict"])
    squares = load_squares([Path(d) for d in config.data], config.square, Path(config.cache))
    log.info(f"{len(squares)} photos, {steps} steps of {config.batch_size}, from step {step}")
    run = _Run(model, optimizer, schedule, config, kwargs, meta, checkpoint)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return run.steps(squares, step, steps, temperature, correction)
    except KeyboardInterrupt:
        run.save(run.step)
        raise TrainingInterrupted(checkpoint) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


class _Run:
    """The loop of a hint training run: steps, log records, checkpoints."""

    def __init__(self, model, optimizer, schedule, config: HintTrainConfig, kwargs: dict, meta: dict[str, str],
                 checkpoint: Path) -> None:
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        self.config, self.kwargs, self.meta, self.checkpoint = config, kwargs, meta, checkpoint
        self.step = 0

    def steps(self, squares: np.ndarray, step: int, steps: int, temperature, correction) -> dict:
        from tqdm import tqdm

        config = self.config
        self.step = step
        rng = np.random.default_rng(config.seed + step)
        sizes = [int(s) for s in config.sizes.split(",")]
        started, losses, record = time.time(), [], {}
        with open(Path(config.out) / "log.jsonl", "a") as records, \
                tqdm(total=steps, initial=step, unit="step", desc="hint layers", disable=None) as bar:
            while self.step < steps:
                gray, rgb, hints, reference = make_batch(squares, int(rng.choice(sizes)), config.batch_size,
                                                         len(self.model.centres), rng, config.reference_chance,
                                                         config.recolour_chance)
                chroma = self.model.predict_chroma(gray, temperature, correction, hints, reference)
                loss = torch.nn.functional.mse_loss(chroma, torch_chroma(rgb))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.schedule.step()
                self.step += 1
                bar.update(1)
                losses.append(loss.item())
                if self.step % config.log_every == 0 or self.step == steps:
                    record = {"step": self.step, "loss": float(np.mean(losses)), "lr": self.schedule.get_last_lr()[0],
                              "images_per_s": len(losses) * config.batch_size / (time.time() - started)}
                    log.info(json.dumps(record))
                    records.write(json.dumps(record) + "\n")
                    records.flush()
                    bar.set_postfix(loss=f"{record['loss']:.5f}", refresh=False)
                    started, losses = time.time(), []
                if self.step % config.save_every == 0 or self.step == steps:
                    self.save(self.step)
        return record

    def save(self, step: int) -> None:
        """The checkpoint: every argument of the architecture (loading it alone rebuilds the model),
        the configuration, the optimizer and the schedule."""
        meta = self.meta
        save_checkpoint(self.checkpoint, arch=CHROMA_BINS_HINTS, arch_kwargs=self.kwargs,
                        state_dict=self.model.state_dict(), epoch=int(meta.get("epoch", 0)), step=step,
                        optimizer=self.optimizer.state_dict(), schedule=self.schedule.state_dict(),
                        train_size=int(meta.get("train_size", 160)), working_size=int(meta.get("working_size", 224)),
                        config=dataclasses.asdict(self.config),
                        source=f"hint layers trained on {step * self.config.batch_size} crops from {self.config.init}")


def _warm_cosine(step: int, steps: int) -> float:
    """The learning rate's factor: a linear warm-up over 50 steps, then a cosine to 0."""
    return min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def _resume(payload: dict, model, optimizer, schedule) -> int:
    model.load_state_dict(payload["state_dict"])
    optimizer.load_state_dict(payload["optimizer"])
    schedule.load_state_dict(payload["schedule"])
    return int(payload["step"])
