"""The install: ONNX Runtime is an extra the user chooses ([cpu] or [gpu]), never a dependency,
because its two builds share one folder; without one, run says how to get it."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.inference import runtime

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
BUILDS = {"onnxruntime", "onnxruntime-gpu"}


def _names(requirements):
    return {r.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip() for r in requirements}


def test_each_runtime_build_is_its_own_extra_and_never_a_dependency():
    project = PYPROJECT["project"]
    assert not _names(project["dependencies"]) & BUILDS
    extras = project["optional-dependencies"]
    assert _names(extras["cpu"]) == {"onnxruntime"} and _names(extras["gpu"]) == {"onnxruntime-gpu"}
    for name, requirements in extras.items():
        if name not in ("cpu", "gpu"):
            assert not _names(requirements) & BUILDS, f"extra {name} would install a second runtime build"


def test_the_development_install_has_the_cpu_runtime_alone():
    """``make install`` (which made this environment) installs the cpu extra: one ONNX Runtime
    build, the CPU one, whose session offers the CPU provider."""
    import onnxruntime

    assert runtime.installed_builds() == ["onnxruntime"]
    assert "CPUExecutionProvider" in onnxruntime.get_available_providers()


@pytest.fixture
def no_onnxruntime(monkeypatch):
    for name in [m for m in sys.modules if m == "onnxruntime" or m.startswith("onnxruntime.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError


def test_run_without_a_runtime_names_both_extras_and_writes_nothing(tmp_path, no_onnxruntime):
    (tmp_path / "in").mkdir()
    Image.new("L", (16, 16), 90).save(tmp_path / "in" / "a.png")
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), str(tmp_path / "out")])
    assert result.exit_code == 11, result.output
    assert "ONNX Runtime is not installed" in result.output
    assert 'colorbatch[cpu]' in result.output and 'colorbatch[gpu]' in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))


def test_gray_score_and_info_need_no_runtime(tmp_path, no_onnxruntime):
    (tmp_path / "colour").mkdir()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(tmp_path / "colour" / "a.png")
    gray = CliRunner().invoke(cli, ["gray", str(tmp_path / "colour"), str(tmp_path / "gray")])
    assert gray.exit_code == 0, gray.output
    score = CliRunner().invoke(cli, ["score", str(tmp_path / "gray"), str(tmp_path / "colour")])
    assert score.exit_code == 0 and "PSNR" in score.output, score.output
    info = CliRunner().invoke(cli, ["info"])
    assert info.exit_code == 0 and "chroma-bins" in info.output, info.output


def test_both_builds_installed_is_explained_with_the_fix(monkeypatch):
    monkeypatch.setattr(runtime, "installed_builds", lambda: ["onnxruntime", "onnxruntime-gpu"])
    reason = runtime.no_cuda_reason()
    assert "both installed" in reason and "pip uninstall -y onnxruntime onnxruntime-gpu" in reason
    monkeypatch.setattr(runtime, "installed_builds", lambda: ["onnxruntime"])
    assert 'pip install "colorbatch[gpu]"' in runtime.no_cuda_reason()


def test_installed_builds_reads_pip_metadata():
    import onnxruntime

    assert runtime.installed_builds(), f"onnxruntime {onnxruntime.__version__} imports but pip lists no build"


def test_every_package_folder_is_installed():
    """A wheel holds only the packages pyproject.toml lists (setuptools does not find sub-packages here)."""
    root = Path(__file__).parents[1] / "colorbatch"
    folders = {".".join(("colorbatch", *p.parent.relative_to(root).parts)) for p in root.rglob("__init__.py")}
    assert folders <= set(PYPROJECT["tool"]["setuptools"]["packages"])


def test_only_the_modules_that_run_a_model_import_the_onnx_session_code():
    """Training's evaluation, export's verification, planning, scoring, gray and reports resize,
    recombine and write without loading onnxruntime or colorbatch's session code."""
    modules = ("colorbatch.recombine", "colorbatch.train.evaluation", "colorbatch.export.verify",
               "colorbatch.batch.plan", "colorbatch.work.score", "colorbatch.work.gray", "colorbatch.work.run_report",
               "colorbatch.batch.engine", "colorbatch.batch.writing")
    session_code = {"onnxruntime", "colorbatch.inference.session", "colorbatch.inference.model"}
    probe = (f"import sys\nfor name in {modules!r}: __import__(name)\n"
             f"print(sorted(set(sys.modules) & {session_code!r}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    check = "import sys, colorbatch.work.colorize; print('colorbatch.inference.session' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "True"  # the probe can see the session code when a module does load it
