"""Colour you can steer, measured as the field measures it (Zhang et al. 2017), through `colorbatch run`.

    python benchmarks/hints.py [--model M.onnx] [--sets cbsd68 photos-large/val] [--no-speed]

For each set (photos-eval/cbsd68, all 68; photos-large/val, every 10th of 2,213):
- local hints drawn from the truth: 0, 1, 2, 5, 10, 20 and 50 patches of 7 x 7 px at full
  resolution, uniform positions, a fixed seed per photo (the first n of one draw of 50, so more
  hints always include fewer), each the truth's mean colour over its patch, written as hint images
  (transparent PNGs) and given with `--hints`;
- the truth itself as `--reference` (its colour distribution as the global hint), and a mismatched
  reference (the next photo's truth, in sorted order) to show what a wrong reference does.
Each run is scored with `colorbatch score`'s code (PSNR, SSIM, hue hits) and, where hints were
given, hint fidelity (``colorbatch.scoring.metrics.hint_fidelity``). Keyframes: the cockatoo clip's first 48
frames at 640x360 as a `--sequence`, automatic against frame 0's true colour as the keyframe;
frames 1-47 scored (PSNR, hue hits) and the warping error over the clip (as benchmarks/temporal.py).
Speed: `colorbatch run` on CBSD68 with the model before hints (--previous, an ONNX file without
hint inputs), this model without hints and with 10 hints, run back to back (the second round kept).

And whether one dab stays in its object: `benchmarks/containment.py` (containment and fill on CBSD68
with BSDS500's segmentations; its own results file and gallery).

Writes benchmarks/results/hints.{md,json}, hints_curve.png (PSNR against the number of hints, with
Zhang et al.'s published curve) and hints_gallery.png (gray | automatic | 10 hints, the dabs drawn
on the gray | the truth as reference | truth) and hints_keyframe_strip.png.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from common import (
    DATA,
    RESULTS,
    SHARED_DATASETS,
    WORK,
    colorbatch,
    every_nth,
    extracted,
    gray_copy,
    timed,
    write_results,
)
from PIL import Image, ImageDraw

from colorbatch.color import gray_u8, rgb_to_chroma, to_float
from colorbatch.hints import sample_hints
from colorbatch.inference.modelinfo import bundled_model_path
from colorbatch.scoring.metrics import hint_fidelity, hue_hits, psnr, warping_error
from colorbatch.video.flow import DisFlow, reliable, warp
from colorbatch.work.score import score_trees

COUNTS = (0, 1, 2, 5, 10, 20, 50)
PATCH = 7
# Zhang et al. 2017, Fig. 4 / the issue: PSNR on 1,000 ImageNet photos against the number of hints.
ZHANG = {0: 24.43, 1: 25.37, 5: 27.39, 10: 28.42, 50: 30.42}
SETS = {"cbsd68": ("photos-eval/cbsd68", "photos-eval.tar", 1), "photos-large/val": ("photos-large/val", None, 10)}
GALLERY_EVERY = {"cbsd68": 17, "photos-large/val": 56}  # a fixed sample: every n-th photo in sorted order
GALLERY_HEIGHT = 200
CLIP_FRAMES = 48  # the cockatoo clip's first frames, at CLIP_SIZE, as a --sequence
CLIP_SIZE = (640, 360)
STRIP_FRAMES = (0, 12, 24, 36, 47)
HOWTO_PHOTO = 17  # the README's picture: the 18th CBSD68 photo in sorted order


def slug(text: str) -> str:
    return text.replace("/", "-")


def truth_folder(name: str) -> Path:
    folder, tarball, step = SETS[name]
    truth = extracted(folder, tarball) if tarball else DATA / folder
    return every_nth(truth, slug(name), step) if step > 1 else truth


def photos(truth: Path) -> list[Path]:
    return sorted(p for p in truth.rglob("*") if p.is_file() and not p.name.startswith("."))


def hint_trees(name: str, truth: Path) -> dict[int, Path]:
    """For each count, a tree of hint images mirroring ``truth`` (made once)."""
    root = WORK / "hints" / slug(name)
    trees = {n: root / f"n{n:02d}" for n in COUNTS if n}
    if (root / ".complete").exists():
        return trees
    for index, path in enumerate(photos(truth)):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        chroma = rgb_to_chroma(to_float(rgb))
        rng = np.random.default_rng(1000 + index)
        patches = [sample_hints(chroma, 1, rng, patch=PATCH) for _ in range(max(COUNTS))]
        for n, tree in trees.items():
            rgba = np.zeros((*rgb.shape[:2], 4), np.uint8)
            for plane in patches[:n]:
                mask = plane[..., 2] > 0
                rgba[mask, :3] = rgb[mask].reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
                rgba[mask, 3] = 255
            target = tree / path.relative_to(truth).with_suffix(".png")
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgba, "RGBA").save(target)
    (root / ".complete").touch()
    return trees


def mismatched_references(name: str, truth: Path) -> Path:
    """A tree in which each photo's reference is the next photo's truth."""
    root = WORK / "hints" / slug(name) / "mismatched"
    if not (root / ".complete").exists():
        files = photos(truth)
        for path, other in zip(files, files[1:] + files[:1]):
            target = root / path.relative_to(truth).with_suffix(other.suffix)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(other, target)
        (root / ".complete").touch()
    return root


def colorize(model: str, gray: Path, out: Path, extra: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    _, seconds = timed(colorbatch, ["run", str(gray), str(out), "--model", model, "--device", "cpu", "--quiet",
                                    *extra])
    return seconds


def fidelity(out: Path, hints: Path) -> float:
    values = []
    for hint in sorted(hints.rglob("*.png")):
        pred = np.asarray(Image.open(out / hint.relative_to(hints)).convert("RGB"))
        values.append(hint_fidelity(pred, np.asarray(Image.open(hint))))
    return float(np.nanmean(values))


def scores(out: Path, truth: Path) -> dict:
    aggregate = score_trees(out, truth).summary.aggregate()
    return {"psnr": aggregate["psnr_mean"], "ssim": aggregate["ssim_mean"], "hue_hits": aggregate["hue_hits_mean"],
            "scored": aggregate["scored"]}


def measure_set(model: str, name: str) -> list[dict]:
    truth = truth_folder(name)
    gray = gray_copy(truth, slug(name))
    trees = hint_trees(name, truth)
    runs = [("automatic", 0, []), *((f"{n} hints", n, ["--hints", str(trees[n])]) for n in trees),
            ("truth as reference", 0, ["--reference", str(truth)]),
            ("another photo as reference", 0, ["--reference", str(mismatched_references(name, truth))])]
    rows = []
    for label, count, extra in runs:
        out = WORK / "hints" / "out" / slug(name) / label.replace(" ", "-")
        seconds = colorize(model, gray, out, extra)
        row = {"set": name, "run": label, "hints": count, **scores(out, truth), "seconds": seconds}
        if count:
            row["hint_fidelity"] = fidelity(out, trees[count])
        rows.append(row)
        print(row, flush=True)
    return rows


def plot_curve(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(row["set"] for row in rows):
        curve = [(row["hints"], row["psnr"]) for row in rows
                 if row["set"] == name and ("hint" in row["run"] or row["run"] == "automatic")]
        counts, psnrs = zip(*sorted(curve))
        axes[0].plot(counts, psnrs, "o-", label=f"colorbatch, {name}")
        axes[1].plot(counts, np.array(psnrs) - psnrs[0], "o-", label=f"colorbatch, {name}")
    zhang_counts, zhang_psnr = zip(*sorted(ZHANG.items()))
    axes[0].plot(zhang_counts, zhang_psnr, "s--", color="gray", label="Zhang et al. 2017 (ImageNet, 1,000 photos)")
    axes[1].plot(zhang_counts, np.array(zhang_psnr) - zhang_psnr[0], "s--", color="gray",
                 label="Zhang et al. 2017")
    for ax, title in zip(axes, ("PSNR (dB)", "gain over no hints (dB)")):
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(COUNTS, [str(c) for c in COUNTS])
        ax.set_xlabel("hints (7 x 7 patches of the truth's colour)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "hints_curve.png", dpi=110)


def _dabs_on_gray(gray: Image.Image, hint: Path) -> Image.Image:
    """The gray photo with the hint image's dabs drawn on it, each circled so a small one shows."""
    rgba = Image.open(hint)
    shown = gray.convert("RGB")
    shown.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    draw = ImageDraw.Draw(shown)
    alpha = np.asarray(rgba.getchannel("A")) >= 128
    rows, cols = np.nonzero(alpha[::PATCH, ::PATCH])
    for y, x in zip(rows * PATCH, cols * PATCH):
        draw.ellipse((x - 6, y - 6, x + PATCH + 6, y + PATCH + 6), outline=(255, 255, 255), width=2)
    return shown


def _checkerboard(size: tuple[int, int], square: int = 8) -> Image.Image:
    """How an image editor shows transparency."""
    ys, xs = np.indices((size[1], size[0])) // square
    return Image.fromarray(np.where((ys + xs) % 2 == 0, 204, 255).astype(np.uint8)).convert("RGB")


def howto(name: str = "cbsd68", index: int = HOWTO_PHOTO) -> None:
    """A picture for the README: the gray photo | the hint layer as an editor shows it | the output
    with it | the output without it."""
    truth = truth_folder(name)
    path = photos(truth)[index]
    relative = path.relative_to(truth).with_suffix(".png")
    hint = Image.open(WORK / "hints" / slug(name) / "n10" / relative)
    layer = _checkerboard(hint.size)
    layer.paste(hint.convert("RGB"), mask=hint.getchannel("A"))
    gray = Image.open(gray_copy(truth, slug(name)) / relative).convert("RGB")
    out = WORK / "hints" / "out" / slug(name)
    row = [gray, layer, Image.open(out / "10-hints" / relative), Image.open(out / "automatic" / relative)]
    labels = ["gray photo", "hint layer (transparent, 10 dabs)", "colorbatch run --hints", "without hints"]
    sheet = Image.new("RGB", (sum(t.width + 4 for t in row), row[0].height + 24), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for tile, label in zip(row, labels):
        sheet.paste(tile, (x, 24))
        draw.text((x + 4, 6), label, fill=(0, 0, 0))
        x += tile.width + 4
    sheet.save(RESULTS / "hints_howto.png", optimize=True)


def gallery(names: list[str]) -> None:
    columns = ("gray", "automatic", "10 hints (dabs on the gray)", "output with 10 hints", "truth as reference",
               "truth")
    tiles = []
    for name in names:
        truth = truth_folder(name)
        gray_root, hints = gray_copy(truth, slug(name)), WORK / "hints" / slug(name) / "n10"
        out = WORK / "hints" / "out" / slug(name)
        for path in photos(truth)[::GALLERY_EVERY[name]]:
            relative = path.relative_to(truth).with_suffix(".png")
            gray = Image.open(next((gray_root / relative.parent).glob(relative.stem + ".*")))
            row = [gray.convert("RGB"), Image.open(out / "automatic" / relative),
                   _dabs_on_gray(gray, hints / relative), Image.open(out / "10-hints" / relative),
                   Image.open(out / "truth-as-reference" / relative), Image.open(path).convert("RGB")]
            tiles.append([im.resize((round(im.width * GALLERY_HEIGHT / im.height), GALLERY_HEIGHT)) for im in row])
    width = max(sum(t.width for t in row) for row in tiles) + 4 * len(columns)
    sheet = Image.new("RGB", (width, 24 + len(tiles) * (GALLERY_HEIGHT + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for label, tile in zip(columns, tiles[0]):
        draw.text((x + 4, 6), label, fill=(0, 0, 0))
        x += tile.width + 4
    for i, row in enumerate(tiles):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, 24 + i * (GALLERY_HEIGHT + 4)))
            x += tile.width + 4
    sheet.save(RESULTS / "hints_gallery.png", optimize=True)


def clip_frames() -> Path:
    """The cockatoo clip's first ``CLIP_FRAMES`` frames at ``CLIP_SIZE``: truth/ and a gray sequence
    gray/clip/, frame_NNNN.png (made once); keys/clip/frame_0000.png is frame 0's true colour."""
    import av

    root = WORK / "hints" / "cockatoo"
    if (root / ".complete").exists():
        return root
    with av.open(str(SHARED_DATASETS / "video" / "cockatoo.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == CLIP_FRAMES:
                break
            rgb = frame.to_image().convert("RGB").resize(CLIP_SIZE, Image.Resampling.LANCZOS)
            name = f"frame_{index:04d}.png"
            for folder, image in (("truth", rgb), ("gray/clip", Image.fromarray(gray_u8(np.asarray(rgb))))):
                (root / folder).mkdir(parents=True, exist_ok=True)
                image.save(root / folder / name)
    (root / "keys" / "clip").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "truth" / "frame_0000.png", root / "keys" / "clip" / "frame_0000.png")
    (root / ".complete").touch()
    return root


def score_clip(out: Path, truth: Path) -> dict:
    """Frames 1 onwards against the truth: PSNR and hue hits, and the warping error over the clip."""
    flow = DisFlow("medium")
    names = sorted(p.name for p in truth.glob("frame_*.png"))
    values: dict[str, list] = {"psnr": [], "hue_hits": [], "warp": []}
    previous, previous_gray = None, None
    for index, name in enumerate(names):
        true = np.asarray(Image.open(truth / name).convert("RGB"))
        frame = np.asarray(Image.open(out / name).convert("RGB"))
        gray = gray_u8(true)
        if index:
            values["psnr"].append(psnr(frame, true))
            values["hue_hits"].append(hue_hits(frame, true))
            backward, forward = flow(gray, previous_gray), flow(previous_gray, gray)
            values["warp"].append(warping_error(warp(previous, backward), frame, reliable(backward, forward)))
        previous, previous_gray = frame, gray
    return {"psnr": float(np.mean(values["psnr"])), "hue_hits": float(np.nanmean(values["hue_hits"])),
            "warping_error": float(np.mean(values["warp"])), "scored": len(values["psnr"])}


def keyframe_clip(model: str) -> list[dict]:
    """The cockatoo's first 48 frames as a sequence, automatic against frame 0's truth as the keyframe."""
    root = clip_frames()
    rows = []
    for label, extra in (("automatic", []), ("frame 0 as keyframe", ["--keyframes", str(root / "keys")])):
        out = root / "out" / label.replace(" ", "-")
        seconds = colorize(model, root / "gray", out, ["--sequence", *extra])
        rows.append({"set": "cockatoo 48 frames (1-47 scored)", "run": label,
                     **score_clip(out / "clip", root / "truth"), "seconds": seconds})
        print(rows[-1], flush=True)
    clip_strip(root)
    return rows


def clip_strip(root: Path) -> None:
    """Rows gray | automatic | with frame 0 as keyframe | truth, at frames spread over the clip."""
    folders = [root / "gray" / "clip", root / "out" / "automatic" / "clip",
               root / "out" / "frame-0-as-keyframe" / "clip", root / "truth"]
    width, height = CLIP_SIZE[0] // 2, CLIP_SIZE[1] // 2
    sheet = Image.new("RGB", (4 * (width + 4), 24 + len(STRIP_FRAMES) * (height + 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, label in enumerate(("gray", "automatic", "frame 0's colour as keyframe", "truth")):
        draw.text((column * (width + 4) + 4, 6), label, fill=(0, 0, 0))
    for row, index in enumerate(STRIP_FRAMES):
        for column, folder in enumerate(folders):
            tile = Image.open(folder / f"frame_{index:04d}.png").convert("RGB").resize((width, height))
            sheet.paste(tile, (column * (width + 4), 24 + row * (height + 4)))
        draw.text((4, 24 + row * (height + 4) + 4), f"frame {index}", fill=(255, 255, 255))
    sheet.save(RESULTS / "hints_keyframe_strip.png", optimize=True)


def speed(model: str, previous: str | None) -> list[dict]:
    """`colorbatch run` on CBSD68: the previous bundled model, this model without and with 10 hints."""
    truth = truth_folder("cbsd68")
    gray = gray_copy(truth, "cbsd68")
    hints = hint_trees("cbsd68", truth)[10]
    runs = [("this model, no hints", model, []), ("this model, 10 hints", model, ["--hints", str(hints)])]
    if previous:
        runs.insert(0, ("previous model (no hint inputs)", previous, []))
    rows = []
    for _ in range(2):  # twice, interleaved: the second round is the one kept (warm caches)
        rows = []
        for label, path, extra in runs:
            seconds = colorize(path, gray, WORK / "hints" / "speed", extra)
            rows.append({"set": "cbsd68 speed", "run": label, "seconds": seconds})
    base = rows[0]["seconds"]
    for row in rows:
        row["ratio"] = row["seconds"] / base
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(bundled_model_path()))
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--previous", help="the model to compare speed with (an ONNX file without hint inputs)")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-clip", action="store_true")
    parser.add_argument("--no-containment", action="store_true",
                        help="skip whether one dab stays in its object (benchmarks/containment.py; needs BSDS500's "
                             "segmentations under data/)")
    parser.add_argument("--name", default="hints", help="results file name (benchmarks/results/NAME.md)")
    args = parser.parse_args()
    names = [n for n in args.sets if SETS[n][1] or (DATA / SETS[n][0]).is_dir()]
    rows = [row for name in names for row in measure_set(args.model, name)]
    plot_curve(rows)
    gallery(names)
    if "cbsd68" in names:
        howto()
    if not args.no_clip:
        rows += keyframe_clip(args.model)
    if not args.no_speed:
        rows += speed(args.model, args.previous)
    if not args.no_containment:
        from containment import containment

        medians = containment(args.model, f"{args.name}_containment")
        rows.append({"set": "cbsd68", "hints": "one dab (containment protocol)", **medians})
    write_results(args.name, rows, {"model": Path(args.model).name, "patch": PATCH, "zhang_2017": ZHANG})


if __name__ == "__main__":
    main()
