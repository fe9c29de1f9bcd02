"""Chain backend with the options pool: option traders (liquidity demand, a stale-oracle
sniper, a volatility buyer) drive `OptionsPool.vy` block by block with exact parity, through a
board's expiry, its settlement and the holders' claims; a broken options twin is caught at the
right block and field, and its replay bundle reproduces the divergence."""

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from sim.chain.abi import calldata
from sim.chain.backend import run_on_chain
from sim.chain.bundles import replay_bundle
from sim.chain.node import private_anvil as anvil
from sim.chain.parity import Divergence
from sim.cli.run import sim_group
from sim.engine.core import Engine
from sim.engine.exact import ExactWorld
from sim.errors import ConfigError
from sim.run import cut_for_chain as cut_scenario
from sim.scenario import load_scenario
from sim.venues.options.chain import pool_label
from sim.venues.options.exact import SIDES
from sim.venues.options.twin import OptionsPool

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "chain_options.yaml"


@pytest.fixture(scope="module")
def options_anvil():
    """A private plain anvil for this module (the backend's default without --rpc)."""
    with anvil(None) as url:
        yield url


def _kinds(records) -> Counter:
    return Counter(
        (a["kind"], a["status"])
        for r in records
        for a in r.actions
        if a["kind"].startswith("option")
    )


def test_option_traders_match_the_chain_at_every_block_through_settlement(options_anvil, tmp_path):
    sc = load_scenario(SCENARIO)
    run = run_on_chain(sc, options_anvil, bundle_dir=tmp_path)
    rep = run.report
    assert rep.divergence is None and run.bundle is None
    assert rep.blocks == sc.blocks.n_blocks
    # Every options transaction kind landed: opens (and refused opens that reverted), the
    # sniper's closes, the short board's settlement and its holders' claims.
    kinds = _kinds(run.records)
    for kind in ("option_open", "option_close", "option_settle", "option_claim"):
        assert kinds[(kind, 1)] > 0, kind
    assert kinds[("option_open", 0)] > 0
    assert kinds[("option_settle", 1)] == 1
    traders = {a["agent"] for r in run.records for a in r.actions if a["kind"] == "option_open"}
    assert traders == {"option_traders", "sniper", "vol_buyer"}
    # Settlement at the first block at or after the absolute expiry (setup + 4500 s).
    settle = next(r for r in run.records if any(a["kind"] == "option_settle" for a in r.actions))
    expiry = run.session.layout.setup_ts + int(sc.options_pools[0].boards[0].expiry)
    prev = run.records[settle.block - 1].timestamp
    assert prev < expiry <= settle.timestamp
    # The state at the end (the chain's: parity held): the short board settled at a spot,
    # every position on it claimed, the long board still open with positions on it.
    state = run.records[-1].state
    assert state["options.options.board0.settled"] == 1
    assert state["options.options.board0.settlementSpot"] > 0
    assert state["options.options.board1.settled"] == 0
    boards = sc.options_pools[0].boards
    n0, nk = len(boards[0].strikes), sum(len(b.strikes) for b in boards)
    held = [
        sum(state[f"agent.{a}.options.options.strike{k}.{s}"] for a in traders for s in SIDES)
        for k in range(nk)
    ]
    assert not any(held[:n0]) and any(held[n0:])
    assert 100_000 < rep.gas_summary()["option_open"]["mean"] < 500_000
    # The exact world is the fast engine up to base-unit rounding (same trades, same refusals).
    fast = Engine(sc, fused=False).run().worlds
    for k, v in fast.items():
        np.testing.assert_allclose(run.result.worlds[k], v, rtol=1e-6, atol=1e-6, err_msg=k)


def test_options_example_with_the_keeper_hedging_the_pool_on_the_perp(options_anvil, tmp_path):
    sc = cut_scenario(load_scenario(ROOT / "scenarios" / "options.yaml"), 400)
    run = run_on_chain(sc, options_anvil, bundle_dir=tmp_path)
    assert run.report.divergence is None and run.report.blocks == 400
    senders = Counter((a["kind"], a.get("agent")) for r in run.records for a in r.actions)
    assert senders[("perp_trade", "keeper")] > 0
    assert {"option_traders", "sniper", "vol_buyer"} <= {
        agent for kind, agent in senders if kind == "option_open"
    }
    # The keeper is the pool's hedger on chain (setHedger at setup).
    layout = run.session.layout
    word = run.session.builder.rpc.call(
        "eth_call", [{"to": layout.contracts[pool_label("options")], "data": calldata("hedger()")}]
    )
    assert int(word, 16) == int(layout.agents["keeper"], 16)


BREAK_AT = 120


def test_broken_options_twin_is_caught_at_its_block_and_field_and_replays(
    options_anvil, tmp_path, monkeypatch
):
    # From block BREAK_AT on, the twin leaves the board's base IV one wei above the contract's
    # after each trade (the premium itself is priced right).
    broken_from: dict[str, int | None] = {"ts": None}
    begin, pricing = ExactWorld.begin_block, OptionsPool._pricing

    def begin_block(self, block, time):
        begin(self, block, time)
        if block == BREAK_AT:
            broken_from["ts"] = self.timestamp

    def off_by_one(self, s, board, is_call, is_buy, amount, spot, now):
        p = pricing(self, s, board, is_call, is_buy, amount, spot, now)
        if broken_from["ts"] is not None and now >= broken_from["ts"]:
            p = p._replace(new_base_iv=p.new_base_iv + 1)
        return p

    monkeypatch.setattr(ExactWorld, "begin_block", begin_block)
    monkeypatch.setattr(OptionsPool, "_pricing", off_by_one)
    out_dir = tmp_path / "out"
    res = CliRunner().invoke(
        sim_group,
        [
            "run",
            "--backend",
            "chain",
            str(SCENARIO),
            "--rpc",
            options_anvil,
            "--blocks",
            "200",
            "--out",
            str(out_dir),
        ],
    )
    assert res.exit_code == 1, res.output

    bundles = list((out_dir / "bundles").iterdir())
    assert len(bundles) == 1
    data = json.loads((bundles[0] / "bundle.json").read_text())
    div = Divergence(**data["divergence"])
    # The first trade at or after the break: its board's base IV is the first field to differ.
    first = next(
        (b, a)
        for b in data["blocks"]
        if b["block"] >= BREAK_AT
        for a in b["actions"]
        if a["kind"] in ("option_open", "option_close") and a["status"] == 1
    )
    block, trade = first
    board = (
        0
        if trade["strike"] < len(load_scenario(SCENARIO).options_pools[0].boards[0].strikes)
        else 1
    )
    assert f"parity lost at block {block['block']}" in res.output
    assert div.block == block["block"] == data["block"]
    assert div.field == f"options.options.board{board}.baseIv"
    assert div.expected == div.chain + 1

    monkeypatch.undo()  # the replay needs no simulator: the bundle holds the transactions
    assert replay_bundle(bundles[0]) == div
    res = CliRunner().invoke(sim_group, ["replay", str(bundles[0])])
    assert res.exit_code == 0, res.output
    assert "reproduced" in res.output


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"oracle": None}, "options_pools.options.oracle"),
        ({"trading_cutoff": 3600.5}, "options_pools.options.trading_cutoff"),
        ({"boards.0.expiry": 4500.5}, "options_pools.options.boards[0].expiry"),
    ],
)
def test_options_pools_the_contract_cannot_run_are_refused_by_field(change, field):
    sets = [f"options_pools.0.{k}={'null' if v is None else v}" for k, v in change.items()]
    sc = load_scenario(SCENARIO, sets)
    with pytest.raises(ConfigError, match=re.escape(field)):
        ExactWorld(sc)
