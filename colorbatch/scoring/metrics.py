"""Image quality metrics, one function each, shared by ``train`` and ``score``.

Every function takes 8-bit RGB arrays, dtype uint8, layout ``(H, W, 3)``: the images as they
are written to disk. Shapes must match exactly, otherwise ``ValueError``.

- PSNR: ``10 log10(255^2 / MSE)``, MSE over all pixels and channels; ``inf`` when identical.
- SSIM: Wang et al. 2004: Gaussian window sigma 1.5 (11 taps), K1 0.01, K2 0.03, data range
  255, population covariance, per channel then averaged. Images with a side under 11 px keep the
  same Gaussian but crop a smaller border (largest odd window that fits).
- Colourfulness: Hasler and Suesstrunk 2003, ``sigma_rgyb + 0.3 mu_rgyb`` on 0-255 values.
- Hue hits: whether objects get their own colours (``hue_hits``), where PSNR and colourfulness
  cannot tell a cast over the whole picture from colour that follows objects.
- Temporal metrics of clips (``warping_error``, ``colour_distribution_consistency``): flicker.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

from colorbatch.color import rgb_to_chroma

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
    "hue_hits": "of the truth's pixels with full-range CbCr radius > 0.05, the share where the output has "
    "radius > 0.02 and a hue within 30 degrees of the truth's, averaged over the 30-degree hue sectors "
    "holding >= 2% of those pixels; gray 0, the truth 1; undefined (left out of means) for a gray truth",
    "hint_fidelity": "of the hinted pixels (hint image alpha >= 128) whose hint has full-range CbCr radius > "
    "0.05, the share where the output has radius > 0.02 and a hue within 30 degrees of the hint's",
    "warping_error": "Lai et al. 2018 with DIS flow instead of FlowNet2: flow on the truth's frames both ways, "
    "pixels failing the forward-backward check left out, then the mean squared difference of RGB in [0, 1] "
    "between frame t and frame t-1 warped onto it, averaged over frames",
    "cdc": "colour distribution consistency (TCVC, ColorMNet): Jensen-Shannon divergence (natural log) between "
    "the 256-bin histograms of each RGB channel of frames t and t+d, averaged over channels and frames, then "
    "over d = 1, 2, 4",
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


HUE_COLOURED = 0.05  # truth pixels with a CbCr radius above this are clearly coloured
HUE_HAS_COLOUR = 0.02  # an output pixel with less than this has no colour to compare
HUE_TOLERANCE = 30.0  # degrees
HUE_SECTORS = 12
HUE_MIN_SECTOR_SHARE = 0.02


def hue_hits(pred: np.ndarray, truth: np.ndarray) -> float:
    """Objects in their own colours: of the truth's clearly coloured pixels, the share where the
    output has colour within 30 degrees of the truth's hue, averaged over the 30-degree hue sectors
    that hold at least 2 % of those pixels (so a large sky cannot outvote a small red coat). Gray
    scores 0, the truth 1, a uniform cast only in the sectors near its own hue. NaN when the truth
    has no clearly coloured pixel."""
    _check_pair(pred, truth)
    truth_chroma = rgb_to_chroma(truth.astype(np.float32) / 255.0)
    coloured = np.hypot(truth_chroma[..., 0], truth_chroma[..., 1]) > HUE_COLOURED
    if not coloured.any():
        return math.nan
    truth_chroma = truth_chroma[coloured]
    hit = _hue_agrees(rgb_to_chroma(pred[coloured].astype(np.float32) / 255.0), truth_chroma)
    truth_hue = np.degrees(np.arctan2(truth_chroma[:, 1], truth_chroma[:, 0]))
    sector = (np.mod(truth_hue, 360.0) // (360.0 / HUE_SECTORS)).astype(np.int64) % HUE_SECTORS
    pixels = np.bincount(sector, minlength=HUE_SECTORS)
    hits = np.bincount(sector, weights=hit, minlength=HUE_SECTORS)
    kept = pixels >= HUE_MIN_SECTOR_SHARE * pixels.sum()
    return float(np.mean(hits[kept] / pixels[kept]))


def _hue_agrees(pred_chroma: np.ndarray, wanted_chroma: np.ndarray) -> np.ndarray:
    """Per pixel: the output has colour and its hue lies within ``HUE_TOLERANCE`` of the wanted one."""
    wanted = np.degrees(np.arctan2(wanted_chroma[..., 1], wanted_chroma[..., 0]))
    got = np.degrees(np.arctan2(pred_chroma[..., 1], pred_chroma[..., 0]))
    apart = np.abs((got - wanted + 180.0) % 360.0 - 180.0)
    return (np.hypot(pred_chroma[..., 0], pred_chroma[..., 1]) > HUE_HAS_COLOUR) & (apart <= HUE_TOLERANCE)


def hint_fidelity(pred: np.ndarray, hint_rgba: np.ndarray) -> float:
    """Whether the output took the colours it was given: of the hinted pixels (alpha >= 128) whose
    hint is clearly coloured, the share whose output hue is within 30 degrees of the hint's.
    ``hint_rgba`` is the hint image ``(H, W, 4)`` uint8 at the output's size; NaN without such pixels."""
    if hint_rgba.shape[:2] != pred.shape[:2] or hint_rgba.shape[-1] != 4:
        raise ValueError(f"hint image {hint_rgba.shape} does not fit the output {pred.shape}")
    hinted = hint_rgba[..., 3] >= 128
    wanted = rgb_to_chroma(hint_rgba[..., :3][hinted].astype(np.float32) / 255.0)
    coloured = np.hypot(wanted[:, 0], wanted[:, 1]) > HUE_COLOURED
    if not coloured.any():
        return math.nan
    got = rgb_to_chroma(pred[hinted][coloured].astype(np.float32) / 255.0)
    return float(_hue_agrees(got, wanted[coloured]).mean())


def warping_error(previous_warped: np.ndarray, current: np.ndarray, reliable: np.ndarray) -> float:
    """One frame's term of the warping error: mean squared difference (RGB in [0, 1]) between
    ``current`` and the previous frame warped onto it (``flow.warp`` along the truth's flow), over
    the ``reliable`` pixels (bool (H, W)); NaN when none is."""
    _check_pair(previous_warped, current)
    if not reliable.any():
        return math.nan
    difference = (previous_warped[reliable].astype(np.float64) - current[reliable].astype(np.float64)) / PEAK
    return float(np.mean(difference**2))


CDC_STEPS = (1, 2, 4)


def rgb_histograms(rgb: np.ndarray) -> np.ndarray:
    """Normalised 256-bin histograms of the R, G and B channels of a uint8 image: (3, 256)."""
    counts = np.stack([np.bincount(rgb[..., c].ravel(), minlength=256) for c in range(3)]).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def _js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of histograms along the last axis, averaged over the others."""
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(axis=-1)
    return float(np.mean(0.5 * (kl_p + kl_q)))


def colour_distribution_consistency(histograms: list[np.ndarray]) -> float:
    """CDC of a clip from its frames' ``rgb_histograms`` in order: lower is steadier colour."""
    per_step = [np.mean([_js_divergence(histograms[t], histograms[t + d]) for t in range(len(histograms) - d)])
                for d in CDC_STEPS if len(histograms) > d]
    return float(np.mean(per_step)) if per_step else math.nan
