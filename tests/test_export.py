import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from colorbatch.cli import cli
from colorbatch.errors import CheckpointError, ExportError, InvalidPathError, ModelError
from colorbatch.export.onnx_export import export_checkpoint
from colorbatch.inference.modelinfo import describe
from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from colorbatch.train.models import create_model

pytestmark = pytest.mark.slow  # exports and verifies ONNX models


def _checkpoint(path, arch, **kwargs):
    model = create_model(arch, **kwargs)
    save_checkpoint(path, arch=arch, arch_kwargs=kwargs, state_dict=model.state_dict(), epoch=3,
                    metrics={"validation": {"psnr_mean": 20.0}}, train_size=32)
    return path


@pytest.fixture(scope="module")
def seed_onnx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed")
    ckpt = _checkpoint(folder / "seed.pth", "seed-unet", widths=(4, 4, 8, 8, 8))
    return ckpt, export_checkpoint(ckpt)


def _max_diff(checkpoint, onnx_path, shape):
    model = model_from_checkpoint(load_checkpoint(checkpoint))
    gray = np.random.default_rng(0).random(shape, dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(gray)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"gray": gray})[0]
    assert got.shape == (shape[0], 3, *shape[2:])
    return float(np.abs(expected - got).max())


@pytest.mark.parametrize("shape", [(1, 1, 32, 32), (4, 1, 32, 32), (2, 1, 48, 80), (3, 1, 17, 29)])
def test_chroma_unet_onnx_matches_pytorch(tiny_checkpoint, tiny_onnx, shape):
    assert _max_diff(tiny_checkpoint, tiny_onnx, shape) < 1e-4


@pytest.mark.parametrize("shape", [(1, 1, 32, 32), (5, 1, 64, 96)])
def test_seed_unet_onnx_matches_pytorch(seed_onnx, shape):
    checkpoint, result = seed_onnx
    assert result.path == checkpoint.with_suffix(".onnx")  # default: beside the checkpoint
    assert _max_diff(checkpoint, result.path, shape) < 1e-4


def test_metadata_round_trips_through_info(tiny_checkpoint, tiny_onnx, seed_onnx):
    facts = describe(tiny_onnx)
    payload = load_checkpoint(tiny_checkpoint)
    assert facts["arch"] == "chroma-unet"
    assert json.loads(facts["arch_kwargs"]) == payload["arch_kwargs"]
    assert facts["train_size"] == "32" and facts["size_multiple"] == "1"
    assert facts["working_size"] == "32" and facts["min_size"] == "32"  # both default to the training size
    assert json.loads(facts["training_metrics"])["validation"]["psnr_mean"] == pytest.approx(
        payload["metrics"]["validation"]["psnr_mean"])
    assert len(facts["source_sha256"]) == 64 and facts["colorbatch_version"]
    assert facts["inputs"] == "gray (batch, 1, height, width)"
    seed = describe(seed_onnx[1].path)
    assert seed["size_multiple"] == "32" and "multiples of 32" in seed["size_constraint"]
    result = CliRunner().invoke(cli, ["info", str(tiny_onnx)])
    assert result.exit_code == 0 and "chroma-unet" in result.output and "parameters" in result.output
    assert facts["terms"].startswith("not stated at export")  # a model inherits its data's terms: say so


def test_export_writes_the_terms_given_and_info_shows_the_bundled_models(tiny_checkpoint, tmp_path):
    out = tmp_path / "t.onnx"
    result = CliRunner().invoke(cli, ["export", str(tiny_checkpoint), "-o", str(out), "--no-simplify",
                                      "--terms", "CC BY 4.0 data only"])
    assert result.exit_code == 0, result.output
    assert describe(out)["terms"] == "CC BY 4.0 data only"
    bundled = CliRunner().invoke(cli, ["info"])
    terms = next(line for line in bundled.output.splitlines() if line.startswith("terms"))
    assert "non-commercial research and educational use only" in terms and "ImageNet" in terms
    root = Path(__file__).resolve().parents[1]
    assert "MIT License" in (root / "LICENSE").read_text()
    assert "non-commercial research and educational use only" in " ".join((root / "README.md").read_text().split())


def test_working_and_minimum_sizes_reach_the_runtime(tmp_path, tiny_checkpoint):
    from colorbatch.inference.modelinfo import network_size
    from colorbatch.inference.session import ModelSession

    result = export_checkpoint(tiny_checkpoint, tmp_path / "sized.onnx", working_size=96, min_size=48)
    info = ModelSession(str(result.path), device="cpu").info
    assert (info.train_size, info.working_size, info.min_size) == (32, 96, 48)
    assert network_size(32, 32, info) == (48, 48) and network_size(480, 320, info) == (144, 96)


def test_export_errors(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no such"):
        export_checkpoint(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_text("junk")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        export_checkpoint(tmp_path / "junk.pth")
    payload = load_checkpoint(tiny_checkpoint)
    torch.save({**payload, "arch": "mystery-net"}, tmp_path / "unknown.pth")
    with pytest.raises(CheckpointError, match="unknown architecture 'mystery-net'"):
        export_checkpoint(tmp_path / "unknown.pth")
    torch.save({**payload, "format_version": 42}, tmp_path / "future.pth")
    with pytest.raises(CheckpointError, match="newer"):
        export_checkpoint(tmp_path / "future.pth")
    with pytest.raises(InvalidPathError, match="does not exist"):
        export_checkpoint(tiny_checkpoint, tmp_path / "no" / "such" / "dir" / "m.onnx")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_export_to_read_only_folder_fails(tmp_path, tiny_checkpoint):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(InvalidPathError, match="not writable"):
        export_checkpoint(tiny_checkpoint, folder / "m.onnx")


def test_failed_verification_leaves_no_file(tmp_path, tiny_checkpoint, monkeypatch):
    import colorbatch.export.onnx_export as exporter

    monkeypatch.setattr(exporter, "verify_against_torch", lambda *a, **k: (0.5, ["forced"]))
    with pytest.raises(ExportError, match=r"differ by 5\.00e-01"):
        export_checkpoint(tiny_checkpoint, tmp_path / "bad.onnx")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_prints_verification_and_maps_errors(tmp_path, tiny_checkpoint):
    result = CliRunner().invoke(cli, ["export", str(tiny_checkpoint), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "verified: max |onnxruntime - pytorch|" in result.output and (tmp_path / "m.onnx").is_file()
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "missing.pth")])
    assert result.exit_code == CheckpointError.exit_code and "no such checkpoint" in result.output


def test_info_errors(tmp_path):
    with pytest.raises(ModelError, match="no such model"):
        describe(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"\x00\x01garbage")
    with pytest.raises(ModelError):
        describe(tmp_path / "bad.onnx")


def test_fp16_and_int8_copies_run_and_stay_close(tmp_path, tiny_onnx):
    from colorbatch.export.quantize import _network_batches, calibration_images, compare, write_fp16, write_int8
    from colorbatch.inference.model import ColorModel

    images = calibration_images(None)[:3]
    write_fp16(tiny_onnx, tmp_path / "m.fp16.onnx")
    fp32 = ColorModel(str(tiny_onnx), "cpu")
    write_int8(tiny_onnx, tmp_path / "m.int8.onnx", _network_batches(fp32, images))
    gray = np.random.default_rng(1).random((2, 1, 32, 32), dtype=np.float32)
    full = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(None, {"gray": gray})[0]
    for name, tolerance in (("m.fp16.onnx", 1e-2), ("m.int8.onnx", 0.1)):
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].type == "tensor(float)"
        out = session.run(None, {"gray": gray})[0]
        assert out.dtype == np.float32 and np.abs(out - full).max() < tolerance
        facts = compare(fp32, tmp_path / name, images)
        assert facts["speedup"] > 0 and abs(facts["psnr_change"]) < 0.5
    assert describe(tmp_path / "m.int8.onnx")["precision"] == "int8"


def test_fp16_weights_copy_stores_half_weights_and_computes_in_fp32(tmp_path, tiny_onnx):
    import onnx
    from onnx import TensorProto, numpy_helper

    from colorbatch.export.quantize import write_fp16_weights

    target = tmp_path / "m.fp16w.onnx"
    write_fp16_weights(tiny_onnx, target)
    halves = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(target)).graph.initializer
              if t.data_type == TensorProto.FLOAT16}
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tiny_onnx)).graph.initializer
               if t.data_type == TensorProto.FLOAT and numpy_helper.to_array(t).size >= 64}
    assert weights and set(halves) == {f"{name}.fp16" for name in weights}
    for name, values in weights.items():
        assert np.array_equal(halves[f"{name}.fp16"], values.astype(np.float16))
    gray = np.random.default_rng(2).random((2, 1, 32, 32), dtype=np.float32)
    full = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(None, {"gray": gray})[0]
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    out = session.run(None, {"gray": gray})[0]
    assert out.dtype == np.float32 and 0 < np.abs(out - full).max() < 1e-2
    assert describe(target)["precision"] == "fp16-weights"
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "none.pth"), "--fp16-weights"])
    assert result.exit_code == CheckpointError.exit_code


def test_test_flip_export_averages_mirrored_predictions(tmp_path, tiny_checkpoint):
    result = export_checkpoint(tiny_checkpoint, tmp_path / "flip.onnx", test_flip=True)
    assert json.loads(describe(result.path)["arch_kwargs"])["flip_average"] is True
    payload = load_checkpoint(tiny_checkpoint)
    model = model_from_checkpoint(payload)
    gray = np.random.default_rng(3).random((2, 1, 32, 40), dtype=np.float32)
    with torch.no_grad():
        plain = model(torch.from_numpy(gray))
        mirrored = model(torch.from_numpy(gray).flip(-1)).flip(-1)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"gray": gray})[0]
    assert np.abs(got - (0.5 * (plain + mirrored)).numpy()).max() < 1e-4
    seed = tmp_path / "seed.pth"
    _checkpoint(seed, "seed-unet", widths=(4, 4, 8, 8, 8))
    with pytest.raises(ExportError, match="chroma-unet"):
        export_checkpoint(seed, test_flip=True)


def test_unwritable_output_folder_is_refused_before_any_work(tmp_path, tiny_checkpoint, monkeypatch):
    import colorbatch.export.onnx_export as exporter

    monkeypatch.setattr(exporter.os, "access", lambda path, mode: False)
    with pytest.raises(InvalidPathError, match="is not writable"):
        export_checkpoint(tiny_checkpoint, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_export_copies_are_written_atomically_and_load(tmp_path, tiny_checkpoint):
    from colorbatch.inference.model import ColorModel

    result = CliRunner().invoke(cli, ["export", str(tiny_checkpoint), "-o", str(tmp_path / "m.onnx"),
                                      "--fp16-weights", "--fp16"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.fp16.onnx", "m.fp16w.onnx", "m.onnx"]
    assert "wrote" in result.output and "m.fp16w.onnx (fp16w)" in result.output
    for name in ("m.fp16.onnx", "m.fp16w.onnx"):
        assert ColorModel(str(tmp_path / name), device="cpu").model.info.arch
