"""Teach a chroma-bins model to take hints: the bundled (or any exported) model's weights, frozen,
with the hint layers of ``hint_layers.py`` trained on hints drawn from the truth.

    python -m colorbatch.train.hint_training --init colorbatch/models/colorbatch-default.onnx \\
        --data data/photos-large/train --out runs/hints --samples 48000
    (again with --resume to continue from runs/hints/last.pth after an interruption)

Each step takes a batch of random crops (side drawn from ``--sizes``) of photos decoded once to
``--square`` px squares and cached; each photo gets local hints as Zhang et al. (2017) drew them
(a geometric number with p = 1/8, so one in eight has none; P x P patches, P from 1 to 9, the
truth's mean chroma there, half around the centre, half uniform) and, for half the photos, the
colour distribution of its whole square (more than the crop: not copied pixel for pixel) as the
reference. The loss is the mean squared chroma error at the model's default vividness.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from colorbatch.color import rgb_to_chroma, to_float
from colorbatch.discover import iter_images
from colorbatch.hints import reference_from_rgb, sample_hints
from colorbatch.vividness import decoding_for, parse_curve

from .checkpoint import load_checkpoint, save_checkpoint
from .color import luminance
from .color import rgb_to_chroma as torch_chroma
from .data import decode_square
from .models import create_model
from .onnx_import import network_from_onnx

HINT_PREFIXES = ("reference_branch.", "hint_attention.")
NO_HINT_CHANCE = 1 / 8
REFERENCE_CHANCE = 0.5  # the default share of crops given their photo's reference


def hinted_model_from_onnx(path: Path) -> tuple[torch.nn.Module, dict[str, str]]:
    """A hint model holding the weights of the chroma-bins export at ``path``, hint layers fresh."""
    base, kwargs, meta = network_from_onnx(path)
    model = create_model("chroma-bins", **{**kwargs, "hints": True})
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(not key.startswith(HINT_PREFIXES) for key in missing):
        raise RuntimeError(f"{path}: weights do not fit a hint model ({unexpected or missing})")
    return model, meta


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
    """Every photo under ``folders`` as a uint8 ``side`` x ``side`` centre square, cached as .npy."""
    if cache.exists():
        return np.load(cache, mmap_mode="r")
    paths = sorted(p for folder in folders for p in iter_images(folder))
    with ThreadPoolExecutor(2) as pool:
        squares = np.stack(list(pool.map(lambda p: decode_square(p, "RGB", side), paths)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache.with_suffix(".tmp.npy"), squares)
    cache.with_suffix(".tmp.npy").rename(cache)
    return squares


def make_batch(squares: np.ndarray, size: int, batch: int, bins: int, rng: np.random.Generator,
               reference_chance: float = REFERENCE_CHANCE) -> tuple[torch.Tensor, ...]:
    """Gray ``(B, 1, S, S)``, true RGB ``(B, 3, S, S)``, hints ``(B, 3, S, S)``, references ``(B, Q)``."""
    side = squares.shape[1]
    rgb, hints, references = [], [], []
    for index in rng.integers(0, len(squares), batch):
        square = to_float(squares[index])
        if rng.random() < 0.5:
            square = square[:, ::-1]
        top, left = rng.integers(0, side - size + 1, 2)
        crop = np.ascontiguousarray(square[top:top + size, left:left + size])
        count = 0 if rng.random() < NO_HINT_CHANCE else int(rng.geometric(NO_HINT_CHANCE))
        hints.append(sample_hints(rgb_to_chroma(crop), count, rng, patch=(1, 9), around_centre=rng.random() < 0.5))
        given = rng.random() < reference_chance
        references.append(reference_from_rgb(square[::2, ::2]) if given else np.zeros(bins, np.float32))
        rgb.append(crop)
    rgb_t = torch.from_numpy(np.stack(rgb)).permute(0, 3, 1, 2).contiguous()
    hints_t = torch.from_numpy(np.stack(hints)).permute(0, 3, 1, 2).contiguous()
    return luminance(rgb_t), rgb_t, hints_t, torch.from_numpy(np.stack(references))


def train(args: argparse.Namespace) -> None:
    """Train the hint layers for ``args.samples`` crops (resuming ``args.out/last.pth`` with ``args.resume``)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, meta = hinted_model_from_onnx(Path(args.init))
    decoding = decoding_for(float(meta.get("default_vividness", 0.0)), parse_curve(meta["vividness_curve"]))
    temperature, correction = (torch.from_numpy(decoding[k]) for k in ("temperature", "correction"))
    optimizer = torch.optim.AdamW(freeze_all_but_hints(model, args.lr), weight_decay=0.0)
    model.eval()  # the frozen network's BatchNorms keep their statistics
    steps = math.ceil(args.samples / args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _warm_cosine(s, steps))
    step = _resume(out / "last.pth", model, optimizer, schedule) if args.resume else 0
    if args.weights and not args.resume:  # a second stage: the hint layers of an earlier run, a fresh schedule
        model.load_state_dict(load_checkpoint(Path(args.weights))["state_dict"])
    squares = load_squares([Path(d) for d in args.data], args.square, Path(args.cache))
    print(f"{len(squares)} photos, {steps} steps of {args.batch_size}, from step {step}", flush=True)
    rng = np.random.default_rng(args.seed + step)
    sizes = [int(s) for s in args.sizes.split(",")]
    started, losses = time.time(), []
    with open(out / "log.jsonl", "a") as log:
        while step < steps:
            gray, rgb, hints, reference = make_batch(squares, int(rng.choice(sizes)), args.batch_size,
                                                     len(model.centres), rng, args.reference_chance)
            chroma = model.predict_chroma(gray, temperature, correction, hints, reference)
            loss = torch.nn.functional.mse_loss(chroma, torch_chroma(rgb))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            losses.append(loss.item())
            if step % args.log_every == 0 or step == steps:
                record = {"step": step, "loss": float(np.mean(losses)), "lr": schedule.get_last_lr()[0],
                          "images_per_s": len(losses) * args.batch_size / (time.time() - started)}
                print(json.dumps(record), flush=True)
                log.write(json.dumps(record) + "\n")
                log.flush()
                started, losses = time.time(), []
            if step % args.save_every == 0 or step == steps:
                _save(out / "last.pth", model, optimizer, schedule, step, meta, args)


def _warm_cosine(step: int, steps: int) -> float:
    """The learning rate's factor: a linear warm-up over 50 steps, then a cosine to 0."""
    return min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def _resume(path: Path, model, optimizer, schedule) -> int:
    payload = load_checkpoint(path)
    model.load_state_dict(payload["state_dict"])
    optimizer.load_state_dict(payload["optimizer"])
    schedule.load_state_dict(payload["schedule"])
    return int(payload["step"])


def _save(path: Path, model, optimizer, schedule, step: int, meta: dict[str, str], args) -> None:
    save_checkpoint(path, arch="chroma-bins", arch_kwargs={"hints": True}, state_dict=model.state_dict(),
                    epoch=int(meta.get("epoch", 0)), step=step, optimizer=optimizer.state_dict(),
                    schedule=schedule.state_dict(), train_size=int(meta.get("train_size", 160)),
                    working_size=int(meta.get("working_size", 224)),
                    source=f"hint layers trained on {step * args.batch_size} crops from {args.init}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", required=True, help="an exported chroma-bins ONNX model")
    parser.add_argument("--data", nargs="+", required=True, help="folders of colour photos")
    parser.add_argument("--out", required=True)
    parser.add_argument("--samples", type=int, default=48000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sizes", default="128,160,192,224")
    parser.add_argument("--square", type=int, default=224)
    parser.add_argument("--cache", default="data/cache/hint-squares.npy")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--save-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--weights", help="start from this hint checkpoint's weights (a second stage)")
    parser.add_argument("--reference-chance", type=float, default=REFERENCE_CHANCE,
                        help="share of crops given their photo's colour distribution as the reference")
    train(parser.parse_args())


if __name__ == "__main__":
    main()
