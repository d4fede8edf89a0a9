"""Peak memory of `colorbatch run` on very large images: bounded by the pixel budget, not the count.

    python benchmarks/memory_bound.py [--model M.onnx] [--side 9000] [--count 8]

Makes `count` gray PNGs of side x side pixels (smooth noise: small files, full-size decodes) and
runs the pipeline on 1 of them and on all of them, each in a fresh process; peak RSS of the two
should be about the same, since the default pixel budget (100 M pixels, the default --max-pixels)
lets one such image through at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from common import WORK, write_results


def _images(side: int, count: int) -> Path:
    import numpy as np
    from PIL import Image

    folder = WORK / f"huge-{side}-x{count}"
    if len(list(folder.glob("*.png"))) != count:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for i in range(count):
            small = Image.fromarray(rng.integers(0, 256, (side // 100, side // 100), dtype=np.uint8))
            small.resize((side, side), Image.Resampling.BILINEAR).save(folder / f"huge{i}.png")
    return folder


def _subset(folder: Path, count: int) -> Path:
    target = folder.with_name(folder.name + f"-first{count}")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for path in sorted(folder.glob("*.png"))[:count]:
        (target / path.name).hardlink_to(path)
    return target


def worker(model: str, source: str, out: str) -> dict:
    from colorbatch.api import Colorizer

    shutil.rmtree(out, ignore_errors=True)
    summary = Colorizer(model or None, device="cpu").run(source, out)
    return {"images": summary.done, "failed": summary.failed, "seconds": summary.seconds,
            "peak_pixels_in_flight": summary.peak_pixels_in_flight,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="")
    parser.add_argument("--side", type=int, default=9000)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--baseline-code", help="a checkout of earlier code: also run all images with it, same run")
    args = parser.parse_args()
    folder = _images(args.side, args.count)
    rows = []
    runs = [(1, None), (args.count, None)] + ([(args.count, args.baseline_code)] if args.baseline_code else [])
    for count, code in runs:
        source = _subset(folder, count)
        env = {**os.environ, "PYTHONPATH": code} if code else None
        done = subprocess.run([sys.executable, __file__, "--worker", args.model, str(source), str(WORK / "out-huge")],
                              capture_output=True, text=True, check=True, env=env)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"images": f"{count} x {args.side}x{args.side} gray PNG", "code": code or "this checkout",
                     **result})
    extra = {"rss_ratio_all_over_one": rows[1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]}
    if args.baseline_code:
        extra["rss_this_over_baseline"] = rows[1]["peak_rss_mb"] / rows[2]["peak_rss_mb"]
    write_results("memory_bound", rows, extra)
    print(extra)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(worker(*sys.argv[2:5])))
    else:
        main()
