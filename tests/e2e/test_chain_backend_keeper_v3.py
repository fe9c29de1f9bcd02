"""The keeper agent's range moves through the genuine contracts: scenarios/keeper_v3.yaml (the
keeper's V3 position recentred by its range policy and hedged on the perp), at a volatility
that moves the range several times in a short run, on the chain backend with parity at every
block. Each move is the keeper's NonfungiblePositionManager decreaseLiquidity and collect, its
SwapRouter swap to the new ratio and its mint, all sent and compared (pool, ticks, positions,
the manager's positions, every balance); the exact world decides as the fast engine does."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sim.chain.backend import run_on_chain
from sim.chain.node import private_anvil as anvil
from sim.engine.core import Engine
from sim.run import cut_for_chain
from sim.scenario import load_scenario

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = 300


def test_keeper_range_moves_match_the_chain_at_every_block(tmp_path):
    sc = cut_for_chain(
        load_scenario(ROOT / "scenarios" / "keeper_v3.yaml", ["price.sigma_per_day=0.4"]), BLOCKS
    )
    with anvil(None) as url:
        run = run_on_chain(sc, url, bundle_dir=tmp_path)
    rep = run.report
    assert rep.divergence is None and run.bundle is None
    assert rep.blocks == BLOCKS
    kinds = Counter((a["kind"], a.get("agent")) for r in run.records for a in r.actions)
    moves = kinds[("v3_decrease", "keeper")]
    assert moves >= 2, kinds
    assert kinds[("v3_collect", "keeper")] == moves
    assert kinds[("v3_mint", "keeper")] == moves + 1  # the opening, then one per move
    assert kinds[("v3_swap", "keeper")] >= 1
    assert kinds[("perp_trade", "keeper")] > 0
    worlds = run.result.worlds
    assert worlds["keeper.keeper.n_rebalances"][0] == moves
    # The exact world is the fast engine up to base-unit rounding: the same moves, the same
    # figures.
    fast = Engine(sc, fused=False).run().worlds
    for k, v in fast.items():
        if k.startswith("keeper."):
            np.testing.assert_allclose(worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)
