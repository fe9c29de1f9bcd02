"""Per-world accounting and the batch summary.

Conventions. Every pool trade is split, at the reference price P of its block, into
    trader P&L   = -(P dx + dy)                 (dx, dy: everything the pool received)
    fee income   =   P fee_x + fee_y            (the fee part of the input)
    LVR          = -(P dx_curve + dy_curve)     (reserve change net of the fee)
so trader P&L + fee = LVR exactly, trade by trade: LVR is what the LP loses against the
rebalancing portfolio that makes the same trade at P (Milionis et al. 2022). Each increment is
also divided by the pool's value after the trade (at P) and summed, so `*_rate` metrics are
fractions of pool value per day and their expectation is the instantaneous rate of the theory
(LVR/V = sigma^2/8 per unit time for constant product) whatever the pool's size does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from pydantic import Field

from sim.config import ConfigModel
from sim.stats import summarise_worlds
from sim.venues.cpmm.batch import CpmmBatch

DAY = 86400.0

# metric suffix -> (unit, description); columns are '<pool>.<suffix>', 'agent.<name>.<suffix>'
POOL_METRICS: dict[str, tuple[str, str]] = {
    "arb_profit_rate": ("1/day", "arbitrage profit (gross of gas) per day, fraction of pool value"),
    "fee_rate": ("1/day", "LP fee income per day from all trades, fraction of pool value"),
    "arb_fee_rate": (
        "1/day",
        "LP fee income per day from arbitrage trades, fraction of pool value",
    ),
    "lvr_rate": (
        "1/day",
        "loss-versus-rebalancing per day from all trades, fraction of pool value",
    ),
    "lvr_arb_rate": ("1/day", "LVR per day from arbitrage trades, fraction of pool value"),
    "arb_block_frac": ("1", "fraction of blocks holding an arbitrage trade on the pool"),
    "lp_vs_hold": ("1", "end value of the initial LP position over holding its tokens, minus 1"),
    "arb_profit": ("numeraire", "arbitrage profit on the pool, gross of gas"),
    "fees": ("numeraire", "LP fee income"),
    "lvr": ("numeraire", "loss-versus-rebalancing"),
    "volume": ("numeraire", "traded volume (input side at the reference price)"),
    "n_trades": ("1", "number of trades"),
    "price_ratio": ("1", "reference price at the end over at the start of accounting"),
}
AGENT_METRICS: dict[str, tuple[str, str]] = {
    "pnl": ("numeraire", "agent P&L net of gas, trades marked at the block's reference price"),
    "gas": ("numeraire", "gas spent by the agent"),
    "n_tx": ("1", "transactions sent by the agent"),
    "expected_edge": (
        "numeraire",
        "informed option trader: expected edge over fees and gas of its trades, at trade time",
    ),
    "option_trades": ("1", "informed option trader: positions opened"),
}
WORLD_METRICS: dict[str, tuple[str, str]] = {
    "days": ("day", "accounted simulated time"),
    "gas_spent": ("numeraire", "gas spent by all agents and oracle updates"),
}

# columns 'perp.<market>.<suffix>' (sim.venues.perp.venue)
PERP_METRICS: dict[str, tuple[str, str]] = {
    "liquidations": ("1", "liquidations"),
    "liquidation_volume": ("numeraire", "notional liquidated, at the mark"),
    "deficit": ("numeraire", "equity below zero at liquidation: loss beyond margin, on the fund"),
    "liquidation_rewards": ("numeraire", "rewards paid to liquidators"),
    "insurance_fund": ("numeraire", "insurance fund at the end"),
    "fund_change": ("numeraire", "insurance fund minus bad debt at the end, minus the seed"),
    "bad_debt": ("numeraire", "payments the fund could not make, at the end"),
    "identity_error": (
        "numeraire",
        "token balance minus (sum of margins + fund - bad debt); 0 when the books balance",
    ),
    "net_assets": (
        "numeraire",
        "token balance minus every account's positive equity at the end mark (>= 0: solvent)",
    ),
    "solvent": ("1", "1 where net_assets >= 0 and no bad debt"),
    "funding_paid": ("numeraire", "funding paid by all accounts (> 0: paid into the market)"),
    "fees": ("numeraire", "taker fees paid"),
    "volume": ("numeraire", "traded notional at fill prices"),
    "trades": ("1", "successful modifyPosition calls"),
    "open_interest": ("base", "long plus short open interest at the end"),
}
# columns 'keeper.<name>.<suffix>' (sim.agents.keeper)
KEEPER_METRICS: dict[str, tuple[str, str]] = {
    "pnl": ("numeraire", "hedged P&L: inventory value change + hedge P&L - gas"),
    "inventory_pnl": ("numeraire", "inventory value change (LP share and options)"),
    "hedge_pnl": ("numeraire", "hedge P&L net of fees, impact and funding"),
    "cost": ("numeraire", "hedging cost: fees + impact + gas + funding"),
    "fees": ("numeraire", "venue fees paid by the hedge trades"),
    "impact": ("numeraire", "fills against the mark (perp) or the reference price (pool)"),
    "gas": ("numeraire", "gas of the hedge trades"),
    "funding": ("numeraire", "funding paid on the perp hedge (> 0: paid)"),
    "n_trades": ("1", "hedge trades"),
    "failed_trades": ("1", "hedge trades the venue refused (margin, caps, stale oracle)"),
    "max_abs_net_delta": ("base", "largest |net delta| after the keeper's turn in a block"),
    "band_outside_frac": ("1", "fraction of blocks whose net delta was outside the band"),
}
# columns 'keeper.<name>.<suffix>' of a keeper managing a V3 position (sim.agents.keeper_range)
KEEPER_RANGE_METRICS: dict[str, tuple[str, str]] = {
    "lp_fees": ("numeraire", "fees the keeper's V3 position earned, at the reference price"),
    "lp_lvr": ("numeraire", "loss-versus-rebalancing of the keeper's V3 position's tokens"),
    "lp_value": ("numeraire", "the V3 position's tokens, fees owed and idle tokens at the end"),
    "time_in_range": ("1", "fraction of accounted time the pool price was in the keeper's range"),
    "rebalance_cost": ("numeraire", "range moves' cost: gas + the swaps' fees and impact"),
    "rebalance_gas": ("numeraire", "gas of the range moves (decrease, collect, swap, mint)"),
    "rebalance_fees": ("numeraire", "pool fees paid by the range moves' swaps"),
    "rebalance_impact": ("numeraire", "the range moves' swaps filled against the reference price"),
    "n_rebalances": ("1", "range moves made"),
    "rebalances_blocked": ("1", "blocks where a due range move was refused by the guards"),
}
# columns 'options.<pool>.<suffix>' (sim.venues.options.venue)
OPTIONS_METRICS: dict[str, tuple[str, str]] = {
    "premium": (
        "numeraire",
        "option value the pool sold net of what it bought, fees excluded (premium income)",
    ),
    "fees": ("numeraire", "fees the pool charged (option price, spot and vega-utilisation fees)"),
    "payoffs": (
        "numeraire",
        "settlement: payoffs received from traders' shorts minus payoffs owed to their longs",
    ),
    "book_mark_change": (
        "numeraire",
        "change of the live option book's mark (at the oracle and the pool's IVs)",
    ),
    "nav_change": ("numeraire", "NAV at the end minus at the start of accounting"),
    "split_error": (
        "numeraire",
        "nav_change - (premium + fees + payoffs + book_mark_change); 0 when the books balance",
    ),
    "hedge_pnl": ("numeraire", "P&L of the keepers hedging the pool, net of costs and gas"),
    "lp_pnl": ("numeraire", "LPs' P&L: nav_change + hedge_pnl"),
    "lp_return": ("1", "lp_pnl over the NAV at the start of accounting"),
    "nav": ("numeraire", "NAV at the end (balance + live book at the oracle)"),
    "delta": ("base", "the pool's net delta at the end (its book, long counts +)"),
    "gamma": ("1/quote", "the pool's net gamma at the end, base per quote"),
    "vega": ("numeraire", "the pool's net vega at the end, per 1.0 of vol"),
    "theta": ("numeraire/year", "the pool's net theta at the end, per year of calendar time"),
    "utilisation": ("1", "locked collateral over the pool's assets at the end"),
    "volume": ("numeraire", "traded notional, options x spot"),
    "trades_buy_call": ("1", "trades in which a trader bought calls (open long or close short)"),
    "trades_sell_call": ("1", "trades in which a trader sold calls"),
    "trades_buy_put": ("1", "trades in which a trader bought puts"),
    "trades_sell_put": ("1", "trades in which a trader sold puts"),
    "refused": ("1", "trades the pool refused (delta, IV or liquidity bounds, stale oracle)"),
    "settlements": ("1", "boards settled"),
}
# columns 'v3.<pool>.<suffix>' (the pool: POOL_METRICS' suffixes), 'v3.<pool>.<position>.
# <suffix>' and 'v3.<pool>.lp.<agent>.<suffix>' (sim.venues.univ3.engine)
V3_METRICS: dict[str, tuple[str, str]] = {
    **POOL_METRICS,
    "fees": ("numeraire", "fee income, each fee at the reference price when earned"),
    "lvr": ("numeraire", "loss-versus-rebalancing of the position's tokens"),
    "fee_rate": ("1/day", "fee income per day, fraction of the position's value"),
    "lvr_rate": ("1/day", "LVR per day, fraction of the position's value"),
    "il": ("1", "impermanent loss: position's tokens over holding them at the start, minus 1"),
    "lp_vs_hold": ("1", "position's tokens plus fees earned over holding, minus 1"),
    "time_in_range": ("1", "fraction of accounted time the pool price was inside the range"),
    "value": ("numeraire", "the position's tokens at the end, at the reference price"),
    "positions": ("1", "positions the LP agent opened"),
}
# columns 'oracle_perp.<venue>.<suffix>' (sim.venues.oracle_perp.batch)
ORACLE_PERP_METRICS: dict[str, tuple[str, str]] = {
    "lvr": ("numeraire", "takers' fills against the reference price, plus fees: the LPs' LVR"),
    "fees": ("numeraire", "taker fees the perp's LPs earned"),
    "loss": ("numeraire", "the perp's LPs: LVR minus fees (what oracle latency costs them)"),
    "volume": ("numeraire", "takers' input at the reference price"),
    "n_trades": ("1", "fills"),
}
# columns 'graph_arb.<name>.<suffix>' (sim.agents.graph_arb), per day of accounted time
GRAPH_ARB_METRICS: dict[str, tuple[str, str]] = {
    "volume": ("numeraire/day", "volume sold into pools, perps and forwards, at reference"),
    "profit": ("numeraire/day", "arbitrage profit net of gas, at reference prices"),
    "gross": ("numeraire/day", "arbitrage profit before gas"),
    "gas": ("numeraire/day", "gas paid"),
    "lvr": ("numeraire/day", "pools' LVR from its trades"),
    "fees": ("numeraire/day", "fees the pools' LPs earned from its trades"),
    "lp_loss": ("numeraire/day", "pools' LPs: LVR minus fees"),
    "perp_lvr": ("numeraire/day", "oracle perps' LVR from its trades"),
    "perp_fees": ("numeraire/day", "fees the oracle perps earned from its trades"),
    "perp_loss": ("numeraire/day", "oracle perps' LPs: LVR minus fees"),
    "options_volume": ("numeraire/day", "volume sold into the options pool's forwards"),
    "options_profit": ("numeraire/day", "profit net of gas of the cycles through a forward"),
    "options_lvr": ("numeraire/day", "options LPs' loss against the reference, before fees"),
    "options_fees": ("numeraire/day", "fees the options pool charged on its forwards"),
    "options_loss": ("numeraire/day", "options LPs: LVR minus fees"),
    "options_cycles": ("1/day", "cycles through a forward"),
    "cex_fees": ("numeraire/day", "fees paid on the reference-market legs"),
    "cycles": ("1/day", "cycles executed"),
    "hops": ("1", "mean hops per executed cycle (worlds with a cycle)"),
    "block_frac": ("1", "fraction of blocks with at least one cycle"),
    "plan_error": ("numeraire", "largest |executed - planned| gross profit of a cycle"),
    "identity_error": (
        "numeraire",
        "gross profit - (LVR - fees of every venue - reference fees); 0 when the books balance",
    ),
}
CROSS_WORLD_METRICS: dict[str, tuple[str, str]] = {
    "pnl_std": ("numeraire", "standard deviation of the hedged P&L across worlds"),
    "pnl_cvar95": ("numeraire", "mean hedged P&L of the worst 5 % of worlds (CVaR 95 %)"),
}


@dataclass
class PoolBook:
    """Accumulators for one pool, each shape (N,)."""

    n: int
    lvr_frac: np.ndarray = field(init=False)
    lvr_arb_frac: np.ndarray = field(init=False)
    fee_frac: np.ndarray = field(init=False)
    fee_arb_frac: np.ndarray = field(init=False)
    arb_frac: np.ndarray = field(init=False)
    lvr: np.ndarray = field(init=False)
    fees: np.ndarray = field(init=False)
    arb_profit: np.ndarray = field(init=False)
    volume: np.ndarray = field(init=False)
    n_trades: np.ndarray = field(init=False)
    arb_blocks: np.ndarray = field(init=False)
    arb_now: np.ndarray = field(init=False)
    # start-of-accounting snapshot for LP vs hold
    shares0: np.ndarray = field(init=False)
    supply0: np.ndarray = field(init=False)
    hold_x: np.ndarray = field(init=False)
    hold_y: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        for name in [
            "lvr_frac",
            "lvr_arb_frac",
            "fee_frac",
            "fee_arb_frac",
            "arb_frac",
            "lvr",
            "fees",
            "arb_profit",
            "volume",
            "n_trades",
            "arb_blocks",
            "shares0",
            "supply0",
            "hold_x",
            "hold_y",
        ]:
            setattr(self, name, np.zeros(self.n))
        self.arb_now = np.zeros(self.n, dtype=np.bool_)


class Ledger:
    """All per-world accounting of one batch."""

    def __init__(
        self,
        n: int,
        pools: dict[str, CpmmBatch],
        agents: list[str],
        feeds: list[str],
        prices: Callable[[str], np.ndarray] | None = None,
    ):
        self.n = n
        self.pools = pools
        self.prices = prices
        """`prices(token)`: a token's reference price now, (N,), for pools on other pairs
        than the risky asset against the numeraire (a multi-asset process); else None."""
        self.pair0: dict[str, np.ndarray] = {}
        self.books = {name: PoolBook(n) for name in pools}
        self.agent_pnl = {a: np.zeros(n) for a in agents}
        self.agent_gas = {a: np.zeros(n) for a in agents}
        self.agent_tx = {a: np.zeros(n) for a in agents}
        self.oracle_updates = {f: np.zeros(n) for f in feeds}
        self.oracle_gas = np.zeros(n)
        self.seconds = np.zeros(n)
        self.blocks = 0
        self.price0 = np.ones(n)
        self.active = False

    def start(self, ref_price: np.ndarray) -> None:
        """Start accounting now: zero everything and snapshot LP positions and hold baselines."""
        self.__init__(
            self.n, self.pools, list(self.agent_pnl), list(self.oracle_updates), self.prices
        )
        self.active = True
        self.price0 = ref_price.copy()
        for name, pool in self.pools.items():
            b = self.books[name]
            b.shares0 = pool.shares.copy()
            b.supply0 = pool.shares.copy()
            b.hold_x = pool.x + pool.fees_x
            b.hold_y = pool.y + pool.fees_y
            pair = self._pair(name)
            if pair is not None:
                self.pair0[name] = pair[0] / pair[1]

    def _pair(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(token 0, token 1) reference prices of a pool on another pair than the risky asset
        against the numeraire; None for that pair (priced by `ref` and 1)."""
        tokens = getattr(self.pools[name], "tokens", None)
        if tokens is None:
            return None
        assert self.prices is not None, "a pool on other tokens needs a multi-asset process"
        return self.prices(tokens[0]), self.prices(tokens[1])

    def swap(
        self,
        pool_name: str,
        agent: str,
        ref: np.ndarray,
        dx: np.ndarray,
        dy: np.ndarray,
        fee_x: np.ndarray,
        fee_y: np.ndarray,
        is_arb: bool,
    ) -> np.ndarray:
        """Book trades on a pool (zeros where a world did not trade); returns trader P&L (N,).

        Args:
            dx, dy: everything the pool received (negative: paid out), fees included.
            fee_x, fee_y: the fee part of the input, in its token.
        """
        pnl = -(ref * dx + dy)
        if not self.active:
            return pnl
        pool = self.pools[pool_name]
        b = self.books[pool_name]
        fee = ref * fee_x + fee_y
        lvr = pnl + fee
        traded = (dx != 0) | (dy != 0)
        v = pool.value(ref)
        b.lvr += lvr
        b.fees += fee
        b.lvr_frac += lvr / v
        b.fee_frac += fee / v
        b.volume += np.where(dx > 0, dx * ref, np.maximum(dy, 0.0))
        b.n_trades += traded
        if is_arb:
            b.lvr_arb_frac += lvr / v
            b.fee_arb_frac += fee / v
            b.arb_frac += pnl / v
            b.arb_profit += pnl
            b.arb_now |= traded
        self.agent_pnl[agent] += pnl
        return pnl

    def gas(self, agent: str, cost: np.ndarray, mask: np.ndarray) -> None:
        """Charge gas `cost` (N,) to `agent` where `mask`."""
        if not self.active:
            return
        _book_gas(
            self.agent_gas[agent],
            self.agent_pnl[agent],
            self.agent_tx[agent],
            np.broadcast_to(np.asarray(cost, dtype=np.float64), mask.shape),
            np.asarray(mask, dtype=np.bool_),
        )

    def pnl(self, agent: str, amount: np.ndarray) -> None:
        """Book P&L that is not a pool swap (venue fills, LP marks)."""
        if self.active:
            self.agent_pnl[agent] += amount

    def end_block(self, dt: np.ndarray) -> None:
        """Close a block: count arbitrage blocks and time."""
        if not self.active:
            return
        self.blocks += 1
        self.seconds += dt
        for b in self.books.values():
            b.arb_blocks += b.arb_now
            b.arb_now[:] = False

    def lp_vs_hold(self, name: str, ref: np.ndarray) -> np.ndarray:
        """Current value of the initial LP shares over holding their tokens, minus 1, (N,)."""
        pool = self.pools[name]
        b = self.books[name]
        pair = self._pair(name)
        if pair is not None:
            p0, p1 = pair
            lp = b.shares0 / pool.shares * pool.value(p0, p1)
            hold = b.shares0 / b.supply0 * (b.hold_x * p0 + b.hold_y * p1)
            return lp / hold - 1.0
        lp = b.shares0 / pool.shares * pool.value(ref)
        hold = b.shares0 / b.supply0 * (b.hold_x * ref + b.hold_y)
        return lp / hold - 1.0

    def world_table(self, ref: np.ndarray, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-world metrics as named columns (N,) each."""
        days = self.seconds / DAY
        safe_days = np.where(days > 0, days, np.nan)
        out: dict[str, np.ndarray] = {"days": days}
        for name, b in self.books.items():
            out[f"{name}.arb_profit_rate"] = b.arb_frac / safe_days
            out[f"{name}.fee_rate"] = b.fee_frac / safe_days
            out[f"{name}.arb_fee_rate"] = b.fee_arb_frac / safe_days
            out[f"{name}.lvr_rate"] = b.lvr_frac / safe_days
            out[f"{name}.lvr_arb_rate"] = b.lvr_arb_frac / safe_days
            out[f"{name}.arb_block_frac"] = b.arb_blocks / max(self.blocks, 1)
            out[f"{name}.lp_vs_hold"] = self.lp_vs_hold(name, ref)
            out[f"{name}.arb_profit"] = b.arb_profit
            out[f"{name}.fees"] = b.fees
            out[f"{name}.lvr"] = b.lvr
            out[f"{name}.volume"] = b.volume
            out[f"{name}.n_trades"] = b.n_trades
            pair = self._pair(name)
            if pair is None:
                out[f"{name}.price_ratio"] = ref / self.price0
            else:  # token 0's price in token 1 at the end over at the start
                out[f"{name}.price_ratio"] = pair[0] / pair[1] / self.pair0[name]
        gas = self.oracle_gas.copy()
        for a in self.agent_pnl:
            out[f"agent.{a}.pnl"] = self.agent_pnl[a]
            out[f"agent.{a}.gas"] = self.agent_gas[a]
            out[f"agent.{a}.n_tx"] = self.agent_tx[a]
            gas += self.agent_gas[a]
        for f, cnt in self.oracle_updates.items():
            out[f"oracle.{f}.updates"] = cnt
        out["gas_spent"] = gas
        out.update(extra)
        return out


@njit(cache=True, nogil=True)
def _book_gas(gas, pnl, tx, cost, mask):
    # One pass instead of four numpy passes: called a dozen times per block.
    for i in range(mask.shape[0]):
        if mask[i]:
            gas[i] += cost[i]
            pnl[i] -= cost[i]
            tx[i] += 1.0


def metric_unit(column: str) -> tuple[str, str]:
    """(unit, description) of a world-table column."""
    if column in WORLD_METRICS:
        return WORLD_METRICS[column]
    parts = column.split(".")
    suffix = parts[-1]
    if parts[0] == "agent" and suffix in AGENT_METRICS:
        return AGENT_METRICS[suffix]
    if parts[0] == "oracle":
        return "1", "oracle answer updates landed"
    if parts[0] == "venue":
        return "numeraire", "venue LP P&L against the reference price"
    if parts[0] == "perp":
        return PERP_METRICS.get(suffix, ("", ""))
    if parts[0] == "options":
        return OPTIONS_METRICS.get(suffix, ("", ""))
    if parts[0] == "v3":
        if len(parts) == 3 and suffix in POOL_METRICS:
            return POOL_METRICS[suffix]
        return V3_METRICS.get(suffix, ("", ""))
    if parts[0] == "oracle_perp":
        return ORACLE_PERP_METRICS.get(suffix, ("", ""))
    if parts[0] == "graph_arb":
        return GRAPH_ARB_METRICS.get(suffix, ("", ""))
    if parts[0] == "keeper":
        return (
            KEEPER_METRICS.get(suffix)
            or KEEPER_RANGE_METRICS.get(suffix)
            or CROSS_WORLD_METRICS.get(suffix, ("", ""))
        )
    return POOL_METRICS.get(suffix, ("", ""))


def summarise(columns: dict[str, np.ndarray]) -> dict[str, dict[str, float | str | int]]:
    """Mean, standard error (sample sd / sqrt(n)) and unit of every metric over the worlds
    (`sim.stats.summarise_worlds`).

    NaN worlds (e.g. no accounted time) are left out; `n` counts the others.
    """
    out: dict[str, dict[str, float | str | int]] = {}
    for name in sorted(columns):
        unit, desc = metric_unit(name)
        out[name] = {**summarise_worlds(columns[name]), "unit": unit, "description": desc}
    return out


class MetricsConfig(ConfigModel):
    """What to record."""

    warmup_blocks: int = Field(0, ge=0)
    """Blocks run before accounting starts (lets the mispricing reach its stationary law)."""
    series_every: int | None = Field(None, ge=1)
    """Record per-block series every k blocks (None = per-world summaries only)."""
    chunk_worlds: int = Field(50_000, ge=1)
    """Worlds stepped together; larger batches run in chunks of this size to bound memory."""
