"""--distributor dask: the same engine on a real Dask cluster (a LocalCluster, and the `dask
scheduler` / `dask worker` commands), all on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.batch.engine import execute
from colorbatch.batch.jobs import RunOptions, RunSummary, Status
from colorbatch.batch.plan import plan_jobs
from colorbatch.cli import cli
from colorbatch.color import gray_u8
from colorbatch.work.gray import GrayWork
from tests.conftest import output_files, random_rgb, write_color_tree

pytestmark = pytest.mark.slow  # starts Dask clusters

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def cluster():
    """2 worker processes, 1 thread each, no dashboard."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR) as local:
        yield local.scheduler_address


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([DASK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _wait_for_workers(address: str, count: int) -> None:
    with distributed.Client(address, timeout="20s", set_as_default=False) as client:
        client.wait_for_workers(count, timeout=60)


class RealCluster:
    """`dask scheduler` and `dask worker` processes (workers without a nanny, so a killed one
    stays dead)."""

    def __init__(self, folder: Path, workers: int = 2) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        scheduler_file = folder / "scheduler.json"
        self.processes = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)])]
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), "dask scheduler did not start"
        self.scheduler_file = str(scheduler_file)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(workers):
            self.processes.append(_start(["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                          "--host", "127.0.0.1"]))
        if workers:
            _wait_for_workers(self.address, workers)

    def close(self) -> None:
        """Workers first, each to its end, then the scheduler (a worker that outlives its scheduler
        spends its connect timeout trying to say goodbye)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory):
    """Named by its scheduler file, as a Slurm script would name it."""
    started = RealCluster(tmp_path_factory.mktemp("dask"))
    yield started.scheduler_file
    started.close()


def _gray_tree(root: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(count):
        size = (32, 32) if i % 3 else (40, 24)
        path = root / f"f{i % 3}" / f"g{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(random_rgb(rng, *size))).save(path)
    return root


def _invoke(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in output_files(folder)}


def _summary(result) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


def _tree_with_problems(root: Path) -> Path:
    _gray_tree(root, 20)
    (root / "f0" / "broken.png").write_bytes(b"not an image")
    (root / "notes.txt").write_text("not an image either")
    return root


@pytest.mark.parametrize("where", ["cluster", "real_cluster"])
def test_run_on_dask_writes_the_same_bytes_and_summary_as_local(tmp_path, tiny_onnx, where, request):
    address = request.getfixturevalue(where)
    source = _tree_with_problems(tmp_path / "in")
    local = _invoke("run", source, tmp_path / "local", "--model", tiny_onnx, "--json", "-q")
    dask = _invoke("run", source, tmp_path / "dask", "--model", tiny_onnx, "--json",
                   "--distributor", "dask", "--scheduler", address)
    assert local.exit_code == dask.exit_code == 3, dask.output  # the broken file fails in both
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")
    assert len(_files(tmp_path / "dask")) == 20
    one, other = _summary(local), _summary(dask)
    for key in ("done", "skipped", "failed", "not_images"):
        assert one[key] == other[key]
    assert [f["image"] for f in one["failures"]] == [f["image"] for f in other["failures"]]
    assert "broken.png" in other["failures"][0]["reason"] and other["provider"].startswith("dask (2 workers")
    assert f"on Dask workers ({address})" in dask.stderr  # where the model runs, before the run


def test_gray_on_dask_writes_the_same_bytes_as_local(tmp_path, cluster):
    write_color_tree(tmp_path / "colour", 30)
    local = _invoke("gray", tmp_path / "colour", tmp_path / "local", "-q")
    dask = _invoke("gray", tmp_path / "colour", tmp_path / "dask", "-q", "--distributor", "dask",
                   "--scheduler", cluster)
    assert local.exit_code == dask.exit_code == 0, dask.output
    assert _files(tmp_path / "local") == _files(tmp_path / "dask") and len(_files(tmp_path / "dask")) == 30


def test_score_on_dask_equals_local_score(tmp_path, cluster):
    write_color_tree(tmp_path / "truth", 40)
    assert _invoke("gray", tmp_path / "truth", tmp_path / "pred", "-q").exit_code == 0
    (tmp_path / "pred" / "a" / "img000.png").write_bytes(b"broken")  # one pair that cannot be scored
    local = _invoke("score", tmp_path / "pred", tmp_path / "truth", "--json", "--baseline", "-j", "2",
                    "--report", tmp_path / "local.json")
    dask = _invoke("score", tmp_path / "pred", tmp_path / "truth", "--json", "--baseline", "--distributor", "dask",
                   "--scheduler", cluster, "--report", tmp_path / "dask.json")
    assert local.exit_code == dask.exit_code == 3, dask.output
    one, other = json.loads(local.stdout.splitlines()[-1]), json.loads(dask.stdout.splitlines()[-1])
    assert one["aggregate"] == other["aggregate"] and one["baseline"] == other["baseline"]
    assert one["counts"] == other["counts"] and one["counts"]["scored"] == 39
    assert one["failed"] == other["failed"] and "img000.png" in other["failed"][0]["image"]
    rows = [json.loads(path.read_text())["images"] for path in (tmp_path / "local.json", tmp_path / "dask.json")]
    assert rows[0] == rows[1]


def test_shards_and_resume_behave_as_with_the_local_distributor(tmp_path, tiny_onnx, cluster):
    source = _gray_tree(tmp_path / "in", 24)
    dask = ("--distributor", "dask", "--scheduler", cluster)
    for k in ("1/2", "2/2"):
        local = _invoke("run", source, tmp_path / "local", "--model", tiny_onnx, "--shard", k, "-q")
        remote = _invoke("run", source, tmp_path / f"dask{k[0]}", "--model", tiny_onnx, "--shard", k, "-q", *dask)
        assert local.exit_code == remote.exit_code == 0, remote.output
    shard_one = _files(tmp_path / "dask1")
    assert 0 < len(shard_one) < 24
    assert set(shard_one) | set(_files(tmp_path / "dask2")) == set(_files(tmp_path / "local"))
    resumed = _invoke("run", source, tmp_path / "dask1", "--model", tiny_onnx, "--json", "-q", *dask)
    assert resumed.exit_code == 0, resumed.output
    summary = _summary(resumed)
    assert summary["skipped"] == len(shard_one) and summary["done"] == 24 - len(shard_one)
    assert _files(tmp_path / "dask1") == _files(tmp_path / "local")


class FlakyGray(GrayWork):
    """Gray copies whose every chunk raises on its first try (a marker file remembers the try)."""

    def __init__(self, options: RunOptions, markers: Path) -> None:
        super().__init__(options)
        self.markers = markers

    def process_chunk(self, jobs):
        marker = self.markers / jobs[0].relative.as_posix().replace("/", "_")
        if not marker.exists():
            marker.touch()
            raise RuntimeError("a flaky worker")
        return super().process_chunk(jobs)


def _flaky_run(tmp_path: Path, address: str, retries: int) -> tuple[RunSummary, list]:
    import cloudpickle

    from colorbatch.batch.cluster import DaskDistributor

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    write_color_tree(tmp_path / "colour", 12, folders=("a",))
    markers = tmp_path / f"markers{retries}"
    markers.mkdir()
    options = RunOptions()
    summary, results = RunSummary(), []
    out = tmp_path / f"out{retries}"
    execute(plan_jobs(tmp_path / "colour", out, options), FlakyGray(options, markers),
            DaskDistributor(address, retries=retries, chunk_size=4), [summary.record, results.append])
    return summary, results


def test_a_task_that_fails_once_is_retried(tmp_path, cluster):
    summary, results = _flaky_run(tmp_path, cluster, retries=2)
    assert len(list((tmp_path / "markers2").iterdir())) == 3  # every one of the 3 chunks failed once
    assert summary.done == 12 and summary.failed == 0 and len(results) == 12
    assert len(_files(tmp_path / "out2")) == 12


def test_a_task_out_of_retries_fails_its_files_and_the_batch_goes_on(tmp_path, cluster):
    summary, results = _flaky_run(tmp_path, cluster, retries=0)
    assert summary.done == 0 and summary.failed == 12 and len(results) == 12
    assert all(r.status is Status.FAILED and "its task failed (RuntimeError: a flaky worker)" in r.reason
               for r in results)


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(tmp_path, tiny_onnx):
    from colorbatch.api import Colorizer
    from colorbatch.batch.cluster import DaskDistributor

    source = _gray_tree(tmp_path / "in", 60)
    started = RealCluster(tmp_path / "dask")
    try:
        with distributed.Client(started.address, set_as_default=False) as client:
            pids = client.run(os.getpid)
            killed: list[str] = []

            def kill_a_busy_worker(result) -> None:
                if killed:
                    return
                busy = [worker for worker, keys in client.processing().items() if keys]
                if busy:
                    killed.append(busy[0])
                    os.kill(pids[busy[0]], signal.SIGKILL)

            seen = []
            summary = Colorizer(tiny_onnx).run(source, tmp_path / "out", on_result=lambda r: (seen.append(r.source),
                                                                                              kill_a_busy_worker(r)),
                                               distributor=DaskDistributor(started.address, chunk_size=2))
        assert killed, "no worker was busy when the first result came back"
    finally:
        started.close()
    assert summary.done == 60 and summary.failed == 0 and summary.skipped == 0
    assert len(seen) == len(set(seen)) == 60  # every file reported once
    written = output_files(tmp_path / "out")
    assert len(written) == 60 and all(p.suffix == ".png" for p in written)  # no partial files left behind
    for path in written:
        with Image.open(path) as image:
            image.load()


def test_each_worker_process_loads_the_model_once(tmp_path, tiny_onnx, cluster):
    from colorbatch.api import Colorizer
    from colorbatch.batch.cluster import DaskDistributor
    from colorbatch.work.colorize import load_model

    source = _gray_tree(tmp_path / "in", 40)
    with distributed.Client(cluster, set_as_default=False) as client:
        client.run(load_model.cache_clear)
        summary = Colorizer(tiny_onnx).run(source, tmp_path / "out", distributor=DaskDistributor(cluster, chunk_size=4))
        assert summary.done == 40
        info = client.run(lambda: load_model.cache_info()._asdict())
    assert sum(i["hits"] + i["misses"] for i in info.values()) == 10  # 10 chunks of 4 files
    assert all(i["misses"] <= 1 for i in info.values())  # each process loaded it at most once


def test_a_worker_runs_the_model_on_its_own_share_of_cores(tmp_path, tiny_onnx, cluster):
    from colorbatch.api import Colorizer
    from colorbatch.batch.jobs import Job
    from colorbatch.work.colorize import ColorizeWork

    source = _gray_tree(tmp_path / "in", 2)
    jobs = [Job(path, path.relative_to(source), tmp_path / "out" / path.name) for path in sorted(source.rglob("*.png"))]
    local = Colorizer(tiny_onnx)
    work = ColorizeWork(local.spec, RunOptions(), model=local)
    with distributed.Client(cluster, set_as_default=False) as client:
        done, threads = client.submit(lambda w, chunk: (w.process_chunk(chunk), w.spec.threads), work, jobs).result()
    assert [r.status for r in done] == [Status.DONE, Status.DONE]
    assert threads == 1 and local.spec.threads is None  # the worker's 1 thread; here, onnxruntime's choice


def test_cluster_errors_are_clear(tmp_path, monkeypatch):
    import colorbatch.batch.cluster

    monkeypatch.setattr(colorbatch.batch.cluster, "CONNECT_TIMEOUT", "2s")
    _gray_tree(tmp_path / "in", 2)
    lonely = _invoke("run", tmp_path / "in", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert lonely.exit_code == 2 and "needs --distributor dask" in lonely.output
    unreachable = _invoke("gray", tmp_path / "in", tmp_path / "out", "--distributor", "dask", "--scheduler",
                          "tcp://127.0.0.1:9")
    assert unreachable.exit_code == 12 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.output
    assert "Traceback" not in unreachable.output and not (tmp_path / "out").exists()
    (tmp_path / "not-a-scheduler.json").write_text("{}")
    bad_file = _invoke("gray", tmp_path / "in", tmp_path / "out", "--distributor", "dask", "--scheduler",
                       tmp_path / "not-a-scheduler.json")
    assert bad_file.exit_code == 12 and "not-a-scheduler.json: not a Dask scheduler file" in bad_file.output
    monkeypatch.setattr(colorbatch.batch.cluster, "WORKER_WAIT_SECONDS", 1)
    alone = RealCluster(tmp_path / "alone", workers=0)
    try:
        no_workers = _invoke("gray", tmp_path / "in", tmp_path / "out", "--distributor", "dask", "--scheduler",
                             alone.address)
    finally:
        alone.close()
    assert no_workers.exit_code == 12 and "no Dask worker joined the scheduler" in no_workers.output
    assert f"dask worker {alone.address}" in no_workers.output and not (tmp_path / "out").exists()
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed
    missing = _invoke("gray", tmp_path / "in", tmp_path / "out", "--distributor", "dask")
    assert missing.exit_code == 12 and 'pip install "colorbatch[dask]"' in missing.output


def test_strict_stops_sending_tasks_at_the_first_failure(tmp_path, tiny_onnx, cluster):
    from colorbatch.api import Colorizer
    from colorbatch.batch.cluster import DaskDistributor

    source = _gray_tree(tmp_path / "in", 40)
    (source / "f0" / "a-broken.png").write_bytes(b"not an image")  # the first file of the plan
    summary = Colorizer(tiny_onnx).run(source, tmp_path / "out", strict=True,
                                       distributor=DaskDistributor(cluster, chunk_size=2))
    assert summary.failed == 1 and "a-broken.png" in summary.failures[0].reason
    # the window: 2 tasks per worker thread in flight, one more sent while the first came back
    assert summary.done <= 2 * 2 * 2 + 2 - 1 and summary.done == len(list((tmp_path / "out").rglob("*.png")))


def test_a_long_sequence_runs_in_pieces_that_write_what_one_clip_writes(tmp_path, cluster, monkeypatch):
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    from colorbatch.api import Colorizer
    from colorbatch.batch import tree
    from colorbatch.batch.cluster import DaskDistributor
    from tests.test_video import _frames

    _frames(tmp_path / "in" / "shot", [(i % 16, f"frame_{i}.png") for i in range(40)])
    options = RunOptions(sequence=True, video=True)
    colorizer = Colorizer(device="cpu")
    local = colorizer.run(tmp_path / "in", tmp_path / "local", options)
    monkeypatch.setattr(tree, "SEQUENCE_PIECE", 16)  # 3 pieces, each warmed up by the frames before it
    pieces = colorizer.run(tmp_path / "in", tmp_path / "dask", options, distributor=DaskDistributor(cluster))
    assert (local.done, pieces.done, pieces.failed) == (40, 40, 0)
    assert _files(tmp_path / "local") == _files(tmp_path / "dask")


def test_hint_files_travel_with_their_photos_on_dask(tmp_path, cluster):
    """Workers read each photo's hint image and reference (shared paths) as the local run does."""
    source = tmp_path / "in"
    _gray_tree(source, 4)
    hints = tmp_path / "hints"
    for photo in sorted(source.rglob("*.png"))[:2]:
        with Image.open(photo) as image:
            size = image.size
        dabs = np.zeros((size[1], size[0], 4), np.uint8)
        dabs[2:9, 2:9] = (230, 20, 30, 255)
        target = hints / photo.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(dabs, "RGBA").save(target)
    reference = tmp_path / "reference.png"
    Image.new("RGB", (40, 40), (40, 90, 220)).save(reference)
    common = ["--hints", hints, "--reference", reference, "--device", "cpu", "-q"]
    local = _invoke("run", source, tmp_path / "local", *common)
    dask = _invoke("run", source, tmp_path / "dask", *common, "--distributor", "dask", "--scheduler", cluster)
    assert local.exit_code == dask.exit_code == 0, dask.output
    assert _files(tmp_path / "local") == _files(tmp_path / "dask") and len(_files(tmp_path / "dask")) == 4
    plain = _invoke("run", source, tmp_path / "plain", "--device", "cpu", "-q")
    assert plain.exit_code == 0 and _files(tmp_path / "plain") != _files(tmp_path / "dask")


def test_a_film_does_not_hold_back_the_images_on_dask(tmp_path, cluster):
    """The clip is the plan's first chunk; the image chunks behind it are recorded without waiting
    for it (clips have a window of their own), and the clip last."""
    pytest.importorskip("av")
    pytest.importorskip("cv2")
    import shutil

    from colorbatch.api import Colorizer
    from colorbatch.batch.cluster import DaskDistributor
    from tests.test_video import make_clip

    source = _gray_tree(tmp_path / "in", 6)
    make_clip(tmp_path / "film.mp4")
    shutil.copyfile(tmp_path / "film.mp4", source / "a-film.mp4")
    arrivals = []
    summary = Colorizer(device="cpu").run(source, tmp_path / "out", video=True, distributor=DaskDistributor(
        cluster, chunk_size=2), on_result=lambda result: arrivals.append(result.source.name))
    assert summary.failed == 0 and summary.done == len(arrivals) == 7
    assert arrivals[-1] == "a-film.mp4"
