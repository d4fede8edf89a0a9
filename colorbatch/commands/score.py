"""``colorbatch score``: PSNR, SSIM and colourfulness of predictions against their truth."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from colorbatch.errors import printable

from .common import Progress, distribute_options, distributor_from, print_json, print_scores


def _check_jobs(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value == 0 or value < -1:
        raise click.BadParameter(f"{value}: use a number of workers from 1, or -1 for all cores")
    return value


@click.command()
@click.argument("pred_dir", metavar="PRED", type=click.Path(path_type=Path))
@click.argument("truth_dir", metavar="TRUTH", type=click.Path(path_type=Path))
@click.option("--jobs", "-j", type=int, default=-1, show_default=True, callback=_check_jobs,
              help="Processes on this machine (-1: all cores); unused with --distributor dask.")
@click.option("--baseline", is_flag=True, help="Also score the no-colour baseline (the truth's gray copy).")
@click.option("--report", type=click.Path(path_type=Path), help="Write a .json, .csv or .html report.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object on stdout.")
@distribute_options
def score(pred_dir: Path, truth_dir: Path, jobs: int, baseline: bool, report: Path | None, quiet: bool,
          as_json: bool, distributor: str, scheduler: str | None, retries: int) -> None:
    """PSNR, SSIM and colourfulness of PRED images against TRUTH, paired by relative path."""
    from colorbatch.work.score import score_trees

    cluster = distributor_from(distributor, scheduler, retries)
    progress = Progress(quiet, echo_failures=False)  # failures are listed below, after the scores
    try:
        result = score_trees(pred_dir, truth_dir, jobs=jobs, baseline=baseline, on_result=progress, report=report,
                             distributor=cluster)
    finally:
        progress.close()
    if result.interrupted:
        click.echo(f"interrupted: score: {result.summary.count} pairs scored, no report written", err=True)
        sys.exit(130)
    print_scores(result.header["aggregate"], result.header["baseline"], err=as_json)
    for label, names in (("prediction without truth", result.unmatched_pred),
                         ("truth without prediction", result.unmatched_truth)):
        if names:
            shown = ", ".join(printable(name) for name in names[:5])
            click.echo(f"{len(names)} {label}: {shown}{' ...' if len(names) > 5 else ''}", err=True)
    for failure in result.failed[:20]:
        click.echo(f"failed: {printable(failure['image'])}: {printable(failure['error'])}", err=True)
    if report is not None:
        click.echo(f"report: {report}", err=as_json)
    if as_json:
        print_json({**result.header, "report": str(report) if report else None})
    if result.summary.count == 0:
        from colorbatch.errors import NothingScoredError

        raise NothingScoredError(f"nothing scored: no image under {pred_dir} has a readable partner under {truth_dir}")
    if result.failed:
        from colorbatch.errors import BatchFailedError

        raise BatchFailedError(f"{len(result.failed)} pair(s) could not be scored")
