"""Image quality metrics, one function each, shared by ``train`` and ``score``.

Every function takes 8-bit RGB arrays, dtype uint8, layout ``(H, W, 3)``: the images as they
are written to disk. Shapes must match exactly, otherwise ``ValueError``.

- PSNR: ``10 log10(255^2 / MSE)``, MSE over all pixels and channels; ``inf`` when identical.
- SSIM: Wang et al. 2004: Gaussian window sigma 1.5 (11 taps), K1 0.01, K2 0.03, data range
  255, population covariance, per channel then averaged. Images with a side under 11 px keep the
  same Gaussian but crop a smaller border (largest odd window that fits).
- Colourfulness: Hasler and Suesstrunk 2003, ``sigma_rgyb + 0.3 mu_rgyb`` on 0-255 values.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

PEAK = 255.0
SSIM_SIGMA = 1.5
SSIM_WINDOW = 11  # 2 * int(3.5 * 1.5 + 0.5) + 1, the taps of the Gaussian above
SSIM_K1 = 0.01
SSIM_K2 = 0.03

DEFINITIONS = {
    "psnr": "10*log10(255^2/MSE), MSE over all pixels and RGB channels of 8-bit images; "
    "identical images give inf and are counted apart",
    "psnr_pooled": "PSNR of the MSE pooled over every pixel of every scored image",
    "ssim": "Wang et al. 2004, Gaussian window sigma 1.5, K1=0.01, K2=0.03, data range 255, "
    "population covariance, per RGB channel then averaged (scikit-image)",
    "colourfulness": "Hasler & Suesstrunk 2003: sqrt(sd_rg^2+sd_yb^2) + 0.3*sqrt(mu_rg^2+mu_yb^2), "
    "rg=R-G, yb=(R+G)/2-B, on 0-255 values",
}


def _check_pair(pred: np.ndarray, truth: np.ndarray) -> None:
    if pred.shape != truth.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape} vs truth {truth.shape}")
    if pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"expected RGB images (H, W, 3), got {pred.shape}")


def mse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared error over all pixels and channels, on 0-255 values."""
    _check_pair(pred, truth)
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr_from_mse(value: float) -> float:
    """PSNR in dB for an MSE on 0-255 values; ``inf`` for an MSE of 0."""
    return math.inf if value == 0 else 10.0 * math.log10(PEAK * PEAK / value)


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB between two uint8 RGB images; ``inf`` when they are identical."""
    return psnr_from_mse(mse(pred, truth))


def ssim(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM between two uint8 RGB images (see the module docstring for the settings)."""
    _check_pair(pred, truth)
    smallest = min(pred.shape[:2])
    window = min(SSIM_WINDOW, smallest if smallest % 2 else smallest - 1)
    return float(
        structural_similarity(
            pred,
            truth,
            win_size=max(window, 1),
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
            K1=SSIM_K1,
            K2=SSIM_K2,
            data_range=PEAK,
            channel_axis=-1,
        )
    )


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness of a uint8 RGB image; 0 for any gray image."""
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected RGB image (H, W, 3), got {rgb.shape}")
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = math.hypot(rg.std(), yb.std())
    mean = math.hypot(rg.mean(), yb.mean())
    return spread + 0.3 * mean
