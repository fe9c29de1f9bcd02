"""`ammlab sweep` (variants of a scenario, resumable, local processes or Dask) and `ammlab
report` (one self-contained HTML file of a run or a sweep)."""

from __future__ import annotations

from pathlib import Path

import click

from sim.atomic import atomic_write_text
from sim.cli.common import raise_if_failed, run_sweep_with_progress, with_sweep_options
from sim.errors import SimError
from sim.studies.report import build_report
from sim.studies.sweep import run_sweep


@click.command("sweep")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--grid",
    multiple=True,
    metavar="DOTTED.PATH=V1,V2,...",
    help="A swept field: a list of values, or lo:hi[:log] for --random.",
)
@click.option(
    "--random",
    "random_n",
    type=click.IntRange(min=1),
    default=None,
    help="Draw N variants from the --grid ranges instead of the product.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the --random draws.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Sweep folder (created; re-use it to resume).",
)
@click.option(
    "--paths", type=click.IntRange(min=1), default=None, help="Worlds per run (default: file)."
)
@with_sweep_options
def sweep_cmd(
    scenario: Path,
    grid: tuple[str, ...],
    random_n: int | None,
    seed: int,
    out_dir: Path,
    paths: int | None,
    replicates: int,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """Run variants of SCENARIO over a --grid of overrides; results to --out (resumable)."""

    def run(report, planned):
        try:
            return run_sweep(
                scenario, out_dir, list(grid), random_n, seed, paths, workers, scheduler,
                replicates, report, planned,
            )  # fmt: skip
        except SimError as err:
            raise click.ClickException(str(err)) from err

    raise_if_failed(run_sweep_with_progress("sweep", out_dir, run), out_dir)


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file (default: RUN_DIR/report.html).",
)
def report_cmd(run_dir: Path, out_file: Path | None) -> None:
    """Write one self-contained HTML report of RUN_DIR (a sim run or a sweep folder)."""
    try:
        page = build_report(run_dir)
    except (SimError, OSError, ValueError) as err:
        raise click.ClickException(str(err)) from err
    out_file = out_file or run_dir / "report.html"
    atomic_write_text(out_file, page)
    click.echo(f"wrote {out_file} ({len(page) / 1e6:.1f} MB)")
