"""Quality on the 10,000 CIFAR-10 test images through `colorbatch run` then `colorbatch score`.

    python benchmarks/quality.py [--model default=M.onnx] [--model seed-unet=S.onnx]

Rows: the no-colour baseline (the truth's own gray copy) and each model. The bar for the
bundled model: mean PSNR >= 26.5 dB and mean SSIM >= 0.965; colourfulness is shown next to the
truth's because a washed-out model is a poor colorizer whatever its PSNR.
"""

from __future__ import annotations

import argparse
import re
import shutil

from common import WORK, cifar_test_colour, cifar_test_gray, colorbatch, timed, write_results

from colorbatch.scoring import score_trees

BAR = {"psnr_mean": 26.5, "ssim_mean": 0.965}


def _row(name: str, aggregate: dict, seconds: float | None = None) -> dict:
    return {
        "model": name,
        "psnr_mean": aggregate["psnr_mean"],
        "psnr_pooled": aggregate["psnr_pooled"],
        "ssim_mean": aggregate["ssim_mean"],
        "colourfulness": aggregate["colourfulness_mean"],
        "colourfulness_truth": aggregate["colourfulness_truth_mean"],
        "infinite": aggregate["infinite"],
        "run_seconds": seconds if seconds is not None else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="model to score (repeatable); default: the bundled model")
    args = parser.parse_args()
    truth, gray = cifar_test_colour(), cifar_test_gray()
    from colorbatch.session import bundled_model_path

    models = [m.split("=", 1) for m in args.model] or [["bundled", str(bundled_model_path())]]
    baseline = score_trees(gray, truth).summary.aggregate()
    rows = [_row("no colour (gray copy)", baseline)]
    for name, path in models:
        out = WORK / f"quality-{re.sub(r'[^a-z0-9]+', '-', name.lower())}"
        shutil.rmtree(out, ignore_errors=True)
        _, seconds = timed(colorbatch, ["run", str(gray), str(out), "--model", path, "--device", "cpu", "--quiet"])
        rows.append(_row(name, score_trees(out, truth).summary.aggregate(), seconds))
    write_results("quality", rows, {"bar": BAR})
    for row in rows[1:]:
        met = all(row[k] >= v for k, v in BAR.items())
        print(f"{row['model']}: bar (PSNR >= 26.5 dB, SSIM >= 0.965) {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
