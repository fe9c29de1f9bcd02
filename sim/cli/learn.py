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

from sim.cli.common import Group, chain_reader
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


def _bar(total: int, desc: str, quiet: bool = False):
    """A progress bar on stderr (tqdm) when stderr is a terminal, hidden with --quiet."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=True if quiet else None, leave=False)


BOOK_FROM = click.option(
    "--book-from",
    default=None,
    metavar="SOURCE",
    help="Use this book instead of CONFIG's: a deployment manifest, an RPC URL, a book or a "
    "model file.",
)


@click.group("learn", cls=Group)
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
        with _bar(cfg.train.steps, "training", quiet) as bar:
            model = train(cfg, seed, log=None if quiet else bar.write, progress=bar.update)
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
    (and write comparison.md / policy_comparison.json to --out)."""
    try:
        cfg = _config(scenario, book_from)
        from sim.learn.evaluate import (
            TUNING_CANDIDATES,
            Score,
            default_policies,
            evaluate,
            tune_baselines,
        )
        from sim.learn.model import load_cached

        load_cached(model)  # fail early, in one line, on a bad model or forecaster file
        if forecaster is not None:
            from sim.learn.forecast import load_cached as load_forecaster

            load_forecaster(forecaster)
        score = Score.from_model(model)
        tuned = None
        if not no_tune:
            with _bar(TUNING_CANDIDATES, "tuning the static hedgers") as bar:
                tuned = tune_baselines(cfg, score, cfg.seed + 1, 400, bar.write, bar.update)
        pols = default_policies(cfg, model, forecaster, tuned)
        with _bar(len(pols) * len(cfg.evaluate.markets), "evaluating") as bar:
            ev = evaluate(cfg, pols, "learned", n_paths=paths, score=score, progress=bar.update)
    except SimError as err:
        raise click.ClickException(str(err)) from err
    click.echo(ev.to_markdown())
    if out is not None:
        md, js = ev.write(out)
        click.echo(f"wrote {md} and {js}")


@learn.command("compare")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True,
    help="Output dir: model.json, forecaster.json, comparison.md, policy_comparison.json.",
)  # fmt: skip
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A trained model (skips training).")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Training seed.")
@click.option("--paths", type=click.IntRange(min=2), default=None,
              help="Held-out paths per market (default: the config's).")  # fmt: skip
@click.option("--tune-paths", type=click.IntRange(min=2), default=400, show_default=True,
              help="Paths per market that tune each static hedger's parameter.")  # fmt: skip
@click.option("--forecaster-paths", type=click.IntRange(min=2), default=200, show_default=True)
@click.option("--no-forecaster", is_flag=True, help="Leave out learned+forecast.")
@click.option("--quiet", is_flag=True, help="No progress bars or lines.")
def compare_cmd(
    config: Path, out: Path, model: Path | None, seed: int | None, paths: int | None,
    tune_paths: int, forecaster_paths: int, no_forecaster: bool, quiet: bool,
) -> None:  # fmt: skip
    """Learned hedging against static delta hedging, honestly, in one command.

    Trains the deep hedger on CONFIG (unless --model), fits the volatility forecaster, tunes
    each static hedger's parameter for the same objective on tuning paths, runs every policy
    on the same held-out paths of every market and writes the table with standard errors and
    the computed verdict (comparison.md, policy_comparison.json; `ammlab report OUT` renders
    it). If the learned policy loses, the verdict says so.
    """
    from sim.learn.evaluate import (
        TUNING_CANDIDATES,
        Score,
        default_policies,
        evaluate,
        tune_baselines,
    )

    cfg = _config(config)
    if not no_forecaster:
        from sim.learn.forecast import check_grid

        check_grid(cfg)  # before training, not after it
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda _line: None) if quiet else click.echo
    if model is None:
        from sim.learn.train import train

        t0 = time.perf_counter()
        with _bar(cfg.train.steps, "training", quiet) as bar:
            m = train(cfg, seed, log=None if quiet else bar.write, progress=bar.update)
        model = m.save(out / "model.json")
        say(f"trained in {time.perf_counter() - t0:.1f} s: {model}")
    forecaster = None
    if not no_forecaster:
        from sim.learn.forecast import fit_forecaster

        t0 = time.perf_counter()
        f = fit_forecaster(cfg, seed=cfg.seed, n_paths=forecaster_paths)
        forecaster = f.save(out / "forecaster.json")
        say(f"forecaster ({time.perf_counter() - t0:.1f} s): {f.report['verdict']}")
    score = Score.from_model(model)
    with _bar(TUNING_CANDIDATES, "tuning the static hedgers", quiet) as bar:
        tuned = tune_baselines(cfg, score, cfg.seed + 1, tune_paths, bar.write, bar.update)
    pols = default_policies(cfg, model, forecaster, tuned)
    t0 = time.perf_counter()
    with _bar(len(pols) * len(cfg.evaluate.markets), "evaluating", quiet) as bar:
        ev = evaluate(cfg, pols, "learned", n_paths=paths, score=score, progress=bar.update)
    say(f"evaluated in {time.perf_counter() - t0:.1f} s\n")
    click.echo(ev.to_markdown())
    md, js = ev.write(out)
    click.echo(f"wrote {md} and {js}; render it with `ammlab report {out}`")
