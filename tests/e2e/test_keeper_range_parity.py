"""The same scenario in the simulator and on a chain gives the same range decisions, at every
block.

scenarios/keeper_v3.yaml, short and volatile, with a feed that reports every block and the
keeper reading it: the simulator's keeper agent recentres its V3 position (trigger band at
half the range) and hedges it on the perp; the chain backend replays every block on the
genuine contracts with parity (`sim.chain.backend`).

At every block the live keeper's reader (`keeper.reader.ChainReader`, the position through
the NonfungiblePositionManager) and its range strategy (`keeper.ranges.range_inputs`, fed
every block as the agent's estimators are) look at the chain in the state the agent saw: the
chain after the previous block plus the block's transactions before the keeper's turn, mined
at the block's timestamp, then rolled back (evm_snapshot / evm_revert) before the real block
goes on. The policy inputs must equal the agent's (`RangeBook.record`), and the decision —
move or hold, and the new range — must be the agent's. The gas price is the one input each
side takes from its own world (the scenario's gas model, the chain's base fee): the live
inputs are decided on with the agent's. What the keeper's moves left beside its position is
read off its wallet (its balances beyond those after its first turn). Where the agent moved,
its mint is on the range the keeper decided.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from keeper_turns import at_the_keepers_turn, run_recording_turns

from keeper.ranges import Canon, RangeState, range_inputs
from keeper.reader import Addresses, ChainReader
from keeper.venues.base import PoolRef
from sim.agents.keeper_range import RangeBook
from sim.chain.backend import ChainSession
from sim.chain.node import private_anvil as anvil
from sim.decisions.ranges import FeeIncome
from sim.engine.exact import BlockRecord
from sim.learn.features import VolForecast
from sim.run import cut_for_chain
from sim.scenario import load_scenario, scenario_from_dict
from sim.venues.base import NUMERAIRE, RISKY
from sim.venues.univ3.chain import LENS, MANAGER, ROUTER, pool_address

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = 240
ATOL = {"quote_idle": 2e-6, "base_idle": 1e-12}
"""Fees owed: the manager floors them once (mulDiv of the growth inside), the simulator sums
each trade's share in floats; they agree to a base unit of the token (USDC has 6 decimals)."""
FIELDS = ("spot", "sqrt_price", "tick", "lower", "upper", "liquidity", "base_idle", "quote_idle",
          "pool_liquidity", "fee_income", "sigma", "oracle_age")  # fmt: skip


def _scenario():
    sc = load_scenario(ROOT / "scenarios" / "keeper_v3.yaml", ["price.sigma_per_day=0.4"])
    data = cut_for_chain(sc, BLOCKS).model_dump(mode="json")
    data["oracles"] = [{"name": "feed", "deviation_bps": 0.0, "latency_blocks": 0}]
    (keeper,) = [a for a in data["agents"] if a["kind"] == "keeper"]
    keeper["oracle"] = "feed"
    keeper["range_policy"] = {"kind": "recentre", "trigger": 0.5, "horizon": 86400.0}
    return scenario_from_dict(data)


def test_the_keeper_on_chain_decides_its_range_as_the_sim_agent_did(tmp_path, monkeypatch):
    sc = _scenario()
    policy = next(a for a in sc.agents if a.kind == "keeper").range_policy
    with anvil(None) as url:
        session = ChainSession(url, sc)
        records, turns, seen = run_recording_turns(monkeypatch, session, RangeBook)
        assert len(seen) == BLOCKS
        moves = sorted(b for b, (_, d) in seen.items() if bool(d.rebalance[0]))
        assert len(moves) >= 3, moves

        layout = session.layout
        fee = sc.v3_pools[0].fee
        pool_addr = pool_address(layout, fee)
        ref = PoolRef("v3", "univ3", pool_addr, layout.contracts[ROUTER], fee / 100, fee,
                      layout.contracts["v3factory"], 2)  # fmt: skip
        keeper = layout.agents["keeper"]
        addresses = Addresses(
            base_token=layout.tokens[RISKY], quote_token=layout.tokens[NUMERAIRE],
            feed=layout.contracts["feed:feed"], keeper=keeper, lp_account=keeper,
            pools={"v3": ref}, position_manager=layout.contracts[MANAGER],
        )  # fmt: skip
        assert LENS in layout.contracts
        reader = ChainReader(url, addresses)
        offset = layout.setup_ts  # the agent's clock counts from the run's start
        state = RangeState(FeeIncome(policy.fee_window), VolForecast(policy.vol, 1, offset))
        token: int | None = None
        wallet0: tuple[int, int] | None = None
        """The keeper's token balances after its first turn (the position opened, margin
        posted): what its wallet holds beyond them is what its moves left beside the position."""
        compared: list[tuple[int, bool]] = []

        def first(rec: BlockRecord) -> None:
            """After block 0: the position the keeper opened there, its wallet, and the
            estimators' first observation (the agent acts last in a block: the state after
            the block is the one it saw, its own mint moving no price)."""
            nonlocal token, wallet0
            (m,) = [a for a in rec.actions if a["kind"] == "v3_mint" and a["agent"] == "keeper"]
            token = m["token_id"]
            state.last_move = float(rec.timestamp)
            reader.position = ("v3", token)
            snap = reader.read()
            wallet0 = (snap.keeper_base, snap.keeper_quote)
            range_inputs(snap, snap.pool("v3"), snap.position, state, 0.0)

        def look(block: int, _seconds: float) -> None:
            nonlocal token
            if block == 0:
                first(records[0])
            b = block + 1
            if b not in records:
                return
            rec = records[b]
            reader.position = ("v3", token)
            with at_the_keepers_turn(session, rec, turns[b]) as own:
                snap = reader.read()
                idle = ((snap.keeper_base - wallet0[0]) / 10**snap.base_decimals,
                        (snap.keeper_quote - wallet0[1]) / 10**snap.quote_decimals)  # fmt: skip
                live = range_inputs(snap, snap.pool("v3"), snap.position, state, 0.0, idle)
            x, d = seen[b]
            assert snap.timestamp == rec.timestamp == x.now[0] + offset
            for name in FIELDS:
                np.testing.assert_allclose(getattr(live, name), getattr(x, name), rtol=1e-6,
                                           atol=ATOL.get(name, 1e-9), err_msg=f"block {b}: {name}")  # fmt: skip
            assert live.last_rebalance[0] == x.last_rebalance[0] + offset, b
            mine = policy.decide(dataclasses.replace(live, gas=x.gas))
            assert mine.rebalance.tolist() == d.rebalance.tolist(), f"block {b}"
            assert (mine.lower[0], mine.upper[0]) == (d.lower[0], d.upper[0]), b
            np.testing.assert_allclose(mine.gain, d.gain, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(mine.cost, d.cost, rtol=1e-5, atol=1e-6)
            minted = [a for a in own if a["kind"] == "v3_mint"]
            if bool(d.rebalance[0]):  # the agent's mint is on the range decided
                (m,) = minted
                canon = Canon.of(snap.pool("v3"))
                assert canon.range(m["tick_lower"], m["tick_upper"]) == (
                    int(mine.lower[0]), int(mine.upper[0]))  # fmt: skip
                token = m["token_id"]
                state.last_move = float(rec.timestamp)
            else:
                assert minted == []
            compared.append((b, bool(d.rebalance[0])))

        report = session.run_blocks([records[b] for b in sorted(records)], on_block=look)
    assert report.divergence is None and report.blocks == BLOCKS
    assert len(compared) == BLOCKS - 1
    assert {m for m, _ in compared if _} == set(moves) - {0}
