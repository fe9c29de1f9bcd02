"""`ammlab`: the entry point. It mounts the simulator's and the chain's command groups
(`sim.cli`) and the keeper's (here), and hands them the keeper-side services they take
through click's context object: Ape's networks for `--network`, the keeper's chain reader
for `ammlab learn ... --book-from MANIFEST|RPC`, and the keeper session of `ammlab demo`.

User errors (bad input, missing chain, wrong manifest) print one line and exit 1; only a bug
shows a traceback. Ape is imported lazily, after the upstream URL is in the environment, so
commands that need no chain start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from keeper.errors import KeeperError
from keeper.networks import ape_rpc
from sim.chain import node
from sim.cli.chain import chain_group, fork_group
from sim.cli.data import data_group
from sim.cli.demo import demo
from sim.cli.learn import learn
from sim.cli.run import bench_group, sim_group
from sim.cli.studies import report_cmd, sweep_cmd
from sim.cli.study import study_group
from sim.errors import SimError

FORK_NETWORK = "ethereum:mainnet-fork:foundry"


def _read_chain_book(source: str, block: int | None):
    from keeper.learned import read_chain_book

    return read_chain_book(source, block)


def _keeper_session(manifest: dict, echo, calls: float):
    from keeper.session import hedge_session

    return hedge_session(manifest, echo, calls)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """ammlab: AMM inventory simulator and keeper bot."""
    ctx.obj = {"network_resolver": ape_rpc, "chain_reader": _read_chain_book,
               "keeper_session": _keeper_session}  # fmt: skip


# --------------------------------------------------------------------------- keeper


@click.group("keeper")
def keeper_group() -> None:
    """The hedging keeper: run it on a fork, and steer a running one (kill switch)."""


def _journal_path(config: Path | None) -> Path:
    from keeper.config import load_keeper_config
    from keeper.journal import default_journal_path

    cfg = load_keeper_config(config)
    return cfg.journal_path or default_journal_path(node.home_dir())


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
@click.option("--account", default=None, metavar="ALIAS",
              help="Ape account that signs (passphrase: APE_ACCOUNTS_<ALIAS>_PASSPHRASE).")  # fmt: skip
@click.option("--force-raw-key", is_flag=True,
              help="Allow a raw AMMLAB_KEEPER_KEY on a chain that is not a dev chain.")  # fmt: skip
@click.option("--metrics-port", type=click.IntRange(0, 65_535), default=None,
              help="Serve Prometheus /metrics and /healthz on this port (0: a free one).")  # fmt: skip
def keeper_run(
    config: Path | None, live: bool, blocks: int | None, network: str, account: str | None,
    force_raw_key: bool, metrics_port: int | None,
) -> None:  # fmt: skip
    """Tick on every new block: read, guard, plan, hedge (live) or log the plan (dry run)."""
    from keeper.config import load_keeper_config
    from keeper.runtime import Keeper

    overrides: dict = {"dry_run": False} if live else {}
    if account:
        overrides["account"] = account
    if force_raw_key:
        overrides["force_raw_key"] = True
    cfg = load_keeper_config(config, **overrides)
    if metrics_port is not None:
        cfg = cfg.model_copy(
            update={"metrics": cfg.metrics.model_copy(update={"port": metrics_port})}
        )
    manifest = None
    if cfg.addresses.manifest is not None or node.manifest_path().is_file():
        manifest = node.read_manifest(cfg.addresses.manifest)  # its chain: Keeper.preflight

    def run(url: str, where: str):
        with Keeper(cfg, manifest, rpc_url=url) as keeper:
            keeper.start()  # a refused start prints its refusal alone, no banner before it
            mode = "dry run (nothing is signed; pass --live to send)" if cfg.dry_run else "LIVE"
            click.echo(f"keeper {keeper.addresses.keeper} on {where} ({url}): {mode}", err=True)
            keeper.run(blocks)
            return keeper.metrics

    if cfg.rpc_url:  # the keeper speaks JSON-RPC itself: no Ape network, no fork started
        m = run(cfg.rpc_url, "rpc_url")
    else:
        with ape_rpc(network) as url:
            m = run(url, network)
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
    """The kill switch's mode, its cause, pending commands and open intents; and from the
    last tick, the book's Greeks and the options pool's Greeks per board."""
    import json

    from keeper.killswitch import status_line
    from keeper.runtime import STATUS_FILE

    path = _journal_path(config)
    if not path.is_file():
        raise KeeperError(f"no keeper journal at {path}: the keeper has not run here yet")
    click.echo(status_line(path))
    tick = path.with_name(STATUS_FILE)
    if not tick.is_file():
        return
    s = json.loads(tick.read_text())
    g = s["book"]
    click.echo(
        f"last tick: block {s['block']}, spot {s['spot']:,.2f}; book delta {g['delta']:+,.4f}, "
        f"gamma {g['gamma']:+,.6f}, vega {g['vega']:+,.2f}, theta {g['theta']:+,.2f}/yr; "
        f"net delta {s['net_delta']:+,.4f}, hedge {s['hedge']:+,.4f}"
    )
    for board, b in sorted(s["options_boards"].items(), key=lambda kv: int(kv[0])):
        click.echo(
            f"  options board {board}: delta {b['delta']:+,.4f}, gamma {b['gamma']:+,.6f}, "
            f"vega {b['vega']:+,.2f}, theta {b['theta']:+,.2f}/yr"
        )


for group in (chain_group, fork_group, sim_group, learn, bench_group, keeper_group):
    cli.add_command(group)
cli.add_command(demo)
cli.add_command(sweep_cmd, "sweep")
cli.add_command(report_cmd, "report")
cli.add_command(data_group)
cli.add_command(study_group)


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
