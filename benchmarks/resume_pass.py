"""The resume pass: `colorbatch run` over a tree whose outputs all exist, so every input is skipped.

    python benchmarks/resume_pass.py [--rounds 3]

Inputs are the 10,000 CIFAR-10 test grays, outputs those the bundled model wrote (made once under
benchmarks/work/). A skipped output must be whole (colorbatch.integrity: PNG chunk CRCs and IEND,
the input's size in the header); the previous check only asked for a non-empty file. Both checks
run in this process, alternated, through the same `Colorizer.run`; the bar is new <= 3x old.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import WORK, cifar_test_gray, colorbatch, write_results

import colorbatch.plan as plan
from colorbatch.api import Colorizer


def _size_only(target: Path, source: Path) -> bool:
    """The check before integrity: any non-empty file under the output's name counted as done."""
    try:
        return target.stat().st_size > 0
    except OSError:
        return False


def _done_outputs(gray: Path) -> Path:
    out = WORK / "resume-outputs"
    if not (out / ".complete").exists():
        colorbatch(["run", str(gray), str(out), "--quiet"])
        (out / ".complete").touch()
    return out


def _resume_seconds(colorizer: Colorizer, gray: Path, out: Path, check) -> float:
    plan._finished = check
    started = time.perf_counter()
    summary = colorizer.run(gray, out)
    seconds = time.perf_counter() - started
    assert summary.skipped == 10_000 and summary.done == 0, summary
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gray = cifar_test_gray()
    out = _done_outputs(gray)
    colorizer = Colorizer(device="cpu")
    whole = plan._finished
    times: dict[str, list[float]] = {"size only (before)": [], "whole file (after)": []}
    for _ in range(args.rounds):
        times["size only (before)"].append(_resume_seconds(colorizer, gray, out, _size_only))
        times["whole file (after)"].append(_resume_seconds(colorizer, gray, out, whole))
    plan._finished = whole
    before = min(times["size only (before)"])
    rows = [{"check": name, "outputs": 10_000, "best s": min(ts), "median s": statistics.median(ts),
             "rounds": ", ".join(f"{t:.2f}" for t in ts), "vs before": min(ts) / before}
            for name, ts in times.items()]
    write_results("resume_pass", rows, {"bar": "whole file <= 3x size only"})


if __name__ == "__main__":
    main()
