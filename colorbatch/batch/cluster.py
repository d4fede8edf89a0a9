"""The engine's work on a Dask cluster: ``--distributor dask [--scheduler tcp://HOST:PORT]``.

The plan stays on this machine (the client); it is cut into chunks of files, and a bounded
window of chunks is in flight at a time, so a tree of millions of files never sits in the
scheduler's memory. A clip (a video, a piece of a sequence) is a chunk of its own and a long task,
so clips have a window apart from the images': a film does not hold the images back. Each chunk
is one task: a worker process loads the model once (see ``pipeline.load_model``) and runs the
chunk with it; its results come back here, where the progress bar, the report and the summary
see them in plan order within each window (a clip's results after those of the images beside it).
A task whose worker dies, or that raises, is retried (``retries``); outputs are written
atomically, so a retried chunk neither loses nor half-writes a file. A chunk that fails on every
try becomes one failed result per file, and the rest of the batch goes on.

Workers need colorbatch installed and the same paths as the client (a shared filesystem).
Without a scheduler address, a ``LocalCluster`` on this machine (one thread per worker process,
listening on 127.0.0.1 only, no dashboard) runs the work.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from colorbatch import defaults
from colorbatch.batch.engine import Record, Stopped, Work, chunk_settler, chunked, run_bounded
from colorbatch.batch.jobs import ClipJob, Job
from colorbatch.errors import ClusterError

CHUNK_SIZE = 64  # files per task: large enough that scheduling is a small part of a task
WORKER_WAIT_SECONDS = 60
CONNECT_TIMEOUT = "10s"


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError('--distributor dask needs Dask: pip install "colorbatch[dask]"') from None
    return distributed


class DaskDistributor:
    """Chunks of jobs as tasks on a Dask cluster, with ``retries`` per task. ``scheduler`` is its
    address (``tcp://HOST:PORT``) or the file ``dask scheduler --scheduler-file`` wrote."""

    def __init__(self, scheduler: str | None = None, retries: int = defaults.RETRIES, chunk_size: int = CHUNK_SIZE,
                 workers: int | None = None) -> None:
        self.scheduler = scheduler
        self.retries = retries
        self.chunk_size = chunk_size
        self.workers = workers  # of the LocalCluster, when there is no scheduler address
        self.description = ""

    @contextlib.contextmanager
    def _client(self) -> Iterator:
        distributed = import_distributed()
        with contextlib.ExitStack() as stack:
            if self.scheduler is None:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR))
                address = cluster.scheduler_address
            else:
                address = scheduler_address(self.scheduler)
            try:
                client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
            stack.enter_context(client)
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            except TimeoutError:
                raise ClusterError(f"no Dask worker joined the scheduler at {address} within "
                                   f"{WORKER_WAIT_SECONDS} s; start workers with: dask worker {address}") from None
            yield client

    def distribute(self, work: Work, jobs: Iterator[Job], record: Record, stopped: Stopped) -> None:
        with self._client() as client:
            nthreads = client.nthreads()
            self.description = f"dask ({len(nthreads)} workers at {client.scheduler.address})"
            executor = client.get_executor(retries=self.retries, pure=False)
            run_bounded(executor, work.process_chunk, chunked(jobs, self.chunk_size), chunk_settler(work, record),
                        stopped, window=2 * max(1, sum(nthreads.values())), lane=_clip_lane)


def _clip_lane(chunk: list[Job]) -> int:
    """A clip's chunk (a video, a piece of a sequence: one long task) gets a window of its own, so
    that a film's task never holds back the image chunks behind it."""
    return int(isinstance(chunk[0], ClipJob))


def scheduler_address(scheduler: str) -> str:
    """The address ``--scheduler`` names: itself, or the one in the scheduler file it names."""
    path = Path(scheduler)
    if not path.is_file():
        return scheduler
    try:
        return json.loads(path.read_text())["address"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ClusterError(f"{scheduler}: not a Dask scheduler file (it holds no scheduler address)") from None


def worker_threads() -> int | None:
    """The threads of the Dask worker this runs in (None outside one): a worker's share of cores."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return None
