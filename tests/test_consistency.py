"""The PSNR/SSIM ``colorbatch train`` reports equal what ``run`` + ``score`` give on the same images."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from colorbatch.export.onnx_export import export_checkpoint
from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from colorbatch.train.data import Split, load_dataset
from colorbatch.train.evaluation import evaluate
from colorbatch.train.models import create_model
from tests.conftest import random_rgb


def test_train_metrics_equal_run_then_score(tmp_path, tiny_run, tiny_checkpoint, tiny_onnx):
    data_root = tiny_run.parent
    test_split = load_dataset(data_root).test
    payload = load_checkpoint(tiny_checkpoint)
    reported = payload["metrics"]["test"]
    recomputed = evaluate(model_from_checkpoint(payload), test_split, torch.device("cpu"))
    assert reported == pytest.approx(recomputed)
    truth, gray = tmp_path / "truth", tmp_path / "gray"
    for i, (colour, luma) in enumerate(zip(test_split.color, test_split.gray)):
        truth.mkdir(exist_ok=True)
        gray.mkdir(exist_ok=True)
        Image.fromarray(colour).save(truth / f"{i:03d}.png")
        Image.fromarray(luma).save(gray / f"{i:03d}.png")
    runner = CliRunner()
    assert runner.invoke(cli, ["run", str(gray), str(tmp_path / "out"), "--model", str(tiny_onnx)]).exit_code == 0
    result = runner.invoke(cli, ["score", str(tmp_path / "out"), str(truth), "--report", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "s.json").read_text())["aggregate"]
    assert scored["scored"] == reported["scored"] == len(test_split)
    assert abs(scored["psnr_mean"] - reported["psnr_mean"]) < 0.01
    assert abs(scored["ssim_mean"] - reported["ssim_mean"]) < 0.0005
    assert np.isclose(scored["colourfulness_mean"], reported["colourfulness_mean"], atol=0.05)


def test_rgb_output_models_are_scored_as_run_writes_them(tmp_path, rng):
    """seed-unet changes luminance; train's evaluation applies the runtime's recombination too."""


    model = create_model("seed-unet", widths=(4, 4, 8, 8, 8)).eval()
    save_checkpoint(tmp_path / "seed.pth", arch="seed-unet", arch_kwargs={"widths": (4, 4, 8, 8, 8)},
                    state_dict=model.state_dict(), epoch=0, train_size=32)
    onnx_path = export_checkpoint(tmp_path / "seed.pth").path
    colour = np.stack([random_rgb(rng) for _ in range(6)])
    split = Split(colour, np.stack([gray_u8(c) for c in colour]))
    reported = evaluate(model, split, torch.device("cpu"))
    for i, (c, g) in enumerate(zip(split.color, split.gray)):
        for folder, image in (("truth", c), ("gray", g)):
            (tmp_path / folder).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp_path / folder / f"{i}.png")
    runner = CliRunner()
    run = runner.invoke(cli, ["run", str(tmp_path / "gray"), str(tmp_path / "out"), "--model", str(onnx_path)])
    assert run.exit_code == 0, run.output
    report = tmp_path / "s.json"
    result = runner.invoke(cli, ["score", str(tmp_path / "out"), str(tmp_path / "truth"), "--report", str(report)])
    scored = json.loads((tmp_path / "s.json").read_text())["aggregate"]
    assert abs(scored["psnr_mean"] - reported["psnr_mean"]) < 0.01, result.output
    assert abs(scored["ssim_mean"] - reported["ssim_mean"]) < 0.0005
