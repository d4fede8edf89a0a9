"""Shared helpers for the benchmark scripts: data preparation and result tables."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
TARBALL = SHARED_DATASETS / "cifar10-jpg.tar"


def extracted(relative: str, tarball: str) -> Path:
    """data/<relative>, extracted from ../shared/datasets/<tarball> when missing."""
    folder = DATA / relative
    if not folder.is_dir():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "xf", str(SHARED_DATASETS / tarball), "-C", str(DATA)], check=True)
    return folder


def cifar_test_colour() -> Path:
    """data/cifar10/test, extracted from ../shared when missing."""
    return extracted("cifar10/test", "cifar10-jpg.tar")


def gray_copy(colour: Path, name: str) -> Path:
    """BT.601 gray copies of a colour tree under benchmarks/work/gray/<name> (made once)."""
    out = WORK / "gray" / name
    if not (out / ".complete").exists():
        colorbatch(["gray", str(colour), str(out), "--quiet", "--overwrite"])
        (out / ".complete").touch()
    return out


def every_nth(colour: Path, name: str, step: int) -> Path:
    """A fixed subset of a colour tree (every ``step``-th file in sorted order), copied once."""
    import shutil

    out = WORK / "subsets" / name
    if not (out / ".complete").exists():
        files = sorted(p for p in colour.rglob("*") if p.is_file())
        for path in files[::step]:
            target = out / path.relative_to(colour)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        (out / ".complete").touch()
    return out


def cifar_test_gray() -> Path:
    """BT.601 gray copies of the CIFAR-10 test split (made once with `colorbatch gray`)."""
    out = WORK / "cifar10-test-gray"
    if len(list(out.rglob("*.png"))) < 10_000:
        colorbatch(["gray", str(cifar_test_colour()), str(out), "--quiet"])
    return out


def colorbatch(args: list[str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("colorbatch")), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True)


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def machine() -> dict[str, str]:
    import os

    return {"python": platform.python_version(), "cpus": str(os.cpu_count()), "platform": platform.platform()}


def write_results(name: str, rows: list[dict], extra: dict | None = None) -> None:
    """Print a Markdown table and store it with the raw rows in benchmarks/results/."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(key for row in rows for key in row))  # every row's columns, first seen first
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(row[k]) if k in row else "" for k in keys) + " |" for row in rows]
    table = "\n".join(lines)
    print(table)
    (RESULTS / f"{name}.md").write_text(table + "\n")
    payload = {"rows": rows, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), **(extra or {})}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)
