"""The same scenario in the simulator and on a chain gives the same hedge decisions.

scenarios/options.yaml, short, with the keeper also holding an LP share of the pool: option
traders, a sniper and a volatility buyer trade the options pool, an arbitrageur and the
feed move the spot, and the simulator's keeper agent hedges the pool's book and its LP share
on the perp with a Whalley–Wilmott band (so its decisions depend on the cost rate). The chain
backend replays every block on the real contracts with parity (`sim.chain.backend`).

At sampled blocks the real keeper — its reader (`keeper.reader.ChainReader`, batched
eth_calls through the standard interfaces) and its strategy (`keeper.strategy.plan_hedge`),
configured with the chain backend's layout addresses — looks at the chain in the state the
agent saw: the chain after the previous block plus the transactions the block holds before
the keeper's turn (a feed round, other agents' trades), mined at the block's timestamp, then
rolled back (evm_snapshot / evm_revert) before the real block goes on. Its policy inputs
(spot, book delta and gamma, hedge, cost rate, times) and its decision (trade or hold, the
target hedge) must equal what the agent decided there (`KeeperAgent.record`), and where the
agent traded, the keeper's planned perp leg is the transaction the agent sent.

The keeper's memory between ticks (its last hedge time) comes from the chain: the block of
the keeper's last landed perp trade. Only its venue set is narrowed to the agent's (the perp;
the pool is read for the LP inventory but not routed to), since the agent hedges on one venue.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from keeper_turns import at_the_keepers_turn, run_recording_turns

from keeper.config import load_keeper_config, resolve_addresses, without_venues
from keeper.reader import ChainReader
from keeper.strategy import HedgeState, plan_hedge
from sim.agents.keeper import KeeperAgent
from sim.chain.backend import ChainSession
from sim.chain.node import private_anvil as anvil
from sim.run import cut_for_chain as cut_scenario
from sim.scenario import load_scenario, scenario_from_dict
from sim.venues.base import NUMERAIRE, RISKY
from sim.venues.options.chain import pool_label

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = 150
CHECK_EVERY = 10
"""Besides every block where the agent traded, one block in this many is checked."""


def _scenario():
    sc = cut_scenario(load_scenario(ROOT / "scenarios" / "options.yaml"), BLOCKS)
    data = sc.model_dump(mode="json")
    (keeper,) = [a for a in data["agents"] if a["kind"] == "keeper"]
    keeper["lp"] = {"pool": "pool", "share": 0.01}  # ~50 ETH of LP delta beside the book
    return scenario_from_dict(data)


def _keeper_config(layout, policy, tmp_path):
    """The fork keeper's config, pointing at the chain backend's contracts."""
    keeper = layout.agents["keeper"]
    return load_keeper_config(
        policy=policy.model_dump(mode="json"),
        addresses={
            "base_token": layout.tokens[RISKY], "quote_token": layout.tokens[NUMERAIRE],
            "feed": layout.contracts["feed:feed"], "router": layout.contracts["router"],
            "options_pool": layout.contracts[pool_label("options")],
            "keeper": keeper, "lp_account": keeper,
        },
        venues={
            "cpmm": [{"name": "pool", "address": layout.contracts["pool:pool"], "fee_bps": 30}],
            "perp": {"name": "perp", "address": layout.contracts["perp:perp"]},
        },
        execution={"max_order_base": 1e6, "min_order_base": 0.0},
        # Wide guards: the test compares decisions, not the guards' refusals.
        safety={"guards": {"max_slippage_bps": 1_000}},
        journal_path=tmp_path / "journal.sqlite",
    )  # fmt: skip


@pytest.fixture(scope="module")
def parity_anvil():
    with anvil(None) as url:
        yield url


def test_the_keeper_on_chain_decides_what_the_sim_agent_decided(
    parity_anvil, tmp_path, monkeypatch
):
    sc = _scenario()
    policy = next(a for a in sc.agents if a.kind == "keeper").policy
    session = ChainSession(parity_anvil, sc)

    records, turns, seen = run_recording_turns(monkeypatch, session, KeeperAgent)
    assert len(seen) == BLOCKS

    traded = sorted(b for b, (_, d) in seen.items() if bool(d.trade[0]))
    check = sorted({b for b in range(1, BLOCKS) if b % CHECK_EVERY == 0} | set(traded) - {0})
    assert len(traded) >= 3, traded

    layout = session.layout
    cfg = _keeper_config(layout, policy, tmp_path)
    addresses, _ = resolve_addresses(cfg, None)
    plan_cfg = without_venues(cfg, {"pool"})  # the agent's one venue: the perp
    reader = ChainReader(parity_anvil, addresses)
    start = reader.read()
    baseline = start.keeper_base / 10**start.base_decimals  # its funding; no spot hedges
    offset = layout.setup_ts  # the agent's clock counts from the run's start
    compared: list[tuple[int, bool]] = []

    def keeper_trades_before(block: int) -> list[int]:
        return [
            records[b].timestamp
            for b in range(block)
            for a in records[b].actions
            if a["kind"] == "perp_trade" and a["agent"] == "keeper" and a["status"] == 1
        ]

    def look(block: int, _seconds: float) -> None:
        b = block + 1
        if b not in check:
            return
        rec = records[b]
        with at_the_keepers_turn(session, rec, turns[b]) as own:
            assert all(a.get("agent") == "keeper" for a in own), own
            snap = reader.read()
            landed = keeper_trades_before(b)
            state = HedgeState(last_hedge_time=landed[-1] if landed else -math.inf)
            plan = plan_hedge(snap, policy, state, plan_cfg, baseline_base=baseline)
        x, d = seen[b]
        assert snap.timestamp == rec.timestamp == x.now[0] + offset
        assert plan.inputs.last_hedge_time[0] == x.last_hedge_time[0] + offset
        for name in ("spot", "book_delta", "book_gamma", "hedge", "cost_rate"):
            np.testing.assert_allclose(getattr(plan.inputs, name), getattr(x, name),
                                       rtol=1e-9, atol=1e-12, err_msg=f"block {b}: {name}")  # fmt: skip
        assert plan.decision.trade.tolist() == d.trade.tolist(), f"block {b}"
        np.testing.assert_allclose(plan.decision.target_hedge, d.target_hedge, rtol=1e-9,
                                   atol=1e-12, err_msg=f"block {b}: target")  # fmt: skip
        sent = [a["size"] for a in own if a["kind"] == "perp_trade"]
        if bool(d.trade[0]):
            (leg,) = plan.legs
            assert leg.kind == "perp"
            assert sent == [pytest.approx(leg.size_wei, rel=1e-9)]
        else:
            assert plan.legs == () and sent == []
        compared.append((b, bool(d.trade[0])))

    report = session.run_blocks([records[b] for b in sorted(records)], on_block=look)
    assert report.divergence is None and report.blocks == BLOCKS
    assert {b for b, _ in compared} == set(check)
    assert {t for _, t in compared} == {True, False}
