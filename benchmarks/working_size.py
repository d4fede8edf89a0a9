"""Which network size colorizes large photos best: PSNR/SSIM/colourfulness at each short side.

    python benchmarks/working_size.py --model M.onnx [--sizes 32 48 64 96 128] \
        [--photos data/photos-train/bsds500 --limit 60] [--vividness V]

Photos: scikit-image's colour samples by default, or every photo of a folder (up to --limit,
evenly spaced in sorted order). Choose on photos the model was not trained on and that are not
an evaluation set (photos-train/ is neither for a model trained on Tiny ImageNet only). Each
photo goes gray -> colorize with the network at short side S -> score against the original.
The size chosen by the rule (the most hue hits among the sizes within 0.2 dB of the best mean
PSNR: objects in their own colours, at no real cost in accuracy) goes into the model's metadata
as its working size (`colorbatch export CKPT --working-size S`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import write_results

from colorbatch.color import gray_u8
from colorbatch.files.imaging import read_rgb
from colorbatch.inference.model import ColorModel
from colorbatch.samples import sample_images
from colorbatch.scoring.scores import summarise

RULE_DB = 0.2
RULE = f"the most hue hits among the sizes within {RULE_DB} dB of the best mean PSNR"


def _folder_photos(folder: Path, limit: int) -> dict[str, np.ndarray]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    step = max(1, len(files) // limit)
    return {p.stem: read_rgb(p) for p in files[::step][:limit]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 96, 128])
    parser.add_argument("--photos", type=Path, help="a folder of colour photos (default: scikit-image's samples)")
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--vividness", type=float, help="for models with a vividness control (default: theirs)")
    parser.add_argument("--results-name", default="working_size", help="name of the table in benchmarks/results/")
    args = parser.parse_args()
    photos = sample_images() if args.photos is None else _folder_photos(args.photos, args.limit)
    rows = []
    for size in args.sizes:
        colorizer = ColorModel(args.model, device="cpu", size=size, vividness=args.vividness)
        outputs = [np.asarray(colorizer.colorize(gray_u8(rgb))) for rgb in photos.values()]
        per_photo = [summarise(out[None], rgb[None]) for out, rgb in zip(outputs, photos.values())]
        row = {"short_side": size,
               "psnr_mean": float(np.mean([s["psnr_mean"] for s in per_photo])),
               "ssim_mean": float(np.mean([s["ssim_mean"] for s in per_photo])),
               "colourfulness": float(np.mean([s["colourfulness_mean"] for s in per_photo])),
               "hue_hits": float(np.nanmean([np.nan if s["hue_hits_mean"] is None else s["hue_hits_mean"]
                                             for s in per_photo]))}
        if args.photos is None:
            row.update({name: s["psnr_mean"] for name, s in zip(photos, per_photo)})
        rows.append(row)
    baseline = [summarise(np.repeat(gray_u8(rgb)[..., None], 3, -1)[None], rgb[None]) for rgb in photos.values()]
    rows.append({"short_side": "no colour", "psnr_mean": float(np.mean([s["psnr_mean"] for s in baseline])),
                 "ssim_mean": float(np.mean([s["ssim_mean"] for s in baseline])), "colourfulness": 0.0,
                 **({name: s["psnr_mean"] for name, s in zip(photos, baseline)} if args.photos is None else {})})
    best = max(rows[:-1], key=lambda r: r["psnr_mean"])
    close = [r for r in rows[:-1] if r["psnr_mean"] >= best["psnr_mean"] - RULE_DB]
    chosen = max(close, key=lambda r: r["hue_hits"])
    source = "scikit-image samples" if args.photos is None else f"{args.photos} ({len(photos)} photos)"
    write_results(args.results_name, rows, {"best_short_side": best["short_side"], "rule": RULE,
                                            "chosen_by_rule": chosen["short_side"], "model": args.model,
                                            "photos": source, "vividness": args.vividness})
    print(f"best working size by PSNR: {best['short_side']}; by the rule ({RULE}): {chosen['short_side']}")


if __name__ == "__main__":
    main()
