"""Command line: `ammlab sim run` and `ammlab bench sim`.

`sim` is a click group the `ammlab` entry point mounts; `bench_sim` is a command it mounts as
`ammlab bench sim`. User errors (bad scenario, bad --set) end as one line, no stack trace.
"""

from __future__ import annotations

from pathlib import Path

import click

from sim.errors import SimError


@click.group("sim")
def sim() -> None:
    """Agent-based simulation of AMM pools."""


@sim.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--paths", type=click.IntRange(min=1), default=None, help="Worlds (default: file).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: file).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (created).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="DOTTED.PATH=VALUE",
    help="Override a scenario field; the value is parsed as a YAML scalar.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="Table format of worlds/series.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def run_cmd(
    scenario: Path,
    paths: int | None,
    seed: int | None,
    out_dir: Path,
    overrides: tuple[str, ...],
    fmt: str,
    no_progress: bool,
) -> None:
    """Run SCENARIO (YAML) and write worlds, series and summary.json to --out."""
    try:
        summary_head = run_to_dir(
            scenario, out_dir, paths, seed, list(overrides), fmt, not no_progress
        )
    except SimError as err:
        raise click.ClickException(str(err)) from err
    for name, m in summary_head.items():
        click.echo(f"{name}: {m['mean']:.6g} ± {m['se']:.2g} {m['unit']}")


def run_to_dir(
    scenario: Path,
    out_dir: Path,
    paths: int | None = None,
    seed: int | None = None,
    overrides: list[str] | None = None,
    fmt: str = "parquet",
    progress: bool = False,
) -> dict[str, dict]:
    """Load, run and write a scenario; returns the headline metrics of the first pool."""
    from tqdm import tqdm

    from sim.engine import Engine
    from sim.results import SeriesWriter, check_format, headline, write_summary, write_table
    from sim.scenario import load_scenario

    ov = list(overrides or [])
    if paths is not None:
        ov.append(f"paths={paths}")
    if seed is not None:
        ov.append(f"seed={seed}")
    sc = load_scenario(scenario, ov)
    check_format(fmt)  # fail before the run, not after it
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(sc)
    series = SeriesWriter(out_dir / "series", fmt) if sc.metrics.series_every else None
    bar = tqdm(
        total=sc.paths * engine.total_blocks,
        unit="wb",
        unit_scale=True,
        disable=not progress,
        desc=sc.name,
    )
    try:
        res = engine.run(series_sink=series, progress=bar.update)
    except BaseException:
        if series is not None:
            series.abort()
        raise
    finally:
        bar.close()
    if series is not None:
        series.close()
    write_table(out_dir / "worlds", res.worlds, fmt)
    summary = {
        "scenario": sc.model_dump(mode="json"),
        "engine_path": res.path,
        "paths": sc.paths,
        "seed": sc.seed,
        "metrics": res.summary,
    }
    write_summary(out_dir / "summary.json", summary)
    return headline(res.summary, sc.pools[0].name)


@click.command("sim")
@click.option("--quick", is_flag=True, help="Smaller runs (a smoke test of the benchmark).")
def bench_sim(quick: bool) -> None:
    """Benchmark the simulator: world-blocks per second and peak memory, as a markdown table."""
    from sim.bench import main

    main(quick=quick)
