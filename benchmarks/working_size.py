"""Which network size colorizes large photos best: PSNR/SSIM on scikit-image's colour photos.

    python benchmarks/working_size.py --model M.onnx [--sizes 32 48 64 96 128]

Each photo goes gray -> colorize with the network at short side S -> score against the
original. The best S goes into the model's metadata as its working size
(`colorbatch export CKPT --working-size S`).
"""

from __future__ import annotations

import argparse

import numpy as np
from common import write_results

from colorbatch.color import gray_u8
from colorbatch.colorize import Colorizer
from colorbatch.samples import sample_images
from colorbatch.summary import summarise


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 96, 128])
    args = parser.parse_args()
    photos = sample_images()
    rows = []
    for size in args.sizes:
        colorizer = Colorizer(args.model, device="cpu", size=size)
        outputs = [np.asarray(colorizer.colorize(gray_u8(rgb))) for rgb in photos.values()]
        per_photo = [summarise(out[None], rgb[None]) for out, rgb in zip(outputs, photos.values())]
        row = {"short_side": size,
               "psnr_mean": float(np.mean([s["psnr_mean"] for s in per_photo])),
               "ssim_mean": float(np.mean([s["ssim_mean"] for s in per_photo])),
               "colourfulness": float(np.mean([s["colourfulness_mean"] for s in per_photo]))}
        row.update({name: s["psnr_mean"] for name, s in zip(photos, per_photo)})
        rows.append(row)
    baseline = [summarise(np.repeat(gray_u8(rgb)[..., None], 3, -1)[None], rgb[None]) for rgb in photos.values()]
    rows.append({"short_side": "no colour", "psnr_mean": float(np.mean([s["psnr_mean"] for s in baseline])),
                 "ssim_mean": float(np.mean([s["ssim_mean"] for s in baseline])), "colourfulness": 0.0,
                 **{name: s["psnr_mean"] for name, s in zip(photos, baseline)}})
    best = max(rows[:-1], key=lambda r: r["psnr_mean"])
    write_results("working_size", rows, {"best_short_side": best["short_side"], "model": args.model})
    print(f"best working size: {best['short_side']}")


if __name__ == "__main__":
    main()
