"""The chroma bins of chroma-bins models, and a colour distribution over them (numpy, no torch).

A bin is a point of a square lattice on the (Cb, Cr) plane of ``colorbatch.color`` with spacing
``STEP``; a lattice point is a bin when it is a corner of a lattice cell that holds some reachable
colour (some RGB in [0, 1]). ``chroma_histogram`` spreads each pixel's chroma over the four corners
of its cell (bilinear weights whose expectation is the chroma itself): the colour distribution a
reference photo gives a hint model, the same in training and at run time.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .color import rgb_to_chroma

STEP = 0.05
CHROMA_LIMIT = 0.5


def lattice_axis(step: float = STEP) -> np.ndarray:
    """Lattice coordinates along one chroma axis, symmetric around 0, covering [-0.5, 0.5]."""
    half = int(np.ceil(CHROMA_LIMIT / step - 1e-9))
    return np.arange(-half, half + 1) * step


def bin_centres(step: float = STEP) -> np.ndarray:
    """(Q, 2) float32 (Cb, Cr) of the bins, in lattice order (Cb major)."""
    return _bin_centres(step).copy()


@lru_cache(maxsize=4)
def _bin_centres(step: float) -> np.ndarray:
    axis = lattice_axis(step)
    levels = np.linspace(0.0, 1.0, 129, dtype=np.float32)
    rgb = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    chroma = rgb_to_chroma(rgb)
    low = np.clip(np.floor((chroma - axis[0]) / step).astype(int), 0, len(axis) - 2)
    used = np.zeros((len(axis), len(axis)), dtype=bool)
    for di in (0, 1):
        for dj in (0, 1):
            used[low[:, 0] + di, low[:, 1] + dj] = True
    cb, cr = np.nonzero(used)
    return np.stack([axis[cb], axis[cr]], axis=-1).astype(np.float32)


def chroma_histogram(chroma: np.ndarray, step: float = STEP) -> np.ndarray:
    """Float32 ``(Q,)`` distribution over the bins of ``bin_centres(step)`` of chroma ``(..., 2)``,
    summing to 1 (bilinear soft counts; lattice corners without a bin are left out)."""
    axis = lattice_axis(step)
    k = len(axis)
    points = np.asarray(chroma, dtype=np.float64).reshape(-1, 2)
    position = np.clip((np.clip(points, -CHROMA_LIMIT, CHROMA_LIMIT) - axis[0]) / step, 0, k - 1 - 1e-4)
    low = np.floor(position).astype(np.int64)
    frac = position - low
    grid = np.zeros(k * k)
    for di in (0, 1):
        for dj in (0, 1):
            weight = (frac[:, 0] if di else 1 - frac[:, 0]) * (frac[:, 1] if dj else 1 - frac[:, 1])
            grid += np.bincount((low[:, 0] + di) * k + low[:, 1] + dj, weight, minlength=k * k)
    centres = _bin_centres(step)
    index = np.rint((centres - axis[0]) / step).astype(np.int64)
    counts = grid[index[:, 0] * k + index[:, 1]]
    return (counts / max(counts.sum(), 1e-12)).astype(np.float32)
