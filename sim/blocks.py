"""Block clock, base-fee process, gas costs and in-block ordering."""

from __future__ import annotations

import math

import numpy as np

from sim.processes import WorldStreams
from sim.scenario import BlocksConfig, GasConfig

GWEI = 1e-9


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
