"""Quantised chroma: the bins a distribution head predicts over.

The grid (``colorbatch.chroma_bins``, shared with the runtime) is a square lattice on the (Cb, Cr)
plane of ``colorbatch.color`` with spacing ``STEP``;
a lattice point is a bin when it is a corner of a lattice cell that holds some reachable colour
(some RGB in [0, 1]), so every true chroma has its four bilinear corners among the bins.

- **Soft encoding** is bilinear: a chroma spreads over the four corners of its cell with weights
  that sum to 1 and whose expectation is the chroma itself, so the annealed mean at T = 1 of a
  perfect prediction returns the truth exactly (Zhang et al. 2016 use a Gaussian over 5
  neighbours instead, whose mean is biased towards the cell's centre).
- **Rebalancing** (Zhang et al. 2016, eq. 3-4): the bins' prior ``p``, smoothed and mixed with a
  uniform distribution, gives weights ``w ∝ ((1 - λ) p + λ / Q) ** -strength`` with
  ``E_p[w] = 1``; ``strength`` 1 is Zhang's full rebalancing, 0 none.
- **Decoding** is the annealed mean: ``softmax((logits - correction * log w) / T)`` times the bin
  centres. Training weighted by ``w`` tilts the predicted distribution by ``w``; ``correction``
  1 divides that tilt out again (the unbiased, conservative estimate), 0 keeps it (vivid), and a
  negative value tilts further by ``w ** -correction`` (more vivid than training made it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from colorbatch.chroma_bins import CHROMA_LIMIT, STEP, bin_centres, lattice_axis

__all__ = ["STEP", "annealed_mean", "bin_centres", "lattice_lookup", "rebalancing_weights", "smoothed_prior",
           "soft_encode"]


def lattice_lookup(centres: torch.Tensor, step: float) -> tuple[torch.Tensor, float]:
    """A (K, K) table from lattice cell to bin index (-1 where no bin) and the lattice origin."""
    axis = lattice_axis(step)
    index = torch.round((centres - float(axis[0])) / step).long()
    table = torch.full((len(axis), len(axis)), -1, dtype=torch.long)
    table[index[:, 0], index[:, 1]] = torch.arange(len(centres))
    return table, float(axis[0])


def soft_encode(chroma: torch.Tensor, centres: torch.Tensor, step: float = STEP, pool: int = 1) -> torch.Tensor:
    """Chroma ``(N, 2, H, W)`` to bin distributions ``(N, Q, H / pool, W / pool)`` summing to 1.

    Each pixel's bilinear weights over its cell's corners; ``pool`` averages the distributions of
    ``pool`` x ``pool`` blocks (the head predicts at a coarser grid than the image).
    """
    table, origin = lattice_lookup(centres.cpu(), step)
    table = table.to(chroma.device)
    n, _, height, width = chroma.shape
    k = table.shape[0]
    position = ((chroma.float().clamp(-CHROMA_LIMIT, CHROMA_LIMIT) - origin) / step).clamp(0, k - 1 - 1e-4)
    low = position.floor().long()
    frac = position - low
    out_h, out_w = height // pool, width // pool
    rows = torch.arange(out_h * pool, device=chroma.device) // pool
    cols = torch.arange(out_w * pool, device=chroma.device) // pool
    cell = (rows[:, None] * out_w + cols[None, :]).expand(n, -1, -1)  # target pixel of each source pixel
    low, frac = low[..., : out_h * pool, : out_w * pool], frac[..., : out_h * pool, : out_w * pool]
    target = torch.zeros(n, len(centres) + 1, out_h * out_w, device=chroma.device)
    for di in (0, 1):
        for dj in (0, 1):
            weight = (frac[:, 0] if di else 1 - frac[:, 0]) * (frac[:, 1] if dj else 1 - frac[:, 1])
            bins = table[low[:, 0] + di, low[:, 1] + dj]
            bins = torch.where(bins < 0, len(centres), bins)  # corners without a bin go to a spill slot
            target.view(n, -1).scatter_add_(1, (bins * out_h * out_w + cell).reshape(n, -1), weight.reshape(n, -1))
    target = target[:, :-1]
    target = target / target.sum(1, keepdim=True).clamp(min=1e-12)
    return target.view(n, len(centres), out_h, out_w)


def smoothed_prior(counts: torch.Tensor, centres: torch.Tensor, step: float = STEP, sigma: float = 1.0) -> torch.Tensor:
    """Bin frequencies smoothed with a Gaussian of ``sigma`` lattice cells, renormalised over the bins."""
    table, _ = lattice_lookup(centres, step)
    grid = torch.zeros(table.shape, dtype=torch.float64)
    grid[table >= 0] = counts.double()[table[table >= 0]]
    radius = max(1, int(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = (kernel[:, None] * kernel[None, :]) / kernel.sum() ** 2
    smooth = F.conv2d(grid[None, None], kernel[None, None], padding=radius)[0, 0]
    prior = smooth[table >= 0][torch.argsort(table[table >= 0])]
    return (prior / prior.sum()).float()


def rebalancing_weights(prior: torch.Tensor, strength: float, mix: float = 0.5) -> torch.Tensor:
    """Per-bin loss weights ``((1 - mix) p + mix / Q) ** -strength``, scaled so ``E_p[w] = 1``."""
    weights = ((1 - mix) * prior + mix / len(prior)) ** -strength
    return (weights / (prior * weights).sum()).float()


def annealed_mean(logits: torch.Tensor, centres: torch.Tensor, temperature: torch.Tensor | float = 1.0,
                  log_weights: torch.Tensor | None = None, correction: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Chroma ``(N, 2, h, w)`` from bin logits ``(N, Q, h, w)`` at ``temperature``; ``correction``
    times ``log_weights`` (the rebalancing tilt) is taken out of the logits first."""
    if log_weights is not None:
        logits = logits - correction * log_weights.view(1, -1, 1, 1)
    probabilities = torch.softmax(logits / temperature, dim=1)
    return F.conv2d(probabilities, centres.t().reshape(2, -1, 1, 1).to(probabilities.dtype))
