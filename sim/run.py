"""One run interface: a scenario on a backend, and the one writer of what a run leaves behind.

`run(sc, backend, out_dir)` runs a validated scenario on the fast engine (many worlds) or on a
chain (one world through the real contracts, parity every block) and `write_outputs` writes
`worlds.<fmt>`, `summary.json` (and the fast engine's `series/`) the same way for both.
`ammlab sim run` (either backend), sweeps, the demo and the studies all go through `run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sim.engine.core import Engine, RunResult
from sim.errors import ConfigError
from sim.results import SeriesWriter, check_format, headline, write_summary, write_table
from sim.scenario import load_scenario, scenario_from_dict

BACKENDS = ("fast", "chain")


@dataclass
class ChainOptions:
    """Where and how a chain run goes (see `sim.chain.node.chain_for_run`)."""

    network: str | None = None
    """A named network, resolved by `resolver` (the CLI passes Ape's)."""
    rpc: str | None = None
    """A running anvil's RPC URL (instead of a network)."""
    resolver: Callable | None = None
    bundle_dir: Path | None = None
    """Where a replay bundle goes on divergence (default: OUT/bundles)."""
    check_every: int = 1
    """Parity every N blocks (always the last)."""
    blocks: int | None = None
    """Cut the run to N accounted blocks."""
    where: str | None = None
    """How the run's network is described in summary.json (default: from the above)."""


@dataclass
class RunOutput:
    """What a run produced: the scenario as run, the per-world result, the engine path and,
    for a chain run, its report (`ChainRun`)."""

    scenario: Any
    result: RunResult
    engine_path: str
    chain: Any = None

    @property
    def headline(self) -> dict[str, dict]:
        pools = self.scenario.pools
        return headline(self.result.summary, pools[0].name if pools else "")


def load(
    path: str | Path,
    paths: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> Any:
    """A scenario file with `--paths`, `--seed` and `--set` overrides applied."""
    ov = list(overrides)
    if paths is not None:
        ov.append(f"paths={paths}")
    if seed is not None:
        ov.append(f"seed={seed}")
    return load_scenario(path, ov)


def cut_for_chain(sc: Any, blocks: int | None) -> Any:
    """The scenario as the chain runs it: one world, and `blocks` accounted blocks (after its
    warm-up) when given."""
    data = sc.model_dump(mode="json")
    data["paths"] = 1
    if blocks is not None:
        data["blocks"]["n_blocks"] = blocks
    return scenario_from_dict(data)


def run(
    sc: Any,
    backend: str = "fast",
    out_dir: Path | None = None,
    fmt: str = "parquet",
    progress: bool = False,
    chain: ChainOptions | None = None,
) -> RunOutput:
    """Run `sc` on `backend` ("fast" or "chain"); with `out_dir`, write its outputs there.

    A chain run that diverges still writes its outputs (with the divergence and the replay
    bundle in summary.json); the caller decides whether that is an error (`output.chain`).
    `progress` shows a bar when stderr is a terminal (tqdm's `disable=None`), never in logs.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend '{backend}': choose one of {', '.join(BACKENDS)}")
    check_format(fmt)  # fail before the run, not after it
    if backend == "fast":
        return _run_fast(sc, out_dir, fmt, progress)
    return _run_chain(sc, out_dir, fmt, progress, chain or ChainOptions())


def _run_fast(sc: Any, out_dir: Path | None, fmt: str, progress: bool) -> RunOutput:
    engine = Engine(sc)
    series = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if sc.metrics.series_every:
            series = SeriesWriter(out_dir / "series", fmt)
    total = sc.paths * engine.total_blocks
    bar = tqdm(
        total=total, unit="wb", unit_scale=True, disable=None if progress else True, desc=sc.name
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
    out = RunOutput(sc, res, res.path)
    if out_dir is not None:
        write_outputs(out_dir, out, fmt)
    return out


def _run_chain(
    sc: Any, out_dir: Path | None, fmt: str, progress: bool, opts: ChainOptions
) -> RunOutput:
    # The node side is imported only for chain runs: the fast engine never loads web3.
    from sim.chain.backend import run_on_chain
    from sim.chain.node import chain_for_run
    from sim.engine.exact import check_supported

    sc = cut_for_chain(sc, opts.blocks)
    check_supported(sc)  # refuse what the chain cannot run before any node starts
    bundle_dir = opts.bundle_dir or (out_dir / "bundles" if out_dir is not None else None)
    total = sc.metrics.warmup_blocks + sc.blocks.n_blocks
    bar = tqdm(
        total=total, unit="block", disable=None if progress else True, desc=f"{sc.name} on chain"
    )
    try:
        with chain_for_run(opts.network, opts.rpc, opts.resolver) as url:
            ran = run_on_chain(
                sc, url, bundle_dir, opts.check_every, on_block=lambda _b, _s: bar.update(1)
            )
    finally:
        bar.close()
    out = RunOutput(sc, ran.result, "chain", ran)
    if out_dir is not None:
        where = opts.where or opts.rpc or opts.network or "ethereum:mainnet-fork:foundry"
        write_outputs(out_dir, out, fmt, network=where)
    return out


def write_outputs(out_dir: Path, out: RunOutput, fmt: str, network: str | None = None) -> Path:
    """The worlds table and summary.json of a run, either backend; returns summary.json's
    path. A chain run adds its report (blocks, transactions, gas per action kind, parity,
    the bundle and the contracts' layout) under "chain"."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(out_dir / "worlds", out.result.worlds, fmt)
    summary: dict[str, Any] = {
        "scenario": out.scenario.model_dump(mode="json"),
        "engine_path": out.engine_path,
        "paths": out.scenario.paths,
        "seed": out.scenario.seed,
        "metrics": out.result.summary,
    }
    if out.chain is not None:
        ran = out.chain
        summary["chain"] = {
            "network": network,
            **ran.report.as_json(),
            "bundle": str(ran.bundle) if ran.bundle else None,
            "layout": asdict(ran.session.layout),
        }
    return write_summary(out_dir / "summary.json", summary)


def run_file(
    scenario: str | Path,
    out_dir: Path,
    paths: int | None = None,
    seed: int | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    fmt: str = "parquet",
    progress: bool = False,
    backend: str = "fast",
    chain: ChainOptions | None = None,
) -> RunOutput:
    """Load a scenario file (with overrides), run it and write its outputs to `out_dir`."""
    sc = load(scenario, paths, seed, overrides)
    return run(sc, backend, out_dir, fmt, progress, chain)
