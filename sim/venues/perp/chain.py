"""Chain part of the perp markets (`sim.venues.perp.exact.PerpPart`): `contracts/PerpMarket.vy`.

Per scenario market: a `PerpMarket` (quote: the numeraire token; feed: the scenario's oracle,
or for a market marked at the reference price its own `PriceFeed` "mark:<perp>" transmitted by
the account of that label), with the scenario's parameters. Setup: every account of the
market (traders' slots, a keeper, liquidators) approves it for the numeraire; the deployer
mints itself the insurance fund and approves; then the recorded `fundInsurance` (and the mark
feed's first answer). Actions become `depositMargin`, `withdrawMargin`, `modifyPosition(size,
acceptablePrice, deadline)`, `liquidate(account)`, `fundInsurance` and the mark `transmit`.
State reads: open interest, skew, funding rate and index, last funding time, total margin,
insurance fund, bad debt, the market's token balance, every account's `position`, and the
mark feed's latest round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.chain.abi import address_of, calldata
from sim.errors import ChainError
from sim.venues.base import (
    DEADLINE_SLACK,
    MAX_UINT,
    NUMERAIRE,
    SETUP_GAS,
    ChainPart,
    Layout,
    Read,
    Tx,
)
from sim.venues.perp.agents import LiquidatorConfig
from sim.venues.perp.exact import account_labels, mark_account, perp_params

if TYPE_CHECKING:
    from sim.engine.exact import ExactWorld
    from sim.scenario import Scenario

GAS = {
    "perp_deposit": 150_000,
    "perp_withdraw": 200_000,
    "perp_trade": 300_000,
    "perp_liquidate": 300_000,
    "perp_fund_insurance": 150_000,
    "perp_mark": 200_000,
}
"""Gas limit per action kind (actual use is in the receipts)."""
PARAM_TYPES = ["address", "address"] + ["uint256"] * 10


class PerpChainPart(ChainPart):
    """Deploys, sets up, encodes and reads the scenario's perp markets."""

    kinds = frozenset(GAS)

    def creations(self, sc: Scenario):
        out = []
        for c in sc.perps:
            if c.oracle is None:
                mark = address_of(f"agent:{mark_account(c.name)}")
                args = [8, f"{c.name} mark (ammlab)", mark]
                out.append(
                    (
                        f"perpfeed:{c.name}",
                        lambda a, code, args=args: code(
                            "PriceFeed", ["uint8", "string", "address"], args
                        ),
                    )
                )
            feed = f"feed:{c.oracle}" if c.oracle else f"perpfeed:{c.name}"
            params = perp_params(c, 6).constructor_args()
            out.append(
                (
                    f"perp:{c.name}",
                    lambda a, code, feed=feed, params=params: code(
                        "PerpMarket", PARAM_TYPES, [a[NUMERAIRE], a[feed], *params]
                    ),
                )
            )
        return out

    def setup_txs(self, layout: Layout, world: ExactWorld) -> list[Tx]:
        txs: list[Tx] = []
        usdc = layout.tokens[NUMERAIRE]
        for c in self.sc.perps:
            perp = layout.contracts[f"perp:{c.name}"]
            approve = calldata("approve(address,uint256)", perp, MAX_UINT)
            senders = account_labels(self.sc, c.name)
            senders += [a.name for a in self.sc.agents
                        if isinstance(a, LiquidatorConfig) and a.perp == c.name]  # fmt: skip
            for label in senders:
                txs.append((layout.sender(label), usdc, approve, SETUP_GAS))
            fund = next(
                (a["amount"] for a in world.setup.actions
                 if a["kind"] == "perp_fund_insurance" and a["perp"] == c.name),
                0,
            )  # fmt: skip
            if fund:
                dep = layout.deployer
                txs.append((dep, usdc, calldata("mint(address,uint256)", dep, fund), SETUP_GAS))
                txs.append((dep, usdc, approve, SETUP_GAS))
        return txs

    def encode(self, a: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        kind = a["kind"]
        name = a["perp"]
        sender = layout.sender(a["agent"])
        perp = layout.contracts[f"perp:{name}"]
        if kind == "perp_deposit":
            data = calldata("depositMargin(uint256)", a["amount"])
        elif kind == "perp_withdraw":
            data = calldata("withdrawMargin(uint256)", a["amount"])
        elif kind == "perp_trade":
            data = calldata(
                "modifyPosition(int256,uint256,uint256)",
                a["size"], a["acceptable"], timestamp + DEADLINE_SLACK,
            )  # fmt: skip
        elif kind == "perp_liquidate":
            data = calldata("liquidate(address)", layout.sender(a["account"]))
        elif kind == "perp_fund_insurance":
            data = calldata("fundInsurance(uint256)", a["amount"])
        elif kind == "perp_mark":
            data = calldata("transmit(int256)", a["answer"])
            return (sender, layout.contracts[f"perpfeed:{name}"], data, GAS[kind])
        else:  # pragma: no cover - `kinds` routes only these here
            raise ChainError(f"perp part: unknown action kind {kind!r}")
        return (sender, perp, data, GAS[kind])

    def reads(self, layout: Layout, world: ExactWorld) -> list[Read]:
        out: list[Read] = []
        for c in self.sc.perps:
            perp = layout.contracts[f"perp:{c.name}"]
            f = f"perp.{c.name}."
            for fn, is_signed in (
                ("longOpenInterest", False),
                ("shortOpenInterest", False),
                ("skew", True),
                ("fundingRate", True),
                ("fundingIndex", True),
                ("lastFundingTime", False),
                ("totalMargin", False),
                ("insuranceFund", False),
                ("badDebt", False),
            ):
                out.append((perp, calldata(f"{fn}()"), [(f + fn, 0, is_signed)]))
            out.append(
                (
                    layout.tokens[NUMERAIRE],
                    calldata("balanceOf(address)", perp),
                    [(f + "balance", 0)],
                )
            )
            for label in account_labels(self.sc, c.name):
                g = f"{f}{label}."
                out.append(
                    (
                        perp,
                        calldata("position(address)", layout.sender(label)),
                        [(g + "size", 0, True), (g + "margin", 1), (g + "lastPrice", 2),
                         (g + "lastFundingIndex", 3, True)],
                    )
                )  # fmt: skip
            if c.oracle is None:
                feed = layout.contracts[f"perpfeed:{c.name}"]
                out.append(
                    (
                        feed,
                        calldata("latestRoundData()"),
                        [(f + "mark.roundId", 0), (f + "mark.answer", 1, True),
                         (f + "mark.updatedAt", 3)],
                    )
                )  # fmt: skip
        return out


__all__ = ["PerpChainPart"]
