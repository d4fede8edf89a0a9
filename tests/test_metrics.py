import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from colorbatch.scoring import metrics
from colorbatch.scoring.scores import ScoreSummary, score_pair


def test_psnr_of_constant_offset_matches_hand_value():
    truth = np.full((8, 8, 3), 100, np.uint8)
    pred = truth + 10  # MSE = 100
    assert metrics.psnr(pred, truth) == pytest.approx(10 * math.log10(255**2 / 100))
    assert metrics.psnr(pred, truth) == pytest.approx(28.1308, abs=1e-4)


def test_psnr_identical_is_infinite():
    image = np.zeros((4, 4, 3), np.uint8)
    assert math.isinf(metrics.psnr(image, image))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="shape mismatch"):
        metrics.ssim(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8))


def test_ssim_identical_is_one(rng):
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert metrics.ssim(image, image) == pytest.approx(1.0)


def test_ssim_matches_scikit_image_reference_call(rng):
    a = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    reference = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255, channel_axis=-1)
    assert metrics.ssim(a, b) == pytest.approx(reference, abs=1e-12)


@pytest.mark.parametrize("side", [1, 2, 5, 10])
def test_ssim_handles_images_smaller_than_the_window(rng, side):
    a = rng.integers(0, 256, (side, side + 3, 3), dtype=np.uint8)
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert -1.0 <= metrics.ssim(a, 255 - a) < 1.0


def test_colourfulness_of_gray_is_zero_and_solid_colour_is_known(rng):
    gray = np.repeat(rng.integers(0, 256, (16, 16, 1), dtype=np.uint8), 3, axis=-1)
    assert metrics.colourfulness(gray) == pytest.approx(0.0)
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200  # rg = 200, yb = 100, no spread
    assert metrics.colourfulness(red) == pytest.approx(0.3 * math.hypot(200, 100))


def test_summary_pools_mse_and_separates_infinite(rng):
    truth = np.full((4, 4, 3), 50, np.uint8)
    summary = ScoreSummary()
    summary.add(score_pair(truth, truth), 16)
    summary.add(score_pair(truth + 10, truth), 16)
    aggregate = summary.aggregate()
    assert aggregate["scored"] == 2 and aggregate["infinite"] == 1
    assert aggregate["psnr_mean"] == pytest.approx(metrics.psnr_from_mse(100))
    assert aggregate["psnr_pooled"] == pytest.approx(metrics.psnr_from_mse(50))


def _hue_wheel(hues_deg, side=40, radius=0.15, luma=0.5):
    """An image made of vertical bands, each one colour of the given hues (CbCr angle) at one
    chroma radius and one luminance."""
    from colorbatch.color import chroma_to_rgb, to_uint8

    bands = np.array_split(np.arange(side), len(hues_deg))
    chroma = np.zeros((side, side, 2), np.float32)
    for hue, columns in zip(hues_deg, bands):
        chroma[:, columns] = radius * np.array([math.cos(math.radians(hue)), math.sin(math.radians(hue))])
    return to_uint8(chroma_to_rgb(np.full((side, side), luma, np.float32), chroma))


def test_hue_hits_gray_scores_zero_and_the_truth_one():
    from colorbatch.scoring.scores import gray_baseline

    truth = _hue_wheel([10, 100, 190, 280])
    assert metrics.hue_hits(truth, truth) == 1.0
    assert metrics.hue_hits(gray_baseline(truth), truth) == 0.0


def test_hue_hits_a_uniform_cast_scores_at_most_one_sectors_share():
    truth = _hue_wheel([15, 105, 195, 285])  # four sectors, 90 degrees apart, a quarter each
    for cast_hue in (15, 60, 105, 200):
        cast = _hue_wheel([cast_hue])
        assert metrics.hue_hits(cast, truth) <= 0.25 + 1e-6


def test_hue_hits_weighs_each_sector_alike_and_ignores_tiny_ones():
    truth = _hue_wheel([15] * 9 + [195])  # a large region and a small one, in other sectors
    half_right = truth.copy()
    half_right[:, 36:] = _hue_wheel([15])[:, 36:]  # the small region painted the large one's colour
    assert metrics.hue_hits(half_right, truth) == pytest.approx(0.5)
    speck = _hue_wheel([15])
    speck[0, 0] = _hue_wheel([195])[0, 0]  # 1 pixel of 1,600: under 2 %, not a sector of its own
    assert metrics.hue_hits(_hue_wheel([15]), speck) == 1.0


def test_hue_hits_of_a_gray_truth_is_undefined_and_left_out_of_means():
    gray = np.full((8, 8, 3), 90, np.uint8)
    assert math.isnan(metrics.hue_hits(gray, gray))
    summary = ScoreSummary()
    summary.add(score_pair(gray, gray), 64)
    truth = _hue_wheel([15])
    summary.add(score_pair(truth, truth), truth.shape[0] * truth.shape[1])
    assert summary.aggregate()["hue_hits_mean"] == 1.0


def test_warping_error_is_zero_for_a_still_clip_and_measures_a_known_shift():
    from colorbatch.video.flow import warp

    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    everywhere = np.ones((20, 30), bool)
    still = np.zeros((20, 30, 2), np.float32)
    assert metrics.warping_error(warp(frame, still), frame, everywhere) == 0.0
    moved = np.roll(frame, 3, axis=1)  # the picture moves 3 px right: frame t's x came from x - 3
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = -3.0
    inside = everywhere.copy()
    inside[:, :3] = False  # pixels that came from outside the previous frame
    assert metrics.warping_error(warp(frame, flow), moved, inside) == 0.0
    # unwarped, the error is the mean squared difference of the two frames, in [0, 1] units
    expected = np.mean(((frame[:, 3:].astype(float) - moved[:, 3:]) / 255.0) ** 2)
    assert metrics.warping_error(frame, moved, inside) == pytest.approx(expected)
    flat = np.full((4, 4, 3), 100, np.uint8)
    assert metrics.warping_error(flat, flat + 51, np.ones((4, 4), bool)) == pytest.approx(0.04)
    assert math.isnan(metrics.warping_error(flat, flat, np.zeros((4, 4), bool)))


def test_colour_distribution_consistency_of_still_and_of_jumping_colour():
    still = [metrics.rgb_histograms(np.full((5, 5, 3), 90, np.uint8))] * 6
    assert metrics.colour_distribution_consistency(still) == 0.0
    # two frames whose every channel takes disjoint values: Jensen-Shannon divergence ln 2, d = 1 only
    jump = [metrics.rgb_histograms(np.full((5, 5, 3), v, np.uint8)) for v in (10, 200)]
    assert metrics.colour_distribution_consistency(jump) == pytest.approx(math.log(2))
    # three frames, A A B: d = 1 gives (0 + ln 2) / 2, d = 2 gives ln 2; the mean over d is 0.75 ln 2
    steps = [jump[0], jump[0], jump[1]]
    assert metrics.colour_distribution_consistency(steps) == pytest.approx(0.75 * math.log(2))
