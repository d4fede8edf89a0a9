"""PSNR and colourfulness of a chroma-bins model over a grid of decodings (temperature, correction),
on validation photos: the data the vividness curve and its default are chosen from.

    python benchmarks/decoding_grid.py --model M.onnx [--photos DIR] [--step 5] [--size S]

Default photos: every 5th of tiny-imagenet-64/val (the issue's model-selection set). Each photo
goes gray -> the model at each decoding -> recombined with the exact luminance, as `colorbatch
run` does (same ColorModel code), and is scored with `colorbatch score`'s metrics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import extracted, write_results

from colorbatch.color import gray_u8
from colorbatch.files.imaging import decoded_from_image, read_rgb
from colorbatch.inference.model import ColorModel
from colorbatch.scoring.scores import summarise

TEMPERATURES = (1.0, 0.6, 0.4)
CORRECTIONS = (1.0, 0.5, 0.0, -0.5, -0.75, -1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--photos", type=Path, help="colour photos (default: tiny-imagenet-64/val)")
    parser.add_argument("--step", type=int, default=5, help="use every n-th photo in sorted order")
    parser.add_argument("--size", type=int, help="network short side (default: the model's working size)")
    args = parser.parse_args()
    folder = args.photos or extracted("tiny-imagenet-64/val", "tiny-imagenet-64.tar")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))[:: args.step]
    truths = [read_rgb(p) for p in files]
    decoded = [decoded_from_image(gray_u8(t)) for t in truths]
    colorizer = ColorModel(args.model, device="cpu", size=args.size)
    if colorizer.vividness is None:
        raise SystemExit(f"{args.model}: not a chroma-bins model")
    nc = summarise(np.stack([np.repeat(gray_u8(t)[..., None], 3, -1) for t in truths]), np.stack(truths)) \
        if len({t.shape for t in truths}) == 1 else None
    rows = []
    for correction in CORRECTIONS:
        for temperature in TEMPERATURES:
            colorizer.model.decoding = {"temperature": np.array([temperature], np.float32),
                                        "correction": np.array([correction], np.float32)}
            outputs = [colorizer.colorize_same_shape([d])[0] for d in decoded]
            scores = [summarise(o[None], t[None]) for o, t in zip(outputs, truths)]
            row = {"temperature": temperature, "correction": correction,
                   "psnr_mean": float(np.mean([s["psnr_mean"] for s in scores])),
                   "ssim_mean": float(np.mean([s["ssim_mean"] for s in scores])),
                   "colourfulness": float(np.mean([s["colourfulness_mean"] for s in scores])),
                   "colourfulness_truth": float(np.mean([s["colourfulness_truth_mean"] for s in scores]))}
            rows.append(row)
            print(row, flush=True)
    extra = {"model": args.model, "photos": f"{folder} every {args.step} ({len(files)})"}
    if nc is not None:
        extra["no_colour_psnr"] = nc["psnr_mean"]
    write_results("decoding_grid", rows, extra)


if __name__ == "__main__":
    main()
