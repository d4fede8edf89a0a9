import csv
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.errors import BatchFailedError
from colorbatch.scoring.metrics import psnr
from colorbatch.work.score import score_trees
from tests.conftest import random_rgb


def _pairs(root, rng, count=5):
    """truth/ (jpg) and pred/ (png, truth + a constant offset); one identical pair."""
    for i in range(count):
        truth = random_rgb(rng)
        pred = truth if i == 0 else np.clip(truth.astype(int) + 10, 0, 255).astype(np.uint8)
        for folder, image, ext in (("truth", truth, ".png"), ("pred", pred, ".png")):
            path = root / folder / ("deep" if i % 2 else "") / f"im{i}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
    return root / "pred", root / "truth"


def test_pairs_by_relative_path_ignoring_extension(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng)
    (truth / "deep" / "im1.png").rename(truth / "deep" / "im1.bmp")  # other extension still pairs
    Image.fromarray(random_rgb(rng)).save(pred / "extra.png")
    Image.fromarray(random_rgb(rng)).save(truth / "lonely.png")
    result = score_trees(pred, truth, jobs=1)
    assert result.summary.count == 5 and result.summary.infinite == 1
    assert result.unmatched_pred == ["extra.png"] and result.unmatched_truth == ["lonely.png"]


def test_size_mismatch_is_a_per_image_error(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng)
    Image.fromarray(random_rgb(rng, 16, 16)).save(pred / "im2.png")
    result = score_trees(pred, truth, jobs=2)
    assert result.summary.count == 4
    assert result.failed[0]["image"] == "im2.png" and "size mismatch" in result.failed[0]["error"]
    cli_result = CliRunner().invoke(cli, ["score", str(pred), str(truth)])
    assert cli_result.exit_code == BatchFailedError.exit_code and "size mismatch" in cli_result.output


def test_cli_table_and_baseline(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng)
    result = CliRunner().invoke(cli, ["score", str(pred), str(truth), "--baseline", "-j", "1"])
    assert result.exit_code == 0, result.output
    assert re.search(r"images scored\s+5\s+5", result.output)
    assert re.search(r"identical \(PSNR inf\)\s+1", result.output)
    assert "no colour" in result.output and "colourfulness" in result.output


@pytest.mark.parametrize("suffix", [".json", ".csv", ".html"])
def test_each_report_format_parses_and_holds_rows(tmp_path, rng, suffix):
    pred, truth = _pairs(tmp_path, rng)
    report = tmp_path / f"report{suffix}"
    result = CliRunner().invoke(cli, ["score", str(pred), str(truth), "--baseline", "--report", str(report)])
    assert result.exit_code == 0, result.output
    text = report.read_text()
    if suffix == ".json":
        data = json.loads(text)
        assert set(data) >= {"definitions", "aggregate", "counts", "images"}
        assert data["counts"] == {"scored": 5, "infinite": 1, "unmatched": 0, "failed": 0}
        assert len(data["images"]) == 5 and "psnr" in data["definitions"]
        offset_rows = [r for r in data["images"] if r["psnr"] != "inf"]
        assert all(r["psnr"] > 20 for r in offset_rows) and data["aggregate"]["psnr_pooled"] > 0
    elif suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        assert len(rows) == 5 and {"image", "psnr", "ssim"} <= set(rows[0])
    else:
        assert text.startswith("<!doctype html>") and "<svg" in text
        # five images: each shown exactly once, worst first, not repeated under worst, best and random
        assert text.count("data:image/png;base64,") == 3 * 5 and "worst PSNR first" in text  # 3 tiles each


def test_report_psnr_equals_metric(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng, count=2)
    CliRunner().invoke(cli, ["score", str(pred), str(truth), "--report", str(tmp_path / "r.json")])
    row = next(r for r in json.loads((tmp_path / "r.json").read_text())["images"] if r["image"] == "deep/im1.png")
    pair = [np.asarray(Image.open(folder / "deep" / "im1.png")) for folder in (pred, truth)]
    expected = psnr(*pair)
    assert math.isclose(row["psnr"], expected)


def test_bad_report_name_and_missing_folder(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng, count=1)
    result = CliRunner().invoke(cli, ["score", str(pred), str(truth), "--report", str(tmp_path / "r.txt")])
    assert result.exit_code == 2 and ".json, .csv or .html" in result.output
    result = CliRunner().invoke(cli, ["score", str(tmp_path / "nope"), str(truth)])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_gray_equals_pillow_convert_l(tmp_path, rng):
    src = tmp_path / "src"
    for i, ext in enumerate([".png", ".jpg", ".png"]):
        path = src / ("x" if i else "") / f"c{i}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(random_rgb(rng)).save(path)
    (src / "broken.png").write_bytes(b"")
    result = CliRunner().invoke(cli, ["gray", str(src), str(tmp_path / "dst")])
    assert result.exit_code == BatchFailedError.exit_code and "broken.png" in result.output
    for source in src.rglob("c*"):
        target = (tmp_path / "dst" / source.relative_to(src)).with_suffix(".png")
        expected = np.asarray(Image.open(source).convert("RGB").convert("L"))
        assert np.array_equal(np.asarray(Image.open(target)), expected)
    result = CliRunner().invoke(cli, ["gray", str(src), str(src / "x")])
    assert result.exit_code == 2 and "inside the input" in result.output


def test_the_python_api_writes_the_same_score_report_as_the_cli(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng, count=6)
    Image.fromarray(random_rgb(rng, 16, 16)).save(pred / "im2.png")  # one pair that fails
    seen = []
    result = score_trees(pred, truth, jobs=2, baseline=True, report=tmp_path / "api.json", on_result=seen.append)
    by_cli = CliRunner().invoke(cli, ["score", str(pred), str(truth), "--baseline", "--report", tmp_path / "cli.json"])
    assert by_cli.exit_code == 3, by_cli.output
    api, cli_report = (json.loads((tmp_path / name).read_text()) for name in ("api.json", "cli.json"))
    assert api["images"] == cli_report["images"] and len(api["images"]) == 6
    for key in ("aggregate", "baseline", "counts", "unmatched", "failed"):
        assert api[key] == cli_report[key] == result.header[key]
    assert [str(r.status) for r in seen].count("failed") == 1 and len(seen) == 6


def test_an_interrupted_score_writes_no_report(tmp_path, rng):
    pred, truth = _pairs(tmp_path, rng, count=8)

    seen = []

    def interrupt_at_the_third(result) -> None:
        seen.append(result)
        if len(seen) == 3:
            raise KeyboardInterrupt

    result = score_trees(pred, truth, jobs=1, report=tmp_path / "r.json", on_result=interrupt_at_the_third)
    assert result.interrupted and result.summary.count == 3
    assert not (tmp_path / "r.json").exists() and not list(tmp_path.glob(".r.json*"))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def _linked_file(report, href):
    if href.startswith("file:"):
        return Path(url2pathname(urlparse(href).path))
    return report.parent / url2pathname(href)


@pytest.mark.parametrize("count", [5, 40])  # every image shown once; worst, best and random picks
def test_every_thumbnail_of_a_score_report_opens_a_full_size_image(tmp_path, rng, count, monkeypatch):
    pred, truth = _pairs(tmp_path, rng, count=count)
    report = tmp_path / "reports" / "r.html"
    report.parent.mkdir()
    monkeypatch.chdir(tmp_path / "reports")  # where the old links pointed: the current folder
    result = CliRunner().invoke(cli, ["score", str(pred), str(truth), "--report", str(report)])
    assert result.exit_code == 0, result.output
    parser = _Links()
    parser.feed(report.read_text())
    assert len(parser.hrefs) == 3 * min(count, 24)
    for i, href in enumerate(parser.hrefs):
        target = _linked_file(report, href)
        assert target.is_file(), f"dead link {href}"
        with Image.open(target) as image:
            image.load()
            assert image.size == (32, 32)
            if i % 3 == 0:  # the gray input: the truth's BT.601 gray copy, full size
                assert image.mode == "L"
