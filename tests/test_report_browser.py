"""Render the HTML score report in a real headless browser (Debian's chromium) and look at it.

Skipped where no chromium is installed (`apt-get install chromium` to run it). Manual check:
`chromium --headless --screenshot=report.png file://$PWD/report.html`.
"""

import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from tests.conftest import random_rgb

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_html_report_renders_with_colour_thumbnails(tmp_path, rng):
    for i in range(4):
        for folder in ("pred", "truth"):
            (tmp_path / folder).mkdir(exist_ok=True)
            Image.fromarray(random_rgb(rng, 48, 48)).save(tmp_path / folder / f"im{i}.png")
    report = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["score", str(tmp_path / "pred"), str(tmp_path / "truth"),
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400",
                    f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1400, 1000)
    spread = pixels.max(axis=-1) - pixels.min(axis=-1)
    assert (spread > 60).mean() > 0.01  # coloured thumbnails and histogram bars are on the page
