"""The keeper as a Silverback bot: a thin block handler around `Keeper.tick`.

    silverback run keeper.bot:bot --network ethereum:mainnet-fork:foundry

Configuration as for `ammlab keeper run`: the YAML named by `AMMLAB_KEEPER_CONFIG` (if set)
and `KEEPER_` environment variables; dry run unless the config (or `KEEPER_DRY_RUN=false`)
says otherwise. The RPC is the one Silverback's provider is connected to, so the bot reads and
sends on the fork Silverback started. Decisions, guards, journal and kill switch are the
runtime's; Silverback only delivers blocks (it checkpoints blocks and nonces, not hedges: the
journal is the keeper's own).
"""

from __future__ import annotations

import os

from ape import chain
from silverback import SilverbackBot

from keeper.config import load_keeper_config
from keeper.killswitch import SEVERITY
from keeper.runtime import Keeper
from sim.chain import node as chainmod
from sim.errors import ManifestError

CONFIG_ENV = "AMMLAB_KEEPER_CONFIG"

bot = SilverbackBot()
_keeper: Keeper | None = None


def _provider_url() -> str | None:
    provider = chain.provider
    return getattr(provider, "http_uri", None) or getattr(provider, "uri", None)


@bot.on_startup()
def start(_state) -> None:
    global _keeper
    cfg = load_keeper_config(os.environ.get(CONFIG_ENV) or None)
    try:
        manifest = chainmod.read_manifest(cfg.addresses.manifest, expect_chain_id=cfg.chain_id)
    except ManifestError:
        manifest = None  # every address must then be in the config
    _keeper = Keeper(cfg, manifest, rpc_url=cfg.rpc_url or _provider_url())
    _keeper.start()


@bot.on_(chain.blocks)
def on_block(block) -> dict:
    result = _keeper.tick(block.number)
    # Silverback records numeric datapoints only: the kill-switch mode goes as its severity
    # (0 running, 1 reduce_only, 2 paused, 3 flatten).
    return {k: round(v, 6) for k, v in _keeper.metrics.last.items()} | {
        "legs": len(result.legs), "mode_level": SEVERITY[result.mode],
    }  # fmt: skip


@bot.on_shutdown()
def stop() -> None:
    if _keeper is not None:
        _keeper.close()
