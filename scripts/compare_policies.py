"""Learned hedging against static delta hedging, in one command.

    python scripts/compare_policies.py [--config scenarios/learn/default.yaml] [--model M]
        [--out out/learn] [--no-forecaster]

Trains the deep hedger on the config (unless --model names a trained one) and prints the
training time, fits the volatility forecaster and prints its out-of-sample R² against the
naive baseline, tunes each static hedger's parameter on tuning paths, then runs every policy
on the held-out paths of every market through `sim.learn.evaluate.evaluate` and writes
comparison.md / comparison.json (the table, SEs and the computed verdict) to --out.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from sim.learn.config import load_config
from sim.learn.evaluate import Score, default_policies, evaluate, tune_baselines


@click.command()
@click.option("--config", default="scenarios/learn/default.yaml", type=click.Path(path_type=Path))
@click.option("--model", default=None, type=click.Path(path_type=Path), help="Skip training.")
@click.option("--out", default="out/learn", type=click.Path(path_type=Path))
@click.option("--seed", default=None, type=int, help="Training seed (default: config).")
@click.option("--no-forecaster", is_flag=True, help="Leave out learned+forecast.")
def main(config: Path, model: Path | None, out: Path, seed: int | None, no_forecaster: bool):
    cfg = load_config(config)
    out.mkdir(parents=True, exist_ok=True)
    if model is None:
        from sim.learn.train import train

        t0 = time.perf_counter()
        m = train(cfg, seed, log=click.echo)
        click.echo(f"training time: {time.perf_counter() - t0:.1f} s")
        model = m.save(out / "model.json")
    forecaster = None
    if not no_forecaster:
        from sim.learn.forecast import fit_forecaster

        t0 = time.perf_counter()
        f = fit_forecaster(cfg, seed=cfg.seed, n_paths=200)
        forecaster = f.save(out / "forecaster.json")  # its report is in the file
        click.echo(f"forecaster ({time.perf_counter() - t0:.1f} s): {f.report['verdict']}")
    score = Score.from_model(model)
    tuned = tune_baselines(cfg, score, seed=cfg.seed + 1, n_paths=400, log=click.echo)
    t0 = time.perf_counter()
    ev = evaluate(cfg, default_policies(cfg, model, forecaster, tuned), "learned", score=score)
    click.echo(f"evaluation time: {time.perf_counter() - t0:.1f} s\n")
    click.echo(ev.to_markdown())
    md, js = ev.write(out)
    click.echo(f"wrote {md}, {js}")


if __name__ == "__main__":
    main()
