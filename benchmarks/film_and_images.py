"""A film in a tree of photos: does it hold the photos back? (issue 37 item 5)

    python benchmarks/film_and_images.py --before /tmp/before [--after /tmp/after] [--images 500] [--rounds 1] [--dask]

One tree (made once under benchmarks/work/film-and-images/): the first ``--images`` photos of
data/photos-large/val, made gray (PNG) and named 0000.png, 0001.png, ... and the cockatoo clip
(280 frames, 1280x720, from ../shared/datasets/video/) named so that it sits in the middle of the
plan. ``colorbatch run`` (the Python API, bundled model, CPU) colours it with this checkout's code
and with the code in ``--before`` (a git worktree of an older commit), alternated, each in a fresh
process (``--after``: another worktree instead of this checkout, so that editing this one
while it runs changes nothing), and notes when each result arrived. The table gives, per code: seconds until the last
photo was written, until the film was, and for the whole run, and how many photos were written
before the film was finished. ``--dask``: the same on a LocalCluster of 2 worker processes, 1 thread
each (results in film_and_images_dask.md).

To make the worktree: `git worktree add /tmp/before COMMIT`. The older code is imported from it by
putting it first on PYTHONPATH with a `sitecustomize.py` that drops this checkout's editable
install from `sys.meta_path` (made in benchmarks/work/site/ by this script).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import DATA, ROOT, SHARED_DATASETS, WORK, colorbatch, write_results

TREE = WORK / "film-and-images"
SITE = WORK / "site"
CLIP = SHARED_DATASETS / "video" / "cockatoo.mp4"
DROP_EDITABLE = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path_importer_cache.clear()
"""
CHILD = """
import json, sys, time
from pathlib import Path
import colorbatch
from colorbatch.api import Colorizer

colorizer = Colorizer(device="cpu")
arrivals = []
distributor = None
if sys.argv[3] == "dask":
    from colorbatch.batch.cluster import DaskDistributor
    distributor = DaskDistributor(workers=2)
started = time.perf_counter()
on_result = lambda result: arrivals.append((str(result.source), str(result.status), time.perf_counter() - started))
summary = colorizer.run(Path(sys.argv[1]), Path(sys.argv[2]), on_result=on_result, video=True, distributor=distributor)
print(json.dumps({"code": colorbatch.__file__, "arrivals": arrivals, "failed": summary.failed}))
"""


def make_tree(count: int) -> Path:
    tree = TREE / f"in-{count}"
    if (tree / ".complete").exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    colour = WORK / "film-and-images" / "colour"
    shutil.rmtree(colour, ignore_errors=True)
    photos = sorted((DATA / "photos-large" / "val").rglob("*.JPEG"))[:count]
    if len(photos) < count:
        raise SystemExit(f"need {count} photos under data/photos-large/val (see its README); found {len(photos)}")
    colour.mkdir(parents=True)
    for index, photo in enumerate(photos):
        shutil.copyfile(photo, colour / f"{index:04d}.jpg")
    colorbatch(["gray", str(colour), str(tree), "--quiet"])
    shutil.copyfile(CLIP, tree / f"{count // 2:04d}-film.mp4")
    shutil.rmtree(colour)
    (tree / ".complete").touch()
    return tree


def one_run(tree: Path, code: Path | None, name: str, where: str) -> dict:
    out = TREE / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ)
    if code is not None:
        SITE.mkdir(parents=True, exist_ok=True)
        (SITE / "sitecustomize.py").write_text(DROP_EDITABLE)
        env["PYTHONPATH"] = f"{SITE}:{code}"
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(out), where], check=True, capture_output=True,
                          text=True, env=env, cwd=TREE)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    expected = ROOT if code is None else code
    if not found["code"].startswith(str(expected)):
        raise SystemExit(f"{name} imported colorbatch from {found['code']}, not from {expected}")
    arrivals = found["arrivals"]
    photos = [t for source, status, t in arrivals if not source.endswith(".mp4") and status == "done"]
    film = next(t for source, status, t in arrivals if source.endswith(".mp4") and status == "done")
    return {"code": name, "where": where, "photos done": len(photos), "failed": found["failed"],
            "last photo s": round(max(photos), 1), "film s": round(film, 1),
            "whole run s": round(max(t for _, _, t in arrivals), 1),
            "photos done before the film": sum(t < film for t in photos)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a worktree of the older code")
    parser.add_argument("--after", type=Path, help="a worktree of the newer code (default: this checkout)")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--dask", action="store_true", help="on a LocalCluster of 2 worker processes (1 thread each)")
    args = parser.parse_args()
    tree = make_tree(args.images)
    rows = []
    for _ in range(args.rounds):
        where = "dask" if args.dask else "local"
        rows.append(one_run(tree, args.before.resolve(), f"before ({args.before.name})", where))
        rows.append(one_run(tree, args.after and args.after.resolve(),
                            f"after ({args.after.name})" if args.after else "this checkout", where))
    setup = f"{args.images} gray photos and a 280-frame 1280x720 film, bundled model, CPU, {where}; seconds from start"
    write_results("film_and_images_dask" if args.dask else "film_and_images", rows, extra={"setup": setup})
    return 0


if __name__ == "__main__":
    sys.exit(main())
