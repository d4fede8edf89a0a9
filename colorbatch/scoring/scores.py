"""Per-image scores and their aggregate: the one place where a set of images becomes numbers.

``score_pair`` measures one prediction against its truth; ``ScoreSummary`` accumulates rows in
constant memory (running sums plus a PSNR list for median and percentile). Training, ``run
--truth`` and ``score`` all go through here, so they print the same numbers for the same images;
``AGGREGATES`` names each aggregate key once, for the terminal, the reports and training's log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from colorbatch.color import gray_u8
from colorbatch.scoring import metrics


@dataclass
class ImageScore:
    psnr: float
    mse: float
    ssim: float
    colourfulness: float
    colourfulness_truth: float
    hue_hits: float = math.nan  # NaN: the truth has no clearly coloured pixel


def score_pair(pred: np.ndarray, truth: np.ndarray) -> ImageScore:
    """All metrics for one uint8 RGB prediction against its uint8 RGB truth."""
    value = metrics.mse(pred, truth)
    return ImageScore(
        psnr=metrics.psnr_from_mse(value),
        mse=value,
        ssim=metrics.ssim(pred, truth),
        colourfulness=metrics.colourfulness(pred),
        colourfulness_truth=metrics.colourfulness(truth),
        hue_hits=metrics.hue_hits(pred, truth),
    )


def gray_baseline(truth: np.ndarray) -> np.ndarray:
    """The no-colour prediction: the truth's own BT.601 gray copy on three channels."""
    return np.repeat(gray_u8(truth)[..., None], 3, axis=-1)


@dataclass(frozen=True)
class Aggregate:
    """One key of ``ScoreSummary.aggregate()``: its label in the terminal's table, its description
    in an HTML report, and how its value reads (``digits`` decimals; 0: a count)."""

    key: str
    label: str
    description: str
    digits: int = 0

    def format(self, value: float | int | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if not self.digits:
            return str(value)
        return "inf" if math.isinf(value) else f"{value:.{self.digits}f}"


AGGREGATES = (
    Aggregate("scored", "images scored", "images scored"),
    Aggregate("infinite", "identical (PSNR inf)", "identical to the truth (PSNR infinite)"),
    Aggregate("psnr_mean", "PSNR mean (dB)", "PSNR, mean (dB)", 2),
    Aggregate("psnr_median", "PSNR median (dB)", "PSNR, median (dB)", 2),
    Aggregate("psnr_p5", "PSNR p5 (dB)", "PSNR, 5th percentile (dB)", 2),
    Aggregate("psnr_pooled", "PSNR pooled (dB)", "PSNR of the pooled MSE (dB)", 2),
    Aggregate("ssim_mean", "SSIM mean", "SSIM, mean (0 to 1)", 4),
    Aggregate("colourfulness_mean", "colourfulness mean", "colourfulness, mean (Hasler-Süsstrunk)", 1),
    Aggregate("colourfulness_truth_mean", "colourfulness of truth", "colourfulness of the truth, mean", 1),
    Aggregate("hue_hits_mean", "hue hits mean", "hue hits, mean (0 to 1: objects in their own colours)", 3),
)
AGGREGATE_BY_KEY = {aggregate.key: aggregate for aggregate in AGGREGATES}


@dataclass
class ScoreSummary:
    """Running aggregate of ``ImageScore`` rows."""

    count: int = 0
    infinite: int = 0
    finite_psnr: list[float] = field(default_factory=list)
    _mse_sum: float = 0.0
    _pixels: int = 0
    _ssim_sum: float = 0.0
    _colour_sum: float = 0.0
    _colour_truth_sum: float = 0.0
    _hue_hits_sum: float = 0.0
    _hue_hits_count: int = 0

    def add(self, score: ImageScore, pixels: int) -> None:
        self.count += 1
        if math.isinf(score.psnr):
            self.infinite += 1
        else:
            self.finite_psnr.append(score.psnr)
        self._mse_sum += score.mse * pixels
        self._pixels += pixels
        self._ssim_sum += score.ssim
        self._colour_sum += score.colourfulness
        self._colour_truth_sum += score.colourfulness_truth
        if not math.isnan(score.hue_hits):
            self._hue_hits_sum += score.hue_hits
            self._hue_hits_count += 1

    def aggregate(self) -> dict[str, float | int | None]:
        """Mean/median/p5 PSNR over finite values, pooled PSNR, means of the other metrics."""
        finite = np.asarray(self.finite_psnr, dtype=np.float64)

        def over(values: np.ndarray, fn) -> float | None:
            return float(fn(values)) if values.size else None

        def mean_of(total: float) -> float | None:
            return total / self.count if self.count else None

        return {
            "scored": self.count,
            "infinite": self.infinite,
            "psnr_mean": over(finite, np.mean),
            "psnr_median": over(finite, np.median),
            "psnr_p5": over(finite, lambda v: np.percentile(v, 5)),
            "psnr_pooled": metrics.psnr_from_mse(self._mse_sum / self._pixels) if self._pixels else None,
            "ssim_mean": mean_of(self._ssim_sum),
            "colourfulness_mean": mean_of(self._colour_sum),
            "colourfulness_truth_mean": mean_of(self._colour_truth_sum),
            "hue_hits_mean": self._hue_hits_sum / self._hue_hits_count if self._hue_hits_count else None,
        }


def summarise(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> dict[str, float | int | None]:
    """Aggregate over paired uint8 RGB images: stacks ``(N, H, W, 3)`` or lists whose pairs
    may differ in size from one another."""
    summary = ScoreSummary()
    for pred, truth in zip(preds, truths):
        summary.add(score_pair(pred, truth), pred.shape[0] * pred.shape[1])
    return summary.aggregate()
