"""Chain backend with Uniswap V3: scenarios/univ3.yaml runs through the genuine v3-core 1.0.1
factory and pool, v3-periphery 1.4.4's SwapRouter (every swap, amountOutMinimum = the twin's
output) and NonfungiblePositionManager (every mint, decreaseLiquidity and collect), with parity
at every block on slot0, liquidity, fee growth, observation 0, every tick and position the run
touched, the manager's positions, the pools' and every account's balances. A twin broken by one
unit is caught at its block and field and the replay bundle reproduces it; gas per action kind
lands in summary.json."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.chain.backend import run_on_chain
from sim.chain.bundles import replay_bundle
from sim.chain.node import private_anvil as anvil
from sim.cli.run import sim_group
from sim.engine.core import Engine
from sim.engine.exact import ExactWorld
from sim.errors import ConfigError
from sim.run import cut_for_chain
from sim.scenario import load_scenario, scenario_from_dict
from sim.venues.base import RISKY
from sim.venues.univ3.exact import Univ3Part

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
UNIV3 = ROOT / "scenarios" / "univ3.yaml"
BUSY_LP = ["agents.6.open_rate=400", "agents.6.close_rate=400"]
"""The range LP opens and closes a position every ~3.6 minutes, so a short run holds many."""


@pytest.fixture(scope="module")
def v3_anvil():
    with anvil(None) as url:
        yield url


def _scenario(blocks: int, extra: list[str] = ()):
    return cut_for_chain(load_scenario(UNIV3, [*BUSY_LP, *extra]), blocks)


def test_univ3_scenario_matches_the_chain_at_every_block(v3_anvil, tmp_path):
    # Large V3 noise orders with a loose limit, so a short run holds the sandwich bot's trades.
    sc = _scenario(200, ["agents.4.size_median=100000", "agents.4.slippage_bps=200"])
    run = run_on_chain(sc, v3_anvil, bundle_dir=tmp_path)
    rep = run.report
    assert rep.divergence is None and run.bundle is None
    assert rep.blocks == 200
    kinds = Counter(a["kind"] for r in run.records for a in r.actions)
    for kind in ("v3_swap", "v3_mint", "v3_decrease", "v3_collect", "swap"):
        assert kinds[kind] > 0, kinds
    assert {"v3_swap", "v3_mint", "v3_decrease", "v3_collect"} <= set(rep.gas_summary())
    senders = {a.get("agent") for r in run.records for a in r.actions}
    assert {"arb", "arb3", "noise2", "noise3", "sandwich3", "lp"} <= senders
    # The ranges the LP opened are compared: ticks and positions beyond the scenario's.
    state = run.records[-1].state
    ticks = {k.split(".")[3] for k in state if k.startswith("v3.v3.tick.")}
    assert len(ticks) > 8
    assert any(k.startswith("v3npm.") for k in state)
    # The exact world is the fast engine up to base-unit rounding.
    fast = Engine(sc, fused=False).run().worlds
    assert set(fast) == set(run.result.worlds)
    for k, v in fast.items():
        np.testing.assert_allclose(run.result.worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)


BREAK_AT = 30


def test_twin_off_by_one_is_caught_at_its_block_and_field_and_replays(
    v3_anvil, tmp_path, monkeypatch
):
    """From block BREAK_AT on, the twin keeps one more unit of each swap's output in the pool
    than the genuine pool does: the first V3 swap after it shows in that pool balance."""
    swap = Univ3Part.swap

    def keeps_one(self, agent, name, token_in, units, limit_x96):
        done = swap(self, agent, name, token_in, units, limit_x96)
        if done is not None and self.world.block >= BREAK_AT:
            out_is_token0 = (token_in != RISKY) == self.world.risky_is_token0
            tw = self.twins[name]
            if out_is_token0:
                tw.balance0 += 1
            else:
                tw.balance1 += 1
        return done

    monkeypatch.setattr(Univ3Part, "swap", keeps_one)
    sc = _scenario(60)
    run = run_on_chain(sc, v3_anvil, bundle_dir=tmp_path)
    div = run.report.divergence
    first = next(
        r for r in run.records if r.block >= BREAK_AT and any(
            a["kind"] == "v3_swap" and a["status"] for a in r.actions
        )
    )  # fmt: skip
    swap_action = next(a for a in first.actions if a["kind"] == "v3_swap" and a["status"])
    out_is_token0 = (swap_action["token_in"] != RISKY) == run.session.layout.risky_is_token0
    assert div is not None and div.block == first.block
    assert div.field == f"v3.v3.balance{0 if out_is_token0 else 1}"
    assert div.expected == div.chain + 1
    assert run.bundle is not None
    data = json.loads((run.bundle / "bundle.json").read_text())
    assert data["block"] == first.block
    monkeypatch.undo()  # the replay needs no simulator: the bundle holds the transactions
    assert replay_bundle(run.bundle) == div


def test_chain_run_writes_gas_per_v3_action_to_the_summary(v3_anvil, tmp_path):
    args = ["run", "--backend", "chain", str(UNIV3), "--rpc", v3_anvil, "--blocks", "100"]
    for s in BUSY_LP:
        args += ["--set", s]
    res = CliRunner().invoke(sim_group, [*args, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["chain"]["parity"] == "ok"
    gas = summary["chain"]["gas"]
    assert 60_000 < gas["v3_swap"]["mean"] < 200_000
    assert gas["v3_mint"]["mean"] > 200_000
    assert {"v3_decrease", "v3_collect"} <= set(gas)
    assert "v3.v3.w5.lvr" in summary["metrics"] and "v3.v3.arb_profit" in summary["metrics"]
    assert {"v3factory", "v3router", "v3npm"} <= set(summary["chain"]["layout"]["contracts"])


def test_two_pools_of_one_fee_tier_are_refused_by_field():
    sc = load_scenario(UNIV3, ["paths=1"])
    data = sc.model_dump(mode="json")
    data["v3_pools"].append({**data["v3_pools"][0], "name": "again"})
    with pytest.raises(ConfigError, match=r"v3_pools\.again\.fee: pool 'v3' has fee 500 too"):
        ExactWorld(scenario_from_dict(data))
