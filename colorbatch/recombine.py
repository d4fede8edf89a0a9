"""From the network's colour to the output: the network size, the resize in, the recombination out.

The network sees the image at its working size; the predicted colour is taken as chroma,
upsampled to the original size and recombined with the original full-resolution luminance, so
every output has its input's size and brightness, whatever the model outputs. Numpy, Pillow and
scipy only: training's evaluation and export's verification use it without running a model.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from colorbatch.color import chroma_to_rgb_u8, rgb_to_chroma
from colorbatch.machine import cpu_cores
from colorbatch.upsample import GuidedUpsampler

STRIP_ROWS = 32  # rows per strip of the bicubic recombination: its temporaries stay in cache
GUIDED_BAND_ROWS = 64  # rows per band of the guided one (each band resizes four coefficient planes)
PARALLEL_PIXELS = 1 << 18  # smaller images are recombined on the calling thread
SEQUENTIAL_UPSAMPLE_PIXELS = 1 << 25  # larger ones upsample their two chroma planes one after the other


def _resize(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if plane.shape == shape:
        return plane
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BICUBIC), dtype=np.float32)


def network_input(luma: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Luminance resized to the network's shape, as ``(1, H, W)`` float32 in [0, 1]."""
    return np.clip(_resize(luma, shape), 0.0, 1.0)[None]


def recombine(luma: np.ndarray, rgb_net: np.ndarray) -> np.ndarray:
    """Network RGB ``(3, h, w)`` + full luminance ``(H, W)`` -> uint8 RGB ``(H, W, 3)``."""
    return recombine_chroma(luma, rgb_to_chroma(np.moveaxis(rgb_net, 0, -1)))


def recombine_chroma(luma: np.ndarray, chroma: np.ndarray, upsampling: str = "guided") -> np.ndarray:
    """Chroma ``(h, w, 2)`` at any size + full luminance ``(H, W)`` -> uint8 RGB ``(H, W, 3)``.

    ``upsampling``: "guided" (the default) follows the luminance's edges (``colorbatch.upsample``);
    "bicubic" stretches the chroma as it is. A large image is upsampled and converted in bands of
    rows spread over the cores (numpy, scipy and Pillow release the GIL), so a 6-megapixel scan
    does not hold up the pipeline's other stages for a second on one core, and no full-size
    chroma plane is ever held.
    """
    if upsampling == "bicubic":
        return _recombine_bicubic(luma, chroma)
    out = np.empty((*luma.shape, 3), dtype=np.uint8)
    upsampler = GuidedUpsampler(luma, chroma)

    def band(rows: slice) -> None:
        cb, cr = upsampler.rows(rows)
        chroma_to_rgb_u8(luma[rows], cb, cr, out[rows])

    if luma.size < PARALLEL_PIXELS:
        band(slice(0, luma.shape[0]))
    else:
        for _ in _recombine_pool().map(band, _bands(luma.shape[0], GUIDED_BAND_ROWS)):
            pass
    return out


def lay_chroma(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Chroma ``(..., 2)`` on luminance ``(...)`` of the same size, pixel for pixel (no upsampling
    filter): uint8 RGB ``(..., 3)``."""
    out = np.empty((*luma.shape, 3), np.uint8)
    chroma_to_rgb_u8(luma, np.ascontiguousarray(chroma[..., 0]), np.ascontiguousarray(chroma[..., 1]), out)
    return out


def paint_hints(rgb: np.ndarray, luma: np.ndarray, hints: np.ndarray | None) -> np.ndarray:
    """``rgb`` (uint8, at the luminance's size) with each pixel of the hint plane ``hints`` given
    its hint's chroma at full resolution (and its own luminance): a dab means this colour here,
    however small it is at the network's size."""
    if hints is None:
        return rgb
    mask = hints[..., 2] > 0
    if mask.any():
        rgb[mask] = lay_chroma(luma[mask], hints[mask, :2])
    return rgb


def _bands(height: int, rows: int) -> list[slice]:
    return [slice(top, min(height, top + rows)) for top in range(0, height, rows)]


def _recombine_bicubic(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    out = np.empty((*luma.shape, 3), dtype=np.uint8)
    if luma.size < PARALLEL_PIXELS:
        cb, cr = (_resize(chroma[..., c], luma.shape) for c in range(2))
        chroma_to_rgb_u8(luma, cb, cr, out)
        return out
    pool = _recombine_pool()
    planes = [np.ascontiguousarray(chroma[..., c]) for c in range(2)]
    if luma.size < SEQUENTIAL_UPSAMPLE_PIXELS:
        cb, cr = pool.map(lambda plane: _resize(plane, luma.shape), planes)
    else:  # each upsample briefly holds two copies of its plane: one at a time bounds the peak
        cb, cr = (_resize(plane, luma.shape) for plane in planes)
    for _ in pool.map(lambda rows: chroma_to_rgb_u8(luma[rows], cb[rows], cr[rows], out[rows]),
                      _bands(luma.shape[0], STRIP_ROWS)):
        pass
    return out


@functools.lru_cache(maxsize=1)
def _recombine_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(cpu_cores(), "recombine")


