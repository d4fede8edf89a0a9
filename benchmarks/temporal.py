"""Temporal consistency on real footage: per-frame colour against `--temporal on`, in one run.

    python benchmarks/temporal.py [--clips cockatoo realshort] [--carry 0.9 0.98]

For each clip of ../shared/datasets/video/: the truth's luminance becomes a gray clip (its Y
plane, lossless x264, audio copied), which is colorized as a video with `--temporal off` and
with `--temporal on` at each carry (the default one is the shipped setting), and, for the speed
bar, as a folder of gray PNG frames with `--temporal off`. Each output is decoded and scored
against the truth frame by frame:

- warping error (Lai et al. 2018, with DIS flow on the truth's frames both ways, the
  forward-backward check as occlusion mask), for the outputs and for the truth itself;
- CDC (Jensen-Shannon divergence of RGB histograms of frames t and t+d, d = 1, 2, 4);
- PSNR, SSIM (every 4th frame: it is the slow one), colourfulness (colorbatch.scoring.metrics, as
  `score` computes them); frames per second.

Writes benchmarks/results/temporal.{md,json}, a strip of frames (gray | per-frame | temporal |
truth) per clip as PNG, and a side-by-side clip of the cockatoo (per-frame | temporal | truth)
under 3 MB. Pause other work on
the machine while it runs: the frame rates are compared in the same run.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import time
from pathlib import Path

import numpy as np
from common import RESULTS, SHARED_DATASETS, WORK, write_results
from PIL import Image

from colorbatch import Colorizer
from colorbatch.batch.jobs import RunOptions
from colorbatch.scoring.metrics import (
    colour_distribution_consistency,
    colourfulness,
    psnr,
    rgb_histograms,
    ssim,
    warping_error,
)
from colorbatch.video import clips, temporal
from colorbatch.video.flow import DisFlow, reliable, warp
from colorbatch.video.io import VideoReader, VideoWriter

CLIPS = {"cockatoo": "cockatoo.mp4", "realshort": "realshort.mp4"}
CLIP_LIMIT = 3_000_000  # bytes of the side-by-side clip
SSIM_EVERY = 4


def rgb_frames(path: Path):
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def y_planes(path: Path):
    with VideoReader(path) as reader:
        yield from (frame.y_plane for frame in reader.frames())


def make_gray(truth: Path, work: Path) -> tuple[Path, Path]:
    """The truth's Y plane as a lossless gray clip (audio copied), and as gray PNG frames."""
    clip, frames = work / f"{truth.stem}-gray.mp4", work / f"{truth.stem}-gray-frames"
    if not clip.exists():
        with VideoReader(truth) as reader, VideoWriter(clip, truth, reader.info, crf=0) as writer:
            for frame in reader.frames():
                gray = np.round(frame.luma * 255).astype(np.uint8)
                writer.write(np.repeat(gray[..., None], 3, axis=2), frame.y_plane, frame.pts)
    if not frames.is_dir():
        frames.mkdir(parents=True)
        with VideoReader(clip) as reader:
            for index, frame in enumerate(reader.frames(), 1):
                Image.fromarray(np.round(frame.luma * 255).astype(np.uint8), "L").save(frames / f"frame_{index}.png")
    return clip, frames


def colorize(model: Colorizer, source: Path, out: Path, carry: float | None, sequence: bool = False) -> float:
    """One run (temporal off when ``carry`` is None); its seconds."""
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    stabiliser = functools.partial(temporal.Stabiliser, carry=carry or 0.0)
    original, clips.Stabiliser = clips.Stabiliser, stabiliser
    try:
        options = RunOptions(temporal=carry is not None, video=True, sequence=sequence, overwrite=True)
        summary = model.run(source, out, options)
    finally:
        clips.Stabiliser = original
    assert summary.failed == 0, summary.failures
    return summary.seconds


def score(truth: Path, outputs: dict[str, Path]) -> dict[str, dict]:
    """Every metric of every output against the truth, in one pass over the frames."""
    flow = DisFlow("medium")
    names = ["truth", *outputs]
    streams = [rgb_frames(truth), *(rgb_frames(path) for path in outputs.values())]
    sums = {name: {"warp": [], "hist": [], "psnr": [], "ssim": [], "colourfulness": []} for name in names}
    previous_gray, previous = None, None
    for index, frames in enumerate(zip(*streams, strict=True)):
        gray = np.asarray(Image.fromarray(frames[0]).convert("L"))
        if previous_gray is not None:
            backward, forward = flow(gray, previous_gray), flow(previous_gray, gray)
            mask = reliable(backward, forward)
        for name, frame, before in zip(names, frames, previous or [None] * len(names)):
            stats = sums[name]
            stats["hist"].append(rgb_histograms(frame))
            stats["colourfulness"].append(colourfulness(frame))
            if name != "truth":
                stats["psnr"].append(psnr(frame, frames[0]))
                if index % SSIM_EVERY == 0:
                    stats["ssim"].append(ssim(frame, frames[0]))
            if before is not None:
                stats["warp"].append(warping_error(warp(before, backward), frame, mask))
        previous_gray, previous = gray, list(frames)
    return {name: {"warping_error": float(np.nanmean(s["warp"])),
                   "cdc": colour_distribution_consistency(s["hist"]),
                   "psnr": float(np.mean(s["psnr"])) if s["psnr"] else None,
                   "ssim": float(np.mean(s["ssim"])) if s["ssim"] else None,
                   "colourfulness": float(np.mean(s["colourfulness"])), "frames": len(s["hist"])}
            for name, s in sums.items()}


def strip(name: str, gray: Path, per_frame: Path, stable: Path, truth: Path, picks: int = 5) -> Path:
    """Rows of frames spread over the clip: gray | per-frame | temporal | truth."""
    streams = [rgb_frames(p) for p in (gray, per_frame, stable, truth)]
    frames = list(zip(*streams))
    chosen = np.linspace(0, len(frames) - 1, picks).round().astype(int)
    rows = [np.concatenate([_thumb(f, 240) for f in frames[i]], axis=1) for i in chosen]
    out = RESULTS / f"temporal_strip_{name}.png"
    Image.fromarray(np.concatenate(rows, axis=0)).save(out, optimize=True)
    return out


def _thumb(rgb: np.ndarray, width: int) -> np.ndarray:
    image = Image.fromarray(rgb)
    height = round(image.height * width / image.width)
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))


def side_by_side(name: str, per_frame: Path, stable: Path, truth: Path, rate) -> Path:
    """per-frame | temporal | truth as one H.264 clip (every frame), kept under 3 MB."""
    import av

    out = RESULTS / f"temporal_{name}.mp4"
    for width, crf in ((426, 26), (320, 28), (240, 32)):
        with av.open(str(out), mode="w") as container:
            stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf)})
            for frames in zip(rgb_frames(per_frame), rgb_frames(stable), rgb_frames(truth)):
                panel = np.concatenate([_thumb(f, width) for f in frames], axis=1)
                panel = panel[: panel.shape[0] // 2 * 2, : panel.shape[1] // 2 * 2]
                if not stream.codec_context.is_open:
                    stream.width, stream.height, stream.pix_fmt = panel.shape[1], panel.shape[0], "yuv420p"
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(panel), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        if out.stat().st_size < CLIP_LIMIT:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--carry", nargs="+", type=float, default=[0.9, 0.98])
    args = parser.parse_args()
    work = WORK / "temporal"
    work.mkdir(parents=True, exist_ok=True)
    model = Colorizer(device="cpu")
    rows, extra = [], {"default_carry": temporal.CARRY, "bars": {}}
    for name in args.clips:
        truth = SHARED_DATASETS / "video" / CLIPS[name]
        gray, frames = make_gray(truth, work)
        with VideoReader(truth) as reader:
            info = reader.info
        count = sum(1 for _ in frames.iterdir())
        seconds = {"per-frame PNG files": colorize(model, frames, work / f"{name}-png", None)}
        outputs = {"per-frame": work / f"{name}-off.mp4"}
        seconds["per-frame"] = colorize(model, gray, outputs["per-frame"], None)
        for carry in sorted({*args.carry, temporal.CARRY}):
            label = f"temporal, carry {carry:g}"
            outputs[label] = work / f"{name}-carry{carry:g}.mp4"
            seconds[label] = colorize(model, gray, outputs[label], carry)
        seconds["temporal --sequence PNG files"] = colorize(model, frames, work / f"{name}-seq", temporal.CARRY,
                                                            sequence=True)
        started = time.perf_counter()
        scores = score(truth, outputs)
        print(f"{name}: scored in {time.perf_counter() - started:.0f} s")
        for label, stats in scores.items():
            rows.append({"clip": name, "output": label, **stats,
                         "fps": count / seconds[label] if label in seconds else None})
        for label in ("per-frame PNG files", "temporal --sequence PNG files"):
            rows.append({"clip": name, "output": label, "fps": count / seconds[label]})
        shipped = scores[f"temporal, carry {temporal.CARRY:g}"]
        truth_stats, off = scores["truth"], scores["per-frame"]
        extra["bars"][name] = {
            "warping_error_vs_truth": shipped["warping_error"] / truth_stats["warping_error"],
            "warping_error_below_per_frame": shipped["warping_error"] < off["warping_error"],
            "cdc_vs_truth": shipped["cdc"] / truth_stats["cdc"],
            "psnr_minus_per_frame": shipped["psnr"] - off["psnr"],
            "fps_vs_png_per_frame": seconds["per-frame PNG files"] / seconds[f"temporal, carry {temporal.CARRY:g}"],
        }
        strip(name, gray, outputs["per-frame"], outputs[f"temporal, carry {temporal.CARRY:g}"], truth)
        if name == "cockatoo":
            side_by_side(name, outputs["per-frame"], outputs[f"temporal, carry {temporal.CARRY:g}"], truth,
                         info.rate or 20)
    write_results("temporal", rows, extra)
    for name, bars in extra["bars"].items():
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in bars.items()})


if __name__ == "__main__":
    main()
