import subprocess
import sys

import pytest
from click.testing import CliRunner

from colorbatch import __version__
from colorbatch.cli import cli

COMMANDS = ["run", "score", "gray", "export", "info", "train", "average"]


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert cli.commands[command].help and "Usage:" in result.output


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("code", [
    "import colorbatch",
    "from colorbatch.cli import cli; cli(['--help'], standalone_mode=False)",
    "from colorbatch.cli import cli; cli(['run', '--help'], standalone_mode=False)",
    "import colorbatch.pipeline, colorbatch.scoring, colorbatch.report, colorbatch.api",
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
