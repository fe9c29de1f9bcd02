"""The oracle-priced venues of one exact world: `sim.venues.pricefeed.batch.OracleVenue` on the integer twin.

The exact world's part for `scenario.venues` (see `sim.engine.exact.ExactPart`): each venue is
a `contracts/OracleSwap.vy` quoting the scenario's Chainlink-style feed with the scenario's
half-spread, trading against its own inventory. Its takers are oracle snipers.

* setup: the venue's inventory, `world.fund` of both tokens, minted to it by the deployer
  (far beyond any run's flows, as the simulator's venue has unbounded depth);
* `ExactOracleVenue`: a taker's `fill` (buy `size` risky at the ask, or sell at the bid)
  becomes `swap(tokenIn, amountIn, minOut)` priced on the `sim.venues.oracle_swap.twin.OracleSwap` twin
  at the feed twin's latest round, with minOut = the twin's output (the contract must pay
  exactly that); the taker's token balances move by the exact amounts.

The simulator's venue has no staleness limit (its sniper exploits the lag), so the contract's
`maxOracleDelay` is set beyond any run. `max_notional` is the sniper's sizing rule, not a
limit of the venue, so the contract does not enforce it either.

Action:
    {"kind": "oswap_swap", "venue", "agent", "token_in", "amount_in", "min_out", "status"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import ConfigError, Revert
from sim.venues.base import NUMERAIRE, RISKY, ExactPart
from sim.venues.oracle_swap.agents import OracleSniperConfig
from sim.venues.oracle_swap.batch import OracleVenue
from sim.venues.oracle_swap.config import OracleVenueConfig
from sim.venues.oracle_swap.twin import OracleSwap

if TYPE_CHECKING:
    from sim.engine.exact import ExactWorld
    from sim.scenario import Scenario

NO_STALENESS_LIMIT = 2**64
"""`maxOracleDelay` of a scenario's venue (see the module docstring)."""


def venue_label(name: str) -> str:
    """Layout label of a venue's contract."""
    return f"oswap:{name}"


class OracleSwapPart(ExactPart):
    """Oracle-priced venues (`scenario.venues`) and oracle snipers (see the module)."""

    name = "oracle_swap"
    scenario_fields = ("venues",)
    agent_kinds = (OracleSniperConfig,)

    @classmethod
    def check(cls, sc: Scenario) -> None:
        feeds = {o.name for o in sc.oracles}
        for v in sc.venues:
            f = f"venues.{v.name}"
            if v.oracle not in feeds:
                raise ConfigError(
                    f"{f}.oracle: on chain the venue reads a Chainlink-style feed; name one of "
                    f"oracles ({sorted(feeds) or 'none defined'}), not a TWAP"
                )
            if v.spread_bps != int(v.spread_bps):
                raise ConfigError(f"{f}.spread_bps: the contract takes whole basis points")

    def __init__(self, world: ExactWorld):
        super().__init__(world)
        self.cfgs: dict[str, OracleVenueConfig] = {v.name: v for v in world.sc.venues}
        self.twins: dict[str, OracleSwap] = {
            v.name: OracleSwap(
                spread_bps=int(v.spread_bps),
                max_oracle_delay=NO_STALENESS_LIMIT,
                risky_feed_scale=world.scale[RISKY] * world.feed_scale,
                numeraire_scale=world.scale[NUMERAIRE],
                inventory=dict(world.fund),
            )
            for v in world.sc.venues
        }

    def factories(self) -> dict[str, Any]:
        part = self

        def oracle_venue(cfg: OracleVenueConfig, feed) -> ExactOracleVenue:
            return ExactOracleVenue(part, cfg, feed)

        return {"venues": oracle_venue}

    def state(self) -> dict[str, int]:
        s: dict[str, int] = {}
        for name, twin in self.twins.items():
            s[f"oswap.{name}.{RISKY}"] = twin.inventory[RISKY]
            s[f"oswap.{name}.{NUMERAIRE}"] = twin.inventory[NUMERAIRE]
        return s

    def swap(self, venue: str, taker: str, token_in: str, amount_in: int) -> int | None:
        """The taker's swap on the twin at the feed's latest round; the output, or None when
        the contract would refuse it (then nothing is sent)."""
        w = self.world
        rd = w.part("pricefeed").feeds[self.cfgs[venue].oracle].latest_round_data()
        ts = w.timestamp
        twin = self.twins[venue]
        try:
            out = twin.swap(token_in, amount_in, 0, rd.answer, rd.updated_at, ts, ts)
        except Revert:
            return None
        token_out = RISKY if token_in == NUMERAIRE else NUMERAIRE
        w.spend(taker, token_in, amount_in)
        w.credit(taker, token_out, out)
        w.record(
            {"kind": "oswap_swap", "venue": venue, "agent": taker, "token_in": token_in,
             "amount_in": amount_in, "min_out": out, "status": 1}
        )  # fmt: skip
        return out


class ExactOracleVenue(OracleVenue):
    """An oracle venue of one world whose fills are swaps on the integer twin."""

    def __init__(self, part: OracleSwapPart, cfg: OracleVenueConfig, feed):
        super().__init__(cfg, feed)
        self.part = part

    def fill(self, size: np.ndarray, price: np.ndarray, ref_price: np.ndarray) -> None:
        q = float(np.asarray(size, dtype=float).reshape(-1)[0])
        taker = self.part.world.current_agent
        if q == 0.0 or taker is None:
            return
        w = self.part.world
        px = float(np.asarray(price, dtype=float).reshape(-1)[0])
        # A buy pays the quoted notional in numeraire; a sell gives the size in risky.
        token_in, amount = (NUMERAIRE, q * px) if q > 0 else (RISKY, -q)
        units = w.units(amount, token_in)
        if units <= 0 or self.part.swap(self.name, taker, token_in, units) is None:
            return
        super().fill(size, price, ref_price)


__all__ = ["ExactOracleVenue", "OracleSwapPart", "venue_label"]
