"""`ammlab`: the command line of the simulator, the local chains and the keeper.

User errors (bad input, missing chain, wrong manifest) print one line and exit 1; only a bug
shows a traceback. Ape is imported lazily, after the upstream URL is in the environment, so
commands that need no chain start fast.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

import click
from click.core import ParameterSource

from keeper import chain as chainmod
from keeper.chain_backend import chain_run
from keeper.chain_backend import replay as chain_replay
from keeper.errors import ChainError, KeeperError
from sim.cli import bench_sim
from sim.cli import run_cmd as fast_run
from sim.errors import SimError
from sim.learn.book import register_chain_reader
from sim.learn.cli import learn
from sim.report import report_cmd
from sim.sweep import sweep_cmd

FORK_NETWORK = "ethereum:mainnet-fork:foundry"
UPSTREAM_NETWORK = "ethereum:mainnet:node"


def _read_chain_book(source: str, block: int | None):
    from keeper.learned import read_chain_book

    return read_chain_book(source, block)


# `ammlab learn train --book-from MANIFEST_OR_RPC` reads the chain through the keeper's reader.
register_chain_reader(_read_chain_book)


def _decimal(_ctx, param, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number", param=param) from None
    if number <= 0:
        raise click.BadParameter(f"must be positive (got {value})", param=param)
    return number


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """ammlab: AMM inventory simulator and keeper bot."""


# --------------------------------------------------------------------------- chain


@cli.group("chain")
def chain_group() -> None:
    """The local upstream chain (anvil, chain id 1): the stand-in for mainnet that forks read."""


def bring_up(port: int, price: Decimal, load: Path | None, deploy: bool) -> dict | None:
    """Start the upstream, then load a state dump or deploy the suite; returns the manifest."""
    record = chainmod.start_upstream(port=port)
    try:
        chainmod.export_upstream_url(record.url)
        manifest = None
        if load is not None:
            manifest = chainmod.load_state(load, record.url).get("manifest")
        elif deploy:
            from keeper.deploy import SuiteSpec, deploy_suite

            with chainmod.ape_network(UPSTREAM_NETWORK):
                manifest = deploy_suite(SuiteSpec(price=price))
        if manifest is not None:
            chainmod.write_manifest(manifest)
        return manifest
    except BaseException:
        chainmod.stop_upstream()  # nothing left half-started
        raise


@chain_group.command("up")
@click.option(
    "--port", default=chainmod.DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535)
)
@click.option("--price", default="3000", show_default=True, callback=_decimal,
              help="Seed price of the pools and the feed, USDC per WETH.")  # fmt: skip
@click.option("--load", type=click.Path(exists=True, dir_okay=False, path_type=Path, resolve_path=True),
              help="Restore a state file written by `ammlab chain dump` instead of deploying.")  # fmt: skip
@click.option("--no-deploy", is_flag=True, help="Start an empty chain.")
def chain_up(port: int, price: Decimal, load: Path | None, no_deploy: bool) -> None:
    """Start the upstream anvil on 127.0.0.1 and deploy the suite on it."""
    if (url := os.environ.get(chainmod.UPSTREAM_ENV)) and not chainmod.is_local_url(url):
        raise ChainError(
            f"{chainmod.UPSTREAM_ENV} points at a remote RPC ({url}): there is no local upstream "
            "to start; forks read that RPC directly (unset it to use the local stand-in)"
        )
    manifest = bring_up(port, price, load, deploy=not no_deploy)
    record = chainmod.running_record()
    click.echo(f"upstream running at {record.url} (chain id 1, pid {record.pid}, log {record.log})")
    if manifest:
        click.echo(f"manifest: {chainmod.manifest_path()}")
        for name, pool in manifest["pools"].items():
            click.echo(f"  {name}: {pool['address']} ({pool['fee_bps']} bp)")
        click.echo(
            f"  feed: {manifest['feed']['address']}  router: {manifest['router']['address']}"
        )


@chain_group.command("down")
@click.option("--dump", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True),
              help="Save the chain state to this file before stopping.")  # fmt: skip
def chain_down(dump: Path | None) -> None:
    """Stop the upstream started by `ammlab chain up`."""
    record = chainmod.running_record()
    if record is None:
        click.echo("no upstream started by ammlab is running")
        return
    if dump is not None:
        chainmod.dump_state(dump, record.url, _manifest_or_none())
        click.echo(f"state saved to {dump}")
    chainmod.stop_upstream()
    click.echo(f"upstream at {record.url} (pid {record.pid}) stopped")


def _manifest_or_none() -> dict | None:
    path = chainmod.manifest_path()
    return chainmod.read_manifest(path) if path.is_file() else None


@chain_group.command("dump")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path, resolve_path=True))
def chain_dump(path: Path) -> None:
    """Save the running upstream's state and manifest to PATH (reload with `chain up --load`)."""
    record = chainmod.running_record()
    if record is None:
        raise ChainError(
            "no upstream started by ammlab is running: start it with `ammlab chain up`"
        )
    bundle = chainmod.dump_state(path, record.url, _manifest_or_none())
    click.echo(f"state of chain {bundle['chain_id']} at block {bundle['block']} saved to {path}")


@chain_group.command("status")
def chain_status() -> None:
    """Report the upstream: process, RPC, chain id, block and the deployed suite."""
    record = chainmod.running_record()
    url = chainmod.upstream_url()
    if record is None:
        click.echo("upstream: not started by ammlab")
    else:
        click.echo(f"upstream: pid {record.pid}, {record.url}, log {record.log}")
    try:
        click.echo(
            f"rpc {url}: chain id {chainmod.chain_id_of(url)}, block {chainmod.block_number_of(url)}"
        )
    except ChainError:
        click.echo(f"rpc {url}: unreachable")
        return
    manifest = _manifest_or_none()
    if manifest is None:
        click.echo("manifest: none (run `ammlab chain up` to deploy)")
    else:
        pools = ", ".join(f"{n} {p['address']}" for n, p in manifest["pools"].items())
        click.echo(
            f"manifest: chain id {manifest['chain_id']}, block {manifest['block']}; pools {pools}"
        )


# --------------------------------------------------------------------------- fork


def fork_session(swaps: int, seed: int) -> None:
    """Run a swap session on a fork of the upstream and print the pools before and after."""
    from keeper.deploy import load_suite
    from keeper.session import format_pool_table, read_pool_state, run_swap_session

    manifest = chainmod.read_manifest()
    with chainmod.ape_network(FORK_NETWORK) as provider:
        from ape import chain

        click.echo(f"fork of {chainmod.upstream_url()} at block {chain.blocks.head.number} "
                   f"(anvil on {provider.uri})")  # fmt: skip
        suite = load_suite(manifest)
        before = [read_pool_state(suite, name) for name in sorted(suite.pools)]
        records = run_swap_session(suite, swaps, seed)
        after = [read_pool_state(suite, name) for name in sorted(suite.pools)]
    gas = sum(r.gas_used for r in records) / max(len(records), 1)
    click.echo(f"{len(records)} swaps through the router, every amount out equal to the exact "
               f"twin's prediction (mean gas {gas:,.0f})")  # fmt: skip
    click.echo(format_pool_table(before, after))
    upstream_block = chainmod.block_number_of(chainmod.upstream_url())
    click.echo(f"upstream untouched: still at block {upstream_block}")


@cli.group("fork")
def fork_group() -> None:
    """Sessions on a fork of the upstream (ethereum:mainnet-fork:foundry)."""


@fork_group.command("session")
@click.option("--swaps", default=20, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--seed", default=0, show_default=True, type=int)
def fork_session_cmd(swaps: int, seed: int) -> None:
    """Random swaps on a fork, each checked against the exact twin."""
    fork_session(swaps, seed)


# --------------------------------------------------------------------------- main job


SCENARIOS = chainmod.PROJECT_ROOT / "scenarios"


@cli.command("demo")
@click.option("--swaps", default=20, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--worlds", default=1000, show_default=True, type=click.IntRange(min=2),
              help="Worlds of the fast-engine study.")  # fmt: skip
@click.option("--hours", default=6, show_default=True, type=click.IntRange(1, 24),
              help="Simulated hours of the fast-engine study (12 s blocks).")  # fmt: skip
@click.option("--chain-blocks", default=300, show_default=True, type=click.IntRange(10, 10_000),
              help="Blocks of the parity run on the chain.")  # fmt: skip
@click.option("--out", "out_dir", default="runs/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path, resolve_path=True))  # fmt: skip
@click.option("--keep-chain", is_flag=True, help="Leave the upstream running afterwards.")
def demo(
    swaps: int, seed: int, worlds: int, hours: int, chain_blocks: int, out_dir: Path,
    keep_chain: bool,
) -> None:  # fmt: skip
    """The main job, end to end on the embedded defaults.

    1. the local upstream chain (AMMLAB_UPSTREAM_RPC, default 127.0.0.1:8645; started and the
       suite deployed if nothing answers there), and swaps on a fork of it, each checked
       against the exact twin;
    2. the options study in the fast engine over many worlds (scenarios/options.yaml: options
       pool, constant-product venues, arbitrageurs, option traders, the keeper on the perp);
    3. the same scenario, one world, on a fork of the upstream through the real contracts
       (options pool, pools, perp, feed) with exact parity at every block;
    4. the HTML report of the study; prints where everything is.
    """
    from sim.atomic import atomic_write_text
    from sim.cli import run_to_dir
    from sim.report import build_report

    study = SCENARIOS / "options.yaml"
    url = chainmod.upstream_url()
    started = False
    click.echo("[1/4] local chain and a fork of it")
    try:
        chainmod.chain_id_of(url, timeout=1.0)
    except ChainError:
        if not chainmod.is_local_url(url):
            raise
        click.echo(f"starting the local upstream chain at {url} and deploying the suite...")
        bring_up(urlparse(url).port or chainmod.DEFAULT_PORT, Decimal(3000), load=None, deploy=True)
        started = True
    try:
        fork_session(swaps, seed)

        click.echo(f"\n[2/4] options study in the fast engine: {worlds} worlds x {hours} h")
        head = run_to_dir(
            study, out_dir / "study", paths=worlds, seed=seed,
            overrides=[f"blocks.n_blocks={hours * 300}"], progress=True,
        )  # fmt: skip
        for name, m in head.items():
            click.echo(f"  {name}: {m['mean']:.6g} ± {m['se']:.2g} {m['unit']}")

        click.echo(
            f"\n[3/4] the study's scenario on a fork of the local chain: one world, "
            f"{chain_blocks} blocks, parity with the exact twins at every block"
        )
        click.get_current_context().invoke(
            chain_run, scenario=study, paths=1, seed=seed, overrides=(),
            out_dir=out_dir / "chain", blocks=chain_blocks, network=None, rpc=None,
            bundle_dir=None, check_every=1,
        )  # fmt: skip
    finally:
        if started and not keep_chain:
            chainmod.stop_upstream()
            click.echo("local upstream stopped (pass --keep-chain to leave it running)")

    click.echo("\n[4/4] report")
    report = atomic_write_text(out_dir / "report.html", build_report(out_dir / "study"))
    click.echo(f"study: {out_dir / 'study'}\nchain run: {out_dir / 'chain'}\nreport: {report}")


# --------------------------------------------------------------------------- keeper


@cli.group("keeper")
def keeper_group() -> None:
    """The hedging keeper: run it on a fork, and steer a running one (kill switch)."""


def _journal_path(config: Path | None) -> Path:
    from keeper.config import load_keeper_config
    from keeper.journal import default_journal_path

    cfg = load_keeper_config(config)
    return cfg.journal_path or default_journal_path(chainmod.home_dir())


_config_option = click.option(
    "--config", "config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Keeper config YAML (see keeper/config.example.yaml); KEEPER_ env vars override it.",
)  # fmt: skip


@keeper_group.command("run")
@_config_option
@click.option("--live", is_flag=True, help="Sign and send (default: dry run, nothing signed).")
@click.option("--blocks", type=click.IntRange(1, None), default=None,
              help="Stop after ticking this many new blocks (default: run until stopped).")  # fmt: skip
@click.option("--network", default=FORK_NETWORK, show_default=True,
              help="Ape network to run on (a fork of the upstream by default); not used when "
              "the config sets rpc_url (the keeper then talks to that RPC alone).")  # fmt: skip
def keeper_run(config: Path | None, live: bool, blocks: int | None, network: str) -> None:
    """Tick on every new block: read, guard, plan, hedge (live) or log the plan (dry run)."""
    from keeper.config import load_keeper_config
    from keeper.runtime import Keeper

    overrides = {"dry_run": False} if live else {}
    cfg = load_keeper_config(config, **overrides)
    manifest = None
    if cfg.addresses.manifest is not None or chainmod.manifest_path().is_file():
        manifest = chainmod.read_manifest(cfg.addresses.manifest)  # its chain: Keeper.preflight

    def run(url: str, where: str):
        with Keeper(cfg, manifest, rpc_url=url) as keeper:
            mode = "dry run (nothing is signed; pass --live to send)" if cfg.dry_run else "LIVE"
            click.echo(f"keeper {keeper.addresses.keeper} on {where} ({url}): {mode}", err=True)
            keeper.run(blocks)
            return keeper.metrics

    if cfg.rpc_url:  # the keeper speaks JSON-RPC itself: no Ape network, no fork started
        m = run(cfg.rpc_url, "rpc_url")
    else:
        with chainmod.ape_network(network) as provider:
            m = run(getattr(provider, "http_uri", None) or provider.uri, network)
    click.echo(f"{m.ticks} ticks, {m.hedges} hedge legs mined, {m.refused} refused, "
               f"cost {m.cost_quote:.2f} quote; last {m.last}")  # fmt: skip


def _command(name: str, help_text: str):
    @keeper_group.command(name, help=help_text)
    @_config_option
    @click.option("--reason", default="", help="Why (journaled with the command).")
    def cmd(config: Path | None, reason: str) -> None:
        from keeper.killswitch import request_command

        click.echo(request_command(_journal_path(config), name, reason or f"ammlab keeper {name}"))

    return cmd


_command("pause", "Stop sending anything (the running keeper applies it at its next check).")
_command("resume", "Back to running from paused, reduce-only or flatten.")
_command("flatten", "Unwind the hedge position to zero, then send nothing more.")


@keeper_group.command("status")
@_config_option
def keeper_status(config: Path | None) -> None:
    """The kill switch's mode, its cause, pending commands and open intents."""
    from keeper.killswitch import status_line

    path = _journal_path(config)
    if not path.is_file():
        raise KeeperError(f"no keeper journal at {path}: the keeper has not run here yet")
    click.echo(status_line(path))


# --------------------------------------------------------------------------- simulator

CHAIN_ONLY = ("blocks", "network", "rpc", "bundle_dir", "check_every")


def _run_with_backend() -> click.Command:
    """`ammlab sim run`: the fast engine's command plus `--backend chain` (one world through
    the deployed contracts on anvil, parity every block), sharing SCENARIO, --paths, --seed,
    --out and --set."""
    backend = click.Option(
        ["--backend"], type=click.Choice(["fast", "chain"]), default="fast", show_default=True,
        help="fast: the batch engine; chain: the contracts on anvil with parity every block.",
    )  # fmt: skip
    chain_params = [p for p in chain_run.params if p.name in CHAIN_ONLY]

    def callback(backend: str, **kw) -> None:
        ctx = click.get_current_context()
        given = {k for k in kw if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
        if backend == "fast":
            if wrong := [k for k in CHAIN_ONLY if k in given]:
                raise click.UsageError(f"--{wrong[0].replace('_', '-')} needs --backend chain")
            ctx.invoke(fast_run, **{p.name: kw[p.name] for p in fast_run.params})
            return
        if "fmt" in given:
            raise click.UsageError("--format applies to the fast backend only")
        ctx.invoke(
            chain_run, scenario=kw["scenario"], paths=kw["paths"] or 1, seed=kw["seed"],
            overrides=kw["overrides"], out_dir=kw["out_dir"], **{k: kw[k] for k in CHAIN_ONLY},
        )  # fmt: skip

    return click.Command(
        "run",
        params=[*fast_run.params, backend, *chain_params],
        callback=callback,
        help=f"{fast_run.help}\n\nWith --backend chain: one world through the deployed contracts "
        "on anvil (a private one unless --rpc/--network), stopping at the first divergence "
        "from the exact twin with a replay bundle.",
    )


@cli.group("sim")
def sim_group() -> None:
    """Agent-based simulation of AMM pools (fast engine, or the contracts on a chain)."""


sim_group.add_command(_run_with_backend())
sim_group.add_command(chain_replay, "replay")
cli.add_command(sweep_cmd, "sweep")
cli.add_command(report_cmd, "report")
cli.add_command(learn, "learn")


@cli.group("bench")
def bench_group() -> None:
    """Benchmarks that print figures."""


bench_group.add_command(bench_sim, "sim")


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (KeeperError, SimError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
