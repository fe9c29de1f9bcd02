"""Chain part of the oracle-priced venues (`sim.venues.oracle_swap.exact.OracleSwapPart`):
`contracts/OracleSwap.vy`.

Per scenario venue: an `OracleSwap(risky, numeraire, feed, spreadBps, maxOracleDelay)` on the
scenario's feed. Setup: the deployer (the tokens' minter) mints the venue its inventory, and
every oracle sniper approves it for both tokens. Actions become `swap(tokenIn, amountIn,
minOut, to, deadline)`. State reads: the venue's balance of each token.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sim.chain.abi import calldata
from sim.errors import ChainError
from sim.venues.base import (
    DEADLINE_SLACK,
    MAX_UINT,
    NUMERAIRE,
    RISKY,
    SETUP_GAS,
    ChainPart,
    Layout,
    Read,
    Tx,
)
from sim.venues.oracle_swap.agents import OracleSniperConfig
from sim.venues.oracle_swap.exact import NO_STALENESS_LIMIT, venue_label

if TYPE_CHECKING:
    from sim.engine.exact import ExactWorld
    from sim.scenario import Scenario

SWAP_GAS = 200_000
"""Gas limit of a swap (actual use is in the receipts)."""


class OracleSwapChainPart(ChainPart):
    """Deploys, funds, encodes and reads the scenario's oracle-priced venues."""

    kinds = frozenset({"oswap_swap"})

    def creations(self, sc: Scenario):
        out = []
        for v in sc.venues:
            args = [int(v.spread_bps), NO_STALENESS_LIMIT]
            out.append(
                (
                    venue_label(v.name),
                    lambda a, code, oracle=v.oracle, args=args: code(
                        "OracleSwap",
                        ["address", "address", "address", "uint256", "uint256"],
                        [a[RISKY], a[NUMERAIRE], a[f"feed:{oracle}"], *args],
                    ),
                )
            )
        return out

    def setup_txs(self, layout: Layout, world: ExactWorld) -> list[Tx]:
        txs: list[Tx] = []
        snipers: dict[str, list[str]] = defaultdict(list)
        for a in self.sc.agents:
            if isinstance(a, OracleSniperConfig):
                snipers[a.venue].append(a.name)
        for v in self.sc.venues:
            venue = layout.contracts[venue_label(v.name)]
            for tok in (RISKY, NUMERAIRE):
                token = layout.tokens[tok]
                mint = calldata("mint(address,uint256)", venue, world.fund[tok])
                txs.append((layout.deployer, token, mint, SETUP_GAS))
                approve = calldata("approve(address,uint256)", venue, MAX_UINT)
                for name in snipers.get(v.name, []):
                    txs.append((layout.sender(name), token, approve, SETUP_GAS))
        return txs

    def encode(self, a: dict[str, Any], layout: Layout, timestamp: int) -> Tx:
        if a["kind"] != "oswap_swap":  # pragma: no cover - `kinds` routes only this here
            raise ChainError(f"oracle swap part: unknown action kind {a['kind']!r}")
        sender = layout.sender(a["agent"])
        data = calldata(
            "swap(address,uint256,uint256,address,uint256)",
            layout.tokens[a["token_in"]], a["amount_in"], a["min_out"], sender,
            timestamp + DEADLINE_SLACK,
        )  # fmt: skip
        return (sender, layout.contracts[venue_label(a["venue"])], data, SWAP_GAS)

    def reads(self, layout: Layout, world: ExactWorld) -> list[Read]:
        out: list[Read] = []
        for v in self.sc.venues:
            venue = layout.contracts[venue_label(v.name)]
            for tok in (RISKY, NUMERAIRE):
                data = calldata("balanceOf(address)", venue)
                out.append((layout.tokens[tok], data, [(f"oswap.{v.name}.{tok}", 0)]))
        return out


__all__ = ["OracleSwapChainPart"]
