import numpy as np
import pytest
import torch
from PIL import Image

from colorbatch import color
from colorbatch.train import color as tcolor


def test_gray_u8_is_bit_identical_to_pillow(rng):
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    assert np.array_equal(color.gray_u8(rgb), expected)


def test_gray_u8_covers_extremes():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).convert("L"))
    assert color.gray_u8(rgb).tolist() == expected.tolist() == [[255, 0, 76, 150, 29]]


def test_luminance_known_values():
    rgb = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    assert np.allclose(color.luminance(rgb), [0.299, 0.587, 0.114, 1.0], atol=1e-6)


def test_float_luminance_matches_pillow_within_rounding(rng):
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.float32)
    assert np.abs(color.luminance(rgb.astype(np.float32)) - pil).max() <= 0.5 + 1e-4


def test_chroma_round_trip_and_known_values(rng):
    rgb = rng.random((16, 16, 3), dtype=np.float32)
    chroma = color.rgb_to_chroma(rgb)
    assert np.abs(chroma).max() <= 0.5 + 1e-6
    back = color.chroma_to_rgb(color.luminance(rgb), chroma)
    assert np.allclose(back, rgb, atol=1e-5)
    # Pure blue: Cb = (1 - 0.114) / 1.772 = 0.5, Cr = (0 - 0.114) / 1.402
    assert np.allclose(color.rgb_to_chroma(np.array([0, 0, 1.0], np.float32)), [0.5, -0.114 / 1.402], atol=1e-6)


def test_out_of_gamut_colour_keeps_luminance(rng):
    y = rng.random((50, 50), dtype=np.float32)
    chroma = rng.uniform(-0.5, 0.5, (50, 50, 2)).astype(np.float32)
    rgb = color.chroma_to_rgb(y, chroma)
    assert rgb.min() >= -1e-6 and rgb.max() <= 1 + 1e-6
    assert np.allclose(color.luminance(rgb), y, atol=1e-5)


def test_to_uint8_rounds_to_nearest():
    assert color.to_uint8(np.array([0.0, 0.51 / 255, 0.49 / 255, 1.2, -0.1])).tolist() == [0, 1, 0, 255, 0]


@pytest.mark.parametrize("fn", ["luminance", "rgb_to_chroma"])
def test_torch_twin_matches_numpy(rng, fn):
    rgb = rng.random((2, 8, 8, 3), dtype=np.float32)
    expected = getattr(color, fn)(rgb)
    got = getattr(tcolor, fn)(torch.from_numpy(rgb).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.allclose(got.reshape(expected.shape), expected, atol=1e-6)


def test_torch_recombination_matches_numpy(rng):
    y = rng.random((2, 8, 8), dtype=np.float32)
    chroma = rng.uniform(-0.5, 0.5, (2, 8, 8, 2)).astype(np.float32)
    expected = color.chroma_to_rgb(y, chroma)
    got = tcolor.chroma_to_rgb(torch.from_numpy(y)[:, None], torch.from_numpy(chroma).permute(0, 3, 1, 2))
    assert np.allclose(got.permute(0, 2, 3, 1).numpy(), expected, atol=1e-5)


def test_fused_recombination_is_bit_identical_to_the_reference(rng):
    y = rng.random((300, 200), dtype=np.float32)
    y[0, :50], y[1, :50] = 0.0, 1.0  # the gamut's corners
    chroma = (rng.random((300, 200, 2), dtype=np.float32) - 0.5) * 1.2  # many colours out of gamut
    chroma[2, :50] = 0.0
    expected = color.to_uint8(color.chroma_to_rgb(y, chroma))
    out = np.empty((300, 200, 3), dtype=np.uint8)
    color.chroma_to_rgb_u8(y, chroma[..., 0].copy(), chroma[..., 1].copy(), out)
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("shape", [(32, 32), (700, 517)])  # one thread; strips over the cores
def test_bicubic_recombination_keeps_the_reference_bytes_at_any_size(rng, shape):
    from colorbatch.recombine import _resize, recombine_chroma

    luma = rng.random(shape, dtype=np.float32)
    rgb_net = rng.random((3, 24, 20), dtype=np.float32) * 1.4 - 0.2
    chroma = color.rgb_to_chroma(np.moveaxis(rgb_net, 0, -1))
    upsampled = np.stack([_resize(chroma[..., c], shape) for c in range(2)], axis=-1)
    expected = color.to_uint8(color.chroma_to_rgb(luma, upsampled))
    assert np.array_equal(recombine_chroma(luma, chroma, upsampling="bicubic"), expected)
