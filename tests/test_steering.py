"""Steering that loses nothing: hint, reference and keyframe files are inputs (never written), a
re-run redoes exactly the outputs whose sources changed (``colorbatch.batch.sources``' journal), steering
reaches clips or is refused, steering files obey --max-pixels from their headers, odd keyframe names
fail their clip alone, the Python API reads ordinary arrays, and steering says what it did not do."""

import json
import sqlite3
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.batch.sources import JOURNAL_FOLDER, JOURNAL_NAME
from colorbatch.cli import cli
from colorbatch.color import gray_u8
from colorbatch.errors import HintError, InvalidPathError
from tests.conftest import random_rgb

pytestmark = pytest.mark.slow  # runs the bundled model

RED, BLUE = (230, 20, 30), (30, 60, 220)
SIZE = (64, 48)  # width, height of the test photos


def _run(*args):
    return CliRunner().invoke(cli, ["run", *map(str, args), "--device", "cpu"])


def _gray_photos(folder: Path, names=("a.png", "b.png", "c.png"), seed=0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(random_rgb(rng, SIZE[1], SIZE[0]))).save(path)
        paths.append(path)
    return paths


def _hint(path: Path, colour=RED, size=SIZE, at=(10, 10)) -> Path:
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[at[1]:at[1] + 12, at[0]:at[0] + 12] = (*colour, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def colorizer():
    from colorbatch.api import Colorizer

    return Colorizer(device="cpu")


# --- 1. steering files are inputs --------------------------------------------------------------------------------


def test_steering_files_inside_out_are_refused_and_left_as_they_were(tmp_path):
    gray = tmp_path / "gray"
    _gray_photos(gray)
    hx = tmp_path / "hx"
    hint = _hint(hx / "a.png")
    same_size = _hint(hx / "b.png", BLUE)  # a hint of the photo's size: once taken for a finished output
    before = {p: p.read_bytes() for p in (hint, same_size)}
    hin = tmp_path / "hin"
    inner = _hint(hin / "o" / "a.png")
    reference = tmp_path / "same" / "refc.png"
    reference.parent.mkdir()
    Image.new("RGB", SIZE, RED).save(reference)
    cases = [
        ([gray, hx, "--hints", hx], hx),  # OUT is the hints folder
        ([gray, hin / "o", "--hints", hin], hin),  # OUT inside the hints folder
        ([gray / "a.png", reference, "--reference", reference, "--overwrite"], reference),  # OUT is the reference
        ([gray / "a.png", tmp_path / "same", "--reference", reference], reference),  # the reference inside OUT
        ([gray, tmp_path / "ko", "--sequence", "--keyframes", tmp_path / "ko"], tmp_path / "ko"),
    ]
    (tmp_path / "ko").mkdir()
    for args, steering in cases:
        result = _run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "overlap" in result.output and str(steering) in result.output and str(args[1]) in result.output
    assert {p: p.read_bytes() for p in (hint, same_size)} == before
    assert not (hx / JOURNAL_FOLDER).exists() and inner.is_file() and sorted(p.name for p in hin.rglob("*")) == [
        "a.png", "o"]
    assert Image.open(reference).getpixel((0, 0)) == RED


def test_the_python_api_and_dask_refuse_steering_files_inside_out_too(tmp_path, colorizer):
    from colorbatch.batch.cluster import DaskDistributor

    gray = tmp_path / "gray"
    _gray_photos(gray)
    _hint(tmp_path / "hx" / "a.png")
    with pytest.raises(InvalidPathError, match="overlap"):
        colorizer.run(gray, tmp_path / "hx", hints=tmp_path / "hx")
    with pytest.raises(InvalidPathError, match="overlap"):  # refused before any cluster is reached
        colorizer.run(gray, tmp_path / "hx", hints=tmp_path / "hx", distributor=DaskDistributor("tcp://127.0.0.1:9"))
    assert [p.name for p in (tmp_path / "hx").iterdir()] == ["a.png"]


# --- 2. outputs that know where they came from -------------------------------------------------------------------


def _json_run(*args) -> dict:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_changed_hint_redoes_that_photo_alone_and_says_why(tmp_path):
    gray, hints, out = tmp_path / "gray", tmp_path / "hints", tmp_path / "out"
    _gray_photos(gray)
    _hint(hints / "a.png", RED)
    first = _json_run(gray, out, "--hints", hints)
    assert first["done"] == 3 and first["redone"] == 0
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    red = _pixels(out / "a.png")
    again = _json_run(gray, out, "--hints", hints)
    assert again["done"] == 0 and again["skipped"] == 3
    _hint(hints / "a.png", BLUE)  # the person corrects one photo
    changed = _json_run(gray, out, "--hints", hints)
    assert changed["done"] == 1 and changed["skipped"] == 2
    assert changed["redone_files"] == [{"image": str(gray / "a.png"), "reason": "hint changed"}]
    assert changed["redone_reasons"] == {"hint changed": 1}
    blue = _pixels(out / "a.png")
    assert blue[10:22, 10:22, 2].mean() > blue[10:22, 10:22, 0].mean() and red[15, 15, 0] > red[15, 15, 2]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png") if p.name != "a.png"} == {
        k: v for k, v in kept.items() if k != "a.png"}
    (hints / "a.png").unlink()
    assert _json_run(gray, out, "--hints", hints)["redone_files"] == [
        {"image": str(gray / "a.png"), "reason": "hint removed"}]
    _gray_photos(gray, ("c.png",), seed=9)  # an input replaced by another photo under the same name
    assert _json_run(gray, out, "--hints", hints)["redone_files"] == [
        {"image": str(gray / "c.png"), "reason": "input changed"}]


def test_a_changed_reference_model_or_vividness_redoes_and_a_touched_file_does_not(tmp_path, tiny_hint_model):
    gray, out = tmp_path / "gray", tmp_path / "out"
    _gray_photos(gray, ("a.png", "b.png"))
    reference = tmp_path / "ref.png"
    Image.new("RGB", (40, 30), RED).save(reference)
    _json_run(gray, out, "--reference", reference)
    Image.new("RGB", (40, 30), BLUE).save(reference)  # changed in place
    assert _json_run(gray, out, "--reference", reference)["redone_reasons"] == {"reference changed": 2}
    stat = reference.stat()
    reference.touch()
    assert reference.stat().st_mtime_ns != stat.st_mtime_ns
    assert _json_run(gray, out, "--reference", reference)["done"] == 0  # same content: nothing to redo
    assert _json_run(gray, out, "--reference", reference, "--vividness", "0.9")["redone_reasons"] == {
        "vividness changed": 2}
    assert _json_run(gray, out, "--reference", reference, "--vividness", "0.9", "--model", tiny_hint_model)[
        "redone_reasons"] == {"model changed": 2}
    jpeg = _json_run(gray, tmp_path / "jpg", "--format", "jpg")
    assert jpeg["done"] == 2
    assert _json_run(gray, tmp_path / "jpg", "--format", "jpg", "--quality", "60")["redone_reasons"] == {
        "quality changed": 2}


@pytest.fixture(scope="module")
def tiny_hint_model(tmp_path_factory):
    """A second hint model file: the bundled model's bytes with one more metadata entry."""
    import onnx

    from colorbatch.inference.modelinfo import bundled_model_path

    model = onnx.load(str(bundled_model_path()))
    entry = model.metadata_props.add()
    entry.key, entry.value = "note", "another model file"
    path = tmp_path_factory.mktemp("model") / "other.onnx"
    onnx.save(model, str(path))
    return path


def test_an_interrupted_record_is_redone_and_an_output_without_one_is_kept_and_said_so(tmp_path):
    gray, out = tmp_path / "gray", tmp_path / "out"
    _gray_photos(gray, ("a.png", "b.png"))
    _json_run(gray, out)
    journal = out / JOURNAL_FOLDER / JOURNAL_NAME
    with sqlite3.connect(journal) as connection:  # as a kill between the pending mark and the record leaves it
        connection.execute("UPDATE outputs SET size = NULL WHERE target = ?", (b"a.png",))
    summary = _json_run(gray, out)
    assert summary["redone_files"] == [{"image": str(gray / "a.png"),
                                        "reason": "its last run stopped before it was recorded"}]
    journal.unlink()  # outputs written before the journal existed
    result = _run(gray, out)
    assert result.exit_code == 0 and "0 done, 2 skipped" in result.output
    assert result.output.count("have no record of their sources") == 1


def test_a_kill_after_an_output_is_replaced_never_leaves_its_old_record(tmp_path, colorizer, monkeypatch):
    import colorbatch.work.colorize as pipeline

    gray, hints, out = tmp_path / "gray", tmp_path / "hints", tmp_path / "out"
    _gray_photos(gray, ("a.png",))
    _hint(hints / "a.png", RED)
    red = hints / "red.png"
    red.write_bytes((hints / "a.png").read_bytes())
    assert colorizer.run(gray, out, hints=hints).done == 1
    _hint(hints / "a.png", BLUE)
    written = pipeline.write_output

    def write_then_die(*args, **kwargs):
        written(*args, **kwargs)  # the new output is in place...
        raise KeyboardInterrupt  # ...and the run is killed before it is recorded

    monkeypatch.setattr(pipeline, "write_output", write_then_die)
    assert colorizer.run(gray, out, hints=hints).interrupted
    monkeypatch.undo()
    (hints / "a.png").write_bytes(red.read_bytes())  # back to the sources of the old record
    red.unlink()
    again = colorizer.run(gray, out, hints=hints)
    assert again.done == 1 and again.redone[0].redone == "its last run stopped before it was recorded"
    assert np.array_equal(_pixels(out / "a.png"), _pixels(_rerun(colorizer, gray, hints, tmp_path / "fresh")))


def _rerun(colorizer, gray, hints, out):
    colorizer.run(gray, out, hints=hints)
    return out / "a.png"


def test_a_dry_run_lists_what_would_be_done_and_why_and_writes_nothing(tmp_path):
    gray, hints, out = tmp_path / "gray", tmp_path / "hints", tmp_path / "out"
    _gray_photos(gray)
    fresh = _run(gray, out, "--dry-run")
    assert fresh.exit_code == 0 and not out.exists()
    assert fresh.stdout.count("(new)") == 3
    _json_run(gray, out)
    _hint(hints / "b.png")
    listed = _run(gray, out, "--hints", hints, "--dry-run")
    assert listed.exit_code == 0
    lines = {line.split()[1]: line for line in listed.stdout.splitlines()}
    assert lines[str(gray / "b.png")].startswith("colour") and "(hint added)" in lines[str(gray / "b.png")]
    assert lines[str(gray / "a.png")].startswith("keep")
    assert sorted(p.name for p in out.iterdir()) == [JOURNAL_FOLDER, "a.png", "b.png", "c.png"]
    with sqlite3.connect(out / JOURNAL_FOLDER / JOURNAL_NAME) as connection:
        row = connection.execute("SELECT sources FROM outputs WHERE target = ?", (b"b.png",)).fetchone()
        assert json.loads(row[0])["hint"] is None  # the dry run recorded nothing


def test_the_run_report_says_which_outputs_were_redone_and_why(tmp_path):
    gray, out = tmp_path / "gray", tmp_path / "out"
    _gray_photos(gray, ("a.png", "b.png"))
    _json_run(gray, out)
    _json_run(gray, out, "--vividness", "0.8", "--report", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["redone"] == 2 and report["redone reasons"] == {"vividness changed": 2}
    assert {row["reason"] for row in report["images"]} == {"redone: vividness changed"}


def test_a_changed_keyframe_redoes_its_clip(tmp_path):
    frames = _gray_photos(tmp_path / "in" / "shot", [f"frame_{i:03d}.png" for i in range(4)])
    keys = tmp_path / "keys" / "shot"
    keys.mkdir(parents=True)
    Image.new("RGB", SIZE, RED).save(keys / "frame_001.png")
    args = (tmp_path / "in", tmp_path / "out", "--sequence", "--keyframes", tmp_path / "keys")
    assert _json_run(*args)["done"] == len(frames)
    assert _json_run(*args)["done"] == 0
    Image.new("RGB", SIZE, BLUE).save(keys / "frame_001.png")
    assert _json_run(*args)["redone_reasons"] == {"keyframes changed": 4}
    (tmp_path / "out" / JOURNAL_FOLDER / JOURNAL_NAME).unlink()  # frames written before the journal existed
    result = _run(*args)
    assert result.exit_code == 0 and "4 existing output(s) have no record of their sources" in result.output


# --- 3. steering reaches clips, or is refused ---------------------------------------------------------------------


def test_a_reference_steers_every_frame_of_a_sequence(tmp_path):
    _gray_photos(tmp_path / "in" / "shot", [f"frame_{i:03d}.png" for i in range(3)])
    reference = tmp_path / "red.png"
    Image.new("RGB", (40, 30), RED).save(reference)
    _json_run(tmp_path / "in", tmp_path / "auto", "--sequence")
    _json_run(tmp_path / "in", tmp_path / "red", "--sequence", "--reference", reference)
    for i in range(3):
        auto, red = (_pixels(tmp_path / n / "shot" / f"frame_{i:03d}.png").astype(int) for n in ("auto", "red"))
        assert (red[..., 0] - red[..., 2]).mean() > (auto[..., 0] - auto[..., 2]).mean() + 2


def test_hints_for_clips_are_refused_naming_keyframes(tmp_path):
    _gray_photos(tmp_path / "in" / "shot", ["frame_000.png", "frame_001.png"])
    _hint(tmp_path / "hints" / "shot" / "frame_000.png")
    result = _run(tmp_path / "in", tmp_path / "out", "--sequence", "--hints", tmp_path / "hints")
    assert result.exit_code == 2 and "--keyframes" in result.output
    assert not (tmp_path / "out").exists()


# --- 4. steering files obey --max-pixels, from their headers ------------------------------------------------------


def _huge_png(path: Path, side: int = 30000) -> Path:
    """A palette PNG with transparency whose header declares side x side (its pixel data is short)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 3, 0, 0, 0)
    rows = zlib.compress(b"\0" * (side + 1) * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", b"\xff\0\0" * 2)
                     + chunk(b"tRNS", b"\0\xff") + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("flag", ["--hints", "--reference"])
def test_a_huge_steering_file_fails_its_photo_from_its_header_at_once(tmp_path, flag):
    gray = _gray_photos(tmp_path / "gray", ("a.png",))[0]
    huge = _huge_png(tmp_path / "huge.png")
    tracemalloc.start()
    started = time.perf_counter()
    result = _run(gray, tmp_path / "out", flag, huge, "--max-pixels", "1000000")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.exit_code == 3, result.output
    assert str(huge) in result.output and "30000x30000" in result.output and "over the limit" in result.output
    assert seconds < 5 and peak < 200_000_000  # nothing of its 900 M pixels was decoded
    assert not (tmp_path / "out" / "a.png").exists()


def test_a_hint_of_another_aspect_ratio_fails_before_it_is_decoded(tmp_path):
    from colorbatch.hints import read_hint_image

    huge = _huge_png(tmp_path / "huge.png", side=20000)
    started = time.perf_counter()
    with pytest.raises(HintError, match="another aspect ratio"):
        read_hint_image(huge, SIZE, max_pixels=10**9)
    assert time.perf_counter() - started < 1


def test_a_keyframe_over_the_limit_fails_its_clip(tmp_path):
    _gray_photos(tmp_path / "in" / "shot", ["frame_000.png", "frame_001.png"])
    (tmp_path / "keys" / "shot").mkdir(parents=True)
    _huge_png(tmp_path / "keys" / "shot" / "frame_000.png", side=3000)
    result = _run(tmp_path / "in", tmp_path / "out", "--sequence", "--keyframes", tmp_path / "keys",
                  "--max-pixels", "1000000")
    assert result.exit_code == 3 and "frame_000.png" in result.output
    assert "another aspect ratio" in result.output or "over the limit" in result.output


# --- 5. keyframe names ---------------------------------------------------------------------------------------------


def test_a_keyframe_that_is_no_frame_name_fails_its_clip_alone_and_is_said_once(tmp_path):
    for shot in ("one", "two"):
        _gray_photos(tmp_path / "in" / shot, [f"frame_{i:03d}.png" for i in range(3)])
    (tmp_path / "keys" / "one").mkdir(parents=True)
    Image.new("RGB", SIZE, RED).save(tmp_path / "keys" / "one" / "².png")
    result = _run(tmp_path / "in", tmp_path / "out", "--sequence", "--keyframes", tmp_path / "keys")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and result.output.count("².png") == 1
    assert len(list((tmp_path / "out" / "two").glob("*.png"))) == 3  # the next clip is coloured
    assert not (tmp_path / "out" / "one").exists()


def test_a_video_keyframe_is_named_by_ascii_digits():
    from colorbatch.video.keyframes import FRAME_NUMBER

    assert FRAME_NUMBER.fullmatch("000120")
    for name in ("²", "٣", "-1", "1.5", "+3", "12a"):
        assert not FRAME_NUMBER.fullmatch(name), name


def test_frames_with_odd_digits_in_their_names_sort_without_failing():
    from colorbatch.files.discover import natural_key

    names = [Path("frame_10.png"), Path("²"), Path("frame_2.png")]  # '²'.isdigit(), but int('²') fails
    assert [p.name for p in sorted(names, key=natural_key)] == ["frame_2.png", "frame_10.png", "²"]


# --- 6. the Python API reads ordinary arrays -----------------------------------------------------------------------


def test_a_hint_array_is_a_hint_image(tmp_path, colorizer):
    gray = np.asarray(Image.open(_gray_photos(tmp_path, ("g.png",))[0]))
    hint_file = _hint(tmp_path / "h.png")
    rgba = np.asarray(Image.open(hint_file))
    from_file = np.asarray(colorizer.colorize(gray, hints=hint_file))
    assert np.array_equal(np.asarray(colorizer.colorize(gray, hints=rgba)), from_file)
    assert np.array_equal(np.asarray(colorizer.colorize(gray, hints=rgba.astype(np.uint16) * 257)), from_file)
    with pytest.raises(HintError, match="no alpha channel"):
        colorizer.colorize(gray, hints=rgba[..., :3])
    for wrong in (rgba.astype(np.float32), rgba[..., 0], [1, 2, 3]):
        with pytest.raises(HintError, match="expected a hint image"):
            colorizer.colorize(gray, hints=wrong)


def test_a_reference_array_is_an_rgb_image(tmp_path, colorizer):
    gray = np.asarray(Image.open(_gray_photos(tmp_path, ("g.png",))[0]))
    red = np.zeros((30, 40, 3), np.uint8)
    red[:] = RED
    expected = np.asarray(colorizer.colorize(gray, reference=Image.fromarray(red)))
    for same in (red, red.astype(np.uint16) * 257, red.astype(np.float64) / 255, red.astype(np.float32) / 255):
        assert np.abs(np.asarray(colorizer.colorize(gray, reference=same)).astype(int) - expected).max() <= 1
    for wrong in (np.ones(313, np.float32), np.ones(5, np.float32), red.astype(np.float32), red[..., :2],
                  np.zeros((30, 40, 3), np.int64)):
        with pytest.raises(HintError, match="expected a colour photo"):
            colorizer.colorize(gray, reference=wrong)


# --- 7. steering says what it did not do -----------------------------------------------------------------------------


def test_a_gray_reference_or_keyframe_warns_with_its_path(tmp_path):
    gray = tmp_path / "gray"
    _gray_photos(gray, ("a.png", "b.png"))
    flat = tmp_path / "flat.png"
    Image.new("RGB", (40, 30), (120, 120, 120)).save(flat)
    result = _run(gray, tmp_path / "out", "--reference", flat)
    assert result.exit_code == 0 and result.output.count(f"warning: {flat}: the reference photo has no colour") == 1
    _gray_photos(tmp_path / "in" / "shot", ["frame_000.png", "frame_001.png"])
    (tmp_path / "keys" / "shot").mkdir(parents=True)
    Image.new("RGB", SIZE, (90, 90, 90)).save(tmp_path / "keys" / "shot" / "frame_000.png")
    result = _run(tmp_path / "in", tmp_path / "seq", "--sequence", "--keyframes", tmp_path / "keys")
    assert result.exit_code == 0 and result.output.count("frame_000.png: the keyframe has no colour") == 1


def test_keyframes_without_clips_and_a_missing_hint_file_warn(tmp_path):
    gray = tmp_path / "gray"
    _gray_photos(gray, ("a.png",))
    (tmp_path / "keys").mkdir()
    result = _run(gray, tmp_path / "out", "--keyframes", tmp_path / "keys")
    assert result.exit_code == 0 and "had no video or --sequence clip" in result.output
    for folder in (tmp_path / "hints", tmp_path / "dabs.png"):
        folder.mkdir()
        result = _run(gray / "a.png", tmp_path / f"one-{folder.name}", "--hints", folder)
        assert result.exit_code == 0 and "no hint file for a.png" in result.output and "coloured automatically" in \
            result.output
    assert "is a folder, not a hint image" in result.output


def test_hint_files_that_match_no_photo_are_counted_and_named(tmp_path):
    gray, hints = tmp_path / "gray", tmp_path / "hints"
    _gray_photos(gray, ("a.png", "b.png"))
    _hint(hints / "a.png")
    for i in range(7):
        _hint(hints / f"typo{i}.png")
    summary = _json_run(gray, tmp_path / "out", "--hints", hints)
    assert len(summary["unmatched_hints"]) == 7
    result = _run(gray, tmp_path / "out2", "--hints", hints)
    assert "7 hint file(s) match no input" in result.output and "and 2 more" in result.output


def test_the_ambiguity_message_names_the_hint_files(tmp_path):
    gray, hints = tmp_path / "gray", tmp_path / "hints"
    _gray_photos(gray, ("a.png",))
    _hint(hints / "a.png")
    Image.open(hints / "a.png").save(hints / "a.webp", lossless=True)
    result = _run(gray, tmp_path / "out", "--hints", hints)
    assert result.exit_code == 3 and "hint files: a: 2 candidates" in result.output


# --- videos -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def film(tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from tests.test_video import make_clip

    folder = tmp_path / "films"
    folder.mkdir()
    make_clip(folder / "a.mp4", frames=6, audio=False)
    make_clip(folder / "b.mp4", frames=6, audio=False)
    return folder


def _mean_redness(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    return float(np.mean([(f[..., 0] - f[..., 2]).mean() for f in frames]))


def test_a_reference_steers_a_video(tmp_path, film):
    reference = tmp_path / "red.png"
    Image.new("RGB", (40, 30), RED).save(reference)
    _json_run(film / "a.mp4", tmp_path / "auto.mp4")
    _json_run(film / "a.mp4", tmp_path / "red.mp4", "--reference", reference)
    assert _mean_redness(tmp_path / "red.mp4") > _mean_redness(tmp_path / "auto.mp4") + 2


def test_a_hint_file_for_a_video_fails_that_video_naming_keyframes(tmp_path, film):
    Image.fromarray(gray_u8(random_rgb(np.random.default_rng(0), 48, 64))).save(film / "photo.png")
    _hint(tmp_path / "hints" / "photo.png")
    _hint(tmp_path / "hints" / "a.png", size=(128, 96))
    result = _run(film, tmp_path / "out", "--hints", tmp_path / "hints")
    assert result.exit_code == 3 and "hint images steer photos, a clip takes --keyframes" in result.output
    assert (tmp_path / "out" / "photo.png").is_file() and (tmp_path / "out" / "b.mp4").is_file()
    assert not (tmp_path / "out" / "a.mp4").exists()


def test_a_video_keyframe_that_is_no_frame_number_fails_that_video_alone(tmp_path, film):
    keys = tmp_path / "keys" / "a"
    keys.mkdir(parents=True)
    Image.new("RGB", (128, 96), RED).save(keys / "².png")
    result = _run(film, tmp_path / "out", "--keyframes", tmp_path / "keys")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert result.output.count("².png: not a frame name") == 1
    assert (tmp_path / "out" / "b.mp4").is_file() and not (tmp_path / "out" / "a.mp4").exists()
