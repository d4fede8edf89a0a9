"""Colour photos that ship inside scikit-image's wheel: sample and test material, no download."""

from __future__ import annotations

import numpy as np

SAMPLE_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")


def sample_images(names: tuple[str, ...] = SAMPLE_NAMES) -> dict[str, np.ndarray]:
    """The named scikit-image photos as uint8 RGB ``(H, W, 3)``."""
    from skimage import data

    return {name: np.ascontiguousarray(getattr(data, name)()[..., :3]) for name in names}


def write_samples(folder: str) -> None:
    """Save the sample photos as PNG files in ``folder``."""
    from pathlib import Path

    from PIL import Image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, rgb in sample_images().items():
        Image.fromarray(rgb).save(out / f"{name}.png")


if __name__ == "__main__":
    import sys

    write_samples(sys.argv[1] if len(sys.argv) > 1 else "demo/color")
