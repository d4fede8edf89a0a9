"""Colour definitions shared by training, runtime and scoring.

Luminance is ITU-R BT.601 luma, ``Y = 0.299 R + 0.587 G + 0.114 B``, the same as Pillow's
``convert("L")``. Chroma is full-range YCbCr (the JPEG definition) on values in [0, 1]:
``Cb = (B - Y) / 1.772`` and ``Cr = (R - Y) / 1.402``, each in [-0.5, 0.5].

Arrays here are numpy, channel-last ``(..., C)``; ``colorbatch.train.color`` holds the torch
twin (channel-first) and a test checks that the two agree.
"""

from __future__ import annotations

import numpy as np

LUMA_WEIGHTS = (0.299, 0.587, 0.114)
CB_SCALE = 1.772  # B - Y = CB_SCALE * Cb
CR_SCALE = 1.402  # R - Y = CR_SCALE * Cr
# G - Y follows from Y's definition: the weighted chroma deltas sum to zero.
G_FROM_CB = -LUMA_WEIGHTS[2] * CB_SCALE / LUMA_WEIGHTS[1]
G_FROM_CR = -LUMA_WEIGHTS[0] * CR_SCALE / LUMA_WEIGHTS[1]

# Pillow's fixed-point luma: (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
_PIL_LUMA_FIXED = (19595, 38470, 7471)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of float RGB ``(..., 3)``; returns ``(...)`` in the same range."""
    rgb = np.asarray(rgb, dtype=np.float32)
    r, g, b = LUMA_WEIGHTS
    return r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]


def gray_u8(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of uint8 RGB ``(H, W, 3)`` as uint8, bit-identical to Pillow's ``convert("L")``."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"gray_u8 expects uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    wr, wg, wb = _PIL_LUMA_FIXED
    acc = rgb[..., 0] * np.uint32(wr) + rgb[..., 1] * np.uint32(wg) + rgb[..., 2] * np.uint32(wb)
    return ((acc + 0x8000) >> 16).astype(np.uint8)


def rgb_to_chroma(rgb: np.ndarray) -> np.ndarray:
    """Float RGB ``(..., 3)`` in [0, 1] to chroma ``(..., 2)`` = (Cb, Cr) in [-0.5, 0.5]."""
    rgb = np.asarray(rgb, dtype=np.float32)
    y = luminance(rgb)
    cb = (rgb[..., 2] - y) / CB_SCALE
    cr = (rgb[..., 0] - y) / CR_SCALE
    return np.stack([cb, cr], axis=-1)


def fit_to_gamut(y: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Pull out-of-gamut colours towards gray ``y`` until they fit in [0, 1].

    Every pixel moves along the line from its gray value to its colour, so the luminance of the
    result is exactly ``y`` (the chroma deltas have zero luma). ``y`` is ``(...)``, ``rgb``
    ``(..., 3)``; ``y`` must lie in [0, 1].
    """
    y = y[..., None]
    delta = rgb - y
    scale = _scale_into_gamut(y, delta)
    return np.clip(y + scale * delta, 0.0, 1.0).astype(np.float32)  # clip absorbs float rounding


def _scale_into_gamut(y: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The largest scale <= 1 that keeps ``y + scale * delta`` in [0, 1], per pixel ``(..., 1)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(delta > 0, (1.0 - y) / delta, np.where(delta < 0, -y / delta, np.inf))
    return np.minimum(1.0, room.min(axis=-1, keepdims=True))


def chroma_to_rgb(y: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Recombine luminance ``(...)`` with chroma ``(..., 2)`` into RGB ``(..., 3)`` in [0, 1].

    The result has luminance ``y`` exactly (before any 8-bit rounding).
    """
    y = np.asarray(y, dtype=np.float32)
    cb, cr = chroma[..., 0], chroma[..., 1]
    rgb = np.stack(
        [y + CR_SCALE * cr, y + G_FROM_CB * cb + G_FROM_CR * cr, y + CB_SCALE * cb], axis=-1
    )
    return fit_to_gamut(y, rgb)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] to uint8, rounding to nearest: how every output file is quantised."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 (or uint16) image to float32 in [0, 1]."""
    x = np.asarray(x)
    peak = 65535.0 if x.dtype == np.uint16 else 255.0
    return x.astype(np.float32) / peak


# Gamut fitting is exact only where a channel leaves [0, 1]; a pixel whose every channel lies
# further inside than this keeps scale 1 (float32 rounding is ~1e-7, far below the margin).
_GAMUT_MARGIN = 1e-5


def chroma_to_rgb_u8(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, out: np.ndarray) -> None:
    """``to_uint8(chroma_to_rgb(y, stack([cb, cr], -1)))`` written into uint8 ``out`` ``(..., 3)``,
    bit for bit, with a third of the temporaries: channel planes computed in place, and the exact
    gamut fit run only on the pixels near or past the gamut's edge (where it can change anything).
    ``y``, ``cb``, ``cr`` are float32 planes of one shape, ``y`` in [0, 1]."""
    planes = [_channel(y, cb, cr, c) for c in range(3)]
    low = np.minimum(planes[0], planes[1])
    np.minimum(low, planes[2], out=low)
    high = np.maximum(planes[0], planes[1])
    np.maximum(high, planes[2], out=high)
    edge = low < _GAMUT_MARGIN
    edge |= high > 1.0 - _GAMUT_MARGIN
    for plane in planes:
        plane -= y  # the float32 delta that fit_to_gamut moves along
    if edge.any():
        deltas = np.stack([plane[edge] for plane in planes], axis=-1)
        scale = _scale_into_gamut(y[edge][:, None], deltas)[:, 0]
        for plane in planes:
            plane[edge] *= scale
    for c, plane in enumerate(planes):
        plane += y
        plane *= 255.0
        np.rint(plane, out=plane)
        np.clip(plane, 0, 255, out=plane)
        out[..., c] = plane


def _channel(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, c: int) -> np.ndarray:
    """One channel of ``chroma_to_rgb`` before the gamut fit, with its float32 rounding."""
    if c == 0:
        plane = np.multiply(cr, CR_SCALE, dtype=np.float32)
        plane += y
    elif c == 1:
        plane = np.multiply(cb, G_FROM_CB, dtype=np.float32)
        plane += y
        plane += np.multiply(cr, G_FROM_CR, dtype=np.float32)
    else:
        plane = np.multiply(cb, CB_SCALE, dtype=np.float32)
        plane += y
    return plane

