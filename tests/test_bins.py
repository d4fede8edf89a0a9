"""Chroma bins: soft encoding, rebalancing, annealed-mean decoding, and the chroma-bins model and
its exported graph with decoding inputs (vividness)."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from colorbatch.inference.vividness import DEFAULT_CURVE, CurveError, decoding_for, parse_curve
from colorbatch.scoring import metrics
from colorbatch.train.bins import (
    STEP,
    annealed_mean,
    bin_centres,
    rebalancing_weights,
    smoothed_prior,
    soft_encode,
)
from colorbatch.train.color import chroma_to_rgb, luminance, rgb_to_chroma
from colorbatch.train.models import create_model
from tests.conftest import random_rgb, write_color_tree

pytestmark = pytest.mark.slow  # trains and exports chroma-bins models

CENTRES = torch.from_numpy(bin_centres())
TINY_BINS = {"decoder": (8, 8, 8)}


def _real_chroma(rng, n=4, side=16):
    rgb = torch.from_numpy(np.stack([random_rgb(rng, side, side) for _ in range(n)])).float() / 255
    return rgb_to_chroma(rgb.permute(0, 3, 1, 2))


def test_every_reachable_colour_has_its_four_corners_among_the_bins(rng):
    assert 300 <= len(CENTRES) <= 400  # a 0.05 lattice over the reachable CbCr region
    levels = np.linspace(0, 1, 17, dtype=np.float32)
    rgb = torch.from_numpy(np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), 0).reshape(1, 3, 17, -1))
    target = soft_encode(rgb_to_chroma(rgb), CENTRES)
    expectation = torch.nn.functional.conv2d(target, CENTRES.t().reshape(2, -1, 1, 1))
    assert torch.allclose(expectation, rgb_to_chroma(rgb), atol=1e-5)  # no corner was missing


def test_soft_encoding_sums_to_one_and_its_mean_is_the_chroma(rng):
    chroma = _real_chroma(rng)
    target = soft_encode(chroma, CENTRES)
    assert target.shape == (4, len(CENTRES), 16, 16)
    assert torch.allclose(target.sum(1), torch.ones(4, 16, 16), atol=1e-5)
    assert int((target > 0).sum(1).max()) <= 4
    expectation = torch.nn.functional.conv2d(target, CENTRES.t().reshape(2, -1, 1, 1))
    assert torch.allclose(expectation, chroma, atol=1e-5)


def test_pooled_soft_encoding_is_the_mean_of_the_block_distributions(rng):
    chroma = _real_chroma(rng, side=8)
    pooled = soft_encode(chroma, CENTRES, pool=4)
    assert pooled.shape == (4, len(CENTRES), 2, 2)
    full = soft_encode(chroma, CENTRES)
    assert torch.allclose(pooled, torch.nn.functional.avg_pool2d(full, 4), atol=1e-6)


def test_annealed_mean_at_t1_is_the_expectation_and_colder_is_more_colourful():
    torch.manual_seed(0)
    logits = torch.randn(2, len(CENTRES), 8, 8) * 2
    probabilities = torch.softmax(logits, 1)
    expectation = torch.einsum("nqhw,qc->nchw", probabilities, CENTRES)
    assert torch.allclose(annealed_mean(logits, CENTRES, 1.0), expectation, atol=1e-6)
    gray = torch.full((2, 1, 8, 8), 0.5)

    def colourfulness(temperature):
        rgb = chroma_to_rgb(gray, annealed_mean(logits, CENTRES, temperature))
        return np.mean([metrics.colourfulness(img.permute(1, 2, 0).numpy() * 255) for img in rgb])

    values = [colourfulness(t) for t in (1.0, 0.6, 0.3, 0.1)]
    assert values == sorted(values) and values[-1] > 2 * values[0]


def test_correction_removes_the_rebalancing_tilt():
    prior = torch.softmax(torch.randn(len(CENTRES)) * 3, 0)
    weights = rebalancing_weights(prior, strength=1.0)
    assert float((prior * weights).sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(weights[prior.argmin()]) > float(weights[prior.argmax()])
    tilted = torch.log(prior * weights).view(1, -1, 1, 1)  # what rebalanced training converges to
    unbiased = annealed_mean(tilted, CENTRES, 1.0, weights.log(), correction=1.0)
    assert torch.allclose(unbiased.flatten(), (prior[:, None] * CENTRES).sum(0), atol=1e-5)
    assert not torch.allclose(annealed_mean(tilted, CENTRES, 1.0, weights.log(), 0.0), unbiased, atol=1e-3)


def test_smoothed_prior_is_a_distribution_that_spreads_mass():
    counts = torch.zeros(len(CENTRES))
    counts[len(CENTRES) // 2] = 100.0
    prior = smoothed_prior(counts, CENTRES, STEP, sigma=1.0)
    assert float(prior.sum()) == pytest.approx(1.0, abs=1e-5)
    assert int((prior > 1e-3).sum()) >= 5


def test_chroma_bins_keeps_luminance_at_every_decoding_and_any_size():
    model = create_model("chroma-bins", **TINY_BINS).eval()
    gray = torch.rand(2, 1, 37, 50)
    for temperature, correction in ((1.0, 1.0), (1.0, 0.0), (0.3, 0.0)):
        with torch.no_grad():
            rgb = model(gray, torch.tensor([temperature]), torch.tensor([correction]))
        assert rgb.shape == (2, 3, 37, 50)
        assert torch.allclose(luminance(rgb), gray, atol=1e-5)


def test_vividness_curve_parsing_and_interpolation():
    assert parse_curve("[[0, 1, 1], [1, 0.5, 0]]") == ((0.0, 1.0, 1.0), (1.0, 0.5, 0.0))
    middle = decoding_for(0.25, DEFAULT_CURVE)
    assert middle["temperature"].shape == (1,) and middle["temperature"].dtype == np.float32
    assert float(middle["correction"][0]) == pytest.approx(0.5)
    assert float(decoding_for(1.0, DEFAULT_CURVE)["temperature"][0]) == pytest.approx(0.4)
    for bad in ("[[0, 1, 1]]", "[[0.2, 1, 1], [1, 1, 0]]", "[[0, 1, 1], [1, 0, 0]]", "[[0, 1], [1, 1]]"):
        with pytest.raises(CurveError):
            parse_curve(bad)
    with pytest.raises(CurveError):
        decoding_for(1.5)


@pytest.fixture(scope="module")
def bins_onnx(tmp_path_factory):
    """A chroma-bins model (tiny decoder) trained one epoch on made-up 32 px photos, then exported."""
    return bins_onnx_for(tmp_path_factory.mktemp("bins"))


def bins_onnx_for(root):
    from colorbatch.export.onnx_export import export_checkpoint
    from colorbatch.train.trainer import TrainConfig, train

    write_color_tree(root / "data", 48, seed=3)
    config = TrainConfig(data=str(root / "data"), out=str(root / "run"), arch="chroma-bins", arch_kwargs=TINY_BINS,
                         epochs=1, batch_size=16, eval_every=1, loss={"mse": 0.0, "bins": 1.0}, rebalance=0.5)
    train(config)
    curve = "[[0, 1, 1], [0.5, 1, 0], [1, 0.3, 0]]"
    result = export_checkpoint(root / "run" / "param" / "last.pth", root / "bins.onnx", vividness_curve=curve,
                               default_vividness=0.5)
    return result


def test_exported_chroma_bins_matches_pytorch_at_two_temperatures(bins_onnx):
    from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint

    session = ort.InferenceSession(str(bins_onnx.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["gray", "temperature", "correction"]
    model = model_from_checkpoint(load_checkpoint(bins_onnx.path.parent / "run" / "param" / "last.pth"))
    gray = np.random.default_rng(0).random((2, 1, 40, 29), dtype=np.float32)
    outputs = []
    for temperature, correction in ((1.0, 1.0), (0.3, 0.0)):
        feeds = {"gray": gray, "temperature": np.array([temperature], np.float32),
                 "correction": np.array([correction], np.float32)}
        got = session.run(None, feeds)[0]
        with torch.no_grad():
            expected = model(torch.from_numpy(gray), torch.tensor([temperature]), torch.tensor([correction])).numpy()
        assert np.abs(got - expected).max() < 1e-4
        outputs.append(got)
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-3  # the temperature input reaches the output
    assert bins_onnx.metadata["default_vividness"] == "0.5"
    assert any("temperature 0.3" in line for line in bins_onnx.checks)


def test_fine_tuning_keeps_its_own_rebalancing_strength(bins_onnx):
    """--init takes the learned weights; the rebalancing weights follow this run's --rebalance."""
    from colorbatch.train.checkpoint import load_checkpoint
    from colorbatch.train.trainer import TrainConfig, Trainer

    root = bins_onnx.path.parent
    checkpoint = root / "run" / "param" / "last.pth"
    source = load_checkpoint(checkpoint)["state_dict"]
    config = TrainConfig(data=str(root / "data"), out=str(root / "tuned"), arch="chroma-bins",
                         arch_kwargs=TINY_BINS, epochs=1, batch_size=16, loss={"mse": 0.0, "bins": 1.0},
                         rebalance=0.0)
    trainer = Trainer(config)
    trainer.init_weights(checkpoint)
    learned = {name: value for name, value in trainer.model.state_dict().items() if name != "log_weights"}
    assert all(torch.equal(value.cpu(), source[name]) for name, value in learned.items())
    assert torch.allclose(trainer.model.log_weights, torch.zeros_like(trainer.model.log_weights), atol=1e-6)
    assert source["log_weights"].abs().max() > 0.1  # the 0.5-strength run's tilt was not carried over


def test_fine_tuning_with_a_class_loss_grows_its_own_class_head(bins_onnx):
    """--init from a model without a class head (an exported one, imported back) into a run with
    --class-loss-weight: every other weight is taken, the head is this run's own; --resume stays strict."""
    from colorbatch.errors import CheckpointError
    from colorbatch.train.checkpoint import load_checkpoint
    from colorbatch.train.trainer import TrainConfig, Trainer

    root = bins_onnx.path.parent
    checkpoint = root / "run" / "param" / "last.pth"
    source = load_checkpoint(checkpoint)
    assert "num_classes" not in source["arch_kwargs"]
    config = TrainConfig(data=str(root / "data"), out=str(root / "classes"), arch="chroma-bins",
                         arch_kwargs=TINY_BINS, epochs=1, batch_size=16,
                         loss={"mse": 0.0, "bins": 1.0, "class_loss": 0.3}, rebalance=0.5)
    trainer = Trainer(config)
    assert trainer.config.arch_kwargs["num_classes"] == 2  # the tree's two class folders
    head = {name: value.clone() for name, value in trainer.model.state_dict().items() if name.startswith("classifier.")}
    trainer.init_weights(checkpoint)
    state = trainer.model.state_dict()
    assert head and all(torch.equal(state[name], value) for name, value in head.items())
    shared = [name for name in source["state_dict"] if name != "log_weights"]
    assert all(torch.equal(state[name].cpu(), source["state_dict"][name]) for name in shared)
    with pytest.raises(CheckpointError, match="same architecture"):
        trainer.resume(checkpoint)


def test_vividness_end_to_end_keeps_luminance_and_is_recorded(tmp_path, bins_onnx, rng):
    src = tmp_path / "gray"
    src.mkdir()
    truth = tmp_path / "truth"
    truth.mkdir()
    for i in range(3):
        colour = random_rgb(rng, 40, 56)
        Image.fromarray(colour).save(truth / f"p{i}.png")
        Image.fromarray(gray_u8(colour)).save(src / f"p{i}.png")
    outputs = {}
    for vividness in ("0", "0.5", "1"):
        out = tmp_path / f"out{vividness}"
        report = tmp_path / f"r{vividness}.json"
        result = CliRunner().invoke(cli, ["run", str(src), str(out), "--model", str(bins_onnx.path),
                                          "--vividness", vividness, "--truth", str(truth), "--report", str(report),
                                          "--device", "cpu"])
        assert result.exit_code == 0, result.output
        assert f"vividness {float(vividness):g}" in result.output
        import json

        assert json.loads(report.read_text())["vividness"] == float(vividness)
        for i in range(3):
            produced = np.asarray(Image.open(out / f"p{i}.png").convert("RGB"))
            expected_gray = np.asarray(Image.open(src / f"p{i}.png"))
            assert np.abs(gray_u8(produced).astype(int) - expected_gray).max() <= 1
        outputs[vividness] = np.asarray(Image.open(out / "p0.png"), dtype=int)
    assert np.abs(outputs["0"] - outputs["1"]).max() > 0


def test_vividness_needs_a_distribution_model(tmp_path, tiny_onnx):
    image = tmp_path / "in" / "a.png"
    image.parent.mkdir()
    Image.new("L", (16, 16), 100).save(image)
    result = CliRunner().invoke(cli, ["run", str(image.parent), str(tmp_path / "out"), "--model", str(tiny_onnx),
                                      "--vividness", "0.5"])
    assert result.exit_code == 4 and "no vividness control" in result.output
    result = CliRunner().invoke(cli, ["run", str(image.parent), str(tmp_path / "out"), "--vividness", "1.5"])
    assert result.exit_code == 2


def test_the_pretrained_encoder_loads_imagenet_weights_into_a_gray_stem():
    from colorbatch.train.encoders import EfficientLite0Encoder, load_pretrained_lite0, pretrained_lite0_path

    state = torch.load(pretrained_lite0_path(), map_location="cpu", weights_only=True)
    encoder = EfficientLite0Encoder()
    load_pretrained_lite0(encoder)
    assert torch.equal(encoder._conv_stem.weight, state["_conv_stem.weight"].sum(1, keepdim=True))
    assert torch.equal(encoder._blocks[15]._project_conv.weight, state["_blocks.15._project_conv.weight"])
    features = encoder.eval()(torch.rand(1, 1, 64, 96))
    assert [tuple(f.shape[1:]) for f in features] == [(16, 32, 48), (24, 16, 24), (40, 8, 12), (112, 4, 6),
                                                      (320, 2, 3)]


def test_the_bundled_model_has_a_vividness_control_and_keeps_luminance(rng):
    from colorbatch.api import Colorizer

    gray = gray_u8(random_rgb(rng, 120, 90))
    outputs = []
    for vividness in (0.0, None, 1.0):
        colorizer = Colorizer(device="cpu", vividness=vividness)
        assert colorizer.model.info.arch == "chroma-bins"
        assert colorizer.vividness == (vividness if vividness is not None else colorizer.model.info.default_vividness)
        colour = np.asarray(colorizer.colorize(gray))
        assert colour.shape == (120, 90, 3)
        assert np.abs(gray_u8(colour).astype(int) - gray).max() <= 1
        outputs.append(metrics.colourfulness(colour.astype(np.float32)))
    assert outputs[0] < outputs[1] < outputs[2]  # vividness 0 < the default < 1


def test_an_exported_model_imports_back_to_a_checkpoint_that_fine_tunes_from_the_same_function(tmp_path, bins_onnx):
    from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint
    from colorbatch.train.onnx_import import _calibration_batch, checkpoint_from_onnx

    data = bins_onnx.path.parent / "data"
    info = checkpoint_from_onnx(bins_onnx.path, tmp_path / "imported.pth", calibrate_on=data)
    assert info["arch_kwargs"] == {"decoder": [8, 8, 8]}  # the class head (never exported) is left out
    model = model_from_checkpoint(load_checkpoint(tmp_path / "imported.pth"))
    session = ort.InferenceSession(str(bins_onnx.path), providers=["CPUExecutionProvider"])
    gray = np.random.default_rng(1).random((2, 1, 40, 29), dtype=np.float32)
    for temperature, correction in ((1.0, 1.0), (0.3, -1.0)):
        feeds = {"gray": gray, "temperature": np.array([temperature], np.float32),
                 "correction": np.array([correction], np.float32)}
        with torch.no_grad():
            imported = model(torch.from_numpy(gray), torch.tensor([temperature]), torch.tensor([correction])).numpy()
        assert np.abs(session.run(None, feeds)[0] - imported).max() < 1e-4
    # Calibrated: training mode (batch statistics) computes what eval mode does on the calibration batch.
    calibration = _calibration_batch(data, int(bins_onnx.metadata["train_size"]))
    with torch.no_grad():
        evaluated = model.bin_logits(calibration)[0]
        model.train()
        trained = model.bin_logits(calibration)[0]
    assert (trained - evaluated).abs().max() < 1e-3 * evaluated.abs().max()


def test_the_bundled_model_computes_what_its_pytorch_network_does():
    """Export parity of the shipped file: its weights, loaded back into the PyTorch architecture
    its metadata names, give the same colours as onnxruntime at both ends of the vividness curve."""
    from colorbatch.inference.modelinfo import bundled_model_path
    from colorbatch.train.onnx_import import network_from_onnx

    path = bundled_model_path()
    model, _, meta = network_from_onnx(path)
    model.eval()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    gray = rng.random((2, 1, 96, 72), dtype=np.float32)
    steering = {}
    if "hint_inputs" in meta:  # with hints and a reference in the second image (the first has none)
        from colorbatch.chroma_bins import chroma_histogram
        from colorbatch.hints import sample_hints

        hints = np.zeros((2, 3, 96, 72), np.float32)
        hints[1] = sample_hints(rng.uniform(-0.3, 0.3, (96, 72, 2)), 10, rng).transpose(2, 0, 1)
        reference = np.zeros((2, int(meta["reference_bins"])), np.float32)
        reference[1] = chroma_histogram(rng.uniform(-0.3, 0.3, (500, 2)))
        steering = {"hints": hints, "reference": reference}
    curve = json.loads(meta["vividness_curve"])
    for _, temperature, correction in (curve[0], curve[-1]):
        feeds = {"gray": gray, "temperature": np.array([temperature], np.float32),
                 "correction": np.array([correction], np.float32), **steering}
        with torch.no_grad():
            expected = model(*(torch.from_numpy(value) for value in feeds.values())).numpy()
        assert np.abs(session.run(None, feeds)[0] - expected).max() < 1e-3  # fp16-stored weights, fp32 arithmetic


def test_a_chroma_bins_model_quantises_with_its_decoding_inputs(tmp_path, bins_onnx):
    import shutil

    import onnx

    from colorbatch.export.quantize import quantize_variants

    fp32 = tmp_path / "bins.onnx"
    shutil.copy(bins_onnx.path, fp32)
    lines = quantize_variants(fp32, fp16=False, int8=True, calib=bins_onnx.path.parent / "data")
    int8 = tmp_path / "bins.int8.onnx"
    assert len(lines) == 1 and "(int8)" in lines[0] and "PSNR" in lines[0]
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["gray", "temperature", "correction"]
    assert any(node.op_type == "QuantizeLinear" for node in onnx.load(str(int8)).graph.node)


def test_only_chroma_bins_exports_import(tmp_path, bins_onnx):
    import onnx

    from colorbatch.errors import CheckpointError
    from colorbatch.train.onnx_import import checkpoint_from_onnx

    proto = onnx.load(str(bins_onnx.path))
    next(p for p in proto.metadata_props if p.key == "arch").value = "chroma-unet"
    onnx.save(proto, str(tmp_path / "other.onnx"))
    with pytest.raises(CheckpointError, match="only chroma-bins"):
        checkpoint_from_onnx(tmp_path / "other.onnx", tmp_path / "x.pth", calibrate_on=tmp_path)
    assert not (tmp_path / "x.pth").exists()


def test_a_chroma_bins_run_records_and_plots_the_loss_it_trained(bins_onnx):
    """history.csv has the bins term it trained on; terms it never computed are blank, not 0."""
    import csv

    from colorbatch.train.artefacts import trained_terms
    from colorbatch.train.checkpoint import load_checkpoint

    run = bins_onnx.path.parent / "run"
    with open(run / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(float(row["train_bins"]) > 0 and float(row["val_bins"]) > 0 for row in rows)
    assert all(row["train_vgg"] == "" and row["train_mse"] == "" and row["val_l2"] == "" for row in rows)
    history = load_checkpoint(run / "param" / "last.pth")["history"]
    assert trained_terms(history) == ["bins"]
    assert (run / "loss" / "loss.png").is_file()
