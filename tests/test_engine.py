"""The batch engine, on its own: the bounded ``Stage`` every pool of the run path waits through,
``run_bounded`` (windows, budgets, lanes, stopping), ``chunked``, ``execute``'s observers and the
plan's decisions (``plan_jobs``) that need no model."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from colorbatch.batch.engine import chunked, execute, run_bounded
from colorbatch.batch.jobs import ClipJob, Job, Result, RunOptions, Status
from colorbatch.batch.plan import plan_jobs


def test_a_stage_settles_in_order_within_its_window_and_budget():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from colorbatch.batch.stage import Stage, in_order

    running, most, lock = [0], [0], threading.Lock()

    def work(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002 * (item % 3))  # later items often finish first
        with lock:
            running[0] -= 1
        return item * item

    settled = []
    with ThreadPoolExecutor(8) as pool:
        stage = Stage(pool, work, lambda item, done: settled.append((item, done.result(), len(stage))), window=3)
        for item in range(30):
            stage.submit(item)
            assert len(stage) <= 3
        stage.finish()
    assert [(item, value) for item, value, _ in settled] == [(i, i * i) for i in range(30)]
    assert most[0] <= 4  # the window, and the newest started before the oldest is waited for

    weights = []
    with ThreadPoolExecutor(8) as pool:
        stage = Stage(pool, work, lambda item, done: None, window=10, budget=10)
        for item, weight in enumerate([4, 4, 4, 12, 1]):
            stage.submit(item, weight)
            weights.append(stage.weight)
        stage.finish()
    assert weights == [4, 8, 8, 12, 1]  # within the budget; the item heavier than it runs alone

    with ThreadPoolExecutor(2) as pool:
        assert [(item, done.result()) for item, done in in_order(pool, work, range(7), window=2)] == \
            [(i, i * i) for i in range(7)]


def test_run_bounded_keeps_each_lane_in_order_and_stops_when_told():
    settled: list[tuple[int, int]] = []
    stop = threading.Event()

    def settle(item: int, done) -> None:
        settled.append((item, done.result()))
        if item == 13:
            stop.set()

    with ThreadPoolExecutor(4) as pool:
        run_bounded(pool, lambda item: (time.sleep(0.001 * (item % 4)), item)[1], range(40), settle, stop.is_set,
                    window=4, lane=lambda item: item % 2)
    items = [item for item, _ in settled]
    assert 13 in items and max(items) < 13 + 2 * 4  # nothing new after the stop, beyond the windows in flight
    for parity in (0, 1):
        lane = [item for item in items if item % 2 == parity]
        assert lane == sorted(lane)  # each lane settles in its own submission order
    assert all(item == value for item, value in settled)


def test_chunked_gives_clips_a_chunk_of_their_own():
    jobs = [Job(Path(f"{i}.png"), Path(f"{i}.png"), Path(f"o/{i}.png")) for i in range(5)]
    clip = ClipJob(Path("film.mp4"), Path("film.mp4"), Path("o/film.mp4"))
    chunks = list(chunked([*jobs[:3], clip, *jobs[3:]], size=2))
    assert [len(chunk) for chunk in chunks] == [2, 1, 2, 1]  # a clip does not wait for a chunk to fill
    assert chunks[1] == [clip] and [job for chunk in chunks for job in chunk if job is not clip] == jobs


def test_execute_hands_every_result_to_every_observer_and_stops_on_the_first_match():
    class Echo:
        def process(self, jobs, record, stopped):
            for job in jobs:
                if stopped():
                    return
                record(Result(job.source, job.target, Status.FAILED if "bad" in job.source.name else Status.DONE))

    plan = [Job(Path(name), Path(name), Path("o") / name) for name in ("a", "bad", "c")]
    plan.insert(1, Result(Path("notes.txt"), None, Status.UNSUPPORTED))
    seen, also = [], []
    outcome = execute(plan, Echo(), observers=[seen.append, also.append],
                      stop_on=lambda result: result.status is Status.FAILED)
    assert [r.source.name for r in seen] == ["a", "notes.txt", "bad"] and seen == also
    assert not outcome.interrupted


def test_the_plan_decides_what_needs_no_work(tmp_path):
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    for name in ("b.png", "a.png", "a.jpg", "sub/c.png"):
        Image.new("L", (8, 8), 100).save(source / name)
    (source / "notes.txt").write_text("not an image")
    plan = list(plan_jobs(source, tmp_path / "out", RunOptions()))
    decided = {item.source.name: item for item in plan if isinstance(item, Result)}
    jobs = [item for item in plan if isinstance(item, Job)]
    assert decided["notes.txt"].status is Status.UNSUPPORTED
    assert decided["a.png"].status is Status.FAILED and "would also be written from" in decided["a.png"].reason
    assert [job.relative.as_posix() for job in jobs] == ["a.jpg", "b.png", "sub/c.png"]  # a stable order
    assert jobs[0].target == tmp_path / "out" / "a.png"
