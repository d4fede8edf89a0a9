"""Byte-identical outputs across a refactor: `colorbatch gray`, `run` and `score` on a fixed tree.

    python benchmarks/same_outputs.py            # compare with benchmarks/results/same_outputs.json
    python benchmarks/same_outputs.py --record   # record the digests (before a refactor)

To record with an older commit's code in the same environment: `git worktree add /tmp/before COMMIT`,
a `sitecustomize.py` in /tmp/site that drops the editable install's finders from `sys.meta_path`, then
`PYTHONPATH=/tmp/site:/tmp/before python benchmarks/same_outputs.py --record`.

Record: 36a13ac's code; on 8 December 2026 `outputs/score/run.json` alone was re-recorded after the
bundled model's metadata gained its terms of use (weights unchanged: every image and frame stayed
identical; the run report's `model sha256` is the file's digest).

The tree (made once under benchmarks/work/same-outputs/): scikit-image's sample photos as PNG, JPEG,
WebP, TIFF and BMP of several sizes, one with an alpha channel, one in a sub-folder; the short clip
realshort.mp4 (36 frames, 320x240) from ../shared/datasets/video/; and a `--sequence` folder of the
cockatoo clip's first 8 frames at 320x180; and a hint image of three dabs for the astronaut. `gray`
makes the gray tree from the colour one, `run` colours it (images and the clip) with the bundled
model on the CPU, `run --sequence` colours the frames, `score` writes a JSON and a CSV report of the
outputs against the colour tree, `run --hints` and `run --reference` steer one photo each, and
`run --truth --report` writes the run's own JSON and CSV reports. Every
output file's SHA-256 is compared (the reports' timing fields and absolute paths left out; for the
video, its decoded frames: an MP4 records the time it was written). The video is listed but not
counted: two runs of the same code give frames that differ by up to about 30 levels, with
`--temporal off` too (measured 6 December 2026), so a video output is not reproducible run to run.
The cause is the H.264 encoder, not colorbatch: the frames handed to it are identical run to run
(hashed), and libx264 (as PyAV's wheel builds it) encoding one list of 320x240 frames ten times in
one process gives up to five different files, with one thread and without assembly too; without
its macroblock-tree rate control (mbtree=0, or bframes=0, or rc-lookahead=0) it gives one. 320x224,
640x352 and 1280x720 frames gave one file in eight. The clip path's colour is checked byte for byte
through the `--sequence` frames.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from common import RESULTS, SHARED_DATASETS, WORK
from PIL import Image

from colorbatch.files.discover import RECORDS_FOLDER
from colorbatch.samples import sample_images

ROOT = WORK / "same-outputs"
RECORD = RESULTS / "same_outputs.json"
SEQUENCE_FRAMES = 8
VOLATILE = ("seconds", "time", "date", "elapsed", "per_second", "rate", "path", "started", "finished", "version")


def colorbatch(args: list[str]) -> None:
    """The command as ``python -m colorbatch``, so that PYTHONPATH can point it at another checkout."""
    import subprocess

    ROOT.mkdir(parents=True, exist_ok=True)  # run from here: a checkout in the current folder would shadow PYTHONPATH
    subprocess.run([sys.executable, "-m", "colorbatch", *args], check=True, capture_output=True, text=True, cwd=ROOT)


def make_tree(colour: Path, frames: Path, hints: Path) -> None:
    photos = sample_images()
    colour.mkdir(parents=True)
    Image.fromarray(photos["astronaut"]).save(colour / "astronaut.png")
    Image.fromarray(photos["chelsea"]).save(colour / "chelsea.jpg", quality=90)
    Image.fromarray(photos["coffee"]).resize((300, 200)).save(colour / "coffee.webp", quality=90)
    (colour / "nested").mkdir()
    Image.fromarray(photos["rocket"]).save(colour / "nested" / "rocket.tif")
    Image.fromarray(photos["immunohistochemistry"]).resize((45, 37)).save(colour / "small.bmp")
    hubble = photos["hubble_deep_field"]
    ramp = np.tile(np.linspace(0, 255, hubble.shape[1], dtype=np.uint8), (hubble.shape[0], 1))
    rgba = np.dstack([hubble, ramp])
    Image.fromarray(rgba, "RGBA").save(colour / "alpha.png")
    shutil.copyfile(SHARED_DATASETS / "video" / "realshort.mp4", colour / "realshort.mp4")
    import av

    frames.mkdir(parents=True)
    with av.open(str(SHARED_DATASETS / "video" / "cockatoo.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == SEQUENCE_FRAMES:
                break
            frame.to_image().resize((320, 180), Image.Resampling.BICUBIC).convert("L").save(frames / f"{index:04d}.png")
    hints.mkdir(parents=True)  # three dabs on the astronaut (512x512): the flag red, the suit blue, the sky green
    dabs = np.zeros((512, 512, 4), np.uint8)
    for (top, left), colour in (((80, 430), (200, 30, 40)), ((350, 250), (40, 60, 200)), ((20, 20), (30, 160, 60))):
        dabs[top:top + 9, left:left + 9] = (*colour, 255)
    Image.fromarray(dabs, "RGBA").save(hints / "astronaut.png")


def _stable_report(path: Path) -> bytes:
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not any(word in k.lower() for word in VOLATILE)}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(json.loads(path.read_text())), sort_keys=True).encode()


def _frames(path: Path) -> bytes:
    """A video's decoded frames (its container holds the time it was written)."""
    import av

    with av.open(str(path)) as container:
        return b"".join(frame.to_ndarray(format="yuv420p").tobytes() for frame in container.decode(video=0))


def digests(folder: Path) -> dict[str, str]:
    """Each output's digest; colorbatch's records of their sources (``.colorbatch/``, since issue
    43) are not outputs and hold times, so they are left out."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and RECORDS_FOLDER not in p.parts):
        if path.suffix == ".json":
            data = _stable_report(path)
        else:
            data = _frames(path) if path.suffix == ".mp4" else path.read_bytes()
        found[str(path.relative_to(ROOT))] = hashlib.sha256(data).hexdigest()
    return found


def run_all() -> dict[str, str]:
    colour, frames, hints = ROOT / "input" / "colour", ROOT / "input" / "frames", ROOT / "input" / "hints"
    if not (ROOT / "input" / ".complete").exists() or not hints.exists():
        shutil.rmtree(ROOT / "input", ignore_errors=True)
        make_tree(colour, frames, hints)
        (ROOT / "input" / ".complete").touch()
    outputs = ROOT / "outputs"
    shutil.rmtree(outputs, ignore_errors=True)
    names = ("gray", "run", "sequence", "video", "score", "steered", "run-truth")
    gray, coloured, sequence, video, reports, steered, with_truth = (outputs / name for name in names)
    colorbatch(["gray", str(colour), str(gray), "--quiet"])
    colorbatch(["run", str(gray), str(coloured), "--device", "cpu", "--quiet"])
    colorbatch(["run", str(frames), str(sequence), "--sequence", "--device", "cpu", "--quiet"])
    video.mkdir()  # gray leaves videos alone: the clip is coloured from the colour tree (run reads its luma)
    colorbatch(["run", str(colour / "realshort.mp4"), str(video / "realshort.mp4"), "--device", "cpu", "--quiet"])
    reports.mkdir()
    for suffix in ("json", "csv"):
        colorbatch(["score", str(coloured), str(colour), "--quiet", "--report", str(reports / f"score.{suffix}")])
    steered.mkdir()
    colorbatch(["run", str(gray / "astronaut.png"), str(steered / "astronaut-hints.png"), "--device", "cpu", "--quiet",
                "--hints", str(hints / "astronaut.png")])
    colorbatch(["run", str(gray / "chelsea.png"), str(steered / "chelsea-reference.png"), "--device", "cpu",
                "--quiet", "--reference", str(colour / "coffee.webp")])
    for suffix in ("json", "csv"):  # run --truth: the run's report with its scores, each a first run
        shutil.rmtree(with_truth, ignore_errors=True)  # (over existing outputs, rows say why they were redone)
        colorbatch(["run", str(gray), str(with_truth), "--device", "cpu", "--quiet", "--overwrite", "--truth",
                    str(colour), "--report", str(reports / f"run.{suffix}")])
    return digests(outputs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="record these digests as the reference")
    args = parser.parse_args()
    found = run_all()
    if args.record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(found)} output digests in {RECORD}")
        return 0
    recorded = json.loads(RECORD.read_text())
    rows = [(name, "same" if recorded.get(name) == digest else ("new" if name not in recorded else "DIFFERENT"))
            for name, digest in found.items()]
    rows += [(name, "MISSING") for name in recorded if name not in found]
    print("| output | against the record |\n|---|---|")
    for name, verdict in rows:
        print(f"| {name} | {verdict} |")
    counted = [(name, verdict) for name, verdict in rows if not name.endswith(".mp4")]
    same = sum(verdict == "same" for _, verdict in counted)
    print(f"\n{same} of {len(counted)} outputs byte-identical to the record (the video not counted: see above)")
    return 0 if same == len(counted) else 1


if __name__ == "__main__":
    sys.exit(main())
