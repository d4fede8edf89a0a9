"""Edge-aware chroma upsampling (the guided filter) against bicubic, on the same predictions.

    python benchmarks/upsampling.py [--model M.onnx] [--size S]

For each evaluation set the model predicts each photo's chroma once; it is then laid onto the
full-resolution luminance by bicubic stretching and by the guided filter at several radii and
regularisations (colorbatch.upsample), and every output is scored against the truth with
colorbatch's metrics (PSNR, hue hits, colourfulness). The default settings are marked. Also
writes a picture of object borders (gray | bicubic | guided | truth, magnified) and times the
recombination of a 3000x2000 scan both ways. Results: benchmarks/results/upsampling.{md,json}
and upsampling_borders.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import DATA, RESULTS, write_results
from PIL import Image
from scipy.ndimage import uniform_filter

from colorbatch import upsample
from colorbatch.color import gray_u8
from colorbatch.files.imaging import read_rgb
from colorbatch.inference.model import ColorModel
from colorbatch.recombine import recombine_chroma
from colorbatch.scoring.metrics import colourfulness, hue_hits, psnr

SETS = {"cbsd68": ("photos-eval/cbsd68", 1), "mcmaster": ("photos-eval/mcmaster", 1),
        "photos-large/val": ("photos-large/val", 10), "tiny-imagenet-64/val": ("tiny-imagenet-64/val", 10)}
VARIANTS = [("bicubic", None)] + [(f"guided r{r} eps{e:g}", (r, e)) for r in (2, 4, 8) for e in (1e-3, 1e-4)]


def files(folder: Path, step: int) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[::step]


def upsampled(luma: np.ndarray, chroma: np.ndarray, variant: tuple | None) -> np.ndarray:
    if variant is None:
        return recombine_chroma(luma, chroma, upsampling="bicubic")
    saved = upsample.RADIUS, upsample.EPSILON
    upsample.RADIUS, upsample.EPSILON = variant
    try:
        return recombine_chroma(luma, chroma)
    finally:
        upsample.RADIUS, upsample.EPSILON = saved


def evaluate(model: ColorModel, set_name: str) -> list[dict]:
    folder, step = SETS[set_name]
    paths = files(DATA / folder, step)
    scores = {name: {"psnr": [], "hue_hits": [], "colourfulness": []} for name, _ in VARIANTS}
    for path in paths:
        truth = read_rgb(path)
        luma = gray_u8(truth).astype(np.float32) / 255
        chroma = model.predict_chroma([luma])[0]
        for name, variant in VARIANTS:
            out = upsampled(luma, chroma, variant)
            scores[name]["psnr"].append(psnr(out, truth))
            scores[name]["hue_hits"].append(hue_hits(out, truth))
            scores[name]["colourfulness"].append(colourfulness(out))
    default = f"guided r{upsample.RADIUS} eps{upsample.EPSILON:g}"
    return [{"set": set_name, "photos": len(paths), "upsampling": name + (" (default)" if name == default else ""),
             "psnr": float(np.mean(s["psnr"])), "hue_hits": float(np.nanmean(s["hue_hits"])),
             "colourfulness": float(np.mean(s["colourfulness"]))} for name, s in scores.items()]


def borders(model: ColorModel, set_name: str = "cbsd68", photos: int = 3, crop: int = 160) -> Path:
    """Where the two upsamplings differ most, in the first photos of a set: a crop around that
    place of each, gray | bicubic | guided | truth, magnified 2x (one row a photo)."""
    rows = []
    for path in files(DATA / SETS[set_name][0], 1)[:photos]:
        truth = read_rgb(path)
        luma = gray_u8(truth).astype(np.float32) / 255
        chroma = model.predict_chroma([luma])[0]
        bicubic, guided = upsampled(luma, chroma, None), recombine_chroma(luma, chroma)
        difference = uniform_filter(np.abs(bicubic.astype(np.float32) - guided).sum(axis=-1), crop // 2)
        y, x = np.unravel_index(np.argmax(difference), difference.shape)
        top = int(np.clip(y - crop // 2, 0, truth.shape[0] - crop))
        left = int(np.clip(x - crop // 2, 0, truth.shape[1] - crop))
        gray = np.repeat(gray_u8(truth)[..., None], 3, axis=2)
        cells = [p[top:top + crop, left:left + crop] for p in (gray, bicubic, guided, truth)]
        gap = np.full((crop, 4, 3), 255, np.uint8)
        rows.append(np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=1))
    sheet = Image.fromarray(np.concatenate(rows, axis=0))
    sheet = sheet.resize((sheet.width * 2, sheet.height * 2), Image.Resampling.NEAREST)
    out = RESULTS / "upsampling_borders.png"
    sheet.save(out, optimize=True)
    return out


def scan_times(rounds: int = 5) -> dict:
    from recombine import _scan

    luma, predicted, _ = _scan()
    from colorbatch.color import rgb_to_chroma

    chroma = rgb_to_chroma(np.moveaxis(predicted, 0, -1))
    times = {}
    for upsampling in ("bicubic", "guided"):
        best = []
        for _ in range(rounds):
            started = time.perf_counter()
            recombine_chroma(luma, chroma, upsampling)
            best.append(time.perf_counter() - started)
        times[upsampling] = min(best)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="ONNX model (default: the bundled one)")
    parser.add_argument("--size", type=int, help="network short side (default: the model's working size)")
    args = parser.parse_args()
    model = ColorModel(args.model, device="cpu", size=args.size)
    rows = [row for set_name in SETS if (DATA / SETS[set_name][0]).is_dir() for row in evaluate(model, set_name)]
    times = scan_times()
    print(f"3000x2000 scan: bicubic {times['bicubic']:.3f} s, guided {times['guided']:.3f} s")
    write_results("upsampling", rows, {"scan_seconds": times, "model": args.model or "bundled", "size": args.size})
    print(f"borders: {borders(model)}")


if __name__ == "__main__":
    main()
