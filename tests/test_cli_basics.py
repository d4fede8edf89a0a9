import subprocess
import sys

import pytest
from click.testing import CliRunner

from colorbatch import __version__
from colorbatch.cli import cli

COMMANDS = ["run", "score", "gray", "export", "info", "train", "average", "ensemble", "train-hints", "import-onnx",
            "studio"]


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert cli.commands[command].help and "Usage:" in result.output


def test_help_lists_every_command():
    assert sorted(cli.commands) == sorted(COMMANDS)  # registered, not only named in the group's docstring
    result = CliRunner().invoke(cli, ["--help"])
    listed = result.output.split("Commands:")[1]
    for command in COMMANDS:
        assert f"\n  {command} " in listed


@pytest.mark.parametrize("code", [
    "import colorbatch",
    "from colorbatch.cli import cli; cli(['--help'], standalone_mode=False)",
    "from colorbatch.cli import cli; cli(['run', '--help'], standalone_mode=False)",
    "import colorbatch.work.colorize, colorbatch.work.score, colorbatch.scoring.report, colorbatch.api",
])
def test_runtime_side_never_imports_torch(code):
    check = f"{code}\nimport sys\nassert 'torch' not in sys.modules, 'torch was imported'"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_train_and_export_install_under_the_colorbatch_namespace():
    import colorbatch.export
    import colorbatch.train

    assert colorbatch.train.__name__ == "colorbatch.train"
    assert colorbatch.export.__name__ == "colorbatch.export"


def test_no_top_level_train_or_export_modules_are_installed(tmp_path):
    check = ("import importlib.util as u\n"
             "assert u.find_spec('train') is None and u.find_spec('export') is None, 'top-level module found'\n"
             "assert u.find_spec('colorbatch.train') and u.find_spec('colorbatch.export')")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_json_summaries_are_one_object_on_stdout(tmp_path, tiny_onnx):
    import json
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    colour = tmp_path / "colour"
    colour.mkdir()
    for i in range(2):
        Image.fromarray(np.full((16, 16, 3), (40 * i, 120, 200), np.uint8)).save(colour / f"c{i}.png")
    (colour / "bad.png").write_bytes(b"nope")

    def run_json(*args):
        done = subprocess.run([sys.executable, "-m", "colorbatch", *map(str, args), "--json"],
                              capture_output=True, text=True)
        return done.returncode, json.loads(done.stdout), done.stderr

    code, gray, stderr = run_json("gray", colour, tmp_path / "gray")
    assert code == 3 and gray["command"] == "gray" and gray["done"] == 2 and gray["failed"] == 1
    assert gray["failures"][0]["image"].endswith("bad.png") and "gray:" in stderr
    code, run, _ = run_json("run", tmp_path / "gray", tmp_path / "out", "--model", tiny_onnx, "--truth", colour)
    assert code == 0 and run["done"] == 2 and run["scores"]["scored"] == 2 and run["model"].endswith("tiny.onnx")
    code, score, _ = run_json("score", tmp_path / "out", colour)
    assert code == 0 and score["counts"]["scored"] == 2 and score["aggregate"]["psnr_mean"] > 0


def test_python_dash_m_is_the_cli():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "colorbatch", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "colorbatch" in done.stdout
