"""`ammlab learn`: train a deep hedger, fit a volatility forecaster, compare policies.

    ammlab learn train CONFIG --seed S --out MODEL [--book-from SOURCE [--block N]]
    ammlab learn forecast CONFIG --seed S --out FORECASTER
    ammlab learn evaluate MODEL SCENARIO [--out DIR] [--forecaster F] [--no-tune]
        [--book-from SOURCE]

`--book-from` trains (or evaluates) for another book than CONFIG's: a chain's, read through a
deployment manifest or an RPC URL (the options pool's positions and the keeper's LP share, at
the latest block or --block N; the book's expiries become times to expiry at that block's
timestamp, the as-of), or the book of a book file or a model file. See `sim.learn.book`.

User errors (bad config, missing model) reach the terminal as one line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from sim.cli.common import chain_reader
from sim.errors import SimError


def _config(path: Path, book_from: str | None = None, block: int | None = None):
    from sim.learn.config import load_config

    cfg = load_config(path)
    if book_from is None:
        if block is not None:
            raise click.BadParameter("--block needs --book-from", param_hint="--block")
        return cfg
    from sim.learn.book import apply_book, load_book

    book = load_book(book_from, block, chain_reader())
    click.echo(f"book: {book.describe()}")
    return apply_book(cfg, book)


BOOK_FROM = click.option(
    "--book-from",
    default=None,
    metavar="SOURCE",
    help="Use this book instead of CONFIG's: a deployment manifest, an RPC URL, a book or a "
    "model file.",
)


@click.group("learn")
def learn() -> None:
    """Learned hedging and volatility forecasting."""


@learn.command("train")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: file).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Model file."
)
@click.option("--quiet", is_flag=True, help="No progress lines.")
@BOOK_FROM
@click.option(
    "--block", type=click.IntRange(min=0), default=None, help="Block to read the book at."
)
def train_cmd(
    config: Path, seed: int | None, out: Path, quiet: bool, book_from: str | None, block: int | None
) -> None:
    """Train the no-transaction-band hedger on CONFIG and write MODEL (JSON)."""
    try:
        cfg = _config(config, book_from, block)
        from sim.learn.train import train

        t0 = time.perf_counter()
        model = train(cfg, seed, log=None if quiet else click.echo)
        seconds = time.perf_counter() - t0
        model.save(out)
    except SimError as err:
        raise click.ClickException(str(err)) from err
    click.echo(
        f"trained in {seconds:.1f} s ({cfg.train.steps} steps, {model.info['n_paths']} paths); "
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)"
    )


@learn.command("forecast")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: file).")
@click.option("--paths", type=click.IntRange(min=2), default=200, help="Paths per market.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Forecaster file (JSON).",
)
def forecast_cmd(config: Path, seed: int | None, paths: int, out: Path) -> None:
    """Fit the volatility forecaster and print its out-of-sample R² against the naive one."""
    try:
        cfg = _config(config)
        from sim.learn.forecast import fit_forecaster

        f = fit_forecaster(cfg, cfg.seed if seed is None else seed, n_paths=paths)
        f.save(out)
    except SimError as err:
        raise click.ClickException(str(err)) from err
    click.echo(json.dumps(f.report, indent=2))
    click.echo(f.report["verdict"])


@learn.command("evaluate")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output dir."
)
@click.option("--forecaster", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--paths", type=click.IntRange(min=2), default=None, help="Paths per market.")
@click.option("--no-tune", is_flag=True, help="Use the scenario's baselines as written.")
@BOOK_FROM
def evaluate_cmd(
    model: Path,
    scenario: Path,
    out: Path | None,
    forecaster: Path | None,
    paths: int | None,
    no_tune: bool,
    book_from: str | None,
) -> None:
    """Compare the static hedgers with MODEL on SCENARIO's held-out paths; print the table
    (and write comparison.md / comparison.json to --out)."""
    try:
        cfg = _config(scenario, book_from)
        from sim.learn.evaluate import Score, default_policies, evaluate, tune_baselines
        from sim.learn.model import load_cached

        load_cached(model)  # fail early, in one line, on a bad model or forecaster file
        if forecaster is not None:
            from sim.learn.forecast import load_cached as load_forecaster

            load_forecaster(forecaster)
        score = Score.from_model(model)
        tuned = None
        if not no_tune:
            tuned = tune_baselines(cfg, score, seed=cfg.seed + 1, n_paths=400, log=click.echo)
        pols = default_policies(cfg, model, forecaster, tuned)
        ev = evaluate(cfg, pols, learned="learned", n_paths=paths, score=score)
    except SimError as err:
        raise click.ClickException(str(err)) from err
    click.echo(ev.to_markdown())
    if out is not None:
        md, js = ev.write(out)
        click.echo(f"wrote {md} and {js}")
