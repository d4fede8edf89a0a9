"""The resume pass: `colorbatch run` over a tree whose outputs all exist and are up to date, so
every input is skipped; the code before the journal of sources against this checkout's.

    git worktree add /tmp/before cfcac3a     # the code before outputs knew their sources
    python benchmarks/resume_pass.py --code-before /tmp/before [--rounds 3]

Inputs are the 10,000 CIFAR-10 test grays, outputs those this checkout's code wrote with the
bundled model (made once under benchmarks/work/), with their journal (`OUT/.colorbatch/`). Each
round runs, alternated, in fresh processes (`python -m colorbatch run IN OUT --json`):
- before: the code before the journal, which checks that each output is whole (PNG chunk CRCs
  and IEND, the input's size in the header);
- after: this checkout, which compares each output's recorded sources (input, model, settings) by
  size and time and trusts an output whose size and time are those it recorded;
- after, no journal: this checkout on the same outputs with the journal moved aside, as on the
  first run after an upgrade (every output judged by the whole-file check, and said so once).
`seconds` is the run's own timing (planning and skipping; the JSON summary's); `wall s` adds the
process start, imports and model load. The bar (issue 43): after <= 1.5x before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, WORK, cifar_test_gray, write_results

JOURNAL = ".colorbatch"


def colorbatch_run(code: Path, source: Path, out: Path) -> dict:
    """`colorbatch run SOURCE OUT` with the package at ``code`` first on the path; its JSON summary."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "colorbatch", "run", str(source), str(out), "--quiet", "--json",
                           "--device", "cpu"], cwd=code, env={**os.environ, "PYTHONPATH": str(code)}, check=True,
                          capture_output=True, text=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["wall"] = time.perf_counter() - started
    return summary


def _done_outputs(gray: Path) -> Path:
    out = WORK / "resume-outputs-journal"
    if not (out / ".complete").exists():
        colorbatch_run(ROOT, gray, out)
        (out / ".complete").touch()
    return out


def _pass(code: Path, gray: Path, out: Path, aside: bool = False) -> dict:
    if aside:
        (out / JOURNAL).rename(out / f"{JOURNAL}-aside")
    try:
        summary = colorbatch_run(code, gray, out)
    finally:
        if aside:
            (out / f"{JOURNAL}-aside").rename(out / JOURNAL)
    assert summary["skipped"] == 10_000 and summary["done"] == 0, summary
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-before", type=Path, required=True, help="a worktree of the code before the journal")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gray = cifar_test_gray()
    out = _done_outputs(gray)
    ways = {"before (whole-file check)": (args.code_before.resolve(), False),
            "after (journal)": (ROOT, False),
            "after, no journal (first run after an upgrade)": (ROOT, True)}
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    walls: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, (code, aside) in ways.items():
            summary = _pass(code, gray, out, aside)
            seconds[name].append(summary["seconds"])
            walls[name].append(summary["wall"])
    before = min(seconds["before (whole-file check)"])
    before_wall = min(walls["before (whole-file check)"])
    rows = [{"code": name, "outputs": 10_000, "best s": min(ts), "median s": statistics.median(ts),
             "rounds": ", ".join(f"{t:.2f}" for t in ts), "vs before": min(ts) / before,
             "best wall s": min(walls[name]), "wall vs before": min(walls[name]) / before_wall}
            for name, ts in seconds.items()]
    write_results("resume_pass", rows, {"bar": "after <= 1.5x before (issue 43)",
                                        "code before": str(args.code_before)})


if __name__ == "__main__":
    main()
