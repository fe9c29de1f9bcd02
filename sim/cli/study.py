"""`ammlab study`: studies made of many runs, each printing its table.

`study arbitrage` is the cross-protocol arbitrage study (`sim.studies.arbitrage`): it runs the baseline scenario and its one-factor-at-a-time variants as a sweep (resumable,
local processes or Dask), prints the markdown table the README shows and writes
`OUT/arbitrage.json`, which `ammlab report OUT` turns into the study's section. `study fee-tiers` replays a
pulled pool's flow (`ammlab data pull`) at other fees (`sim.studies.fee_tiers`). `study
lp-ranges` sweeps range width x volatility x fee tier x range policy of a hedged V3 position
(`sim.studies.lp_ranges`), resumable, and writes `OUT/lp_ranges.json` for the report.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from sim.atomic import atomic_write_json
from sim.cli.common import Group, raise_if_failed, run_sweep_with_progress, with_sweep_options
from sim.studies.arbitrage import (
    BASELINE,
    FACTORS,
    STUDY_FILE,
    TABLES,
    design,
    markdown_table,
    one_at_a_time,
    parse_levels,
    run_study,
)


@click.group("study", cls=Group)
def study_group() -> None:
    """Studies made of many scenario runs, each printing its table."""


@study_group.command("arbitrage")
@click.option(
    "--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=BASELINE, show_default=True, help="The baseline scenario.",
)  # fmt: skip
@click.option("--worlds", type=click.IntRange(min=2), default=24, show_default=True)
@click.option(
    "--hours", type=click.FloatRange(min=0, min_open=True), default=6.0, show_default=True,
    help="Simulated hours per world.",
)  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: file).")
@click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Local worker processes (default: CPU count).",
)  # fmt: skip
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run on this Dask distributed scheduler instead.")  # fmt: skip
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE",
    help=f"Change the baseline: a factor ({', '.join(FACTORS)}) or a dotted scenario field.",
)  # fmt: skip
@click.option(
    "--levels", multiple=True, metavar="FACTOR=V1,V2,...",
    help="Vary these instead of the default factors (fee tier, block time, gas, latency).",
)  # fmt: skip
@click.option(
    "--table", type=click.Choice(sorted(TABLES)), default="main", show_default=True,
    help="Columns to print: the pools' and venues' figures, or the options pool's.",
)  # fmt: skip
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/study/arbitrage"), show_default=True,
    help=f"Study folder: the sweep's runs and {STUDY_FILE} (re-use it to resume).",
)  # fmt: skip
def arbitrage_cmd(
    scenario: Path, worlds: int, hours: float, seed: int | None, workers: int | None,
    scheduler: str | None, sets: tuple[str, ...], levels: tuple[str, ...], table: str,
    out_dir: Path,
) -> None:  # fmt: skip
    """Who profits and how much the LPs lose: the arbitrage study's table (mean ± SE over
    worlds, USD per day at reference prices)."""
    d = design(scenario, hours, list(sets))
    points = one_at_a_time(d, parse_levels(list(levels)) if levels else None)
    workers = workers or os.cpu_count() or 1
    count = [0]

    def report(res: dict[str, Any]) -> None:
        count[0] += 1
        msg = f"[{count[0]}/{len(points)}] {res['run_id']} {res['status']} ({res['seconds']:.0f} s)"
        click.echo(msg + (f": {res['error']}" if res["status"] != "ok" else ""), err=True)

    t0 = time.perf_counter()
    study = run_study(d, points, out_dir, worlds, seed, workers, scheduler, report)
    took = time.perf_counter() - t0
    where = scheduler or f"{workers} workers"
    click.echo(
        f"{len(points)} points x {worlds} worlds x {hours:g} h, seed {study['seed']}; "
        f"{took:.0f} s on {where}\n"
    )
    click.echo(markdown_table(study, table))
    click.echo(f"\nwrote {out_dir / STUDY_FILE}")
    failed = [p for p in study["points"] if p["status"] != "ok"]
    if failed:
        raise click.ClickException(
            f"{len(failed)} point(s) failed ({failed[0].get('error')}); tracebacks and replay "
            f"bundles in {out_dir / 'failed'}; run the same command again to retry them"
        )


@study_group.command("fee-tiers")
@click.option(
    "--source",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A folder of `ammlab data pull`.",
)
@click.option("--pool", default=None, help="The pool to replay (default: the only one).")
@click.option(
    "--reference",
    default=None,
    help="Feed or pool whose price marks the trades (default: the only feed).",
)
@click.option("--tiers", default="1,5,30,100", show_default=True, help="Fees, basis points.")
@click.option(
    "--block-time",
    type=float,
    default=None,
    help="Seconds per block (default: the chain's blocks; 12 through the engine).",
)
@click.option("--arbitrage", is_flag=True, help="Add an arbitrageur against the reference.")
@click.option(
    "--risky",
    default="auto",
    show_default=True,
    help="The pool's risky token: token0, token1, a symbol or address.",
)
@click.option(
    "--exact",
    is_flag=True,
    help="Replay a V3 pool on the integer twin instead of the fast engine (V2: always).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the study as JSON.",
)
def fee_tiers_cmd(source, pool, reference, tiers, block_time, arbitrage, risky, exact,
                  out) -> None:  # fmt: skip
    """Replay one pulled pool's flow at several fee tiers: LP fees, LVR and volume (a V2
    pair exactly, a V3 pool through the fast engine unless --exact)."""
    from sim.errors import ConfigError
    from sim.history.store import open_history
    from sim.studies.fee_tiers import fee_tier_study, format_table

    try:
        levels = [float(t) for t in tiers.split(",")]
    except ValueError as err:
        raise ConfigError(f"--tiers {tiers!r}: comma-separated basis points, e.g. 1,5,30") from err
    if arbitrage and block_time is None:
        block_time = 12.0
    h = open_history(source)
    study = fee_tier_study(h, pool, reference, levels, block_time, arbitrage, risky, exact)
    bt = study["block_time"]
    blocks = "the chain's blocks" if bt is None else f"{bt:g} s blocks"
    click.echo(f"pool {study['pool']} ({study['kind']}, recorded {study['recorded_bp']:g} bp), "
               f"{'fast engine' if study['engine'] == 'fast' else 'exact replay'}, {blocks}, "
               f"marked at {study['reference']}; money in the numeraire")  # fmt: skip
    click.echo(format_table(study))
    if out is not None:
        atomic_write_json(out, json.loads(json.dumps(study)))


@study_group.command("lp-ranges")
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
@with_sweep_options
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

    def run(report, planned):
        return run_study(out_dir, grid, paths, workers, scheduler, scenario or SCENARIO,
                         replicates, report, planned)  # fmt: skip

    r = run_sweep_with_progress("lp-ranges", out_dir, run)
    study = r["study"]
    if study is not None:
        click.echo(format_table(study))
        click.echo("")
        click.echo(format_best(study))
        for line in study["verdicts"]:
            click.echo(f"- {line}")
        click.echo(f"study: {out_dir / STUDY_FILE}, table: {out_dir / TABLE_FILE}; "
                   f"`ammlab report {out_dir}` for the plots")  # fmt: skip
    raise_if_failed(r, out_dir)
