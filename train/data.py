"""Training data: colour images decoded once into uint8 arrays, gray derived with BT.601.

Three layouts are accepted (see ``load_dataset``):
- a tree of colour images, any depth; ``train/`` and ``test/`` subfolders are used as such;
- paired colour and gray trees (``gray_dir``), matched by relative path without extension;
- CIFAR-10's python batches folder (``cifar-10-batches-py``).

Decoding happens once; the arrays are cached as ``.npz`` so later epochs and runs are bound by
compute, not by JPEG decoding.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.color import gray_u8
from colorbatch.errors import DataError
from colorbatch.files.atomic import atomic_path
from colorbatch.files.discover import IMAGE_EXTENSIONS, iter_images


@dataclass
class Split:
    """Colour images ``(N, S, S, 3)`` and their gray inputs ``(N, S, S)``, both uint8; ``labels``
    ``(N,)`` int64 class indices where the layout names classes, else None."""

    color: np.ndarray
    gray: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.color)

    def subset(self, index: np.ndarray) -> Split:
        labels = None if self.labels is None else self.labels[index]
        return Split(self.color[index], self.gray[index], labels)


@dataclass
class Dataset:
    train: Split
    test: Split | None
    source: str
    class_names: tuple[str, ...] = ()


def _fit_square(image: Image.Image, size: int) -> Image.Image:
    """Short side to ``size``, then a centred ``size`` x ``size`` crop."""
    if image.size == (size, size):
        return image
    scale = size / min(image.size)
    w, h = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    image = image.resize((w, h), Image.Resampling.BICUBIC)
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


def decode_square(path: Path, mode: str, size: int) -> np.ndarray:
    """The image at ``path`` in ``mode``, its short side scaled to ``size``, the centred square;
    ``DataError`` names a file that cannot be read."""
    try:
        with Image.open(path) as image:
            return np.asarray(_fit_square(image.convert(mode), size))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as an image ({exc})") from exc


def _list_images(root: Path) -> list[Path]:
    return sorted(iter_images(root))


def _cache_path(cache_dir: Path, key_parts: list[str]) -> Path:
    digest = hashlib.sha256("\n".join(key_parts).encode()).hexdigest()[:16]
    return cache_dir / f"images-{digest}.npz"


def _folder_classes(root: Path) -> tuple[str, ...]:
    """Candidate class names: the folders directly under ``root``, when there are at least two
    (CIFAR-10's JPEG tree: ``train/airplane/...``)."""
    names = tuple(sorted(d.name for d in root.iterdir() if d.is_dir()))
    return names if len(names) >= 2 else ()


def _folder_labels(root: Path, paths: list[Path], class_names: tuple[str, ...]) -> np.ndarray | None:
    """Each image's class is the first folder of its path under ``root``; None unless every image
    lies in one of ``class_names``."""
    index = {name: i for i, name in enumerate(class_names)}
    parts = [p.relative_to(root).parts for p in paths]
    if not index or any(len(part) < 2 or part[0] not in index for part in parts):
        return None
    return np.array([index[part[0]] for part in parts], dtype=np.int64)


def _load_color_tree(
    root: Path, size: int, cache_dir: Path | None, class_names: tuple[str, ...] = ()
) -> Split:
    paths = _list_images(root)
    if not paths:
        raise DataError(f"{root}: no images found (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    labels = _folder_labels(root, paths, class_names)
    cache = None
    if cache_dir is not None:
        stamp = [str(root.resolve()), str(size), *(f"{p}:{p.stat().st_size}" for p in paths)]
        cache = _cache_path(cache_dir, stamp)
        if cache.exists():
            with np.load(cache) as stored:
                return Split(stored["color"], stored["gray"], labels)
    color = np.stack([decode_square(p, "RGB", size) for p in paths])
    split = Split(color, np.stack([gray_u8(c) for c in color]), labels)
    if cache is not None:
        with atomic_path(cache) as tmp, open(tmp, "wb") as handle:  # runs sharing a cache never collide
            np.savez(handle, color=split.color, gray=split.gray)
    return split


def _load_paired(color_root: Path, gray_root: Path, size: int) -> Split:
    def by_stem(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root).with_suffix("")): p for p in _list_images(root)}

    colors, grays = by_stem(color_root), by_stem(gray_root)
    unmatched = sorted(set(colors) ^ set(grays))
    if unmatched:
        examples = ", ".join(unmatched[:5])
        raise DataError(
            f"{len(unmatched)} images in {color_root} and {gray_root} have no partner "
            f"(matched by relative path without extension), e.g. {examples}"
        )
    if not colors:
        raise DataError(f"{color_root}: no images found")
    mismatched = []
    for key in sorted(colors):
        with Image.open(colors[key]) as c, Image.open(grays[key]) as g:
            if c.size != g.size:
                mismatched.append(f"{key} ({c.size[0]}x{c.size[1]} vs {g.size[0]}x{g.size[1]})")
    if mismatched:
        raise DataError(f"{len(mismatched)} colour/gray pairs differ in size, e.g. {', '.join(mismatched[:5])}")
    keys = sorted(colors)
    return Split(
        np.stack([decode_square(colors[k], "RGB", size) for k in keys]),
        np.stack([decode_square(grays[k], "L", size) for k in keys]),
    )


class _DataOnlyUnpickler(pickle.Unpickler):
    """Reads CIFAR-10's python batches (dicts of bytes, lists and numpy arrays) without running
    code: a pickle that names any other class or function is refused, where ``pickle.load``
    would call it."""

    ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")})

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds data only")
        return super().find_class(module, name)


def _read_batch(path: Path) -> dict:
    with open(path, "rb") as handle:
        batch = _DataOnlyUnpickler(handle, encoding="bytes").load()
    if not isinstance(batch, dict):
        raise ValueError("not a dict")
    return batch


def _load_cifar_batches(root: Path, names: list[str]) -> Split:
    arrays, labels = [], []
    for name in names:
        try:
            batch = _read_batch(root / name)
            arrays.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
        except (OSError, KeyError, pickle.UnpicklingError, ValueError) as exc:
            raise DataError(f"{root / name}: not a CIFAR-10 python batch ({exc})") from exc
    color = np.ascontiguousarray(np.concatenate(arrays).transpose(0, 2, 3, 1))
    return Split(color, np.stack([gray_u8(c) for c in color]), np.concatenate(labels))


def _cifar_class_names(root: Path) -> tuple[str, ...]:
    try:
        return tuple(name.decode() for name in _read_batch(root / "batches.meta")[b"label_names"])
    except (OSError, KeyError, pickle.UnpicklingError, ValueError):
        return tuple(str(i) for i in range(10))


def is_cifar_batches(root: Path) -> bool:
    return (root / "data_batch_1").is_file()


def load_dataset(
    data_dir: Path, gray_dir: Path | None = None, size: int = 32, cache_dir: Path | None = None
) -> Dataset:
    """Load training (and, when present, test) images from ``data_dir``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: not a folder")
    if gray_dir is not None:
        return Dataset(_load_paired(data_dir, Path(gray_dir), size), None, f"paired {data_dir} + {gray_dir}")
    if is_cifar_batches(data_dir):
        train = _load_cifar_batches(data_dir, [f"data_batch_{i}" for i in range(1, 6)])
        test = _load_cifar_batches(data_dir, ["test_batch"]) if (data_dir / "test_batch").is_file() else None
        return Dataset(train, test, f"CIFAR-10 batches {data_dir}", _cifar_class_names(data_dir))
    if (data_dir / "train").is_dir() and (data_dir / "test").is_dir():
        names = _folder_classes(data_dir / "train")
        train = _load_color_tree(data_dir / "train", size, cache_dir, names)
        test = _load_color_tree(data_dir / "test", size, cache_dir, names)
        source = f"colour tree {data_dir} (train/ and test/)"
        return Dataset(train, test, source, names if train.labels is not None else ())
    names = _folder_classes(data_dir)
    split = _load_color_tree(data_dir, size, cache_dir, names)
    return Dataset(split, None, f"colour tree {data_dir}", names if split.labels is not None else ())


def split_train_val(split: Split, seed: int, val_fraction: float = 0.1) -> tuple[Split, Split]:
    """Deterministic 9:1 (by default) split for a given seed."""
    order = np.random.default_rng(seed).permutation(len(split))
    n_val = max(1, round(len(split) * val_fraction))
    if n_val >= len(split):
        raise DataError(f"need at least 2 images to split into train and validation, got {len(split)}")
    return split.subset(np.sort(order[n_val:])), split.subset(np.sort(order[:n_val]))
