"""What the commands share: option groups, the progress bar, the summary line and exit, JSON
output and report context."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from colorbatch import defaults
from colorbatch.errors import printable


def require_torch(command: str) -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException(
            f"'colorbatch {command}' needs PyTorch: pip install \"colorbatch[cpu,train]\" (or [gpu,train])"
        ) from None


def chosen(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT


def walk_options(command):
    """Options shared by the commands that mirror a tree (run, gray)."""
    for option in reversed([
        click.option("--workers", type=click.IntRange(min=1), default=defaults.WORKERS, show_default=True,
                     help="Threads for decoding and for encoding/writing."),
        click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them)."),
        click.option("--shard", metavar="K/N", help="Process only shard K of N (stable path hash)."),
        click.option("--strict", is_flag=True, help="Stop at the first failed image."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar (failed files are still named on stderr)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the summary as one JSON object on stdout (messages go to stderr)."),
        click.option("--max-pixels", type=click.IntRange(min=1), default=defaults.MAX_PIXELS, show_default=True,
                     help="Refuse larger images (decompression-bomb guard)."),
    ]):
        command = option(command)
    return command


def distribute_options(command):
    """Where the work runs (run, gray, score): this machine, or a Dask cluster."""
    for option in reversed([
        click.option("--distributor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                     help="local: this process's threads; dask: tasks of 64 files on a Dask cluster "
                          '(pip install "colorbatch[dask]").'),
        click.option("--scheduler", metavar="ADDRESS|FILE",
                     help="The Dask scheduler: tcp://HOST:PORT, or the file `dask scheduler --scheduler-file` "
                          "wrote (with --distributor dask; default: a cluster on this machine)."),
        click.option("--retries", type=click.IntRange(min=0), default=defaults.RETRIES, show_default=True,
                     help="With --distributor dask: tries again of a task that failed or lost its worker."),
    ]):
        command = option(command)
    return command


def distributor_from(name: str, scheduler: str | None, retries: int):
    """The distributor the options ask for; None is this process."""
    if name == "local":
        if scheduler is not None:
            raise click.BadParameter("needs --distributor dask", param_hint="--scheduler")
        return None
    from colorbatch.batch.cluster import DaskDistributor

    return DaskDistributor(scheduler, retries=retries)


def shard_from_text(text: str | None) -> tuple[int, int] | None:
    from colorbatch.files.discover import parse_shard

    if text is None:
        return None
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shard") from None


def bar_width() -> dict:
    """tqdm's size options: follow the terminal, or 80 x 24 where the terminal reports a width
    and height of 0 (a fresh pseudo-terminal), on which tqdm would draw nothing at all."""
    import os

    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 80, "nrows": 24}


class Progress:
    """A tqdm bar on a terminal (and not --quiet); each failure's path and reason go to stderr
    either way: --quiet silences progress, never errors (as rsync's -q).

    The bar's total fills in when a background count of the input's image files ends; it
    counts what the summary counts (done, skipped and failed images; not the files that are not
    images) and shows each apart.
    """

    def __init__(self, quiet: bool, unit: str = "img", source: Path | None = None, echo_failures: bool = True,
                 videos: bool = False) -> None:
        self.quiet = quiet
        self.echo_failures = echo_failures
        self.bar = None
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self.counter: threading.Thread | None = None
        self.videos = videos  # count video files in the total (run)
        self.frame_bar, self.frame_clip = None, None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(unit=unit, **bar_width())
            if source is not None:
                self.counter = threading.Thread(target=self._count, args=(source,), daemon=True)
                self.counter.start()

    def _count(self, source: Path) -> None:
        from colorbatch.files.discover import is_image_path, iter_files
        from colorbatch.files.videofiles import is_video_path

        total = sum(1 for path in iter_files(source) if is_image_path(path) or (self.videos and is_video_path(path)))
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def __call__(self, result) -> None:
        status = str(result.status)  # the plain word: Status is a str enum
        if status == "failed" and self.echo_failures:
            message = f"failed: {printable(result.reason)}"
            if self.bar is not None:
                self.bar.write(message, file=sys.stderr)
            else:
                click.echo(message, err=True)
        if status in self.counts:
            self.counts[status] += 1
            if self.bar is not None:
                self.bar.set_postfix(self.counts, refresh=False)
                self.bar.update(1)

    def frames(self, clip, done: int, total: int | None) -> None:
        """A clip's progress: a second bar, in frames, under the files' bar."""
        if self.bar is None:
            return
        if self.frame_bar is None or self.frame_clip is not clip:
            self._close_frames()
            from tqdm import tqdm

            self.frame_bar = tqdm(unit="frame", desc=printable(clip.source.name), total=total, leave=False,
                                  position=1, **bar_width())
            self.frame_clip = clip
        self.frame_bar.update(done - self.frame_bar.n)

    def _close_frames(self) -> None:
        if self.frame_bar is not None:
            self.frame_bar.close()
            self.frame_bar, self.frame_clip = None, None

    def close(self) -> None:
        self._close_frames()
        if self.bar is not None:
            if self.counter is not None:
                self.counter.join(timeout=1.0)  # a short run can end before its count does
            self.bar.set_postfix(self.counts, refresh=False)
            self.bar.refresh()
            self.bar.close()
            self.bar = None


def finish(summary, what: str, as_json: bool = False, extra: dict | None = None) -> None:
    """The summary line (stderr under --json, where stdout gets one JSON object instead), with
    what steering could not do and which outputs were redone, then the exit: 130 when
    interrupted, 3 when images failed."""
    redone = len(summary.redone)
    done = f"{summary.done} done" + (f" ({redone} redone)" if redone else "")
    line = (f"{what}: {done}, {summary.skipped} skipped, {summary.failed} failed, "
            f"{summary.unsupported} not images, in {summary.seconds:.1f}s "
            f"({summary.images_per_second:.1f} images/s)")
    if summary.provider and summary.provider != "none":
        line += f" on {summary.provider}"
    if as_json:
        print_json({"command": what, "done": summary.done, "skipped": summary.skipped, "failed": summary.failed,
                     "not_images": summary.unsupported, "seconds": summary.seconds,
                     "images_per_second": summary.images_per_second, "provider": summary.provider or None,
                     "interrupted": summary.interrupted, **(extra or {}), **_provenance_fields(summary),
                     "failures": [{"image": printable(str(r.source)), "reason": printable(r.reason)}
                                  for r in summary.failures]})
    for message in _provenance_lines(summary):
        click.echo(message, err=True)
    if summary.interrupted:
        click.echo(f"interrupted: {line} (outputs written so far are complete; run again to resume)", err=True)
        sys.exit(130)
    click.echo(line, err=as_json)
    if summary.failed:
        from colorbatch.errors import BatchFailedError

        raise BatchFailedError(f"{summary.failed} image(s) failed; see the messages above")


UNMATCHED_SHOWN = 5  # hint files that match no input, named in the summary (the rest counted)


def _provenance_fields(summary) -> dict:
    """The JSON summary's account of redone outputs, kept outputs without a record, warnings and
    unmatched hint files (all empty for gray)."""
    return {"redone": len(summary.redone), "redone_reasons": summary.redone_reasons(),
            "redone_files": [{"image": printable(str(r.source)), "reason": r.redone} for r in summary.redone],
            "unrecorded": summary.unrecorded, "warnings": [printable(w) for w in summary.warnings],
            "unmatched_hints": [printable(str(p)) for p in summary.unmatched_hints]}


def _provenance_lines(summary) -> list[str]:
    lines = [f"warning: {printable(message)}" for message in summary.warnings]
    if summary.unmatched_hints:
        named = ", ".join(printable(str(p)) for p in summary.unmatched_hints[:UNMATCHED_SHOWN])
        more = len(summary.unmatched_hints) - UNMATCHED_SHOWN
        lines.append(f"warning: {len(summary.unmatched_hints)} hint file(s) match no input and were not used: "
                     f"{named}" + (f" and {more} more" if more > 0 else ""))
    if summary.redone:
        reasons = ", ".join(f"{reason} {count}" for reason, count in summary.redone_reasons().items())
        lines.append(f"redone: {len(summary.redone)} output(s) whose sources changed ({reasons})")
    if summary.unrecorded:
        lines.append(f"note: {summary.unrecorded} existing output(s) have no record of their sources (written "
                     "before colorbatch kept one, or changed since by another program) and were kept as they are; "
                     "--overwrite redoes them")
    return lines


def print_json(payload: dict) -> None:
    import json

    from colorbatch.scoring.report import json_safe

    click.echo(json.dumps(json_safe(payload)))


def print_scores(aggregate: dict, baseline: dict | None, err: bool = False) -> None:
    from colorbatch.scoring.scores import AGGREGATES

    header = f"{'metric':<24}{'output':>12}" + (f"{'no colour':>12}" if baseline else "")
    click.echo(header, err=err)
    for row in AGGREGATES:
        line = f"{row.label:<24}{row.format(aggregate.get(row.key)):>12}"
        if baseline:
            line += f"{row.format(baseline.get(row.key)):>12}"
        click.echo(line, err=err)
