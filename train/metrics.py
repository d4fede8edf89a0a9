"""Torch twin of ``colorbatch.scoring.metrics.ssim``, differentiable, for the SSIM loss term.

Same window, constants and border crop as the metric (scikit-image crops half a window at each
border, so a valid convolution gives exactly its SSIM map); a test checks both agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorbatch.scoring.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW


def _gaussian_window(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    offsets = torch.arange(SSIM_WINDOW, device=device, dtype=dtype) - SSIM_WINDOW // 2
    taps = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    taps = taps / taps.sum()
    return (taps[:, None] * taps[None, :]).expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW).contiguous()


def ssim_per_image(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM of each image in ``(N, C, H, W)`` batches in [0, 1] (sides of at least 11 px); shape ``(N,)``."""
    channels = output.shape[1]
    window = _gaussian_window(channels, output.device, output.dtype)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)

    mu_x, mu_y = blur(output), blur(target)
    var_x = blur(output * output) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(output * target) - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)
