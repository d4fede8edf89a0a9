"""Colour a person gives: hint images, references, the hint model's layers and the CLI around them."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from colorbatch.chroma_bins import bin_centres, chroma_histogram
from colorbatch.cli import cli
from colorbatch.color import gray_u8, rgb_to_chroma, to_float
from colorbatch.errors import HintError
from colorbatch.files.imaging import Decoded
from colorbatch.hints import read_hint_image, resize_hints, sample_hints
from colorbatch.scoring.metrics import hint_fidelity
from tests.conftest import random_rgb

RED = (230, 20, 30)


def _hint_image(path, size, dabs, mode="RGBA"):
    """A transparent image of ``size`` (width, height) with opaque ``dabs`` [(x, y, side, rgb)]."""
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    for x, y, side, colour in dabs:
        rgba[y:y + side, x:x + side] = (*colour, 255)
    rgba[0, 0] = (0, 255, 0, 127)  # almost opaque, still no hint
    Image.fromarray(rgba, "RGBA").convert(mode).save(path)
    return path


def test_opaque_pixels_are_hints_and_give_only_their_chroma(tmp_path):
    path = _hint_image(tmp_path / "h.png", (40, 30), [(10, 5, 4, RED)])
    plane = read_hint_image(path, (40, 30))
    assert plane.shape == (30, 40, 3)
    assert plane[..., 2].sum() == 16 and plane[5:9, 10:14, 2].all()
    expected = rgb_to_chroma(to_float(np.array(RED, np.uint8)))
    assert np.allclose(plane[5:9, 10:14, :2], expected)
    assert not plane[0, 0].any()  # alpha 127: transparent


def test_a_hint_image_of_another_size_and_the_same_aspect_is_scaled(tmp_path):
    path = _hint_image(tmp_path / "h.webp", (20, 15), [(5, 5, 2, RED)])
    plane = read_hint_image(path, (80, 60))
    assert plane.shape == (60, 80, 3)
    assert plane[20:28, 20:28, 2].all() and plane[..., 2].sum() == 64


@pytest.mark.parametrize("case", ["aspect", "no alpha", "unreadable"])
def test_an_unusable_hint_image_is_refused_naming_the_file(tmp_path, case):
    if case == "aspect":
        path, reason = _hint_image(tmp_path / "h.png", (40, 40), [(1, 1, 2, RED)]), "another aspect ratio"
    elif case == "no alpha":
        path, reason = _hint_image(tmp_path / "h.png", (40, 30), [(1, 1, 2, RED)], mode="RGB"), "no alpha channel"
    else:
        path, reason = tmp_path / "h.png", "cannot be read"
        path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(HintError, match=reason) as caught:
        read_hint_image(path, (40, 30))
    assert str(path) in str(caught.value)


def test_resized_hints_keep_their_chroma_and_where_they_are():
    plane = np.zeros((64, 96, 3), np.float32)
    plane[16:32, 48:64] = (0.2, -0.1, 1.0)
    small = resize_hints(plane, (32, 48))
    assert small[8:16, 24:32, 2].all() and small[..., 2].sum() == 64
    assert np.allclose(small[8:16, 24:32, :2], (0.2, -0.1))
    assert not small[:8].any()


def test_sampled_hints_are_patches_of_the_truths_mean_colour(rng):
    chroma = rgb_to_chroma(to_float(random_rgb(rng, 50, 70)))
    plane = sample_hints(chroma, 3, np.random.default_rng(0), patch=7)
    assert 49 <= plane[..., 2].sum() <= 3 * 49
    assert not sample_hints(chroma, 0, rng)[..., 2].any()
    single = sample_hints(chroma, 1, np.random.default_rng(5), patch=7)
    rows, cols = np.nonzero(single[..., 2])
    window = chroma[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert window.shape[:2] == (7, 7)
    assert np.allclose(single[rows[0], cols[0], :2], window.reshape(-1, 2).mean(0), atol=1e-6)


def test_the_reference_distribution_matches_the_training_soft_encoding(rng):
    from colorbatch.train.bins import soft_encode
    from colorbatch.train.color import rgb_to_chroma as torch_chroma

    rgb = to_float(random_rgb(rng, 24, 36))
    histogram = chroma_histogram(rgb_to_chroma(rgb))
    assert histogram.shape == (len(bin_centres()),) and math.isclose(histogram.sum(), 1.0, rel_tol=1e-5)
    soft = soft_encode(torch_chroma(torch.from_numpy(rgb).permute(2, 0, 1)[None]), torch.from_numpy(bin_centres()))
    assert np.allclose(histogram, soft.mean(dim=(2, 3))[0].numpy(), atol=1e-5)
    # its expectation is the photo's mean chroma
    assert np.allclose(histogram @ bin_centres(), rgb_to_chroma(rgb).reshape(-1, 2).mean(0), atol=1e-4)


def test_hint_fidelity_counts_coloured_hints_whose_hue_the_output_kept():
    hint = np.zeros((4, 4, 4), np.uint8)
    hint[:2, :, :] = (*RED, 255)
    hint[2, 0] = (128, 128, 128, 255)  # a gray hint has no hue: not counted
    pred = np.full((4, 4, 3), 128, np.uint8)
    pred[0] = RED  # a hinted row that kept the hue
    pred[1] = (20, 200, 30)  # one that did not
    assert hint_fidelity(pred, hint) == 0.5
    assert math.isnan(hint_fidelity(pred, np.zeros((4, 4, 4), np.uint8)))


def _tiny_hint_model(seed=0):
    from colorbatch.train.models import create_model

    torch.manual_seed(seed)
    model = create_model("chroma-bins-hints", decoder=(8, 8, 8)).eval()
    with torch.no_grad():  # hint layers away from their zero start, so the test sees them act
        for name, parameter in model.named_parameters():
            if name.startswith(("reference_branch.", "hint_attention.")) and parameter.dim() > 1:
                parameter.normal_(0, 0.2)
        model.reference_branch.tilt_strength.fill_(0.5)
    return model


def test_zero_hints_give_the_automatic_output_exactly():
    from colorbatch.train.models import create_model

    hinted = _tiny_hint_model()
    plain = create_model("chroma-bins", decoder=(8, 8, 8)).eval()
    missing, unexpected = plain.load_state_dict(hinted.state_dict(), strict=False)
    assert not missing and all(k.startswith(("reference_branch.", "hint_attention.")) for k in unexpected)
    gray = torch.rand(2, 1, 45, 70)
    with torch.no_grad():
        automatic = plain(gray)
        zeros = hinted(gray, None, None, torch.zeros(2, 3, 45, 70), torch.zeros(2, len(plain.centres)))
        hints = torch.zeros(2, 3, 45, 70)
        hints[:, 0, 10:17, 20:27], hints[:, 2, 10:17, 20:27] = 0.3, 1.0
        steered = hinted(gray, None, None, hints)
    assert torch.equal(zeros, automatic)
    assert (steered - automatic).abs().amax() > 0.05


@pytest.mark.slow
def test_a_hint_model_exports_with_hint_inputs_that_match_pytorch(tmp_path):
    import onnxruntime as ort

    from colorbatch.export.onnx_export import export_checkpoint
    from colorbatch.train.checkpoint import save_checkpoint

    model = _tiny_hint_model(1)
    save_checkpoint(tmp_path / "h.pth", arch="chroma-bins-hints", arch_kwargs={"decoder": [8, 8, 8]},
                    state_dict=model.state_dict(), epoch=1, train_size=64)
    result = export_checkpoint(tmp_path / "h.pth", tmp_path / "h.onnx", default_vividness=0.2)
    assert result.metadata["hint_inputs"] == "hints,reference"
    assert int(result.metadata["reference_bins"]) == len(model.centres)
    assert any("with hints and references" in check for check in result.checks) and result.max_abs_diff < 1e-4
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["gray", "temperature", "correction", "hints", "reference"]
    rng = np.random.default_rng(3)
    gray = rng.random((2, 1, 50, 77), dtype=np.float32)
    hints = np.zeros((2, 3, 50, 77), np.float32)
    hints[:, :, 5:12, 30:37] = np.array([0.25, -0.2, 1.0], np.float32)[None, :, None, None]
    reference = np.stack([chroma_histogram(rng.uniform(-0.3, 0.3, (100, 2))) for _ in range(2)])
    feeds = {"gray": gray, "temperature": np.ones(1, np.float32), "correction": np.full(1, 0.5, np.float32),
             "hints": hints, "reference": reference}
    with torch.no_grad():
        expected = model(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    assert np.abs(session.run(None, feeds)[0] - expected).max() < 1e-4


# --- the bundled (hint) model through the runtime and the CLI ------------------------------------------------


@pytest.fixture(scope="module")
def hinted_colorizer():
    from colorbatch.api import Colorizer

    colorizer = Colorizer(device="cpu")
    assert colorizer.takes_hints, "the bundled model takes hints"
    return colorizer


def test_hints_and_references_keep_luminance_exactly_and_change_colour(tmp_path, hinted_colorizer, rng):
    rgb = random_rgb(rng, 90, 120)
    gray = gray_u8(rgb)
    hint = _hint_image(tmp_path / "h.png", (120, 90), [(20, 20, 9, RED), (80, 50, 9, (30, 60, 220))])
    automatic = np.asarray(hinted_colorizer.colorize(gray))
    steered = np.asarray(hinted_colorizer.colorize(gray, hints=hint))
    referenced = np.asarray(hinted_colorizer.colorize(gray, reference=Image.new("RGB", (50, 50), RED)))
    for colour in (automatic, steered, referenced):
        assert np.abs(gray_u8(colour).astype(int) - gray).max() <= 1
    assert hint_fidelity(steered, np.asarray(Image.open(hint))) == 1.0
    assert not np.array_equal(automatic, steered)
    redness = [float((c[..., 0].astype(int) - c[..., 2]).mean()) for c in (automatic, referenced)]
    assert redness[1] > redness[0] + 2  # a red reference makes it redder


def test_zero_hints_through_the_runtime_equal_the_automatic_output(hinted_colorizer, rng):
    gray = gray_u8(random_rgb(rng, 64, 80))
    decoded = Decoded(to_float(gray), None)
    with_zero = Decoded(decoded.luma, None, hints=np.zeros((64, 80, 3), np.float32),
                        reference=np.zeros(hinted_colorizer.model.info.reference_bins, np.float32))
    automatic, zero = hinted_colorizer.colorize_same_shape([decoded, with_zero])
    assert np.array_equal(automatic, zero)


def _gray_tree(root, rng, names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(random_rgb(rng, 48, 64))).save(path)


def test_a_hint_tree_mirrors_input_and_a_broken_hint_fails_its_photo_alone(tmp_path, rng):
    _gray_tree(tmp_path / "in", rng, ["a/one.jpg", "a/two.png", "three.png"])
    hints = tmp_path / "hints"
    (hints / "a").mkdir(parents=True)
    _hint_image(hints / "a" / "one.png", (64, 48), [(10, 10, 7, RED)])
    _hint_image(hints / "a" / "two.png", (64, 64), [(10, 10, 7, RED)])  # another aspect ratio
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), "--hints", str(hints),
                                      "--reference", str(tmp_path / "in" / "three.png"), "--device", "cpu"])
    assert result.exit_code == 3, result.output
    assert "a/two.png" in result.output and "another aspect ratio" in result.output
    assert (tmp_path / "out" / "a" / "one.png").is_file() and (tmp_path / "out" / "three.png").is_file()
    assert not (tmp_path / "out" / "a" / "two.png").exists()
    one = np.asarray(Image.open(tmp_path / "out" / "a" / "one.png").convert("RGB"))
    assert hint_fidelity(one, np.asarray(Image.open(hints / "a" / "one.png"))) == 1.0


def test_hint_paths_that_cannot_work_are_refused_before_any_work(tmp_path, rng):
    _gray_tree(tmp_path / "in", rng, ["x.png"])
    hint = _hint_image(tmp_path / "h.png", (64, 48), [(1, 1, 3, RED)])
    for args, message in ((["--hints", str(hint)], "a hint image is for a one-file run"),
                          (["--reference", str(tmp_path / "missing.jpg")], "no such file or folder")):
        result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), *args])
        assert result.exit_code == 2 and message in result.output
        assert not (tmp_path / "out").exists()


def test_a_model_without_hint_inputs_refuses_hints_with_exit_code_13(tmp_path, rng, tiny_onnx):
    _gray_tree(tmp_path / "in", rng, ["x.png"])
    hint = _hint_image(tmp_path / "h.png", (64, 48), [(1, 1, 3, RED)])
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in" / "x.png"), str(tmp_path / "out"), "--hints",
                                      str(hint), "--model", str(tiny_onnx)])
    assert result.exit_code == 13
    assert "takes no hints" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_photo_without_a_hint_file_is_coloured_exactly_as_without_hints(tmp_path, rng):
    _gray_tree(tmp_path / "in", rng, ["dabbed.png", "plain.png"])
    (tmp_path / "hints").mkdir()
    _hint_image(tmp_path / "hints" / "dabbed.png", (64, 48), [(10, 10, 7, RED)])
    for name, extra in (("auto", []), ("hinted", ["--hints", str(tmp_path / "hints")])):
        result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / name), "--device", "cpu",
                                          *extra])
        assert result.exit_code == 0, result.output
    auto, hinted = (np.asarray(Image.open(tmp_path / n / "plain.png")) for n in ("auto", "hinted"))
    assert np.array_equal(auto, hinted)
    dabbed = [np.asarray(Image.open(tmp_path / n / "dabbed.png")) for n in ("auto", "hinted")]
    assert not np.array_equal(*dabbed)  # the hint tree was read: its one file steered its photo


# --- keyframes ---------------------------------------------------------------------------------------------------


def test_keyframes_are_named_as_their_frames(tmp_path):
    from colorbatch.video.keyframes import sequence_keyframes, video_keyframes

    frames = [tmp_path / "in" / "shot" / f"frame_{i:03d}.png" for i in range(3)]
    keys = tmp_path / "keys"
    (keys / "shot").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(keys / "shot" / "frame_002.jpg")
    assert sequence_keyframes(keys, Path("shot"), frames) == {2: keys / "shot" / "frame_002.jpg"}
    Image.new("RGB", (8, 8)).save(keys / "shot" / "frame_009.png")
    with pytest.raises(HintError, match=r"frame_009\.png: keyframe matches no frame"):
        sequence_keyframes(keys, Path("shot"), frames)

    (keys / "films" / "reel").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(keys / "films" / "reel" / "000120.png")
    assert video_keyframes(keys, Path("films/reel.mp4"), single=False) == {120: keys / "films" / "reel" / "000120.png"}
    assert video_keyframes(keys, Path("other.mp4"), single=False) == {}
    Image.new("RGB", (8, 8)).save(keys / "000007.png")
    assert video_keyframes(keys, Path("other.mp4"), single=True) == {7: keys / "000007.png"}
    Image.new("RGB", (8, 8)).save(keys / "cover.png")
    with pytest.raises(HintError, match="0-based frame number"):
        video_keyframes(keys, Path("other.mp4"), single=True)


def test_a_keyframe_sets_the_reference_of_its_shot_until_a_cut(tmp_path):
    from colorbatch.video.keyframes import KeyframeTrack

    Image.new("RGB", (16, 12), RED).save(tmp_path / "k.png")
    track = KeyframeTrack({1: tmp_path / "k.png", 9: tmp_path / "k.png"})
    dark, light = np.full((12, 16), 0.2, np.float32), np.full((12, 16), 0.8, np.float32)
    assert track.frame(0, dark) == (None, None)
    key, reference = track.frame(1, dark)
    assert key.chroma.shape == (12, 16, 2) and np.allclose(key.chroma, rgb_to_chroma(to_float(np.array(RED, np.uint8))))
    assert track.frame(2, dark)[1] is reference  # the same shot
    assert track.frame(3, light) == (None, None)  # a cut ends it
    with pytest.raises(HintError, match=r"k\.png: keyframe matches no frame"):
        track.check_all_used()


def _sequence(root, rng, count=6):
    base = random_rgb(rng, 60, 90)
    for i in range(count):
        frame = np.roll(base, 2 * i, axis=1)
        path = root / "shot" / f"frame_{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(frame)).save(path)
    return base


def test_a_keyframe_colours_its_frame_and_the_frames_after_it(tmp_path, rng):
    base = _sequence(tmp_path / "in", rng)
    keys = tmp_path / "keys" / "shot"
    keys.mkdir(parents=True)
    Image.fromarray(base).save(keys / "frame_0000.png")
    for name, extra in (("auto", []), ("keyed", ["--keyframes", str(tmp_path / "keys")])):
        result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / name), "--sequence",
                                          "--device", "cpu", *extra])
        assert result.exit_code == 0, result.output

    def frame(name, i):
        return np.asarray(Image.open(tmp_path / name / "shot" / f"frame_{i:04d}.png").convert("RGB"))

    truth_chroma = rgb_to_chroma(to_float(base))
    for i in range(6):
        gray = np.asarray(Image.open(tmp_path / "in" / "shot" / f"frame_{i:04d}.png"))
        assert np.abs(gray_u8(frame("keyed", i)).astype(int) - gray).max() <= 1
    assert np.abs(rgb_to_chroma(to_float(frame("keyed", 0))) - truth_chroma).mean() < 0.01
    errors = [np.abs(rgb_to_chroma(to_float(frame(name, 5)))[:, 12:] - truth_chroma[:, 2:80]).mean()
              for name in ("auto", "keyed")]
    assert errors[1] < 0.75 * errors[0]  # five frames on, the keyframe's colour is still there


def test_a_keyframe_that_matches_no_frame_fails_its_clip_and_writes_nothing(tmp_path, rng):
    _sequence(tmp_path / "in", rng, count=3)
    keys = tmp_path / "keys" / "shot"
    keys.mkdir(parents=True)
    Image.new("RGB", (90, 60), RED).save(keys / "frame_0042.png")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), "--sequence",
                                      "--keyframes", str(tmp_path / "keys"), "--device", "cpu"])
    assert result.exit_code == 3
    assert "frame_0042.png: keyframe matches no frame" in result.output
    assert not list((tmp_path / "out").rglob("*.png"))


# --- teaching a model to take hints ------------------------------------------------------------------------------


@pytest.mark.slow
def test_hint_training_trains_the_hint_layers_alone_resumes_and_rebuilds_its_model(tmp_path):
    from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint
    from colorbatch.train.onnx_import import network_from_onnx
    from tests.test_bins import TINY_BINS, bins_onnx_for

    exported = bins_onnx_for(tmp_path / "bins")
    args = ["train-hints", "--init", str(exported.path), "--data", str(exported.path.parent / "data"),
            "--out", str(tmp_path / "run"), "--samples", "8", "--batch-size", "4", "--sizes", "32", "--square", "32",
            "--cache", str(tmp_path / "squares.npy"), "--lr", "1e-2", "--log-every", "1", "--save-every", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = load_checkpoint(tmp_path / "run" / "last.pth")
    assert payload["step"] == 2 and payload["arch"] == "chroma-bins-hints"
    assert payload["config"]["samples"] == 8 and payload["config"]["init"] == str(exported.path)
    rebuilt = model_from_checkpoint(payload)  # the checkpoint alone rebuilds its model (strict weights)
    assert rebuilt.takes_hints and "hints" not in payload["arch_kwargs"]
    assert payload["arch_kwargs"]["decoder"] == list(TINY_BINS["decoder"])
    base, _, _ = network_from_onnx(exported.path)
    state = payload["state_dict"]
    for key, value in base.state_dict().items():
        assert torch.equal(state[key], value), key  # the automatic network is frozen
    assert state["reference_branch.mlp.2.weight"].abs().sum() > 0  # it starts at zero
    assert state["hint_attention.null"] != 2.0
    again = CliRunner().invoke(cli, [*args[:-10], "--samples", "12", "--resume"])
    assert again.exit_code == 0, again.output
    resumed = load_checkpoint(tmp_path / "run" / "last.pth")
    assert resumed["step"] == 3 and resumed["config"]["samples"] == 12 and resumed["config"]["lr"] == 1e-2
    missing = CliRunner().invoke(cli, [*args[:5], "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r2"),
                                       "--cache", str(tmp_path / "none.npy")])
    assert missing.exit_code == 6 and "no such folder" in missing.output and "Traceback" not in missing.output


def test_the_reference_fit_moves_the_decoded_colours_to_the_references_proportions():
    from colorbatch.train.hint_layers import fit_to_reference

    torch.manual_seed(0)
    # constant over 2 x 2 blocks: the fit measures shares on every other position
    logits = (torch.randn(2, 6, 4, 4) * 2).repeat_interleave(2, 2).repeat_interleave(2, 3)
    reference = torch.tensor([[0.5, 0.3, 0.2, 0.0, 0.0, 0.0], [0.0] * 6])
    fitted = fit_to_reference(logits, reference, torch.tensor([0.8]))
    assert torch.equal(fitted[1], logits[1] / 0.8)  # no reference: exactly today's decoding
    before = torch.softmax(logits[0], 0).mean((1, 2))
    after = torch.softmax(fitted[0], 0).mean((1, 2))
    assert (after - reference[0]).abs().sum() < 0.1 < (before - reference[0]).abs().sum()


@pytest.mark.slow
def test_the_bundled_model_imports_back_to_a_checkpoint_of_the_hint_model(tmp_path):
    import onnxruntime as ort

    from colorbatch.inference.modelinfo import bundled_model_path
    from colorbatch.inference.vividness import decoding_for, parse_curve
    from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint

    result = CliRunner().invoke(cli, ["import-onnx", str(bundled_model_path()), "-o", str(tmp_path / "b.pth")])
    assert result.exit_code == 0 and "chroma-bins-hints" in result.output, result.output
    payload = load_checkpoint(tmp_path / "b.pth")
    model = model_from_checkpoint(payload)  # the checkpoint alone rebuilds the model
    assert payload["arch"] == "chroma-bins-hints" and model.takes_hints
    session = ort.InferenceSession(str(bundled_model_path()), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    decoding = decoding_for(float(meta["default_vividness"]), parse_curve(meta["vividness_curve"]))
    rng = np.random.default_rng(0)
    hints = np.zeros((1, 3, 64, 96), np.float32)
    hints[0, :, 20:27, 30:37] = np.array([0.2, -0.1, 1.0], np.float32)[:, None, None]
    feeds = {"gray": rng.random((1, 1, 64, 96), dtype=np.float32), "temperature": decoding["temperature"],
             "correction": decoding["correction"], "hints": hints,
             "reference": np.zeros((1, int(meta["reference_bins"])), np.float32)}
    with torch.no_grad():
        expected = model(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    assert np.abs(session.run(None, feeds)[0] - expected).max() < 1e-3
    bad = CliRunner().invoke(cli, ["import-onnx", str(tmp_path / "b.pth"), "-o", str(tmp_path / "c.pth")])
    assert bad.exit_code == 7 and "not an ONNX model" in bad.output


def test_a_recoloured_region_keeps_luminance_and_its_dab_lies_inside_it():
    from colorbatch.color import luminance
    from colorbatch.samples import sample_images
    from colorbatch.train.hint_training import dab_inside, recolour_region

    crop = to_float(np.asarray(Image.fromarray(sample_images(("coffee",))["coffee"]).resize((128, 96))))
    recoloured, mask = recolour_region(crop, np.random.default_rng(2))
    assert 0.02 <= mask.mean() <= 0.4
    assert np.abs(luminance(recoloured) - luminance(crop)).max() < 1.5 / 255  # only the colour changes
    assert np.array_equal(recoloured[~mask], crop[~mask])
    before, after = (rgb_to_chroma(image)[mask].mean(axis=0) for image in (crop, recoloured))
    cosine = float(before @ after / (np.linalg.norm(before) * np.linalg.norm(after)))
    assert cosine < 0.05 and np.linalg.norm(after) >= 15 / 255  # turned by 90 degrees or more, still coloured
    plane = np.zeros((*mask.shape, 3), np.float32)
    dab_inside(plane, rgb_to_chroma(recoloured), mask, np.random.default_rng(3))
    hinted = plane[..., 2] > 0
    assert 9 <= hinted.sum() <= 49 and mask[hinted].all()
