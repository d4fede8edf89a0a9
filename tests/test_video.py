"""Videos and frame sequences: a synthetic clip (a textured photo moving along a known shift, with
a sound track) made here and round-tripped through real H.264 encoding and decoding."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.api import Colorizer
from colorbatch.batch.jobs import ClipJob, RunOptions
from colorbatch.batch.plan import plan_jobs, plan_sequences
from colorbatch.cli import cli
from colorbatch.color import rgb_to_chroma
from colorbatch.samples import sample_images
from tests.conftest import output_files

pytestmark = pytest.mark.slow  # encodes and decodes videos

av = pytest.importorskip("av")
pytest.importorskip("cv2")

RATE = Fraction(15)
SHIFT = 3  # pixels per frame, to the right
FRAMES = 16
HEIGHT, WIDTH = 96, 128


def _scene(frame: int) -> np.ndarray:
    """Frame ``frame`` of a camera pan: a window of a photo moving SHIFT px right per frame."""
    photo = np.asarray(Image.fromarray(sample_images(("coffee",))["coffee"]).resize((256, 192)))
    left = 60 - SHIFT * frame
    return np.ascontiguousarray(photo[40: 40 + HEIGHT, left: left + WIDTH])


def make_clip(path, frames: int = FRAMES, audio: bool = True) -> None:
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=RATE, options={"crf": "10"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = container.add_stream("aac", rate=22050) if audio else None
        for index in range(frames):
            for packet in video.encode(av.VideoFrame.from_ndarray(_scene(index), format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if sound is not None:
            samples = np.sin(np.arange(int(22050 * frames / RATE)) * 0.05).astype(np.float32)[None]
            chunk = 1024
            for start in range(0, samples.shape[1] - chunk, chunk):
                frame = av.AudioFrame.from_ndarray(samples[:, start:start + chunk], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 22050, start
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)


def _probe(path) -> dict:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        info = {"frames": len(frames), "rate": stream.average_rate, "size": (frames[0].width, frames[0].height),
                "pts": [f.pts * f.time_base for f in frames],
                "y": [f.reformat(format="yuv420p").to_ndarray()[: f.height].astype(int) for f in frames],
                "rgb": [f.to_ndarray(format="rgb24") for f in frames]}
    with av.open(str(path)) as container:
        info["audio"] = [bytes(p) for p in container.demux(*container.streams.audio) if p.size]
    return info


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "pan.mp4"
    make_clip(path)
    return path


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer(device="cpu")


def _run(*args):
    return CliRunner().invoke(cli, ["run", *map(str, args)])


def test_a_video_comes_out_a_video_with_its_frames_rate_time_stamps_and_sound(tmp_path, clip):
    result = _run(clip, tmp_path / "out.mp4", "--quiet")
    assert result.exit_code == 0, result.output
    source, output = _probe(clip), _probe(tmp_path / "out.mp4")
    assert output["frames"] == source["frames"] == FRAMES
    assert output["rate"] == source["rate"] == RATE
    assert output["size"] == source["size"] == (WIDTH, HEIGHT)
    assert output["pts"] == source["pts"]
    assert output["audio"] and output["audio"] == source["audio"]  # the sound stream copied, packet for packet
    rgb = np.stack(output["rgb"]).astype(np.float32)
    assert np.abs(rgb_to_chroma(rgb / 255)).max() > 0.02  # it is in colour
    differences = np.abs(np.stack(output["y"]) - np.stack(source["y"]))
    assert differences.mean() < 1.0  # luminance: the input's, up to H.264 at CRF 18


def test_luminance_is_exactly_the_inputs_before_the_codec(tmp_path, clip):
    result = _run(clip, tmp_path / "out.mkv", "--crf", "0", "--quiet")  # x264 lossless, in Matroska
    assert result.exit_code == 0, result.output
    source, output = _probe(clip), _probe(tmp_path / "out.mkv")
    assert all(np.array_equal(a, b) for a, b in zip(source["y"], output["y"]))


def _shift_error(frames: list[np.ndarray], shift: int) -> float:
    """Mean squared chroma difference between each frame and the previous one moved by ``shift``
    px to the right: the warping error along a known motion (0 for colour that moves with the
    picture and does not flicker)."""
    errors = []
    for before, after in itertools.pairwise(frames):
        a = rgb_to_chroma(before.astype(np.float32) / 255)[8:-8, 8:-8 - SHIFT]
        b = rgb_to_chroma(after.astype(np.float32) / 255)[8:-8, 8 + shift: WIDTH - 8 - SHIFT + shift]
        errors.append(np.mean((a - b) ** 2))
    return float(np.mean(errors))


def test_temporal_consistency_steadies_colour_that_still_follows_the_motion(tmp_path, clip, colorizer):
    outputs = {}
    for temporal in (False, True):
        out = tmp_path / f"temporal-{temporal}.mkv"
        summary = colorizer.run(clip, out, RunOptions(video=True, temporal=temporal, crf=0))
        assert summary.done == 1
        outputs[temporal] = _probe(out)["rgb"]
    steady, per_frame = _shift_error(outputs[True], SHIFT), _shift_error(outputs[False], SHIFT)
    assert steady < 0.8 * per_frame
    assert steady < _shift_error(outputs[True], 0)  # the colour moves with the picture, it does not stay put


def test_a_corrupt_video_fails_alone(tmp_path, clip):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.mp4").write_bytes(clip.read_bytes())
    (src / "cut.mp4").write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    (src / "noise.mov").write_bytes(np.random.default_rng(0).bytes(5000))
    Image.fromarray(_scene(0)).convert("L").save(src / "still.png")
    result = _run(src, tmp_path / "out", "--quiet")
    assert result.exit_code == 3, result.output
    assert [p.name for p in output_files(tmp_path / "out")] == ["good.mp4", "still.png"]
    assert _probe(tmp_path / "out" / "good.mp4")["frames"] == FRAMES


def test_a_finished_video_is_skipped_and_one_cut_short_is_redone(tmp_path, clip):
    out = tmp_path / "out"
    assert _run(clip, out, "--quiet").exit_code == 0
    again = CliRunner().invoke(cli, ["run", str(clip), str(out), "--json", "--quiet"])
    assert '"skipped": 1' in again.output
    target = out / clip.name
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    redo = CliRunner().invoke(cli, ["run", str(clip), str(out), "--json", "--quiet"])
    assert '"done": 1' in redo.output
    assert _probe(target)["frames"] == FRAMES


def _frames(folder, names):
    folder.mkdir(parents=True)
    for index, name in names:
        Image.fromarray(_scene(index)).convert("L").save(folder / name)


def test_sequence_orders_frames_by_their_numbers(tmp_path):
    names = [(i, f"frame_{i}.png") for i in range(1, 13)]
    _frames(tmp_path / "in" / "shot", names)
    plan = list(plan_sequences(plan_jobs(tmp_path / "in", tmp_path / "out", RunOptions(sequence=True)),
                               tmp_path / "out"))
    assert len(plan) == 1 and isinstance(plan[0], ClipJob)
    assert [f.job.source.name for f in plan[0].frames] == [name for _, name in names]  # frame_2 before frame_10


def test_a_sequence_keeps_one_file_per_frame_and_resumes_where_it_stopped(tmp_path, colorizer):
    _frames(tmp_path / "in" / "shot", [(i, f"f{i}.png") for i in range(1, 11)])
    options = RunOptions(sequence=True, video=True)
    summary = colorizer.run(tmp_path / "in", tmp_path / "out", options)
    assert (summary.done, summary.failed) == (10, 0)
    for i in range(1, 11):
        with Image.open(tmp_path / "out" / "shot" / f"f{i}.png") as out, \
                Image.open(tmp_path / "in" / "shot" / f"f{i}.png") as gray:
            assert out.mode == "RGB" and out.size == gray.size
            assert np.array_equal(np.asarray(out.convert("L")), np.asarray(gray))  # luminance exactly kept
    (tmp_path / "out" / "shot" / "f7.png").unlink()
    again = colorizer.run(tmp_path / "in", tmp_path / "out", options)
    assert (again.done, again.skipped) == (1, 9)


def test_a_sequence_cut_into_pieces_warms_each_up_on_the_frames_before_it(tmp_path, monkeypatch):
    from colorbatch.batch import plan

    monkeypatch.setattr(plan, "SEQUENCE_OVERLAP", 4)
    _frames(tmp_path / "in", [(i % 16, f"frame_{i}.png") for i in range(12)])
    plan = list(plan_sequences(plan_jobs(tmp_path / "in", tmp_path / "out", RunOptions(sequence=True)),
                               tmp_path / "out", piece=5))
    assert [(clip.warmup, [int(f.job.source.stem[6:]) for f in clip.frames]) for clip in plan] == [
        (0, [0, 1, 2, 3, 4]), (4, [1, 2, 3, 4, 5, 6, 7, 8, 9]), (4, [6, 7, 8, 9, 10, 11])]


def test_a_container_that_cannot_hold_the_sound_fails_clearly_and_leaves_nothing(tmp_path, clip):
    result = _run(clip, tmp_path / "out.webm")  # WebM holds Opus or Vorbis, never AAC
    assert result.exit_code == 3
    assert "out.webm" in result.output and "aac" in result.output
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file


def test_a_film_does_not_hold_back_the_images_of_its_run(tmp_path, clip, colorizer, monkeypatch):
    """The clip comes first in the plan ("a-film" sorts before the photos); its photos are written
    first all the same, and the clip after them. Past WAITING_FRAME_LIMIT frames, clips wait no more."""
    import shutil

    (tmp_path / "in").mkdir()
    shutil.copyfile(clip, tmp_path / "in" / "a-film.mp4")
    for index in range(6):
        Image.fromarray(_scene(index)).convert("L").save(tmp_path / "in" / f"photo{index}.png")
    arrivals = []
    summary = colorizer.run(tmp_path / "in", tmp_path / "out", video=True,
                            on_result=lambda r: arrivals.append(r.source.name))
    assert summary.done == 7 and summary.failed == 0
    assert arrivals[-1] == "a-film.mp4" and sorted(arrivals[:-1]) == [f"photo{i}.png" for i in range(6)]

    from colorbatch.work import colorize as pipeline

    monkeypatch.setattr(pipeline, "WAITING_FRAME_LIMIT", 0)  # no room to hold clips back: each runs when reached
    arrivals.clear()
    colorizer.run(tmp_path / "in", tmp_path / "again", video=True, on_result=lambda r: arrivals.append(r.source.name))
    assert arrivals[0] == "a-film.mp4" and len(arrivals) == 7
