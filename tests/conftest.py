"""Shared fixtures: small images made here, and a tiny trained model exported once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def random_rgb(rng: np.random.Generator, height: int = 32, width: int = 32) -> np.ndarray:
    """A smooth-ish random colour image (so models and metrics see structure, not only noise)."""
    base = rng.integers(0, 256, (height // 4 + 1, width // 4 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(base).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(image)


def output_files(folder: Path) -> list[Path]:
    """The files of an OUT tree, sorted, without colorbatch's records folder (``colorbatch.batch.sources``)."""
    from colorbatch.files.discover import RECORDS_FOLDER

    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and RECORDS_FOLDER not in p.relative_to(folder).parts)


def write_color_tree(root: Path, count: int, size: int = 32, seed: int = 0, folders=("a", "b")) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = root / folders[i % len(folders)] / f"img{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(random_rgb(rng, size, size)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny chroma-unet trained for 2 epochs on 96 made-up images (train/ and test/)."""
    from colorbatch.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("tinydata")
    write_color_tree(root / "train", 96, seed=1)
    write_color_tree(root / "test", 16, seed=2)
    out = root / "run"
    train(TrainConfig(data=str(root), out=str(out), arch_kwargs={"width": 4, "depth": 2}, epochs=2,
                      batch_size=16, eval_every=1, lr=5e-3))
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_run: Path) -> Path:
    return tiny_run / "param" / "last.pth"


@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint: Path, tmp_path_factory) -> Path:
    from colorbatch.export.onnx_export import export_checkpoint

    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_checkpoint(tiny_checkpoint, out)
    return out
