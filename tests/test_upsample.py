"""The edge-aware chroma upsampling (guided filter) of the recombination."""

import numpy as np
import pytest

from colorbatch import recombine
from colorbatch.color import gray_u8
from colorbatch.recombine import recombine_chroma


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (7, 5), (64, 64), (301, 199)])
@pytest.mark.parametrize("chroma_shape", [(1, 1), (3, 4), (16, 24)])
def test_any_size_keeps_its_shape_and_exact_luminance(shape, chroma_shape):
    rng = np.random.default_rng(sum(shape) + sum(chroma_shape))
    luma = rng.integers(0, 256, shape).astype(np.float32) / 255
    chroma = (rng.random((*chroma_shape, 2)) - 0.5).astype(np.float32)
    out = recombine_chroma(luma, chroma)
    assert out.shape == (*shape, 3) and out.dtype == np.uint8
    assert np.array_equal(gray_u8(out), np.round(luma * 255).astype(np.uint8))


def _edge_scene(width: int = 256, factor: int = 16):
    """A dark left half coloured blue and a bright right half coloured orange; the chroma the
    network would give, at 1/16 of the size, blurs the border over a network pixel."""
    luma = np.full((width, width), 0.25, np.float32)
    luma[:, width // 2 + 5:] = 0.75  # the border is not on the network's pixel grid
    ideal = np.zeros((width, width, 2), np.float32)
    ideal[:, : width // 2 + 5] = (0.12, -0.05)
    ideal[:, width // 2 + 5:] = (-0.1, 0.12)
    small = ideal.reshape(width // factor, factor, width // factor, factor, 2).mean(axis=(1, 3))
    return luma, small, ideal


def test_colour_follows_the_luminance_edge_closer_than_bicubic():
    from colorbatch.color import rgb_to_chroma

    luma, small, ideal = _edge_scene()
    errors = {}
    for upsampling in ("bicubic", "guided"):
        chroma = rgb_to_chroma(recombine_chroma(luma, small, upsampling).astype(np.float32) / 255)
        near_border = slice(128 - 24, 128 + 32)
        errors[upsampling] = np.abs(chroma[:, near_border] - ideal[:, near_border]).mean()
    assert errors["guided"] < 0.5 * errors["bicubic"]


def test_bands_spread_over_threads_give_what_one_band_gives(monkeypatch):
    rng = np.random.default_rng(3)
    luma = rng.integers(0, 256, (700, 500)).astype(np.float32) / 255  # above PARALLEL_PIXELS: in bands
    chroma = (rng.random((20, 14, 2)) - 0.5).astype(np.float32) * 0.4
    banded = recombine_chroma(luma, chroma)
    monkeypatch.setattr(recombine, "PARALLEL_PIXELS", luma.size + 1)
    whole = recombine_chroma(luma, chroma)
    assert np.abs(banded.astype(int) - whole).max() <= 1  # float rounding at band edges, at most one level
