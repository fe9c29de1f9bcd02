"""`ammlab study lp-ranges`: the active liquidity management study (`sim.studies.lp_ranges`),
registered in the `study` group."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from sim.studies.sweep import FAILED


@click.command("lp-ranges")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/study/lp-ranges"),
    show_default=True,
    help="Study folder (a sweep folder: re-use it to resume).",
)
@click.option("--widths", default=None, help="Relative half-widths, e.g. 0.01,0.03,0.1,0.3.")
@click.option("--sigmas", default=None, help="Volatilities per day, e.g. 0.02,0.05,0.1.")
@click.option("--fees", default=None, help="Fee tiers in pips: 500,3000,10000.")
@click.option(
    "--policys",
    "--policies",
    "policies",
    default=None,
    help="Range policies: static,recentre,vol_width,periodic,none.",
)
@click.option(
    "--paths",
    type=click.IntRange(min=1),
    default=None,
    help="Worlds per run (default: the scenario's).",
)
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs per variant, seeds seed, seed+1, ...",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes (default: CPU count).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run on this Dask distributed scheduler instead.",
)
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Base scenario (default: scenarios/lp_ranges.yaml).",
)
def lp_ranges_cmd(out_dir, widths, sigmas, fees, policies, paths, replicates, workers,
                  scheduler, scenario) -> None:  # fmt: skip
    """Range width x volatility x fee tier x range policy of a hedged V3 position: LP fees,
    LVR, rebalancing cost, hedged P&L (mean, std, CVaR 95 %), time in range; resumable."""
    from sim.studies.lp_ranges import (
        SCENARIO,
        STUDY_FILE,
        TABLE_FILE,
        format_best,
        format_table,
        parse_grid,
        run_study,
    )

    grid = parse_grid({"width": widths, "sigma": sigmas, "fee": fees, "policy": policies})
    t0 = time.perf_counter()
    bar = tqdm(total=0, unit="run", desc="lp-ranges")

    def planned(to_run: int, done: int) -> None:
        bar.reset(total=to_run)
        if done:
            bar.write(f"{done} run(s) already finished in {out_dir}: resuming")

    def report(res: dict[str, Any]) -> None:
        bar.update(1)
        if res["status"] != "ok":
            bar.write(f"{res['run_id']} failed ({res['seconds']:.1f} s): {res['error']}")

    try:
        r = run_study(out_dir, grid, paths, workers, scheduler, scenario or SCENARIO,
                      replicates, report, planned)  # fmt: skip
    finally:
        bar.close()
    click.echo(f"lp-ranges: {r['total']} runs, {r['skipped']} already done, {r['ok']} ok, "
               f"{r['failed']} failed in {time.perf_counter() - t0:.1f} s -> {out_dir}")  # fmt: skip
    study = r["study"]
    if study is not None:
        click.echo(format_table(study))
        click.echo("")
        click.echo(format_best(study))
        for line in study["verdicts"]:
            click.echo(f"- {line}")
        click.echo(f"study: {out_dir / STUDY_FILE}, table: {out_dir / TABLE_FILE}; "
                   f"`ammlab report {out_dir}` for the plots")  # fmt: skip
    if r["failed"]:
        raise click.ClickException(
            f"{r['failed']} run(s) failed; tracebacks and replay bundles in {out_dir / FAILED}; "
            "run the same command again to retry them"
        )
