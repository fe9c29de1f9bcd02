"""Block clock, base-fee process, gas costs and in-block ordering."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from sim.config import ConfigModel
from sim.streams import WorldStreams

GWEI = 1e-9


class BlocksConfig(ConfigModel):
    """Block clock."""

    n_blocks: int = Field(7200, ge=1)
    """Blocks per world (7200 x 12 s = one day)."""
    block_time: float = Field(12.0, gt=0)
    """Block time in seconds (the mean when `poisson`)."""
    poisson: bool = False
    """Exponential inter-block times (Poisson block arrivals) instead of a fixed block time."""
    ordering: Literal["arb_first", "fifo", "random"] = "arb_first"
    """In-block order: arbitrageurs first (priority fee), configuration order, or a random order
    drawn per block (shared by every world of the batch)."""


class GasUnits(ConfigModel):
    """Gas units per transaction type."""

    swap: int = Field(110_000, ge=0)
    """Gas units of a swap."""
    mint: int = Field(150_000, ge=0)
    """Gas units of adding liquidity."""
    burn: int = Field(120_000, ge=0)
    """Gas units of removing liquidity."""
    v3_swap: int = Field(105_000, ge=0)
    """Gas units of a Uniswap V3 swap through SwapRouter `exactInputSingle` (anvil: 104,000
    on average, 123,267 at most on scenarios/univ3.yaml)."""
    v3_mint: int = Field(450_000, ge=0)
    """Gas units of opening a V3 position through the NonfungiblePositionManager `mint`
    (anvil: 446,559 on average, new ticks and a new token)."""
    v3_burn: int = Field(220_000, ge=0)
    """Gas units of the manager's `decreaseLiquidity` of a whole position (anvil: 219,300)."""
    v3_collect: int = Field(85_000, ge=0)
    """Gas units of the manager's `collect` of a position's tokens (anvil: 83,466)."""
    oracle_update: int = Field(80_000, ge=0)
    """Gas units of an oracle answer update."""
    perp_trade: int = Field(160_000, ge=0)
    """Gas units of a perp `modifyPosition` (anvil: open 157,447, see README)."""
    perp_margin: int = Field(85_000, ge=0)
    """Gas units of a perp `depositMargin` or `withdrawMargin` (anvil: <= 85,108)."""
    perp_liquidate: int = Field(85_000, ge=0)
    """Gas units of a perp `liquidate` (anvil: 84,104 after a 30 % gap)."""
    option_trade: int = Field(220_000, ge=0)
    """Gas units of an options pool `openPosition` / `closePosition` (anvil: 160,150 to
    221,933, see README)."""
    option_claim: int = Field(82_000, ge=0)
    """Gas units of an options pool `claim` after settlement (anvil: 81,576)."""


class GasConfig(ConfigModel):
    """Base fee process and gas costs."""

    base_fee_gwei: float = Field(10.0, ge=0)
    """Initial (and long-run) base fee, gwei."""
    base_fee_vol: float = Field(0.0, ge=0)
    """Per-block standard deviation of the log base fee (0 = constant base fee)."""
    base_fee_reversion: float = Field(0.05, ge=0, le=1)
    """Per-block pull of the log base fee back to its long-run value (EIP-1559-like walk)."""
    priority_fee_gwei: float = Field(0.0, ge=0)
    """Priority fee paid by every transaction, gwei."""
    native_price: float | None = Field(None, gt=0)
    """Gas token price in numeraire; None means the risky asset is the gas token."""
    units: GasUnits = GasUnits()
    """Gas units per transaction type."""


class BlockClock:
    """Per-world block times: fixed, or exponential inter-block times (Poisson arrivals).

    Shape:
        time, dt: (N,) seconds.
    """

    def __init__(self, cfg: BlocksConfig, n: int, streams: WorldStreams):
        self.cfg = cfg
        self.streams = streams
        self.time = np.zeros(n)
        self.dt = np.full(n, cfg.block_time)

    def step(self) -> np.ndarray:
        """Advance one block; returns dt (N,)."""
        if self.cfg.poisson:
            self.dt = -np.log(self.streams.uniform()) * self.cfg.block_time
        self.time = self.time + self.dt
        return self.dt


class BaseFee:
    """EIP-1559-like base fee: a mean-reverting random walk of the log base fee.

    ln b(t+1) = ln b(t) + r (ln b* - ln b(t)) + s Z, with b* the configured base fee, r the
    per-block reversion and s the per-block volatility; s = 0 gives a constant base fee.

    Shape:
        gwei: (N,)
    """

    def __init__(self, cfg: GasConfig, n: int, streams: WorldStreams):
        self.cfg = cfg
        self.streams = streams
        self.gwei = np.full(n, cfg.base_fee_gwei)
        self._log_target = math.log(max(cfg.base_fee_gwei, 1e-12))

    def step(self) -> np.ndarray:
        """Advance one block; returns the base fee in gwei (N,)."""
        if self.cfg.base_fee_vol > 0:
            lb = np.log(self.gwei)
            lb += self.cfg.base_fee_reversion * (self._log_target - lb)
            lb += self.cfg.base_fee_vol * self.streams.normal()
            self.gwei = np.exp(lb)
        return self.gwei


def gas_cost(
    units: float, base_fee_gwei: np.ndarray, cfg: GasConfig, ref_price: np.ndarray
) -> np.ndarray:
    """Cost of `units` gas in numeraire, shape (N,).

    units * (base fee + priority fee) gwei * 1e-9 * gas-token price; the gas token is the
    risky asset (priced at the reference price) unless `native_price` is set.
    """
    native = ref_price if cfg.native_price is None else cfg.native_price
    return units * (base_fee_gwei + cfg.priority_fee_gwei) * GWEI * native


def block_order(
    priority: list[bool], ordering: str, rng: np.random.Generator | None = None
) -> list[int]:
    """Order in which agents act in a block.

    Args:
        priority: per agent, whether it bids for top-of-block (arbitrageurs).
        ordering: 'arb_first' (priority agents first, each group in configuration order),
            'fifo' (configuration order) or 'random' (a fresh permutation).
        rng: generator for 'random'; the permutation is shared by every world of the batch so
            agents stay batch-shaped.
    """
    idx = list(range(len(priority)))
    if ordering == "fifo":
        return idx
    if ordering == "random":
        if rng is None:
            raise ValueError("random ordering needs an rng")
        return [int(i) for i in rng.permutation(len(priority))]
    return [i for i in idx if priority[i]] + [i for i in idx if not priority[i]]
