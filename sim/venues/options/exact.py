"""The options pools of one exact world: `sim.venues.options.venue.OptionsVenue` on the integer twin.

The chain backend's exact world (`sim.engine.exact`) runs the engine's own agents on exact
stand-ins and records every transaction they send. This module is its options part:

* setup (the deployer, at the setup block): `addBoard` with the absolute expiry
  setup timestamp + the scenario's expiry (the scenario counts seconds from the run's start,
  the contract block timestamps), `addStrike` for each strike (board and strike ids count up
  from 1 in the scenario's order), `setIvBounds` when the scenario's differ from the
  constructor's, `setHedger` for a keeper hedging the pool, and the LP `deposit`;
* `ExactOptionsVenue`, the venue the engine builds for an options pool: every fill goes to
  the `sim.venues.options.twin.OptionsPool` twin at the block's integer timestamp, priced off the
  world's `PriceFeed` twin (the on-chain answer), and is recorded as `openPosition` /
  `closePosition` with limitPremium = the twin's premium (a refused order is still sent,
  with no premium limit, and must revert); a board settles at the first block at or after
  its absolute expiry whose answer is fresh (`settleBoard`, sent by the pool's settler
  account), then every holder claims each strike it holds on the board (`claim`). The
  traders' quote tokens move in the world's balances.

After every twin call the float pool the agents read (`OptionsPoolVec`: base IVs, skews, open
interest, balances, settlement) and the holders' positions are overwritten with the twin's
state, so every later decision sees exact state. The agents decide on the engine's float
clock; the twin runs on the block's integer timestamp (never earlier), so at a cutoff or an
expiry the twin may refuse or settle a block before the float pool would have: the twin
decides, and the agents see its result. With whole-second block times the two clocks agree.

Actions (plain dicts, added to the world's block records):
    {"kind": "option_open" | "option_close", "agent", "pool", "strike" (index k: id k + 1),
     "is_call", "is_long", "amount" (wad options), "limit" (quote base units), "status"}
    {"kind": "option_settle", "agent" (the settler), "pool", "board" (index b: id b + 1),
     "status"}
    {"kind": "option_claim", "agent", "pool", "strike", "amount" (paid), "status"}
and at setup (the deployer): "option_iv_bounds", "option_board", "option_strike",
"option_hedger", "option_deposit" (see `OptionsPart.setup`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.agents.keeper import KeeperConfig
from sim.errors import ConfigError, Revert
from sim.venues.base import DEPLOYER, NUMERAIRE, ExactPart
from sim.venues.options.agents import InformedOptionTraderConfig, OptionTraderConfig
from sim.venues.options.batch import (
    CODE_OF,
    LIQUIDITY,
    NO_TRADE,
    OK,
    TradeResult,
    call_payoff,
    put_payoff,
)
from sim.venues.options.config import OptionsPoolConfig
from sim.venues.options.twin import WAD, OptionsParams, OptionsPool, PoolState
from sim.venues.options.venue import OptionsVenue

if TYPE_CHECKING:
    from sim.engine.exact import ExactWorld
    from sim.scenario import Scenario

OPTION_AGENTS = (OptionTraderConfig, InformedOptionTraderConfig)
MAX_UINT = 2**256 - 1
DEFAULT_IV_BOUNDS = (5 * 10**16, 25 * 10**17, 5 * 10**17, 2 * WAD)
"""`setIvBounds` as the constructor leaves it (min/max base IV, min/max skew, wad)."""
SIDES = ("longCall", "shortCall", "longPut", "shortPut")
"""Open interest / position fields, as the contract names them."""


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.title() for w in rest)


POOL_STATE_FIELDS = tuple(_camel(k) for k in PoolState._fields)
"""`poolState()`'s fields, as the contract names them (poolBalance, ...)."""


def settler_of(pool: str) -> str:
    """Name of the account that sends `settleBoard` for `pool` (anyone may)."""
    return f"settler:{pool}"


def wad(x: float) -> int:
    """A scenario's decimal number as wad, exactly as written (0.8 -> 8 * 10**17)."""
    return int(Decimal(repr(float(x))) * WAD)


def check_options(sc: Scenario) -> None:
    """Raise ConfigError naming the first part of `sc`'s options pools the chain cannot run."""
    feeds = {o.name for o in sc.oracles}
    for c in sc.options_pools:
        f = f"options_pools.{c.name}"
        if c.oracle not in feeds:
            raise ConfigError(
                f"{f}.oracle: the contract prices off a Chainlink-style feed; name one of "
                f"oracles ({sorted(feeds) or 'none defined'})"
            )
        for key in ("max_oracle_delay", "trading_cutoff"):
            if getattr(c, key) != int(getattr(c, key)):
                raise ConfigError(f"{f}.{key}: the contract takes whole seconds")
        for i, b in enumerate(c.boards):
            if b.expiry != int(b.expiry):
                raise ConfigError(f"{f}.boards[{i}].expiry: the contract takes whole seconds")


def pool_params(c: OptionsPoolConfig) -> OptionsParams:
    """The contract's constructor parameters of a scenario's pool."""
    return OptionsParams(
        max_oracle_delay=int(c.max_oracle_delay),
        standard_size=wad(c.standard_size),
        iv_impact=wad(c.iv_impact),
        skew_impact=wad(c.skew_impact),
        option_price_fee=wad(c.option_price_fee),
        spot_price_fee=wad(c.spot_price_fee),
        vega_fee=wad(c.vega_fee),
        min_delta=wad(c.min_delta),
        max_delta=wad(c.max_delta),
        trading_cutoff=int(c.trading_cutoff),
    )


@dataclass
class ExactOptionsPool:
    """One pool's twin, its scenario config and who trades it."""

    cfg: OptionsPoolConfig
    twin: OptionsPool
    holders: list[str]
    """Agents that trade this pool (their positions are compared)."""
    venue: ExactOptionsVenue | None = None


class OptionsPart(ExactPart):
    """The options pools of one exact world (see the module docstring)."""

    name = "options"
    scenario_fields = ("options_pools",)
    agent_kinds = OPTION_AGENTS

    def __init__(self, world: ExactWorld):
        super().__init__(world)
        self.numeraire = NUMERAIRE
        self.quote_scale = world.scale[NUMERAIRE]
        self.pools: dict[str, ExactOptionsPool] = {}
        for c in world.sc.options_pools:
            twin = OptionsPool(
                world.part("pricefeed").feeds[c.oracle],
                pool_params(c),
                DEPLOYER,
                world.decimals[NUMERAIRE],
            )
            holders = [
                a.name for a in world.sc.agents if isinstance(a, OPTION_AGENTS) and a.pool == c.name
            ]
            self.pools[c.name] = ExactOptionsPool(c, twin, holders)
            world.add_account(settler_of(c.name))

    @classmethod
    def check(cls, sc: Scenario) -> None:
        check_options(sc)

    # -- setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        """List every board and strike, set bounds and hedger, deposit the LP liquidity, on
        the twins at the setup block, recording the deployer's transactions."""
        deployer, now = DEPLOYER, self.world.timestamp
        for name, ep in self.pools.items():
            c, tw = ep.cfg, ep.twin
            bounds = (wad(c.min_base_iv), wad(c.max_base_iv), wad(c.min_skew), wad(c.max_skew))
            if bounds != DEFAULT_IV_BOUNDS:
                tw.set_iv_bounds(deployer, *bounds)
                self.world.record(
                    {"kind": "option_iv_bounds", "pool": name, "bounds": list(bounds), "status": 1}
                )
            for b in c.boards:
                expiry = self.world.setup_ts + int(b.expiry)
                base_iv, cap = wad(b.base_iv), wad(b.call_cap)
                bid = tw.add_board(deployer, expiry, base_iv, cap, now)
                self.world.record(
                    {
                        "kind": "option_board",
                        "pool": name,
                        "board": bid - 1,
                        "expiry": expiry,
                        "base_iv": base_iv,
                        "call_cap": cap,
                        "status": 1,
                    }
                )
                for s in b.strikes:
                    strike, skew = wad(s.strike), wad(s.skew)
                    sid = tw.add_strike(deployer, bid, strike, skew, now)
                    self.world.record(
                        {
                            "kind": "option_strike",
                            "pool": name,
                            "board": bid - 1,
                            "strike": sid - 1,
                            "price": strike,
                            "skew": skew,
                            "status": 1,
                        }
                    )
            for a in self.world.sc.agents:
                if (
                    isinstance(a, KeeperConfig)
                    and a.inventory is not None
                    and a.inventory.options_pool == name
                ):
                    tw.set_hedger(deployer, a.name)
                    self.world.record(
                        {"kind": "option_hedger", "pool": name, "hedger": a.name, "status": 1}
                    )
            amount = int(Decimal(repr(c.liquidity)) * self.quote_scale)
            tw.deposit(deployer, amount, now)
            self.world.record(
                {"kind": "option_deposit", "pool": name, "amount": amount, "status": 1}
            )

    # -- the venue -----------------------------------------------------------------------

    def factories(self) -> dict[str, Any]:
        return {"options_pools": self.venue}

    def venue(self, cfg: OptionsPoolConfig, n: int, feed) -> ExactOptionsVenue:
        """The engine's venue of pool `cfg` (one world), bound to its twin."""
        if n != 1:
            raise ConfigError("the exact world runs one world (paths: 1)")
        v = ExactOptionsVenue(cfg, n, feed)
        v.part = self
        v.ep = self.pools[cfg.name]
        self.pools[cfg.name].venue = v
        v.refresh()
        return v

    # -- state ---------------------------------------------------------------------------

    def state(self) -> dict[str, int]:
        """Every options field the chain must hold, `field -> int`, in a fixed order."""
        s: dict[str, int] = {}
        for name, ep in self.pools.items():
            tw = ep.twin
            f = f"options.{name}."
            for key, v in zip(POOL_STATE_FIELDS, tw.pool_state(), strict=True):
                s[f + key] = v
            s[f + "quoteBalance"] = tw.token_balance
            for bid in sorted(tw.boards):
                b = tw.boards[bid]
                s[f"{f}board{bid - 1}.baseIv"] = b.base_iv
                s[f"{f}board{bid - 1}.settled"] = int(b.settled)
                s[f"{f}board{bid - 1}.settlementSpot"] = b.settlement_spot
            for sid in sorted(tw.strikes):
                st = tw.strikes[sid]
                g = f"{f}strike{sid - 1}."
                s[g + "skew"] = st.skew
                for side, v in zip(SIDES, _sides(st), strict=True):
                    s[g + side] = v
            for h in ep.holders:
                for sid in sorted(tw.strikes):
                    p = tw.position(h, sid)
                    g = f"agent.{h}.options.{name}.strike{sid - 1}."
                    for side, v in zip(SIDES, _sides(p), strict=True):
                        s[g + side] = v
        return s


def _sides(x) -> tuple[int, int, int, int]:
    return x.long_call, x.short_call, x.long_put, x.short_put


class ExactOptionsVenue(OptionsVenue):
    """`OptionsVenue` of one world whose fills, settlements and claims are the twin's."""

    part: OptionsPart
    ep: ExactOptionsPool

    @property
    def twin(self) -> OptionsPool:
        return self.ep.twin

    # -- float state the agents read -----------------------------------------------------

    def refresh(self) -> None:
        """Write the twin's state into the float pool (world 0)."""
        tw, p, q = self.twin, self.pool, float(self.part.quote_scale)
        for bid, b in tw.boards.items():
            p.base_iv[0, bid - 1] = b.base_iv / WAD
            p.settled[0, bid - 1] = b.settled
            p.settlement_spot[0, bid - 1] = b.settlement_spot / WAD
        for sid, s in tw.strikes.items():
            p.skew[0, sid - 1] = s.skew / WAD
            p.oi[0, sid - 1] = np.array(_sides(s), dtype=float) / WAD
        p.pool_balance[0] = tw.pool_balance / q
        p.locked[0] = tw.locked_collateral / q
        p.trader_collateral[0] = tw.trader_collateral / q
        p.payout_reserve[0] = tw.payout_reserve / q
        p.hedge_capital[0] = tw.hedge_capital / q

    def _position_from_twin(self, agent: str, k: int) -> None:
        pos = self.holder(agent)
        pos[0, k] = np.array(_sides(self.twin.position(agent, k + 1)), dtype=float) / WAD

    # -- fills ---------------------------------------------------------------------------

    def _fill(
        self, agent, w, k, is_call, is_buy, is_open, amount, spot, now, fresh, pos
    ) -> TradeResult:
        m = w.shape[0]
        assert m <= 1, "one world: at most one trade per call"
        code = np.full(m, NO_TRADE, dtype=np.int64)
        premium, fee, base, flow = (np.zeros(m) for _ in range(4))
        for i in range(m):
            r = self._trade_one(
                agent, int(k[i]), bool(is_call[i]), bool(is_buy[i]), bool(is_open[i]), amount[i]
            )
            code[i], premium[i], fee[i], base[i], flow[i] = r
        return TradeResult(code == OK, code, premium, fee, base, flow)

    def _trade_one(
        self, agent: str, k: int, is_call: bool, is_buy: bool, is_open: bool, amount: float
    ) -> tuple[int, float, float, float, float]:
        """(code, premium, fee, base, flow) in quote units, after sending the order."""
        units = int(float(amount) * WAD)
        if units <= 0:
            return NO_TRADE, 0.0, 0.0, 0.0, 0.0
        world, tw = self.part.world, self.twin
        now = world.timestamp
        sid = k + 1
        is_long = is_buy if is_open else not is_buy
        action = {
            "kind": "option_open" if is_open else "option_close",
            "agent": agent,
            "pool": self.name,
            "strike": k,
            "is_call": is_call,
            "is_long": is_long,
            "amount": units,
        }
        trial = tw.copy()  # the twin stays as it was if the order reverts
        send = trial.open_position if is_open else trial.close_position
        try:
            prem, flw = send(
                agent, sid, is_call, is_long, units, MAX_UINT if is_buy else 0, now, now
            )
        except Revert as err:
            # Sent all the same (the agent decided on the float pool); it must revert on chain.
            world.record({**action, "limit": MAX_UINT if is_buy else 0, "status": 0})
            return CODE_OF.get(err.reason, LIQUIDITY), 0.0, 0.0, 0.0, 0.0
        _, q_fee = tw.quote(sid, is_call, is_buy, units, now)  # the fee, at pre-trade state
        if flw > 0:
            world.spend(agent, self.part.numeraire, flw)
        elif flw < 0:
            world.credit(agent, self.part.numeraire, -flw)
        self.ep.twin = trial
        world.record({**action, "limit": prem, "status": 1})
        self.refresh()
        self._position_from_twin(agent, k)
        # The fee-free value the pool's metrics split off: base = premium -/+ fee, to the
        # quote unit (the contract rounds premium and fee separately).
        q = float(self.part.quote_scale)
        base = (prem - q_fee) if is_buy else (prem + q_fee if prem > 0 else q_fee)
        return OK, prem / q, q_fee / q, base / q, flw / q

    # -- settlement ----------------------------------------------------------------------

    def _due(self, ctx, bi: int) -> np.ndarray:
        """Expired at the block's timestamp, unsettled, and the twin's answer fresh."""
        tw = self.twin
        b = tw.boards[bi + 1]
        now = self.part.world.timestamp
        rd = tw.feed.latest_round_data()
        fresh = rd.answer > 0 and rd.updated_at + tw.max_oracle_delay >= now
        return np.array([not b.settled and now >= b.expiry and fresh])

    def _settle_pool(self, ctx, bi: int, due: np.ndarray) -> dict[str, np.ndarray]:
        world, tw = self.part.world, self.twin
        reserve0, collateral0 = tw.payout_reserve, tw.trader_collateral
        tw.settle_board(settler_of(self.name), bi + 1, world.timestamp)
        world.record(
            {
                "kind": "option_settle",
                "agent": settler_of(self.name),
                "pool": self.name,
                "board": bi,
                "status": 1,
            }
        )
        self.refresh()
        q = float(self.part.quote_scale)
        p = self.pool
        spot = np.array([tw.boards[bi + 1].settlement_spot / WAD])[:, None]
        on = (p.board == bi)[None, :] & due[:, None]
        return {
            "owed": np.array([(tw.payout_reserve - reserve0) / q]),
            "received": np.array([(collateral0 - tw.trader_collateral) / q]),
            "call": np.where(on, call_payoff(spot, p.strike, p.cap_k), 0.0),
            "put": np.where(on, put_payoff(spot, p.strike), 0.0),
            "on": on,
        }

    def _claim(self, name: str, pos: np.ndarray, out: dict[str, np.ndarray]) -> None:
        world, tw = self.part.world, self.twin
        for k in np.flatnonzero(out["on"][0]):
            sid = int(k) + 1
            if tw.position(name, sid).is_empty():
                continue
            paid = tw.claim(name, sid, world.timestamp)
            world.credit(name, self.part.numeraire, paid)
            world.record(
                {
                    "kind": "option_claim",
                    "agent": name,
                    "pool": self.name,
                    "strike": int(k),
                    "amount": paid,
                    "status": 1,
                }
            )
        self.refresh()


__all__ = [
    "POOL_STATE_FIELDS",
    "SIDES",
    "ExactOptionsVenue",
    "OptionsPart",
    "check_options",
    "pool_params",
    "settler_of",
    "wad",
]
