"""Nothing lost, nothing crashes: inputs never overwritten, outputs complete, every failure reported
with its file, names treated as data, usage errors as exit 2 (issue 15)."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper
from PIL import Image

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from tests.conftest import random_rgb

COLORBATCH = [sys.executable, "-m", "colorbatch"]


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _gray_images(folder: Path, rng, count: int = 3, size: int = 32) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"g{i}.png"
        Image.fromarray(gray_u8(random_rgb(rng, size, size))).save(path)
        paths.append(path)
    return paths


def _onnx_model(path: Path, channels: int = 3, nan: bool = False) -> Path:
    """A hand-built model: gray replicated to ``channels`` channels, times NaN when ``nan``."""
    gray = helper.make_tensor_value_info("gray", TensorProto.FLOAT, ["N", 1, "H", "W"])
    rgb = helper.make_tensor_value_info("rgb", TensorProto.FLOAT, ["N", channels, "H", "W"])
    nodes = [helper.make_node("Concat", ["gray"] * channels, ["stacked"], axis=1)]
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [], [float("nan") if nan else 1.0])
    nodes.append(helper.make_node("Mul", ["stacked", "scale"], ["rgb"]))
    graph = helper.make_graph(nodes, "m", [gray], [rgb], initializer=[scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


# --- data loss -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "gray"])
def test_single_file_input_is_never_overwritten_in_place(tmp_path, rng, tiny_onnx, command):
    photo = tmp_path / "photo.png"
    Image.fromarray(random_rgb(rng, 32, 32)).save(photo)
    before = photo.read_bytes()
    extra = ["--model", tiny_onnx] if command == "run" else []
    result = _invoke(command, photo, tmp_path, "--overwrite", *extra)
    assert result.exit_code == 2 and "is the input" in result.output
    assert photo.read_bytes() == before


def test_single_file_input_is_not_overwritten_through_a_link(tmp_path, rng, tiny_onnx):
    photo = tmp_path / "real" / "photo.png"
    photo.parent.mkdir()
    Image.fromarray(random_rgb(rng, 32, 32)).save(photo)
    (tmp_path / "alias").symlink_to(photo.parent)
    before = photo.read_bytes()
    result = _invoke("run", photo, tmp_path / "alias", "--overwrite", "--model", tiny_onnx)
    assert result.exit_code == 2
    assert photo.read_bytes() == before


def test_input_inside_output_is_refused(tmp_path, rng, tiny_onnx):
    _gray_images(tmp_path / "out" / "in", rng)
    result = _invoke("run", tmp_path / "out" / "in", tmp_path / "out", "--model", tiny_onnx, "--overwrite")
    assert result.exit_code == 2 and "inside the output folder" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["in"]


def test_outputs_never_go_through_a_symlinked_folder_inside_out(tmp_path, rng, tiny_onnx):
    _gray_images(tmp_path / "in" / "sub", rng, count=2)
    _gray_images(tmp_path / "in", rng, count=1)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").symlink_to(outside)
    result = _invoke("run", tmp_path / "in", tmp_path / "out", "--model", tiny_onnx)
    assert result.exit_code == 3
    assert "symbolic link" in result.output and "1 done" in result.output and "2 failed" in result.output
    assert list(outside.iterdir()) == []


def test_non_finite_model_output_is_a_failure_never_a_file(tmp_path, rng):
    _gray_images(tmp_path / "in", rng, count=2)
    model = _onnx_model(tmp_path / "nan.onnx", nan=True)
    result = _invoke("run", tmp_path / "in", tmp_path / "out", "--model", model)
    assert result.exit_code == 3 and "non-finite" in result.output and "2 failed" in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.png"))
    again = _invoke("run", tmp_path / "in", tmp_path / "out", "--model", model)
    assert "0 skipped" in again.output  # nothing was recorded as done


def test_model_with_a_wrong_output_shape_is_refused_at_load(tmp_path, rng):
    _gray_images(tmp_path / "in", rng, count=1)
    result = _invoke("run", tmp_path / "in", tmp_path / "out", "--model", _onnx_model(tmp_path / "m.onnx", 2))
    assert result.exit_code == 4 and "not (N,3,H,W)" in result.output


def test_resume_redoes_empty_outputs_ignores_stale_partials_and_syncs(tmp_path, rng, tiny_onnx, monkeypatch):
    _gray_images(tmp_path / "in", rng, count=3)
    out = tmp_path / "out"
    assert _invoke("run", tmp_path / "in", out, "--model", tiny_onnx).exit_code == 0
    (out / "g1.png").write_bytes(b"")  # a 0-byte file: not a finished output
    (tmp_path / "in" / ".g2.png.123.456.partial").write_bytes(b"left by a killed run")
    (out / ".g1.png.999.1.partial").write_bytes(b"half")
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    result = _invoke("run", tmp_path / "in", out, "--model", tiny_onnx)
    assert result.exit_code == 0, result.output
    assert "1 done (1 redone), 2 skipped, 0 failed, 0 not images" in result.output
    assert "output incomplete 1" in result.output  # the empty output, redone
    assert (out / "g1.png").stat().st_size > 0 and synced
    assert not list(out.glob(".*.partial"))


# --- crashes that abandon a batch ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "gray"])
def test_a_bad_file_in_a_terminal_does_not_stop_the_batch(tmp_path, rng, tiny_onnx, command):
    """Under a pseudo-terminal (the progress bar is on), as a person at a shell runs it."""
    pty = pytest.importorskip("pty")
    folder = tmp_path / "in"
    _gray_images(folder, rng, count=4)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    args = [*COLORBATCH, command, str(folder), str(tmp_path / "out")]
    if command == "run":
        args += ["--model", str(tiny_onnx), "--device", "cpu"]
    output = bytearray()

    def read(fd):
        data = os.read(fd, 4096)
        output.extend(data)
        return data

    pid, fd = pty.fork()
    if pid == 0:  # the child: exec the CLI with the pty as its terminal
        os.execv(sys.executable, args)
    while True:
        try:
            if not read(fd):
                break
        except OSError:
            break
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 3, text
    assert "4 done" in text and "1 failed" in text and "broken.jpg" in text and "Traceback" not in text
    # the bar has a total once the count ends, and counts what the summary counts (issue 17)
    assert "5/5" in text and "done=4" in text and "failed=1" in text


def test_run_with_truth_writes_html_and_csv_reports(tmp_path, rng, tiny_onnx):
    truth = tmp_path / "truth"
    truth.mkdir()
    for i in range(3):
        Image.fromarray(random_rgb(rng, 32, 32)).save(truth / f"g{i}.png")
    assert _invoke("gray", truth, tmp_path / "gray").exit_code == 0
    for suffix in (".html", ".csv"):
        report = tmp_path / f"r{suffix}"
        result = _invoke("run", tmp_path / "gray", tmp_path / f"out{suffix}", "--model", tiny_onnx,
                         "--truth", truth, "--report", report)
        assert result.exit_code == 0, result.output
        if suffix == ".csv":
            rows = list(csv.DictReader(report.open()))
            assert len(rows) == 3 and all(row["truth"].endswith(".png") and row["psnr"] for row in rows)
        else:
            assert report.read_text().count("<figure>") >= 3


def test_names_that_are_not_utf8_or_hold_newlines_are_escaped_everywhere(tmp_path, rng, tiny_onnx):
    folder = tmp_path / "in"
    _gray_images(folder, rng, count=1)
    odd = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not valid UTF-8
    Image.fromarray(gray_u8(random_rgb(rng, 32, 32))).save(folder / odd)
    (folder / "line\nfailed: forged.png").write_bytes(b"not an image")
    for suffix in (".json", ".csv", ".html"):
        report = tmp_path / f"r{suffix}"
        result = _invoke("run", folder, tmp_path / f"out{suffix}", "--model", tiny_onnx, "--report", report)
        assert result.exit_code == 3, result.output
        text = report.read_text(encoding="utf-8")
        if suffix == ".json":
            text = " ".join(str(value) for row in json.loads(text)["images"] for value in row.values())
        assert "caf\\xe9.png" in text
        assert "line\\nfailed" in text
    assert "failed: forged.png" not in result.output.splitlines()  # one line per failure, not two
    truth = tmp_path / "truth"
    truth.mkdir()
    Image.fromarray(random_rgb(rng, 32, 32)).save(truth / odd)
    score_report = tmp_path / "score.csv"
    result = _invoke("score", tmp_path / "out.json", truth, "--report", score_report)
    assert result.exit_code == 0, result.output
    assert "caf\\xe9.png" in score_report.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [["run", "--workers", "0"], ["run", "--batch-size", "0"], ["run", "--size", "-5"],
                                  ["gray", "--workers", "0"], ["score", "-j", "0"]])
def test_impossible_numbers_are_usage_errors(tmp_path, rng, args):
    _gray_images(tmp_path / "in", rng, count=1)
    command, *options = args
    result = _invoke(command, tmp_path / "in", tmp_path / "out", *options)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value" in result.output


# --- resource limits ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.slow
def test_max_pixels_is_the_one_limit(tmp_path):
    """A valid 95-megapixel image passes at the default limit (Pillow's own guard would refuse it)."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (10_000, 9_500), (200, 120, 40)).save(folder / "big.png")
    result = _invoke("gray", folder, tmp_path / "out")
    assert result.exit_code == 0, result.output
    refused = _invoke("gray", folder, tmp_path / "out2", "--max-pixels", "90000000")
    assert refused.exit_code == 3 and "over the limit of 90,000,000" in refused.output


def test_an_unreadable_folder_is_reported(tmp_path, rng, tiny_onnx, monkeypatch):
    """os.walk reports a folder it cannot list through its error callback; the run reports it as a
    failure naming the folder (a real chmod cannot be tested as root, so the walk reports it here)."""
    import colorbatch.batch.plan as plan

    _gray_images(tmp_path / "in", rng, count=2)
    real_iter_files = plan.iter_files

    def iter_files(root, on_error=None):
        on_error(PermissionError(13, "Permission denied", str(tmp_path / "in" / "locked")))
        yield from real_iter_files(root, on_error)

    monkeypatch.setattr(plan, "iter_files", iter_files)
    result = _invoke("run", tmp_path / "in", tmp_path / "out", "--model", tiny_onnx)
    assert result.exit_code == 3 and "locked: cannot list folder (Permission denied)" in result.output
    assert "2 done" in result.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_is_reported_for_real(tmp_path, rng):
    _gray_images(tmp_path / "in" / "locked", rng, count=1)
    (tmp_path / "in" / "locked").chmod(0)
    try:
        result = _invoke("gray", tmp_path / "in", tmp_path / "out")
    finally:
        (tmp_path / "in" / "locked").chmod(0o755)
    assert result.exit_code == 3 and "cannot list folder" in result.output


# --- score -----------------------------------------------------------------------------------------


def test_two_truths_with_one_stem_are_reported_not_picked(tmp_path, rng):
    for folder in ("pred", "truth"):
        (tmp_path / folder).mkdir()
    colour = random_rgb(rng, 32, 32)
    Image.fromarray(colour).save(tmp_path / "pred" / "a.png")
    Image.fromarray(colour).save(tmp_path / "truth" / "a.png")
    Image.fromarray(colour).save(tmp_path / "truth" / "a.jpg")
    Image.fromarray(colour).save(tmp_path / "pred" / "b.png")
    Image.fromarray(colour).save(tmp_path / "truth" / "b.png")
    result = _invoke("score", tmp_path / "pred", tmp_path / "truth")
    assert result.exit_code == 3 and "ambiguous truth" in result.output and "a.jpg" in result.output


def test_nothing_scored_is_a_failure(tmp_path):
    (tmp_path / "pred").mkdir()
    (tmp_path / "truth").mkdir()
    result = _invoke("score", tmp_path / "pred", tmp_path / "truth")
    assert result.exit_code == 10 and "nothing scored" in result.output


# --- also ------------------------------------------------------------------------------------------


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_a_crafted_cifar_batch_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ("data_batch_1", "test_batch"):
        with open(folder / name, "wb") as handle:
            pickle.dump({b"data": _RunsCode(), b"labels": [0]}, handle)
    result = _invoke("train", "--data", folder, "--out", tmp_path / "run", "--epochs", "1")
    assert result.exit_code == 6 and "refusing to load" in result.output
    assert not (tmp_path / "pwned.txt").exists()


def test_ctrl_c_exits_130_with_the_partial_summary(tmp_path, rng, tiny_onnx):
    _gray_images(tmp_path / "in", rng, count=1000, size=48)  # enough that the run cannot finish before Ctrl-C lands
    out = tmp_path / "out"
    process = subprocess.Popen([*COLORBATCH, "run", str(tmp_path / "in"), str(out), "--model", str(tiny_onnx),
                                "--device", "cpu", "--batch-size", "4", "--workers", "1", "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               # a shell's background job inherits SIGINT ignored; a user's terminal does not
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.glob("*.png"))):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted: run:" in stderr and "Traceback" not in stderr
    done = int(stderr.split("interrupted: run: ")[1].split(" done")[0])
    assert done == len(list(out.glob("*.png"))) and done < 1000
    assert not list(out.glob(".*.partial"))


def test_report_json_records_the_rows_of_a_run(tmp_path, rng, tiny_onnx):
    _gray_images(tmp_path / "in", rng, count=2)
    report = tmp_path / "r.json"
    assert _invoke("run", tmp_path / "in", tmp_path / "out", "--model", tiny_onnx, "--report", report).exit_code == 0
    body = json.loads(report.read_text())
    assert [row["status"] for row in body["images"]] == ["done", "done"]
