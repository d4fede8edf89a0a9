"""The layers through which a hint model takes colour a person gives (``HintedBinnedChromaUNet``).

- ``HintAttention`` spreads local hints: every position of the stride-8 grid attends over the
  hinted positions of that grid, with scores from the frozen decoder's features (what the position shows),
  luminance and distance, against a learned "no hint applies here" slot. The result replaces
  the automatic chroma in proportion to the weight the hints took.
- ``ReferenceBranch`` takes a reference photo's colour distribution into the bottleneck (a
  bias-free MLP) and tilts the bin logits towards the distribution's colours; then, at decoding,
  ``fit_to_reference`` shifts each bin's logit by one per-photo amount so that the photo's colours,
  summed over its positions, come out in the reference's proportions (the network still decides
  where each colour goes). The fit has no weights: it was added after training and is what makes
  a reference count (truth as reference, photos-large/val: +1.5 dB without it, +3.3 with it).

Both give exactly zero for an all-zero input, so a model without hints paints what it did.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KEY_STRIDE = 8  # hints are gathered on a grid of this stride (attention cost falls with its square)
REFERENCE_FLOOR = 1e-3  # the log of a reference's bin share is taken of share + floor
FIT_STEPS = 5  # proportional-fitting steps (3 already reach the measured gain; 10 add nothing)
FIT_SAMPLE_STRIDE = 2  # the fit's shares are measured on every other position in each direction
FIT_FLOOR = 1e-5  # shares are compared as log(share + floor): a colour the reference lacks stays out
# With a reference, decode this much sharper: once the fit has chosen the photo's colours, a
# pixel's mean over its bins need not hedge between them (photos-large/val hue hits 0.639 at 1, 0.652 at 0.5).
FIT_SHARPENING = 0.5
COORDINATE_UNIT = 224.0  # distances are measured in units of this many pixels at the network's size


def _grid_coordinates(height: int, width: int, stride: int) -> torch.Tensor:
    """``(height * width, 2)`` centres of a grid's cells, in units of ``COORDINATE_UNIT`` pixels."""
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) * (stride / COORDINATE_UNIT)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) * (stride / COORDINATE_UNIT)
    return torch.stack([ys[:, None].expand(height, width), xs[None, :].expand(height, width)], -1).reshape(-1, 2)


class HintAttention(nn.Module):
    def __init__(self, channels: int, dim: int = 32) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels + 1, dim, 1)
        self.key = nn.Conv2d(channels + 1, dim, 1)
        # The weights of squared distance and squared luminance difference; their magnitudes are used.
        # Each meets the data before any other operation, so an export keeps them as named weights
        # (a function of weights alone would be folded into an anonymous constant).
        self.reach = nn.Parameter(torch.tensor(100.0))
        self.luminance = nn.Parameter(torch.tensor(50.0))  # unequal: an export merges equal weights
        self.null = nn.Parameter(torch.tensor(2.0))  # the score of "no hint applies here"
        self.dim = dim

    def forward(self, features: torch.Tensor, gray: torch.Tensor, hints: torch.Tensor,
                chroma: torch.Tensor) -> torch.Tensor:
        """The change to ``chroma`` (automatic, ``(N, 2, h, w)`` at twice the features' resolution,
        cropped) that the hints ask for, at twice the features' (padded) size. ``features`` are the
        decoder's at stride ``KEY_STRIDE`` for the input padded as the encoder pads it."""
        n = gray.shape[0]
        grid = features.shape[-2:]
        padded = (grid[0] * KEY_STRIDE, grid[1] * KEY_STRIDE)
        pad = (0, padded[1] - gray.shape[-1], 0, padded[0] - gray.shape[-2])
        gray = F.avg_pool2d(F.pad(gray, pad, mode="replicate"), KEY_STRIDE)
        hints = F.pad(hints, pad)
        mask = hints[:, 2:3]
        coverage = F.avg_pool2d(mask, KEY_STRIDE)
        hint_chroma = F.avg_pool2d(hints[:, :2] * mask, KEY_STRIDE) / coverage.clamp(min=1e-6)
        present = (coverage > 0).float().flatten(1)[:, None, :]  # (N, 1, P)

        described = torch.cat([features, gray], 1)
        gray = gray.flatten(2)  # (N, 1, P)
        coords = _grid_coordinates(grid[0], grid[1], KEY_STRIDE)
        coords = coords.t()[None].expand(n, 2, coords.shape[0])  # (N, 2, P)
        # q.k / sqrt(d) - reach |p_q - p_k|^2 - lum (g_q - g_k)^2 as one product of extended vectors
        # (coordinates and luminance are >= 0, so |x * w| = x |w|)
        own = torch.abs((coords**2).sum(1, keepdim=True) * self.reach) + torch.abs(gray**2 * self.luminance)
        ones = torch.ones_like(gray)
        q = torch.cat([self.query(described).flatten(2) / self.dim**0.5, torch.abs(coords * self.reach) * 2,
                       torch.abs(gray * self.luminance) * 2, -own, ones], 1)
        k = torch.cat([self.key(described).flatten(2), coords, gray, ones, -own], 1)
        scores = torch.einsum("ndq,ndk->nqk", q, k)  # (N, P, P)
        top = torch.maximum(scores.amax(-1, keepdim=True), self.null.detach())
        weights = torch.exp(scores - top) * present
        total = torch.exp(self.null - top) + weights.sum(-1, keepdim=True)  # (N, P, 1)
        given = (weights @ hint_chroma.flatten(2).transpose(1, 2) / total).transpose(1, 2)  # (N, 2, P)
        share = (weights.sum(-1, keepdim=True) / total).transpose(1, 2)
        given = F.interpolate(given.reshape(n, 2, grid[0], grid[1]), scale_factor=2.0, mode="bilinear",
                              align_corners=False)
        share = F.interpolate(share.reshape(n, 1, grid[0], grid[1]), scale_factor=2.0, mode="bilinear",
                              align_corners=False)
        pad_chroma = (0, given.shape[-1] - chroma.shape[-1], 0, given.shape[-2] - chroma.shape[-2])
        return given - share * F.pad(chroma, pad_chroma)


class ReferenceBranch(nn.Module):
    """A reference's bin distribution ``(N, Q)`` (zeros: none) to a bottleneck shift ``(N, C)``."""

    def __init__(self, bins: int, channels: int, hidden: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(bins, hidden, bias=False), nn.ReLU(),
                                 nn.Linear(hidden, channels, bias=False))
        nn.init.zeros_(self.mlp[-1].weight)
        self.tilt_strength = nn.Parameter(torch.zeros(()))

    def forward(self, reference: torch.Tensor) -> torch.Tensor:
        return self.mlp(reference)

    def tilt(self, reference: torch.Tensor) -> torch.Tensor:
        """``(N, Q)`` added to the bin logits: the reference's log shares, times the flag (its sum)."""
        given = reference.sum(1, keepdim=True)
        return self.tilt_strength * given * torch.log(reference + REFERENCE_FLOOR)


def fit_to_reference(logits: torch.Tensor, reference: torch.Tensor, temperature) -> torch.Tensor:
    """Bin logits ``(N, Q, h, w)`` (the rebalancing tilt already taken out) scaled for decoding at
    ``temperature``, with a reference ``(N, Q)`` fitted in: softmax of the result is the decoding's
    distribution. Without a reference (all zeros) the result is exactly ``logits / temperature``.

    The fit is prior shift (Saerens et al. 2002) by iterative proportional fitting: a per-photo
    tilt of each bin, updated by log(reference share) - log(mean decoded share over positions).
    """
    given = (reference.sum(1, keepdim=True) > 0).to(logits.dtype)  # (N, 1): 1 where a reference is given
    scaled = logits / (temperature * (1.0 - given * (1.0 - FIT_SHARPENING)))[:, :, None, None]
    # the shares are estimated on every other position, bins last (a softmax over a contiguous axis):
    # this keeps the fit's cost small beside the network's, since it runs for photos without a reference too
    sample = scaled[..., ::FIT_SAMPLE_STRIDE, ::FIT_SAMPLE_STRIDE].flatten(2).transpose(1, 2)  # (N, P, Q)
    target = torch.log(reference + FIT_FLOOR)
    tilt = torch.zeros_like(reference)
    for _ in range(FIT_STEPS):
        shares = torch.softmax(sample + tilt[:, None, :], dim=-1).mean(dim=1)
        tilt = tilt + target - torch.log(shares + FIT_FLOOR)
    return scaled + (given * tilt)[:, :, None, None]
