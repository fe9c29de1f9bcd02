"""Replaying one pulled pool's flow exactly, at its own or another fee, block time, with or
without an added arbitrageur: the counterfactual backtest on the integer twins.

`replay(history, address, ...)` applies every recorded call of a V2 pair (`sim.history.v2`) or
V3 pool (`sim.history.v3`) to a replica that must reproduce the chain (checked at every call)
and to the counterfactual pool by the call's intent. Block time: None keeps the chain's
blocks; a number groups the calls into simulated blocks of that many seconds from the time
origin (`History.time_origin`), each call stamped with its block's time (the pair's TWAP
accrues at those times). The arbitrageur trades at the top of every simulated block, against
the reference price, to the edge of the pool's fee band (V2: the closed form of
`sim.venues.cpmm.batch.optimal_arb_input`; V3: an exact-input swap limited at the band's
edge), when that trade gains at the reference price.

Metrics follow `sim.engine.ledger`: each swap split at the reference price P of its time into
the trader's P&L −(P·dx + dy), the LP fee P·fee_x + fee_y and LVR = P&L + fee, where dx, dy
are what the pool received of the risky asset and the numeraire (human units) and the fee is
the fee rate times the input (V3: the swap loop rounds it up per step; this is within a unit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.errors import Revert
from sim.history import v2, v3
from sim.history.schema import V2, V3
from sim.history.store import History, HistoryError
from sim.venues.cpmm.batch import optimal_arb_input
from sim.venues.cpmm.twin import get_amount_out
from sim.venues.univ3.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

ARB_SIZE = 1 << 120
"""Input offered to a V3 arbitrage swap: the price limit, not the amount, ends it."""


@dataclass
class ReplayResult:
    """What a replay gives back.

    Attributes:
        address, kind: the pool replayed (V2 or V3).
        fee: the counterfactual fee (V2 basis points, V3 pips).
        states: (chain block, state of the counterfactual pool after it) for every block
            holding a call, when the chain's blocks are kept (`block_time` None).
        metrics: numeraire sums (fees, lvr, volume, arb_profit, trader_pnl) and counts
            (swaps, refused, arb_trades, calls, blocks); see the module docstring.
    """

    address: str
    kind: str
    fee: int
    states: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def reference_fn(history: History, address: str, risky: str) -> Callable[[float], float]:
    """price(t): the last price of `address` at or before t seconds from the time origin."""
    times, prices = history.price_path(address, risky)

    def at(t: float) -> float:
        return float(prices[max(0, int(np.searchsorted(times, t, side="right")) - 1)])

    return at


class _Book:
    """The metric sums of one replay."""

    def __init__(self, side: int, decimals: tuple[int, int]):
        self.side = side
        self.scale = (10.0 ** decimals[0], 10.0 ** decimals[1])
        self.m = dict.fromkeys(("fees", "lvr", "volume", "arb_profit", "trader_pnl", "swaps",
                                "refused", "arb_trades", "calls", "blocks"), 0.0)  # fmt: skip

    def trade(self, d0: int, d1: int, fee0: float, fee1: float, price: float | None, arb: bool):
        self.m["arb_trades" if arb else "swaps"] += 1
        if price is None:
            return 0.0
        r, n = self.side, 1 - self.side
        d, f = (
            (d0 / self.scale[0], d1 / self.scale[1]),
            (fee0 / self.scale[0], fee1 / self.scale[1]),
        )
        pnl = -(price * d[r] + d[n])
        fee = price * f[r] + f[n]
        self.m["trader_pnl"] += pnl
        self.m["fees"] += fee
        self.m["lvr"] += pnl + fee
        self.m["volume"] += price * d[r] if d[r] > 0 else max(d[n], 0.0)
        if arb:
            self.m["arb_profit"] += pnl
        return pnl


def replay(
    history: History,
    address: str,
    fee: int | None = None,
    block_time: float | None = None,
    reference: str | None = None,
    arbitrage: bool = False,
    risky: str = "auto",
) -> ReplayResult:
    """Replay pool `address` of `history` (see the module docstring).

    Args:
        fee: counterfactual fee, V2 basis points or V3 pips; None keeps the pool's.
        block_time: seconds per simulated block; None keeps the chain's blocks.
        reference: a feed or pool of `history` whose price marks the metrics (and that the
            arbitrageur trades against); None books counts only.
        arbitrage: add the arbitrageur (needs `reference` and `block_time`).
        risky: which token is the risky asset (`History.risky_side`).

    Raises:
        HistoryError: the recorded flow cannot be reproduced, or a bad argument.
    """
    src = history.sources[address]
    kind = src["kind"]
    if arbitrage and (reference is None or block_time is None):
        raise HistoryError("arbitrage needs a reference price and a block time")
    if block_time is not None and not block_time > 0:
        raise HistoryError(f"block_time {block_time}: must be > 0 seconds")
    side = history.risky_side(address, risky)
    ref = reference_fn(history, reference, risky) if reference else None
    book = _Book(side, (src["token0"]["decimals"], src["token1"]["decimals"]))
    if kind == V2:
        pool = _V2(history, address, fee)
    elif kind == V3:
        pool = _V3(history, address, fee)
    else:
        raise HistoryError(f"{address} is a {kind}, not a pool to replay")
    result = ReplayResult(address, kind, pool.fee)
    ts_of = history.timestamps
    t0 = history.time_origin()
    by_block: dict[int, list[Any]] = {}
    for call in pool.calls:
        k = call.block if block_time is None else max(
            1, math.ceil((ts_of[call.block] - t0) / block_time))  # fmt: skip
        by_block.setdefault(k, []).append(call)
    blocks = sorted(by_block) if block_time is None else range(1, max(by_block, default=0) + 1)
    for k in blocks:
        ts = ts_of[k] if block_time is None else t0 + math.ceil(k * block_time)
        price = ref(ts - t0) if ref else None
        if arbitrage:
            pool.arbitrage(price, side, ts, book)
        for call in by_block.get(k, ()):
            got = pool.apply(call, ts_of[call.block], ts)
            book.m["calls"] += 1
            if got is False:
                book.m["refused"] += 1
            elif got is not None:
                book.trade(*got, price, False)
        book.m["blocks"] += 1
        if block_time is None:
            result.states.append((k, pool.state()))
    result.metrics = book.m
    return result


class _V2:
    def __init__(self, history: History, address: str, fee: int | None):
        own = history.sources[address]["fee_bps"]
        self.fee = own if fee is None else int(fee)
        self.replica = v2.initial_pool(history, address, own)
        self.pool = v2.initial_pool(history, address, self.fee)
        self.calls = v2.actions(history, address)
        self.decimals = tuple(history.sources[address][f"token{i}"]["decimals"] for i in (0, 1))

    def apply(self, a: v2.Action, ts_real: int, ts: int):
        how = v2.intent(self.replica, a) if a.kind == "swap" else ""
        before = self.replica.copy()
        v2.apply_recorded(self.replica, a, ts_real)
        got = v2.apply_intent(self.pool, before, a, how, ts)
        if isinstance(got, v2.Trade):
            return got.d0, got.d1, got.fee0, got.fee1
        return got

    def state(self) -> dict[str, int]:
        return v2.state(self.pool)

    def arbitrage(self, price: float, side: int, ts: int, book: _Book) -> None:
        p = self.pool
        if p.reserve0 == 0 or p.reserve1 == 0:
            return
        reserves = (p.reserve0 / 10.0 ** self.decimals[0], p.reserve1 / 10.0 ** self.decimals[1])
        x, y = reserves[side], reserves[1 - side]
        amount, direction = optimal_arb_input(x, y, price, float(self.fee))
        if direction == 0:
            return
        token_in = 1 - side if direction > 0 else side  # +1: numeraire in, risky out
        a_in = int(amount * 10 ** self.decimals[token_in])
        r_in, r_out = (p.reserve0, p.reserve1) if token_in == 0 else (p.reserve1, p.reserve0)
        try:
            a_out = get_amount_out(a_in, r_in, r_out, self.fee)
        except Revert:
            return
        d = (a_in, -a_out) if token_in == 0 else (-a_out, a_in)
        probe = _Book(side, self.decimals)
        if a_out <= 0 or probe.trade(*d, 0.0, 0.0, price, True) <= 0:
            return
        trial = p.copy()
        trial.balance0, trial.balance1 = (
            trial.reserve0 + max(d[0], 0),
            trial.reserve1 + max(d[1], 0),
        )
        try:
            trial.swap(max(-d[0], 0), max(-d[1], 0), v2.TRADER, ts)
        except Revert:
            return
        p.__dict__.update(trial.__dict__)
        fee = self.fee / 10_000
        book.trade(*d, max(d[0], 0) * fee, max(d[1], 0) * fee, price, True)


class _V3:
    def __init__(self, history: History, address: str, fee: int | None):
        src = history.sources[address]
        self.fee = src["fee"] if fee is None else int(fee)
        self.replica = v3.new_pool(history, address)
        self.pool = v3.new_pool(history, address, self.fee)
        self.calls = v3.calls(history, address)
        self.decimals = (src["token0"]["decimals"], src["token1"]["decimals"])

    def apply(self, c: v3.Call, ts_real: int, ts: int):
        how = v3.apply_recorded(self.replica, c, ts_real)
        got = v3.apply_intent(self.pool, c, how, ts)
        if isinstance(got, tuple):
            fee = self.fee / 1e6
            return got[0], got[1], max(got[0], 0) * fee, max(got[1], 0) * fee
        return got

    def state(self) -> dict[str, int]:
        return v3.state(self.pool)

    def arbitrage(self, price: float, side: int, ts: int, book: _Book) -> None:
        p = self.pool
        if p.sqrt_price_x96 == 0 or p.liquidity == 0:
            return
        scale = 10.0 ** (self.decimals[1] - self.decimals[0])
        target = (price if side == 0 else 1.0 / price) * scale  # raw token1 per token0
        now, f = (p.sqrt_price_x96 / 2**96) ** 2, self.fee / 1e6
        if now * (1 - f) > target:
            zero_for_one, edge = True, target / (1 - f)
        elif now < target * (1 - f):
            zero_for_one, edge = False, target * (1 - f)
        else:
            return
        limit = min(max(int(math.sqrt(edge) * 2**96), MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)
        trial = p.copy()
        try:
            d0, d1 = trial.swap(zero_for_one, ARB_SIZE, limit, ts)
        except Revert:
            return
        if _Book(side, self.decimals).trade(d0, d1, 0.0, 0.0, price, True) <= 0:
            return
        p.restore(trial)
        book.trade(d0, d1, max(d0, 0) * f, max(d1, 0) * f, price, True)
