"""On one machine, `--distributor dask` costs at most 1.3x the local distributor, and the local
distributor takes at most 1.05x the cluster's time (issue 27: a cluster is never the fast way to
use one laptop).

    python benchmarks/dask_overhead.py [--rounds 2]

10,000 CIFAR-10 test images (their gray copies) go through `colorbatch run` with the local
distributor and with `--distributor dask` on a LocalCluster of 2 worker processes (1 thread
each, no dashboard), alternating, in the same run; the best round of each is compared. The
cluster is started once, before the rounds, and its start-up is reported apart. The same rounds
check that both distributors write byte-identical outputs, and `colorbatch score` of those
outputs runs on both (equal numbers are required).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

from common import WORK, cifar_test_colour, cifar_test_gray, colorbatch, write_results

LIMIT_RATIO = 1.3
LOCAL_LIMIT = 1.05  # local time over the cluster's


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _timed_json(args: list[str]) -> tuple[dict, float]:
    started = time.perf_counter()
    done = colorbatch([*args, "--quiet", "--json"])
    return json.loads(done.stdout), time.perf_counter() - started


def main() -> None:
    from distributed import LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    gray, truth = cifar_test_gray(), cifar_test_colour()
    work = WORK / "dask"
    started = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster:
        startup = time.perf_counter() - started
        address = cluster.scheduler_address
        runs: dict[str, list[float]] = {"local": [], "dask": []}
        outputs = {"local": work / "out-local", "dask": work / "out-dask"}
        for _ in range(args.rounds):
            for name, extra in (("local", []), ("dask", ["--distributor", "dask", "--scheduler", address])):
                shutil.rmtree(outputs[name], ignore_errors=True)
                summary, seconds = _timed_json(["run", str(gray), str(outputs[name]), *extra])
                assert summary["done"] == 10_000 and summary["failed"] == 0, summary
                runs[name].append(seconds)
        identical = _tree_digest(outputs["local"]) == _tree_digest(outputs["dask"])
        scores = {}
        for name, extra in (("local", []), ("dask", ["--distributor", "dask", "--scheduler", address])):
            scores[name] = _timed_json(["score", str(outputs["local"]), str(truth), *extra])
    local, dask = min(runs["local"]), min(runs["dask"])
    rows = [
        {"measurement": "run, local distributor", "images": 10_000, "seconds": local, "images_per_s": 10_000 / local,
         "ratio_to_local": 1.0, "local_over_dask": local / dask, "limit_local": LOCAL_LIMIT,
         "pass_local": local / dask <= LOCAL_LIMIT},
        {"measurement": "run, dask: LocalCluster 2 workers x 1 thread", "images": 10_000, "seconds": dask,
         "images_per_s": 10_000 / dask, "ratio_to_local": dask / local, "limit": LIMIT_RATIO,
         "pass": dask / local <= LIMIT_RATIO, "outputs_identical": identical},
        {"measurement": "LocalCluster start-up (once)", "seconds": startup},
    ]
    for name, (report, seconds) in scores.items():
        rows.append({"measurement": f"score, {name}", "images": report["counts"]["scored"], "seconds": seconds,
                     "psnr_mean": report["aggregate"]["psnr_mean"], "ssim_mean": report["aggregate"]["ssim_mean"]})
    equal_scores = scores["local"][0]["aggregate"] == scores["dask"][0]["aggregate"]
    write_results("dask_overhead", rows, {"rounds": runs, "scores_equal": equal_scores,
                                          "outputs_identical": identical})


if __name__ == "__main__":
    main()
