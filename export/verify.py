"""Compare an ONNX file with the PyTorch model it came from, on random and real inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from colorbatch.color import gray_u8
from colorbatch.hints import sample_hints
from colorbatch.inference.vividness import DECODING_INPUTS
from colorbatch.recombine import network_input
from colorbatch.train.models import takes_hints


def _hint_feeds(gray: np.ndarray, bins: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Hints and references for a batch of gray: the first image none, the others ten 7 x 7 dabs of
    random chroma and a random reference."""
    n, _, height, width = gray.shape
    hints = np.zeros((n, 3, height, width), np.float32)
    reference = np.zeros((n, bins), np.float32)
    for i in range(1, n):
        chroma = rng.uniform(-0.3, 0.3, (height, width, 2)).astype(np.float32)
        hints[i] = sample_hints(chroma, 10, rng).transpose(2, 0, 1)
        reference[i] = rng.dirichlet(np.full(bins, 0.1))
    return {"hints": hints, "reference": reference}


def _real_inputs(images: list[np.ndarray], side: int) -> np.ndarray:
    grays = [gray_u8(image).astype(np.float32) / 255 for image in images]
    return np.stack([network_input(g, (side, side)) for g in grays])


def verify_against_torch(model: torch.nn.Module, path: Path, train_size: int, multiple: int,
                         real_images: list[np.ndarray] | None = None,
                         decodings: list[dict[str, np.ndarray]] | None = None) -> tuple[float, list[str]]:
    """Max absolute difference over two batch sizes, two spatial sizes and real images; for a model
    with decoding inputs, at each of ``decodings`` (temperature and correction arrays)."""
    from colorbatch.inference.runtime import import_onnxruntime
    from colorbatch.samples import sample_images

    ort = import_onnxruntime()
    hinted = takes_hints(model)

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    small = max(train_size, multiple)
    large = small + (multiple if multiple > 1 else 13)  # odd size: exercises internal padding
    inputs = [rng.random((batch, 1, h, w), dtype=np.float32)
              for batch in (1, 3) for h, w in ((small, small), (small, large))]
    if hinted:
        inputs.append(rng.random((2, 1, small + 37, large), dtype=np.float32))
    if real_images is None:
        real_images = list(sample_images(("astronaut", "coffee", "chelsea")).values())
    inputs.append(_real_inputs(real_images, small))
    worst, checks = 0.0, []
    for decoding in decodings or [{}]:
        extra = tuple(torch.from_numpy(decoding[name]) for name in DECODING_INPUTS if name in decoding)
        label = ", ".join(f"{name} {float(value[0]):g}" for name, value in decoding.items())
        for gray in inputs:
            hints = _hint_feeds(gray, len(model.centres), rng) if hinted else {}
            with torch.no_grad():
                expected = model(torch.from_numpy(gray), *extra, *(torch.from_numpy(hints[k]) for k in hints)).numpy()
            got = session.run(None, {"gray": gray, **decoding, **hints})[0]
            diff = float(np.abs(expected - got).max())
            where = f" at {label}" if label else ""
            given = " with hints and references" if hinted and len(gray) > 1 else ""
            checks.append(f"input {tuple(gray.shape)}{where}{given}: max |onnx - torch| = {diff:.2e}")
            worst = max(worst, diff)
    return worst, checks
