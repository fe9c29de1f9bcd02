"""The perp markets of one exact world: `sim.venues.perp.venue.PerpVenue` on the integer twin.

The chain backend's exact world (`sim.engine.exact`) runs the engine's own agents on exact
stand-ins and records every transaction they send. This module is its perp part:

* setup (block -1): the insurance fund (`fundInsurance` by the deployer) and, for a market
  marked at the reference price (`oracle: null`), the first answer of its own mark feed;
* `ExactPerpVenue`, the venue the engine builds for a perp: its `batch` is an
  `ExactPerpBatch` whose deposit / withdraw / modify / liquidate calls go to the
  `sim.venues.perp.twin.PerpMarket` twin (which matches `contracts/PerpMarket.vy` to the wei) at the
  block's integer timestamp and are recorded as `depositMargin` / `withdrawMargin` /
  `modifyPosition` (acceptablePrice = the twin's fill, so a fill one wei off reverts) /
  `liquidate(account)`. A call the twin refuses is still recorded, with status 0 (the agent
  sends it; the contract must revert too). After every call the float arrays agents read
  (sizes, margins, open interest, funding index, fund, ...) are overwritten with the twin's
  state, so every later decision sees exact state.

Accounts: an agent's slot j on a market is the account "<agent>#j" for perp traders (each
slot its own address, as the fast engine's accounts are independent) and "<agent>" for a
keeper (one slot); liquidators send from their own name. Margin moves in the world's
numeraire balances.

Marked at the reference price: the contract needs a feed, so the market gets its own
`PriceFeed` ("mark:<perp>", transmitted by the account of that label) and, in a block where
the market is touched, the reference price rounded to the feed's decimals lands on it just
before the first call (fresh, so never stale), and that rounded price is the mark the agents
see. Elsewhere the mark is the scenario's oracle, the world's `PriceFeed` twin.

Actions (plain dicts, added to the world's block records):
    {"kind": "perp_deposit" | "perp_withdraw", "perp", "agent", "amount" (quote units),
     "status"}
    {"kind": "perp_trade", "perp", "agent", "size" (signed wad), "acceptable" (wad), "status"}
    {"kind": "perp_liquidate", "perp", "agent" (the liquidator), "account", "status"}
    {"kind": "perp_fund_insurance", "perp", "agent": "deployer", "amount", "status"}
    {"kind": "perp_mark", "perp", "agent" (the mark transmitter), "answer", "status"}
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.agents.keeper import KeeperConfig
from sim.errors import ConfigError, Revert
from sim.venues.base import DEPLOYER, NUMERAIRE, ExactPart, ExactWorldError
from sim.venues.perp.agents import LiquidatorConfig, PerpTraderConfig
from sim.venues.perp.batch import PerpBatch
from sim.venues.perp.config import PerpConfig
from sim.venues.perp.twin import WAD, PerpMarket, PerpParams
from sim.venues.perp.venue import PerpVenue, account_plan
from sim.venues.pricefeed.twin import PriceFeed

if TYPE_CHECKING:
    from sim.engine.exact import ExactWorld
    from sim.scenario import Scenario

BPS_FIELDS = (
    "taker_fee_bps",
    "initial_margin_bps",
    "maintenance_margin_bps",
    "liquidation_reward_bps",
)


def exact(x: float, scale: int) -> int:
    """A scenario's decimal number times `scale`, exactly as written (0.1 -> 10**17)."""
    return int(Decimal(repr(float(x))) * scale)


def mark_account(perp: str) -> str:
    """Label of the account that transmits a reference-marked perp's own feed."""
    return f"mark:{perp}"


def account_labels(sc: Scenario, perp: str) -> list[str]:
    """Account label of each slot of `perp`, in slot order (see the module docstring)."""
    kinds = {a.name: a for a in sc.agents}
    out = []
    for owner, k in account_plan(sc, perp).items():
        if isinstance(kinds[owner], KeeperConfig):
            out.append(owner)
        else:
            out.extend(f"{owner}#{j}" for j in range(k))
    return out


def perp_params(c: PerpConfig, quote_decimals: int) -> PerpParams:
    """The contract's constructor parameters of a scenario's market."""
    return PerpParams(
        max_oracle_delay=int(c.max_oracle_delay),
        skew_scale=exact(c.skew_scale, WAD),
        taker_fee_bps=int(c.taker_fee_bps),
        max_funding_rate=exact(c.max_funding_rate, WAD),
        initial_margin_bps=int(c.initial_margin_bps),
        maintenance_margin_bps=int(c.maintenance_margin_bps),
        liquidation_reward_bps=int(c.liquidation_reward_bps),
        liquidation_reward_cap=exact(c.liquidation_reward_cap, 10**quote_decimals),
        max_open_interest=exact(c.max_open_interest, WAD),
        max_position_size=exact(c.max_position_size, WAD),
    )


class PerpPart(ExactPart):
    """Perp markets (`scenario.perps`), perp traders and liquidators (see the module)."""

    name = "perp"
    scenario_fields = ("perps",)
    agent_kinds = (PerpTraderConfig, LiquidatorConfig)

    @classmethod
    def check(cls, sc: Scenario) -> None:
        # The scenario already requires a perp's oracle to be a Chainlink-style feed.
        for c in sc.perps:
            f = f"perps.{c.name}"
            if c.max_oracle_delay != int(c.max_oracle_delay):
                raise ConfigError(f"{f}.max_oracle_delay: the contract takes whole seconds")
            for key in BPS_FIELDS:
                if getattr(c, key) != int(getattr(c, key)):
                    raise ConfigError(f"{f}.{key}: the contract takes whole basis points")

    def __init__(self, world: ExactWorld):
        super().__init__(world)
        sc = world.sc
        qd = world.decimals[NUMERAIRE]
        self.markets: dict[str, PerpMarket] = {}
        self.labels: dict[str, list[str]] = {}
        self.mark_feeds: dict[str, PriceFeed] = {}
        self.cfgs = {c.name: c for c in sc.perps}
        for c in sc.perps:
            labels = account_labels(sc, c.name)
            self.labels[c.name] = labels
            for label in labels:
                world.add_account(label)
            if c.oracle is None:
                world.add_account(mark_account(c.name))
                feed = PriceFeed(world.feed_decimals, f"mark {c.name}", mark_account(c.name),
                                 DEPLOYER)  # fmt: skip
                self.mark_feeds[c.name] = feed
            else:
                feed = world.part("pricefeed").feeds[c.oracle]
            holders = [*labels, DEPLOYER]
            holders += [a.name for a in sc.agents
                        if isinstance(a, LiquidatorConfig) and a.perp == c.name]  # fmt: skip
            balances = {h: world.balances.get((h, NUMERAIRE), 0) for h in holders}
            balances[DEPLOYER] = exact(c.insurance_fund, 10**qd)
            self.markets[c.name] = PerpMarket(
                feed=feed,
                params=perp_params(c, qd),
                owner=DEPLOYER,
                address=f"perp:{c.name}",
                quote_decimals=qd,
                last_funding_time=world.created_at.get(f"perp:{c.name}", world.setup_ts),
                balances=balances,
            )
        self._marked: dict[str, int] = {}
        """Perp -> block whose mark answer has landed (reference-marked markets)."""

    # -- setup -----------------------------------------------------------------------------

    def setup(self) -> None:
        w = self.world
        ref = w.initial_price()
        for name in self.mark_feeds:
            self._transmit_mark(name, ref)
        for name, m in self.markets.items():
            amount = m.balances[DEPLOYER]
            if amount > 0:
                m.fund_insurance(DEPLOYER, amount, w.timestamp)
                w.record(
                    {"kind": "perp_fund_insurance", "perp": name, "agent": DEPLOYER,
                     "amount": amount, "status": 1}
                )  # fmt: skip

    def _transmit_mark(self, name: str, price: float) -> None:
        w = self.world
        answer = int(round(price * w.feed_scale))
        self.mark_feeds[name].transmit(mark_account(name), answer, w.timestamp)
        self._marked[name] = w.block
        w.record(
            {"kind": "perp_mark", "perp": name, "agent": mark_account(name), "answer": answer,
             "status": 1}
        )  # fmt: skip

    def ensure_mark(self, name: str, price: float) -> None:
        """Land the reference mark of this block on a reference-marked market, once."""
        if name in self.mark_feeds and self._marked.get(name) != self.world.block:
            self._transmit_mark(name, price)

    # -- engine hooks ----------------------------------------------------------------------

    def factories(self) -> dict[str, Any]:
        part = self

        def perp(cfg: PerpConfig, n: int, plan: dict[str, int], feed) -> ExactPerpVenue:
            return ExactPerpVenue(part, cfg, n, plan, feed)

        return {"perps": perp}

    # -- state -----------------------------------------------------------------------------

    def state(self) -> dict[str, int]:
        s: dict[str, int] = {}
        for name, m in self.markets.items():
            f = f"perp.{name}."
            s[f + "longOpenInterest"] = m.long_oi
            s[f + "shortOpenInterest"] = m.short_oi
            s[f + "skew"] = m.skew
            s[f + "fundingRate"] = m.funding_rate()
            s[f + "fundingIndex"] = m.funding_index
            s[f + "lastFundingTime"] = m.last_funding_time
            s[f + "totalMargin"] = m.total_margin
            s[f + "insuranceFund"] = m.insurance_fund
            s[f + "badDebt"] = m.bad_debt
            s[f + "balance"] = m.balances[m.address]
            for label in self.labels[name]:
                pos = m.position(label)
                g = f"{f}{label}."
                s[g + "size"] = pos.size
                s[g + "margin"] = pos.margin
                s[g + "lastPrice"] = pos.last_price
                s[g + "lastFundingIndex"] = pos.last_funding_index
            if name in self.mark_feeds:
                r = self.mark_feeds[name].latest_round_data()
                s[f + "mark.roundId"] = r.round_id
                s[f + "mark.answer"] = r.answer
                s[f + "mark.updatedAt"] = r.updated_at
        return s


class ExactPerpVenue(PerpVenue):
    """A perp venue of one world whose batch is the integer twin (see the module)."""

    def __init__(self, part: PerpPart, cfg: PerpConfig, n: int, plan: dict[str, int], feed):
        super().__init__(cfg, n, plan, feed)
        self.part = part
        self.reference_marked = feed is None
        self.batch = ExactPerpBatch(part, cfg.name, self.batch.p, part.labels[cfg.name])

    def mark(self, ref: np.ndarray) -> np.ndarray:
        if self.feed is None:
            # The answer the market's own feed will carry (decimals of the world's feeds).
            scale = self.part.world.feed_scale
            return np.round(np.asarray(ref) * scale) / scale
        return self.feed.price()


class ExactPerpBatch(PerpBatch):
    """`PerpBatch` of one world whose transitions run on the `PerpMarket` twin."""

    def __init__(self, part: PerpPart, name: str, params, labels: list[str]):
        super().__init__(1, max(len(labels), 1), params)
        self.part = part
        self.world = part.world
        self.name = name
        self.market = part.markets[name]
        self.labels = labels
        self.quote = 10 ** self.world.decimals[NUMERAIRE]
        self.sync()

    # -- twin <-> floats -------------------------------------------------------------------

    def sync(self) -> None:
        """Overwrite every float the agents read with the twin's state."""
        m = self.market
        q = self.quote
        for a, label in enumerate(self.labels):
            pos = m.position(label)
            self.size[0, a] = pos.size / WAD
            self.margin[0, a] = pos.margin / q
            self.last_price[0, a] = pos.last_price / WAD
            self.last_index[0, a] = pos.last_funding_index / WAD
        self.long_oi[0] = m.long_oi / WAD
        self.short_oi[0] = m.short_oi / WAD
        self.index[0] = m.funding_index / WAD
        self.last_time[0] = m.last_funding_time - self.world.setup_ts
        self.total_margin[0] = m.total_margin / q
        self.fund[0] = m.insurance_fund / q
        self.bad_debt[0] = m.bad_debt / q
        self.balance[0] = m.balances[m.address] / q

    def _call(self, action: dict[str, Any], fn, holders: tuple[str, ...]) -> tuple[bool, Any]:
        """Run `fn()` on the twin (nothing changes if it reverts), move the holders' quote
        balances in the world by what the twin moved, record the action with its status."""
        m = self.market
        before = {h: m.balances.get(h, 0) for h in holders}
        try:
            out = fn()
            ok = True
        except Revert:
            out, ok = None, False
        for h in holders:
            delta = m.balances.get(h, 0) - before[h]
            if delta > 0:
                self.world.credit(h, NUMERAIRE, delta)
            elif delta < 0:
                self.world.spend(h, NUMERAIRE, -delta)
        self.world.record({**action, "perp": self.name, "status": int(ok)})
        self.sync()
        return ok, out

    def _mark(self, price) -> None:
        self.part.ensure_mark(self.name, float(np.asarray(price).reshape(-1)[0]))

    @staticmethod
    def _one(x) -> float:
        return float(np.asarray(x, dtype=float).reshape(-1)[0])

    # -- transitions -----------------------------------------------------------------------

    def deposit(self, a: int, amount) -> np.ndarray:
        units = round(self._one(amount) * self.quote)
        if units <= 0:
            return np.zeros(1, dtype=bool)
        label = self.labels[a]
        ts = self.world.timestamp
        ok, _ = self._call(
            {"kind": "perp_deposit", "agent": label, "amount": units},
            lambda: self.market.deposit_margin(label, units, ts),
            (label,),
        )
        return np.array([ok])

    def withdraw(self, a: int, amount, price, t) -> np.ndarray:
        units = round(self._one(amount) * self.quote)
        if units <= 0:
            return np.zeros(1, dtype=bool)
        label = self.labels[a]
        if self.market.position(label).size != 0:
            self._mark(price)
        ts = self.world.timestamp
        ok, _ = self._call(
            {"kind": "perp_withdraw", "agent": label, "amount": units},
            lambda: self.market.withdraw_margin(label, units, ts),
            (label,),
        )
        return np.array([ok])

    def modify(self, a: int, delta, price, t, acceptable=None) -> tuple[np.ndarray, np.ndarray]:
        d = self._one(delta)
        if d == 0.0 or not math.isfinite(d):
            return np.zeros(1, dtype=bool), np.full(1, np.nan)
        label = self.labels[a]
        m = self.market
        held = m.position(label).size
        size = round(d * WAD)
        if held != 0 and abs(held + size) <= abs(held) * 1e-12 + 1:
            size = -held  # a close: the float of the exact size maps back to all of it
        if size == 0:
            return np.zeros(1, dtype=bool), np.full(1, np.nan)
        self._mark(price)
        ts = self.world.timestamp
        # The limit is the twin's own fill: the contract must fill at exactly that price.
        try:
            limit = m.fill_price(size, ts)
        except Revert:
            limit = 2**256 - 1 if size > 0 else 0
        ok, trade = self._call(
            {"kind": "perp_trade", "agent": label, "size": size, "acceptable": limit},
            lambda: m.modify_position(label, size, limit, ts),
            (label,),
        )
        fill = trade.fill_price / WAD if ok else np.nan
        return np.array([ok]), np.array([fill])

    def liquidate(self, a: int, price, t, where=None) -> tuple[np.ndarray, np.ndarray]:
        if where is not None and not bool(np.asarray(where).reshape(-1)[0]):
            return np.zeros(1, dtype=bool), np.zeros(1)
        label = self.labels[a]
        sender = self.world.current_agent
        if sender is None:
            raise ExactWorldError(
                f"perp {self.name}: a liquidation outside an agent's turn has no sender"
            )
        self._mark(price)
        ts = self.world.timestamp
        ok, liq = self._call(
            {"kind": "perp_liquidate", "agent": sender, "account": label},
            lambda: self.market.liquidate(sender, label, ts),
            (sender,),
        )
        reward = liq.reward / self.quote if ok else 0.0
        return np.array([ok]), np.array([reward])

    def fund_insurance(self, amount) -> np.ndarray:
        # Only the venue's constructor tops the fund up (PerpPart.setup does it on the twin).
        raise ExactWorldError(f"perp {self.name}: no sender for an insurance top-up in a run")


__all__ = ["ExactPerpBatch", "ExactPerpVenue", "PerpPart", "account_labels", "perp_params"]
