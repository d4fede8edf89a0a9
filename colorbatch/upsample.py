"""Chroma upsampling that follows the edges of the full-resolution luminance: a guided filter
(He, Sun and Tang 2013) in its fast, joint-upsampling form (He and Sun 2015).

The network predicts chroma at its own size, far smaller than a photo; stretched bicubically,
colour spills over object borders by the size of one network pixel (about 14 px of a 768x512
photo). Instead, at the network's size each chroma plane is modelled locally as a linear
function of the luminance, ``chroma = a * luma + b`` over a window of ``RADIUS`` pixels, and the
coefficients, which vary smoothly, are what gets upsampled; applied to the full-resolution
luminance they put the colour's edges where the picture's are. Only chroma is computed:
luminance stays exactly the input's.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import uniform_filter

RADIUS = 4  # network pixels; chosen with benchmarks/upsampling.py (README, "Edge-aware colour")
EPSILON = 1e-4  # regularises a towards 0 in flat regions (luma in [0, 1])


def _box(plane: np.ndarray) -> np.ndarray:
    return uniform_filter(plane, size=2 * RADIUS + 1, mode="reflect")


def _area_resize(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if plane.shape == shape:
        return np.ascontiguousarray(plane, dtype=np.float32)
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BOX), dtype=np.float32)


def guide_coefficients(luma: np.ndarray, chroma: np.ndarray) -> list[np.ndarray]:
    """``[a_cb, b_cb, a_cr, b_cr]`` at the chroma's size ``(h, w)``, float32, for the full
    luminance ``(H, W)`` and the network's chroma ``(h, w, 2)``."""
    guide = _area_resize(luma, chroma.shape[:2])
    mean_guide = _box(guide)
    variance = _box(guide * guide) - mean_guide * mean_guide
    coefficients = []
    for c in range(2):
        plane = np.ascontiguousarray(chroma[..., c], dtype=np.float32)
        mean_plane = _box(plane)
        a = (_box(guide * plane) - mean_guide * mean_plane) / (variance + EPSILON)
        b = mean_plane - a * mean_guide
        coefficients += [_box(a), _box(b)]
    return coefficients


class GuidedUpsampler:
    """Full-resolution chroma from ``guide_coefficients``, one band of rows at a time (the
    bands of a large image can go to several threads; none holds a full-size plane)."""

    def __init__(self, luma: np.ndarray, chroma: np.ndarray) -> None:
        self.luma = luma
        self.small_shape = chroma.shape[:2]
        self.planes = [Image.fromarray(p, mode="F") for p in guide_coefficients(luma, chroma)]

    def rows(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """(cb, cr) for ``luma[rows]``."""
        height, width = self.luma.shape
        top, bottom, _ = rows.indices(height)
        small_height, small_width = self.small_shape
        box = (0, top * small_height / height, small_width, bottom * small_height / height)
        size = (width, bottom - top)
        a_cb, b_cb, a_cr, b_cr = (np.asarray(p.resize(size, Image.Resampling.BILINEAR, box=box)) for p in self.planes)
        y = self.luma[rows]
        return a_cb * y + b_cb, a_cr * y + b_cr
