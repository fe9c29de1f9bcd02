"""Vectorised float twin of `contracts/PerpMarket.vy` for the fast engine: many worlds at once.

`PerpBatch` holds one market per world and a fixed set of accounts per world as numpy
arrays; each operation acts on one account index across all worlds, with per-world
arguments. A world where the contract would revert is left unchanged and reported ``False``
in the returned mask, so agents can act on the whole batch without branching.

It follows `sim.venues.perp.twin.PerpMarket` (the exact integer twin) formula for formula, in float64
and natural units, without the integer rounding: on random sequences it agrees with the
integer twin to a relative error below 1e-9 (tests/sim/test_perp_twin.py), except in worlds
where a check sits within that tolerance of its threshold.

Not modelled (the engine owns them): oracle staleness and validity (prices are passed in),
the parameter setters, ownership and token balances other than the market's.

Units: sizes in base units (1.0 = one unit of the asset, signed, > 0 long); prices in quote
per base unit; margins, fees, rewards, the insurance fund and bad debt in quote units
(1.0 = one USD, not token base units); the funding index in quote per unit of size; rates
per day; times in seconds.

Shapes: ``W`` worlds, ``A`` accounts. Per-account state is ``(W, A)``, market state
``(W,)``; an operation's arguments are scalars or ``(W,)`` arrays (broadcast).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.venues.perp.twin import BPS, DAY, WAD, PerpParams


@dataclass(frozen=True)
class VecParams:
    """`PerpParams` in natural float units.

    Attributes:
        skew_scale: base units.
        taker_fee: fraction of notional (bps / 1e4).
        max_funding_rate: per day.
        initial_margin: fraction of notional.
        maintenance_margin: fraction of notional.
        liquidation_reward: fraction of notional.
        liquidation_reward_cap: quote units.
        max_open_interest: base units, per side.
        max_position_size: base units.
    """

    skew_scale: float
    taker_fee: float
    max_funding_rate: float
    initial_margin: float
    maintenance_margin: float
    liquidation_reward: float
    liquidation_reward_cap: float
    max_open_interest: float
    max_position_size: float

    @classmethod
    def from_params(cls, params: PerpParams, quote_decimals: int = 6) -> VecParams:
        quote = 10**quote_decimals
        return cls(
            skew_scale=params.skew_scale / WAD,
            taker_fee=params.taker_fee_bps / BPS,
            max_funding_rate=params.max_funding_rate / WAD,
            initial_margin=params.initial_margin_bps / BPS,
            maintenance_margin=params.maintenance_margin_bps / BPS,
            liquidation_reward=params.liquidation_reward_bps / BPS,
            liquidation_reward_cap=params.liquidation_reward_cap / quote,
            max_open_interest=params.max_open_interest / WAD,
            max_position_size=params.max_position_size / WAD,
        )


class PerpBatch:
    """`W` independent perp markets with `A` accounts each.

    Attributes:
        p: parameters (shared by all worlds).
        size, margin, last_price, last_index: ``(W, A)`` per-account position.
        long_oi, short_oi: ``(W,)`` open interest, base units.
        index: ``(W,)`` funding index, quote per unit; last_time ``(W,)`` seconds.
        total_margin, fund, bad_debt, balance: ``(W,)`` quote units (`balance` is the
            market's token balance).
    """

    def __init__(self, n_worlds: int, n_accounts: int, params: VecParams, start_time=0.0):
        self.p = params
        shape = (n_worlds, n_accounts)
        self.size = np.zeros(shape)
        self.margin = np.zeros(shape)
        self.last_price = np.zeros(shape)
        self.last_index = np.zeros(shape)
        self.long_oi = np.zeros(n_worlds)
        self.short_oi = np.zeros(n_worlds)
        self.index = np.zeros(n_worlds)
        self.last_time = np.full(n_worlds, float(start_time))
        self.total_margin = np.zeros(n_worlds)
        self.fund = np.zeros(n_worlds)
        self.bad_debt = np.zeros(n_worlds)
        self.balance = np.zeros(n_worlds)

    @property
    def n_worlds(self) -> int:
        return self.size.shape[0]

    def _w(self, x) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (self.n_worlds,))

    # -- views -----------------------------------------------------------------------------

    @property
    def skew(self) -> np.ndarray:
        """``(W,)`` long minus short open interest."""
        return self.long_oi - self.short_oi

    def funding_rate(self) -> np.ndarray:
        """``(W,)`` per day: clip(skew / skew_scale, -1, 1) * max_funding_rate."""
        cap = self.p.max_funding_rate
        return np.clip(self.skew * cap / self.p.skew_scale, -cap, cap)

    def index_at(self, price, t) -> np.ndarray:
        """``(W,)`` funding index including the funding not yet recorded at time `t`."""
        return (
            self.index + self.funding_rate() * self._w(price) * (self._w(t) - self.last_time) / DAY
        )

    def fill_price(self, price, size) -> np.ndarray:
        """``(W,)`` oracle * (1 + (skew + size / 2) / skew_scale)."""
        price = self._w(price)
        return price + price * (2 * self.skew + self._w(size)) / (2 * self.p.skew_scale)

    def equity(self, price, t) -> np.ndarray:
        """``(W, A)`` margin + unrealised P&L - accrued funding, quote units."""
        price = self._w(price)
        index = self.index_at(price, t)
        return self.margin + self.size * (
            price[:, None] - self.last_price - (index[:, None] - self.last_index)
        )

    def _requirement(self, size, price, ratio) -> np.ndarray:
        return np.abs(size) * price * ratio

    # -- transitions -----------------------------------------------------------------------

    def _fund_apply(self, amount: np.ndarray) -> None:
        inflow = np.maximum(amount, 0.0)
        repaid = np.minimum(inflow, self.bad_debt)
        outflow = np.maximum(-amount, 0.0)
        paid = np.minimum(outflow, self.fund)
        self.bad_debt += outflow - paid - repaid
        self.fund += inflow - repaid - paid

    def deposit(self, a: int, amount) -> np.ndarray:
        """Deposit `amount` ``(W,)`` into account `a`'s margin. Returns the ok mask."""
        amount = self._w(amount)
        ok = amount > 0
        add = np.where(ok, amount, 0.0)
        self.margin[:, a] += add
        self.total_margin += add
        self.balance += add
        return ok

    def fund_insurance(self, amount) -> np.ndarray:
        """Add `amount` ``(W,)`` to the insurance fund (repaying bad debt first)."""
        amount = self._w(amount)
        ok = amount > 0
        add = np.where(ok, amount, 0.0)
        self._fund_apply(add)
        self.balance += add
        return ok

    def withdraw(self, a: int, amount, price, t) -> np.ndarray:
        """Withdraw `amount` of account `a`'s margin if the initial margin stays covered."""
        amount, price = self._w(amount), self._w(price)
        size = self.size[:, a]
        index = self.index_at(price, t)
        equity = self.margin[:, a] + size * (
            price - self.last_price[:, a] - (index - self.last_index[:, a])
        )
        ok = (amount > 0) & (amount <= self.margin[:, a]) & (amount <= self.balance)
        ok &= (size == 0) | (
            equity - amount >= self._requirement(size, price, self.p.initial_margin)
        )
        sub = np.where(ok, amount, 0.0)
        self.margin[:, a] -= sub
        self.total_margin -= sub
        self.balance -= sub
        return ok

    def _accrue(self, price, t, mask) -> np.ndarray:
        index = self.index_at(price, t)
        self.index = np.where(mask, index, self.index)
        self.last_time = np.where(mask, self._w(t), self.last_time)
        return index

    def modify(self, a: int, delta, price, t, acceptable=None) -> tuple[np.ndarray, np.ndarray]:
        """Trade `delta` ``(W,)`` for account `a` at the skew-adjusted fill price.

        Args:
            a: account index.
            delta: signed size per world (0 means no trade there).
            price: oracle price per world.
            t: block time, seconds.
            acceptable: worst fill price per world (None: no bound).

        Returns:
            ``(ok, fill)``, both ``(W,)``; `fill` is NaN where not ok.
        """
        p = self.p
        delta, price = self._w(delta), self._w(price)
        index = self.index_at(price, t)
        old = self.size[:, a]
        new = old + delta
        increasing = (np.abs(new) > np.abs(old)) | (old * new < 0)
        long_oi = self.long_oi - np.maximum(old, 0) + np.maximum(new, 0)
        short_oi = self.short_oi - np.maximum(-old, 0) + np.maximum(-new, 0)
        fill = self.fill_price(price, delta)
        fee = np.abs(delta) * fill * p.taker_fee
        realised = old * (fill - self.last_price[:, a] - (index - self.last_index[:, a]))
        margin = self.margin[:, a] + realised - fee
        ratio = np.where(increasing, p.initial_margin, p.maintenance_margin)
        ok = delta != 0
        ok &= ~increasing | (np.abs(new) <= p.max_position_size)
        ok &= (long_oi <= p.max_open_interest) | (long_oi <= self.long_oi)
        ok &= (short_oi <= p.max_open_interest) | (short_oi <= self.short_oi)
        ok &= fill > 0
        if acceptable is not None:
            acceptable = self._w(acceptable)
            ok &= np.where(delta > 0, fill <= acceptable, fill >= acceptable)
        ok &= margin >= 0
        ok &= (new == 0) | (margin >= self._requirement(new, price, ratio))

        self._accrue(price, t, ok)
        old_margin = self.margin[:, a].copy()
        self.size[:, a] = np.where(ok, new, old)
        self.margin[:, a] = np.where(ok, margin, old_margin)
        self.last_price[:, a] = np.where(ok, fill, self.last_price[:, a])
        self.last_index[:, a] = np.where(ok, index, self.last_index[:, a])
        self.long_oi = np.where(ok, long_oi, self.long_oi)
        self.short_oi = np.where(ok, short_oi, self.short_oi)
        self.total_margin += np.where(ok, margin - old_margin, 0.0)
        self._fund_apply(np.where(ok, fee - realised, 0.0))
        return ok, np.where(ok, fill, np.nan)

    def liquidate(self, a: int, price, t, where=None) -> tuple[np.ndarray, np.ndarray]:
        """Liquidate account `a` where its equity is below the maintenance margin.

        Args:
            a: account index.
            price: oracle price per world.
            t: block time, seconds.
            where: ``(W,)`` bool, the worlds that try (None: all).

        Returns:
            ``(ok, reward)``, both ``(W,)``: the reward is paid out of the market.
        """
        p = self.p
        price = self._w(price)
        index = self.index_at(price, t)
        size = self.size[:, a].copy()
        margin = self.margin[:, a].copy()
        equity = margin + size * (price - self.last_price[:, a] - (index - self.last_index[:, a]))
        notional = np.abs(size) * price
        ok = (size != 0) & (equity < notional * p.maintenance_margin)
        if where is not None:
            ok &= np.asarray(where, dtype=bool)
        reward = np.minimum(
            np.minimum(notional * p.liquidation_reward, p.liquidation_reward_cap),
            np.maximum(equity, 0.0),
        )
        ok &= reward <= self.balance
        reward = np.where(ok, reward, 0.0)
        self._accrue(price, t, ok)
        self.long_oi -= np.where(ok, np.maximum(size, 0), 0.0)
        self.short_oi -= np.where(ok, np.maximum(-size, 0), 0.0)
        for arr in (self.size, self.margin, self.last_price, self.last_index):
            arr[:, a] = np.where(ok, 0.0, arr[:, a])
        self.total_margin -= np.where(ok, margin, 0.0)
        self._fund_apply(np.where(ok, margin - reward, 0.0))
        self.balance -= reward
        return ok, reward
