"""Torch twin of ``colorbatch.color``, channel-first ``(N, C, H, W)``.

The constants come from ``colorbatch.color``; a test checks both sides agree numerically.
"""

from __future__ import annotations

import torch

from colorbatch.color import CB_SCALE, CR_SCALE, G_FROM_CB, G_FROM_CR, LUMA_WEIGHTS


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of RGB ``(N, 3, H, W)``; returns ``(N, 1, H, W)``."""
    r, g, b = LUMA_WEIGHTS
    return r * rgb[:, 0:1] + g * rgb[:, 1:2] + b * rgb[:, 2:3]


def rgb_to_chroma(rgb: torch.Tensor) -> torch.Tensor:
    """RGB ``(N, 3, H, W)`` to chroma ``(N, 2, H, W)`` = (Cb, Cr)."""
    y = luminance(rgb)
    return torch.cat([(rgb[:, 2:3] - y) / CB_SCALE, (rgb[:, 0:1] - y) / CR_SCALE], dim=1)


def fit_to_gamut(y: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Pull each pixel towards its gray ``y`` (``(N, 1, H, W)``) until it lies in [0, 1]."""
    delta = rgb - y
    tiny = 1e-12
    room_up = (1.0 - y) / delta.clamp(min=tiny)
    room_down = y / (-delta).clamp(min=tiny)
    room = torch.where(delta > 0, room_up, torch.where(delta < 0, room_down, torch.ones_like(delta)))
    scale = room.amin(dim=1, keepdim=True).clamp(max=1.0)
    return (y + scale * delta).clamp(0.0, 1.0)  # the clamp only absorbs float rounding


def chroma_to_rgb(y: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """Recombine luminance ``(N, 1, H, W)`` with chroma ``(N, 2, H, W)``, in gamut."""
    cb, cr = chroma[:, 0:1], chroma[:, 1:2]
    rgb = torch.cat([y + CR_SCALE * cr, y + G_FROM_CB * cb + G_FROM_CR * cr, y + CB_SCALE * cb], 1)
    return fit_to_gamut(y, rgb)
