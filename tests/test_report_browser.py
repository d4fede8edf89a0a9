"""Render the HTML reports in a real headless browser (Debian's chromium) and read what it shows.

`.ci/run` installs chromium (`apt-get install --no-install-recommends chromium`); elsewhere the
tests are skipped when no chromium, chromium-browser or google-chrome is on the PATH. Manual check:
`chromium --headless --screenshot=report.png file://$PWD/report.html`.
"""

import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from tests.conftest import random_rgb

BROWSER = next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))),
               None)
pytestmark = [pytest.mark.skipif(BROWSER is None, reason="no chromium, chromium-browser or google-chrome"),
              pytest.mark.slow]  # a real browser
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


class _Page(HTMLParser):
    """What the rendered DOM holds: headings, table header cells, images, links, the title."""

    def __init__(self) -> None:
        super().__init__()
        self.headings, self.th, self.images, self.links, self.title = [], [], [], [], ""
        self._in = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "a":
            self.links.append(attrs.get("href", ""))
        if tag in ("h1", "h2", "th") or (tag == "title" and not self.title):  # not the SVG bars' titles
            self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in in ("h1", "h2"):
            self.headings.append(data.strip())
        elif self._in == "th":
            self.th.append(data.strip())
        elif self._in == "title":
            self.title += data


def _render(report, tmp_path) -> tuple[_Page, np.ndarray]:
    common = [BROWSER, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    page = _Page()
    page.feed(dom)
    shot = tmp_path / "shot.png"
    subprocess.run([*common, "--window-size=1000,1400", f"--screenshot={shot}", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    return page, np.asarray(Image.open(shot).convert("RGB")).astype(int)


def test_score_report_shows_labelled_metrics_axes_and_linked_thumbnails(tmp_path, rng):
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
    for i in range(4):
        Image.fromarray(random_rgb(rng, 48, 48)).save(tmp_path / "pred" / f"im{i}.png")
        Image.fromarray(random_rgb(rng, 48, 48)).save(tmp_path / "truth" / f"im{i}.png")
    report = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["score", str(tmp_path / "pred"), str(tmp_path / "truth"), "--baseline",
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    page, pixels = _render(report, tmp_path)
    assert page.title == "colorbatch score report"
    assert {"PSNR, mean (dB)", "SSIM, mean (0 to 1)", "no colour (the truth's gray copy)"} <= set(page.th)
    assert {"date", "colorbatch", "command line"} <= set(page.th)
    assert "Every scored image, worst PSNR first" in page.headings and "Worst PSNR" not in page.headings
    assert len(page.images) == 3 * 4  # gray | output | truth, each image once
    assert all(int(img["width"]) >= 150 for img in page.images)
    linked = {link.rsplit("/", 2)[-2] + "/" + link.rsplit("/", 1)[-1] for link in page.links}
    assert {f"pred/im{i}.png" for i in range(4)} <= linked and {f"truth/im{i}.png" for i in range(4)} <= linked
    dom_text = report.read_text()
    assert "PSNR (dB)" in dom_text and re.search(r">images<", dom_text)  # histogram axes
    assert pixels.shape[:2] == (1400, 1000)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    assert (spread > 60).mean() > 0.01  # coloured thumbnails and histogram bars are on the page


def test_run_report_without_truth_shows_input_and_output(tmp_path, rng, tiny_onnx):
    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(gray_u8(random_rgb(rng, 40, 40))).save(tmp_path / "in" / f"g{i}.png")
    report = tmp_path / "run.html"
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(tiny_onnx),
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    page, _ = _render(report, tmp_path)
    assert page.title == "colorbatch run report"
    assert "Outputs (no truth given): input | output" in page.headings
    assert len(page.images) == 2 * 3
    assert {"model", "model sha256", "input", "output"} <= set(page.th)
    assert sum(link.endswith(".png") and "/out/" in link for link in page.links) == 3
