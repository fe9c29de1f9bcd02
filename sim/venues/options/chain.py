"""Chain part of the options pools: `contracts/OptionsPool.vy` under the chain backend.

The counterpart of `sim.venues.options.exact.OptionsPart` (see `sim.chain.backend.ChainPart`):

* creations: one `OptionsPool` per scenario options pool, quoted in the run's numeraire
  (USDC-like, 6 decimals) and priced off the scenario's feed contract, with the scenario's
  parameters (`sim.venues.options.exact.pool_params`); the Black-Scholes module is compiled into it;
* setup transactions: the deployer mints and approves its LP deposit, every holder (the option
  traders of the pool) approves the pool for the quote token; then the exact part's setup
  actions (boards at their absolute expiries, strikes, IV bounds, hedger, the deposit);
* actions: `openPosition` / `closePosition` with the recorded limit premium and a deadline,
  `settleBoard` from the pool's settler account, `claim` from each holder;
* reads: `poolState()`, the pool's quote-token balance, each board's base IV, settled flag
  and settlement spot, each strike's skew and open interest by side, and every holder's
  position on every strike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.chain.abi import calldata
from sim.venues.base import (
    DEADLINE_SLACK,
    MAX_UINT,
    NUMERAIRE,
    SETUP_GAS,
    ChainPart,
    CodeFn,
    Layout,
    Read,
    Tx,
)
from sim.venues.options.exact import POOL_STATE_FIELDS, SIDES, OptionsPart, pool_params

if TYPE_CHECKING:
    from sim.engine.exact import ExactWorld
    from sim.scenario import Scenario

GAS = {
    "option_iv_bounds": 200_000,
    "option_board": 300_000,
    "option_strike": 300_000,
    "option_hedger": 100_000,
    "option_deposit": 300_000,
    "option_open": 1_000_000,
    "option_close": 1_000_000,
    "option_settle": 1_000_000,
    "option_claim": 300_000,
}
"""Gas limit per action kind (actual use is in the receipts: a trade, which prices the option
and the board's net vega, up to nine Black-Scholes evaluations, used 0.2-0.33 M in
scenarios/options.yaml)."""
CONSTRUCTOR = ["address", "address"] + ["uint256"] * 10
TRADE = "{}(uint256,bool,bool,uint256,uint256,uint256)"


def pool_label(name: str) -> str:
    return f"options:{name}"


def _part(world: ExactWorld) -> OptionsPart:
    return world.part(OptionsPart.name)


class OptionsChainPart(ChainPart):
    """Options pools on chain (see the module docstring)."""

    kinds = frozenset(GAS)

    def creations(self, sc: Scenario) -> list[tuple[str, Callable[[dict[str, str], CodeFn], str]]]:
        out = []
        for c in sc.options_pools:
            args = pool_params(c).constructor_args()

            def make(a: dict[str, str], code: CodeFn, feed=f"feed:{c.oracle}", args=args) -> str:
                return code("OptionsPool", CONSTRUCTOR, [a[NUMERAIRE], a[feed], *args])

            out.append((pool_label(c.name), make))
        return out

    def setup_txs(self, layout: Layout, world: ExactWorld) -> list[Tx]:
        txs: list[Tx] = []
        usdc = layout.tokens[NUMERAIRE]
        dep = layout.deployer
        for a in world.setup.actions:
            if a["kind"] == "option_deposit":
                pool = layout.contracts[pool_label(a["pool"])]
                txs.append(
                    (dep, usdc, calldata("mint(address,uint256)", dep, a["amount"]), SETUP_GAS)
                )
                txs.append(
                    (dep, usdc, calldata("approve(address,uint256)", pool, MAX_UINT), SETUP_GAS)
                )
        for name, ep in _part(world).pools.items():
            pool = layout.contracts[pool_label(name)]
            for h in ep.holders:
                data = calldata("approve(address,uint256)", pool, MAX_UINT)
                txs.append((layout.sender(h), usdc, data, SETUP_GAS))
        return txs

    def encode(self, a: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        kind = a["kind"]
        pool = layout.contracts[pool_label(a["pool"])]
        gas = GAS[kind]
        dep = layout.deployer
        if kind in ("option_open", "option_close"):
            fn = TRADE.format("openPosition" if kind == "option_open" else "closePosition")
            data = calldata(
                fn, a["strike"] + 1, int(a["is_call"]), int(a["is_long"]), a["amount"], a["limit"],
                timestamp + DEADLINE_SLACK,
            )  # fmt: skip
            return (layout.sender(a["agent"]), pool, data, gas)
        if kind == "option_settle":
            return (
                layout.sender(a["agent"]),
                pool,
                calldata("settleBoard(uint256)", a["board"] + 1),
                gas,
            )
        if kind == "option_claim":
            return (
                layout.sender(a["agent"]),
                pool,
                calldata("claim(uint256)", a["strike"] + 1),
                gas,
            )
        if kind == "option_board":
            data = calldata(
                "addBoard(uint256,uint256,uint256)", a["expiry"], a["base_iv"], a["call_cap"]
            )
        elif kind == "option_strike":
            data = calldata(
                "addStrike(uint256,uint256,uint256)", a["board"] + 1, a["price"], a["skew"]
            )
        elif kind == "option_iv_bounds":
            data = calldata("setIvBounds(uint256,uint256,uint256,uint256)", *a["bounds"])
        elif kind == "option_hedger":
            data = calldata("setHedger(address)", layout.sender(a["hedger"]))
        else:  # option_deposit
            data = calldata("deposit(uint256)", a["amount"])
        return (dep, pool, data, gas)

    def reads(self, layout: Layout, world: ExactWorld) -> list[Read]:
        """The fields of `OptionsPart.state`, in its order."""
        out: list[Read] = []
        for name, ep in _part(world).pools.items():
            pool = layout.contracts[pool_label(name)]
            f = f"options.{name}."
            fields = [(f + k, i) for i, k in enumerate(POOL_STATE_FIELDS)]
            out.append((pool, calldata("poolState()"), fields))
            out.append(
                (
                    layout.tokens[NUMERAIRE],
                    calldata("balanceOf(address)", pool),
                    [(f + "quoteBalance", 0)],
                )
            )
            tw = ep.twin
            # boards(id) returns a struct holding a dynamic array: one offset word, then the
            # fields (expiry, baseIv, callCap, frozen, settled, settlementSpot, ...).
            for bid in sorted(tw.boards):
                g = f"{f}board{bid - 1}."
                fields = [(g + "baseIv", 2), (g + "settled", 5), (g + "settlementSpot", 6)]
                out.append((pool, calldata("boards(uint256)", bid), fields))
            for sid in sorted(tw.strikes):
                g = f"{f}strike{sid - 1}."
                fields = [(g + "skew", 2)] + [(g + s, 3 + i) for i, s in enumerate(SIDES)]
                out.append((pool, calldata("strikes(uint256)", sid), fields))
            for h in ep.holders:
                for sid in sorted(tw.strikes):
                    g = f"agent.{h}.options.{name}.strike{sid - 1}."
                    data = calldata("positions(address,uint256)", layout.sender(h), sid)
                    out.append((pool, data, [(g + s, i) for i, s in enumerate(SIDES)]))
        return out


__all__ = ["OptionsChainPart", "pool_label"]
