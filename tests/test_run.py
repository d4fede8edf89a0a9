import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.api import Colorizer
from colorbatch.batch.jobs import RunOptions
from colorbatch.cli import cli
from colorbatch.color import gray_u8, luminance
from colorbatch.errors import BatchFailedError, DeviceError, InvalidPathError
from colorbatch.files.discover import in_shard
from tests.conftest import output_files, random_rgb, write_color_tree


@pytest.fixture(scope="module")
def colorizer(tiny_onnx):
    return Colorizer(str(tiny_onnx), device="cpu")


def _gray_tree(root, rng, count=6, sizes=((32, 32),)):
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        path = root / ("sub" if i % 2 else "") / f"g{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(random_rgb(rng, h, w))).save(path)
    return root


def _invoke(*args):
    return CliRunner().invoke(cli, ["run", *map(str, args)])


def _luma_u8(path):
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB")).astype(np.float32)
    return luminance(rgb)


def test_tree_is_mirrored_and_luminance_kept(tmp_path, rng, tiny_onnx):
    _gray_tree(tmp_path / "in", rng)
    result = _invoke(tmp_path / "in", tmp_path / "out", "--model", tiny_onnx, "--device", "cpu")
    assert result.exit_code == 0, result.output
    inputs = sorted(p.relative_to(tmp_path / "in") for p in (tmp_path / "in").rglob("*.png"))
    outputs = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.png"))
    assert inputs == outputs and len(outputs) == 6
    for rel in inputs:
        gray = np.asarray(Image.open(tmp_path / "in" / rel)).astype(np.float32)
        out = Image.open(tmp_path / "out" / rel)
        assert out.mode == "RGB" and out.size == (32, 32)
        assert np.abs(_luma_u8(tmp_path / "out" / rel) - gray).max() <= 1.0  # 8-bit rounding of 3 channels
    assert "6 done, 0 skipped, 0 failed" in result.output and "CPUExecutionProvider" in result.output


def test_single_file_input(tmp_path, rng, tiny_onnx):
    _gray_tree(tmp_path / "in", rng, count=1)
    result = _invoke(tmp_path / "in" / "g0.png", tmp_path / "out", "--model", tiny_onnx, "--format", "jpg")
    assert result.exit_code == 0, result.output
    assert [p.name for p in output_files(tmp_path / "out")] == ["g0.jpg"]


def test_png_compression_changes_the_file_size_not_the_pixels(tmp_path, rng, tiny_onnx):
    Image.fromarray(gray_u8(random_rgb(rng, 96, 128))).save(tmp_path / "g.png")
    outputs = {}
    for level in (0, 9):
        out = tmp_path / f"out{level}"
        result = _invoke(tmp_path / "g.png", out, "--model", tiny_onnx, "--png-compression", level)
        assert result.exit_code == 0, result.output
        outputs[level] = out / "g.png"
    assert outputs[0].stat().st_size > outputs[9].stat().st_size
    assert np.array_equal(np.asarray(Image.open(outputs[0])), np.asarray(Image.open(outputs[9])))
    result = _invoke(tmp_path / "g.png", tmp_path / "bad", "--model", tiny_onnx, "--png-compression", 10)
    assert result.exit_code == 2 and "--png-compression" in result.output


def test_mixed_sizes_keep_their_size_and_luminance(tmp_path, rng, colorizer):
    sizes = ((32, 32), (20, 45), (64, 48), (300, 200), (7, 9))
    _gray_tree(tmp_path / "in", rng, count=10, sizes=sizes)
    summary = colorizer.run(tmp_path / "in", tmp_path / "out", batch_size=3)
    assert summary.done == 10 and summary.failed == 0
    for source in (tmp_path / "in").rglob("*.png"):
        target = tmp_path / "out" / source.relative_to(tmp_path / "in")
        gray = np.asarray(Image.open(source)).astype(np.float32)
        assert Image.open(target).size == Image.open(source).size
        assert np.abs(_luma_u8(target) - gray).max() <= 1.0


def test_large_input_uses_working_size_and_full_resolution_luminance(rng, colorizer):
    gray = gray_u8(random_rgb(rng, 256, 384))
    assert colorizer.shape_for(gray.astype(np.float32) / 255) == (32, 48)
    out = np.asarray(colorizer.colorize(gray))
    assert out.shape == (256, 384, 3)
    assert np.abs(luminance(out.astype(np.float32)) - gray).max() <= 1.0


def _save(image: Image.Image, path, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def test_every_input_mode(tmp_path, rng, colorizer):
    rgb = random_rgb(rng, 32, 40)
    base = Image.fromarray(rgb)
    folder = tmp_path / "in"
    _save(base.convert("L"), folder / "l8.png")
    sixteen = (gray_u8(rgb).astype(np.uint16) * 257)
    _save(Image.fromarray(sixteen), folder / "l16.png")
    _save(base, folder / "rgb.png")
    _save(base.convert("P"), folder / "palette.png")
    _save(base.convert("CMYK"), folder / "cmyk.jpg", quality=100)
    la = base.convert("LA")
    la.putalpha(Image.fromarray(np.full((32, 40), 128, np.uint8)))
    _save(la, folder / "la.png")
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.tile(np.arange(40, dtype=np.uint8), (32, 1))))
    _save(rgba, folder / "rgba.png")
    _save(base.convert("1"), folder / "bilevel.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    _save(base.convert("L"), folder / "rotated.jpg", exif=exif.tobytes(), quality=95)
    summary = colorizer.run(folder, tmp_path / "out")
    assert summary.done == 9 and summary.failed == 0, summary.failures
    out = tmp_path / "out"
    assert np.abs(_luma_u8(out / "l16.png") - gray_u8(rgb)).max() <= 1.0
    assert np.abs(_luma_u8(out / "rgb.png") - luminance(rgb.astype(np.float32))).max() <= 1.0
    assert Image.open(out / "la.png").mode == "RGBA"
    assert np.asarray(Image.open(out / "la.png"))[..., 3].max() == 128
    assert np.array_equal(np.asarray(Image.open(out / "rgba.png"))[..., 3], np.asarray(rgba)[..., 3])
    assert Image.open(out / "rotated.png").size == (32, 40)  # EXIF orientation applied
    assert Image.open(out / "cmyk.png").size == (40, 32)


def test_alpha_is_dropped_for_jpeg(tmp_path, rng, colorizer):
    rgba = Image.fromarray(random_rgb(rng)).convert("RGBA")
    _save(rgba, tmp_path / "in" / "a.png")
    colorizer.run(tmp_path / "in", tmp_path / "out", fmt="jpg")
    assert Image.open(tmp_path / "out" / "a.jpg").mode == "RGB"


def _bad_inputs(folder, rng):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image")
    good = io.BytesIO()
    Image.fromarray(random_rgb(rng, 64, 64)).save(good, format="PNG")
    (folder / "truncated.png").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    Image.new("L", (3000, 3000)).save(folder / "bomb.png")
    (folder / "notes.txt").write_text("skipped, not an image type")
    Image.fromarray(gray_u8(random_rgb(rng))).save(folder / "ok.png")


def test_bad_inputs_are_reported_and_the_batch_goes_on(tmp_path, rng, tiny_onnx):
    _bad_inputs(tmp_path / "in", rng)
    result = _invoke(tmp_path / "in", tmp_path / "out", "--model", tiny_onnx, "--max-pixels", "1000000")
    assert result.exit_code == BatchFailedError.exit_code
    for name, reason in [("empty.png", "empty file"), ("text.png", "not an image"),
                         ("truncated.png", "cannot decode"), ("bomb.png", "3000x3000 is 9,000,000 pixels")]:
        assert f"{name}: {reason}" in result.output, (name, result.output)
    assert "possible decompression bomb" in result.output
    assert "1 done, 0 skipped, 4 failed, 1 not images" in result.output
    assert [p.name for p in output_files(tmp_path / "out")] == ["ok.png"]
    assert "Traceback" not in result.output


def test_strict_stops_at_first_failure(tmp_path, rng, colorizer):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bad.png").write_bytes(b"")
    for i in range(5):
        Image.fromarray(gray_u8(random_rgb(rng))).save(folder / f"b{i}.png")
    summary = colorizer.run(folder, tmp_path / "out", strict=True, batch_size=2, workers=1)
    assert summary.failed == 1 and summary.done == 0


def test_resume_skips_finished_and_leaves_no_partial_files(tmp_path, rng, colorizer):
    _gray_tree(tmp_path / "in", rng, count=4)
    out = tmp_path / "out"
    colorizer.run(tmp_path / "in", out)
    finished = out / "g0.png"
    (out / "g0.png").unlink()
    (out / ".g0.png.999.partial").write_bytes(b"half an image")  # what an interruption leaves
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    summary = colorizer.run(tmp_path / "in", out)
    assert summary.done == 1 and summary.skipped == 3
    assert finished.is_file() and all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert colorizer.run(tmp_path / "in", out, overwrite=True).done == 4
    assert not any(p.name.endswith(".partial") and "999" not in p.name for p in out.rglob("*"))


def test_refuses_output_inside_input(tmp_path, rng, tiny_onnx):
    _gray_tree(tmp_path / "in", rng, count=1)
    for out in (tmp_path / "in", tmp_path / "in" / "nested"):
        result = _invoke(tmp_path / "in", out, "--model", tiny_onnx)
        assert result.exit_code == InvalidPathError.exit_code and "inside the input" in result.output
    result = _invoke(tmp_path / "missing", tmp_path / "out", "--model", tiny_onnx)
    assert result.exit_code == InvalidPathError.exit_code and "no such file" in result.output


def test_name_collisions_are_reported_not_overwritten(tmp_path, rng, colorizer):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(gray_u8(random_rgb(rng))).save(folder / "a.png")
    Image.fromarray(gray_u8(random_rgb(rng))).save(folder / "a.jpg")
    summary = colorizer.run(folder, tmp_path / "out", fmt="png")
    assert summary.done == 1 and summary.failed == 1
    assert "would also be written from" in summary.failures[0].reason
    assert colorizer.run(folder, tmp_path / "same", fmt="same").done == 2


def test_shards_are_disjoint_and_complete(tmp_path, rng, colorizer):
    _gray_tree(tmp_path / "in", rng, count=12)
    seen = []
    for k in (1, 2, 3):
        summary = colorizer.run(tmp_path / "in", tmp_path / "out", shard=(k, 3))
        seen.append(summary.done)
    assert sum(seen) == 12 and len(list((tmp_path / "out").rglob("*.png"))) == 12
    from pathlib import Path

    names = [Path(f"x/{i}.png") for i in range(200)]
    members = [[n for n in names if in_shard(n, (k, 4))] for k in range(1, 5)]
    assert sorted(n for m in members for n in m) == sorted(names) and all(members)


def test_bad_shard_is_a_usage_error(tmp_path, tiny_onnx):
    result = _invoke(tmp_path, tmp_path / "out", "--model", tiny_onnx, "--shard", "4/3")
    assert result.exit_code == 2 and "1 <= K <= N" in result.output


def test_device_cuda_without_cuda_is_an_error(tiny_onnx):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        try:
            Colorizer(str(tiny_onnx), device="cuda")
        except DeviceError as exc:
            assert "CUDA cannot run here" in str(exc)
        else:
            pytest.skip("a working CUDA device is present")
    else:
        with pytest.raises(DeviceError, match="no CUDA provider"):
            Colorizer(str(tiny_onnx), device="cuda")


def test_auto_device_is_quiet_without_gpu(tiny_onnx, capfd):
    colorizer = Colorizer(str(tiny_onnx), device="auto")
    captured = capfd.readouterr()
    if colorizer.provider != "CPUExecutionProvider":
        pytest.skip(f"a working GPU: auto chose {colorizer.provider}, so there is no fallback to keep quiet")
    for stream in (captured.out, captured.err):
        assert "onnxruntime" not in stream and "Failed to load" not in stream and "cuda" not in stream.lower()


def test_missing_or_foreign_model_is_a_clear_error(tmp_path):
    from colorbatch.errors import ModelError

    with pytest.raises(ModelError, match="no such model"):
        Colorizer(str(tmp_path / "none.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ModelError, match="cannot load"):
        Colorizer(str(tmp_path / "junk.onnx"))


def test_colorize_api_accepts_arrays_and_pil(colorizer, rng):
    rgb = random_rgb(rng)
    gray = gray_u8(rgb)
    forms = (Image.fromarray(rgb), Image.fromarray(gray), gray, rgb, rgb.astype(np.float32) / 255,
             rgb.astype(np.uint16) * 257)
    outputs = [np.asarray(colorizer.colorize(image)) for image in forms]
    for out in outputs:  # one photo in every form: its luminance kept, and the same colours
        assert out.shape == (32, 32, 3) and out.dtype == np.uint8
        assert np.abs(gray_u8(out).astype(int) - gray).max() <= 1
        assert np.abs(out.astype(int) - outputs[0]).max() <= 2
    assert np.array_equal(outputs[0], outputs[3]) and np.array_equal(outputs[1], outputs[2])


def _colour_and_gray(tmp_path, rng, suffix: str, count: int = 3):
    """``count`` random colour images in tmp_path/colour and their gray copies in tmp_path/in."""
    colour = tmp_path / "colour"
    colour.mkdir()
    for i in range(count):
        Image.fromarray(random_rgb(rng)).save(colour / f"c{i}{suffix}")
    CliRunner().invoke(cli, ["gray", str(colour), str(tmp_path / "in")])
    return colour


def test_run_with_truth_scores_on_the_fly(tmp_path, rng, tiny_onnx):
    colour = _colour_and_gray(tmp_path, rng, ".jpg")
    result = _invoke(tmp_path / "in", tmp_path / "out", "--model", tiny_onnx, "--truth", colour,
                     "--report", tmp_path / "run.json")
    assert result.exit_code == 0, result.output
    import json
    import re

    assert "PSNR mean (dB)" in result.output and re.search(r"images scored\s+3\n", result.output)

    report = json.loads((tmp_path / "run.json").read_text())
    assert len(report["images"]) == 3 and all(r["status"] == "done" for r in report["images"])


def test_device_parsing_accepts_a_gpu_index():
    from colorbatch.inference.session import parse_device

    assert parse_device("auto") == ("auto", 0) and parse_device("cpu") == ("cpu", 0)
    assert parse_device("cuda") == ("cuda", 0) and parse_device("cuda:1") == ("cuda", 1)
    for bad in ("gpu", "cuda:x", "cpu:1", "cuda:-1", ""):
        with pytest.raises(DeviceError, match="auto, cpu, cuda or cuda:N"):
            parse_device(bad)


def test_cuda_n_on_a_machine_without_cuda_is_a_device_error(tmp_path, tiny_onnx):
    Image.new("L", (16, 16), 90).save(tmp_path / "a.png")
    result = _invoke(tmp_path / "a.png", tmp_path / "out", "--model", tiny_onnx, "--device", "cuda:1")
    if result.exit_code == 0:
        pytest.skip("a working second CUDA device is present")
    assert result.exit_code == 5 and "--device cuda:1: CUDA cannot run here" in result.output
    bad = _invoke(tmp_path / "a.png", tmp_path / "out", "--model", tiny_onnx, "--device", "gpu0")
    assert bad.exit_code == 2 and "cuda:N" in bad.output


def test_single_file_with_an_image_name_as_out_writes_that_file(tmp_path, rng, tiny_onnx):
    _gray_tree(tmp_path / "in", rng, count=1)
    result = _invoke(tmp_path / "in" / "g0.png", tmp_path / "coloured.jpg", "--model", tiny_onnx)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "coloured.jpg").is_file() and not (tmp_path / "coloured.jpg").is_dir()
    with Image.open(tmp_path / "coloured.jpg") as image:
        assert image.format == "JPEG" and image.mode == "RGB"
    again = _invoke(tmp_path / "in" / "g0.png", tmp_path / "coloured.jpg", "--model", tiny_onnx)
    assert again.exit_code == 0 and "1 skipped" in again.output
    gray = CliRunner().invoke(cli, ["gray", str(tmp_path / "coloured.jpg"), str(tmp_path / "back.png")])
    assert gray.exit_code == 0 and (tmp_path / "back.png").is_file()


def test_pixels_in_flight_stay_within_the_budget(tmp_path, rng, colorizer):
    _gray_tree(tmp_path / "in", rng, count=12, sizes=((32, 32), (64, 48), (40, 40)))
    budget = 3 * 64 * 48
    summary = colorizer.run(tmp_path / "in", tmp_path / "out", RunOptions(batch_size=4, pixel_budget=budget))
    assert summary.done == 12 and 0 < summary.peak_pixels_in_flight <= budget
    alone = colorizer.run(tmp_path / "in", tmp_path / "out2", RunOptions(batch_size=4, pixel_budget=100))
    assert alone.done == 12 and alone.peak_pixels_in_flight == 64 * 48  # one image at a time, even over budget


def test_network_size_scales_large_inputs_down_and_small_ones_up():
    from colorbatch.inference.modelinfo import ModelInfo, network_size

    info = ModelInfo(train_size=64, working_size=96)
    assert network_size(480, 320, info) == (144, 96)  # short side down to the working size
    assert network_size(80, 70, info) == (80, 70)  # between the training and working sizes: as it is
    assert network_size(32, 32, info) == (64, 64)  # below the training size: up to it
    assert network_size(32, 48, info, size=128) == (128, 192)  # --size applies to every input
    assert network_size(20, 30, ModelInfo(train_size=32, working_size=32, size_multiple=32)) == (32, 64)
    assert network_size(32, 32, ModelInfo(train_size=160, working_size=224, min_size=64)) == (64, 64)


def test_strict_gray_stops_at_the_first_failed_file(tmp_path, rng):
    from colorbatch.work.gray import gray_tree

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bad.png").write_bytes(b"not a png")  # fails when read, not when planned
    for i in range(12):
        Image.fromarray(random_rgb(rng)).save(folder / f"b{i:02d}.png")
    summary = gray_tree(folder, tmp_path / "out", RunOptions(strict=True, workers=1))
    # the failed first file stops the plan: only what was already in flight finishes (a window of
    # 4 per worker, the failure one of them), and every output written is counted
    assert summary.failed == 1 and summary.done <= 3
    written = output_files(tmp_path / "out") if (tmp_path / "out").exists() else []
    assert len(written) == summary.done


def test_results_carry_a_status_enum_that_reads_as_its_word(tmp_path, tiny_onnx):
    from colorbatch.batch.jobs import Status

    (tmp_path / "in").mkdir()
    Image.new("L", (16, 16), 90).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "b.png").write_bytes(b"not a png")
    (tmp_path / "in" / "notes.txt").write_text("x")
    seen = []
    summary = Colorizer(str(tiny_onnx), device="cpu").run(tmp_path / "in", tmp_path / "out", on_result=seen.append)
    statuses = sorted(str(r.status) for r in seen)
    assert statuses == ["done", "failed", "unsupported"]
    assert all(isinstance(r.status, Status) for r in seen)
    assert (summary.done, summary.failed, summary.unsupported, summary.skipped) == (1, 1, 1, 0)
    again = Colorizer(str(tiny_onnx), device="cpu").run(tmp_path / "in", tmp_path / "out")
    assert again.skipped == 1 and again.failures[0].status is Status.FAILED


def test_the_python_api_writes_the_same_report_as_the_cli(tmp_path, tiny_onnx, rng):
    import json

    colour = _colour_and_gray(tmp_path, rng, ".png")
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    summary = Colorizer(str(tiny_onnx), device="cpu").run(tmp_path / "in", tmp_path / "api", truth=colour,
                                                          report=tmp_path / "api.json")
    result = _invoke(tmp_path / "in", tmp_path / "cli", "--model", tiny_onnx, "--device", "cpu", "--truth", colour,
                     "--report", tmp_path / "cli.json")
    assert result.exit_code == 3, result.output  # the broken file fails in both
    api, by_cli = (json.loads((tmp_path / name).read_text()) for name in ("api.json", "cli.json"))
    assert api["counts"] == by_cli["counts"] == {"done": 3, "skipped": 0, "failed": 1, "unsupported": 0}
    # equal up to the order the threads add them in
    assert summary.done == 3 and api["aggregate"]["psnr_mean"] == pytest.approx(by_cli["aggregate"]["psnr_mean"])
    assert api["context"]["model sha256"] == by_cli["context"]["model sha256"]
    strip = lambda rows: sorted((r["image"].rsplit("/", 1)[-1], r["status"], r["psnr"]) for r in rows)  # noqa: E731
    assert strip(api["images"]) == strip(by_cli["images"])
    Colorizer(str(tiny_onnx), device="cpu").run(tmp_path / "in", tmp_path / "api", report=tmp_path / "r.html",
                                                overwrite=True)
    assert "<html" in (tmp_path / "r.html").read_text().lower()


def test_an_interrupted_gray_counts_what_it_wrote(tmp_path, rng):
    from colorbatch.work.gray import gray_tree

    write_color_tree(tmp_path / "colour", 40)
    calls = []

    def interrupt_at_the_fifth(result) -> None:
        calls.append(result)
        if len(calls) == 5:
            raise KeyboardInterrupt

    summary = gray_tree(tmp_path / "colour", tmp_path / "gray", RunOptions(workers=2), on_result=interrupt_at_the_fifth)
    assert summary.interrupted and 5 <= summary.done < 40
    assert summary.done == len(list((tmp_path / "gray").rglob("*.png")))  # each finished write is counted


def _cut_short(path, keep=0.6):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "tiff"])
def test_resume_redoes_outputs_cut_short_by_another_tool(tmp_path, rng, colorizer, fmt):
    _gray_tree(tmp_path / "in", rng, count=4, sizes=((48, 64),))
    out = tmp_path / "out"
    colorizer.run(tmp_path / "in", out, fmt=fmt if fmt != "tiff" else "same")
    if fmt == "tiff":  # --format has no tiff: make tiff inputs and keep their format
        for path in (tmp_path / "in").rglob("*.png"):
            Image.open(path).save(path.with_suffix(".tif"))
            path.unlink()
        out = tmp_path / "out-tiff"
        colorizer.run(tmp_path / "in", out, fmt="same")
    outputs = output_files(out)
    assert len(outputs) == 4
    _cut_short(outputs[0])
    summary = colorizer.run(tmp_path / "in", out, fmt="same" if fmt == "tiff" else fmt)
    assert (summary.done, summary.skipped) == (1, 3)
    with Image.open(outputs[0]) as image:
        image.load()
        assert image.size == (64, 48)


def test_resume_redoes_an_output_of_another_size(tmp_path, rng, colorizer):
    _gray_tree(tmp_path / "in", rng, count=2)
    out = tmp_path / "out"
    colorizer.run(tmp_path / "in", out)
    Image.fromarray(random_rgb(rng, 16, 16)).save(out / "g0.png")  # a leftover from another input
    summary = colorizer.run(tmp_path / "in", out)
    assert (summary.done, summary.skipped) == (1, 1)
    assert Image.open(out / "g0.png").size == (32, 32)


def test_resume_skips_a_whole_output_of_a_rotated_input(tmp_path, rng, colorizer):
    folder = tmp_path / "in"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: the output is 24 wide, 40 high
    Image.fromarray(gray_u8(random_rgb(rng, 24, 40))).save(folder / "r.jpg", exif=exif)
    assert colorizer.run(folder, tmp_path / "out").done == 1
    assert Image.open(tmp_path / "out" / "r.png").size == (24, 40)
    assert colorizer.run(folder, tmp_path / "out").skipped == 1


@pytest.mark.parametrize("command", ["run", "gray"])
def test_a_single_named_file_that_is_not_an_image_fails(tmp_path, tiny_onnx, command):
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.4 not an image")
    extra = ["--model", str(tiny_onnx), "--device", "cpu"] if command == "run" else []
    result = CliRunner().invoke(cli, [command, str(notes), str(tmp_path / "out"), *extra])
    assert result.exit_code == BatchFailedError.exit_code, result.output
    assert "notes.pdf" in result.output and "not a supported image type" in result.output
    assert "1 failed" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("command", ["run", "gray"])
def test_quiet_silences_progress_but_names_each_failed_file(tmp_path, tiny_onnx, rng, command):
    source = _gray_tree(tmp_path / "in", rng, count=2)
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    extra = ["--model", str(tiny_onnx)] if command == "run" else []
    result = CliRunner().invoke(cli, [command, str(source), str(tmp_path / "out"), "--quiet", *extra])
    assert result.exit_code == 3
    assert "failed:" in result.stderr and "broken.png" in result.stderr
