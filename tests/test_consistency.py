"""The PSNR/SSIM ``colorbatch train`` reports equal what ``run`` + ``score`` give on the same images."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from colorbatch.train.checkpoint import load_checkpoint, model_from_checkpoint
from colorbatch.train.data import load_dataset
from colorbatch.train.trainer import evaluate
from PIL import Image

from colorbatch.cli import cli


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
