"""Exact integer twin of `contracts/ConstantProductPool.vy` and the router's pricing maths.

Everything here is plain Python ints and reproduces the contracts to the wei: the same
floor divisions, the same order of checks and the same revert strings (raised as
`sim.errors.Revert`). It is the one reference for each constant-product formula; the
fast batch engine, the chain backend and the keeper call these functions rather than
re-deriving them.

Units: token amounts are base units of each token, LP amounts are LP wei, fees are basis
points of the input amount (30 = Uniswap V2's 0.3 %), timestamps are seconds, cumulative
prices are UQ112x112 (price * 2**112) summed per second.

With ``fee_bps == 30`` the numbers equal Uniswap V2's (UniswapV2Library and the pair).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sim.errors import Revert

FEE_DENOMINATOR = 10_000
"""Basis points in one unit of input."""
MINIMUM_LIQUIDITY = 1_000
"""LP wei locked forever at the zero address by the first mint."""
MAX_UINT112 = 2**112 - 1
"""Largest reserve (Uniswap V2's packed uint112 reserves)."""
UINT32 = 2**32
UINT256 = 2**256
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


# --- router views (contracts/Router.vy) -------------------------------------------------


def get_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Largest output for `amount_in` that passes the pool's fee-adjusted K check.

    ``floor(in * (10_000 - fee) * r_out / (r_in * 10_000 + in * (10_000 - fee)))``, the
    router's ``getAmountOut`` (UniswapV2Library.getAmountOut for ``fee_bps == 30``).

    Args:
        amount_in: input amount, base units of the input token.
        reserve_in: pool reserve of the input token, base units.
        reserve_out: pool reserve of the output token, base units.
        fee_bps: pool fee in basis points of the input, ``0 <= fee_bps < 10_000``.

    Returns:
        The output amount, base units of the output token.

    Raises:
        Revert: with the router's reason for a zero input, an empty reserve or a bad fee.
    """
    if amount_in <= 0:
        raise Revert("router: insufficient input amount")
    if reserve_in <= 0 or reserve_out <= 0:
        raise Revert("router: insufficient liquidity")
    if not 0 <= fee_bps < FEE_DENOMINATOR:
        raise Revert("router: invalid fee")
    amount_in_with_fee = amount_in * (FEE_DENOMINATOR - fee_bps)
    return amount_in_with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR + amount_in_with_fee)


def get_amount_in(amount_out: int, reserve_in: int, reserve_out: int, fee_bps: int = 30) -> int:
    """Smallest input that buys `amount_out` (the router's ``getAmountIn``).

    ``floor(r_in * out * 10_000 / ((r_out - out) * (10_000 - fee))) + 1``, Uniswap V2's
    conservative ``+ 1`` included, so the result may exceed the true minimum by one.

    Args:
        amount_out: wanted output, base units of the output token, ``< reserve_out``.
        reserve_in: pool reserve of the input token, base units.
        reserve_out: pool reserve of the output token, base units.
        fee_bps: pool fee in basis points of the input.

    Returns:
        The input amount, base units of the input token.

    Raises:
        Revert: with the router's reason for a zero output, an empty or too small
            reserve, or a bad fee.
    """
    if amount_out <= 0:
        raise Revert("router: insufficient output amount")
    if reserve_in <= 0 or reserve_out <= 0 or amount_out >= reserve_out:
        raise Revert("router: insufficient liquidity")
    if not 0 <= fee_bps < FEE_DENOMINATOR:
        raise Revert("router: invalid fee")
    numerator = reserve_in * amount_out * FEE_DENOMINATOR
    denominator = (reserve_out - amount_out) * (FEE_DENOMINATOR - fee_bps)
    return numerator // denominator + 1


def quote(amount_a: int, reserve_a: int, reserve_b: int) -> int:
    """Amount of B worth `amount_a` of A at the reserves' ratio, no fee (``quote``).

    Raises:
        Revert: with the router's reason for a zero amount or an empty reserve.
    """
    if amount_a <= 0:
        raise Revert("router: insufficient amount")
    if reserve_a <= 0 or reserve_b <= 0:
        raise Revert("router: insufficient liquidity")
    return amount_a * reserve_b // reserve_a


def add_liquidity_amounts(
    amount0_desired: int,
    amount1_desired: int,
    amount0_min: int,
    amount1_min: int,
    reserve0: int,
    reserve1: int,
) -> tuple[int, int]:
    """Amounts the router's ``addLiquidity`` deposits (Uniswap V2's ``_addLiquidity``).

    An empty pool takes the desired amounts as they are; otherwise the largest pair at
    the reserves' ratio within the desired amounts.

    Returns:
        ``(amount0, amount1)`` in base units.

    Raises:
        Revert: ``"router: insufficient amount0/1"`` when below the minimums.
    """
    if reserve0 == 0 and reserve1 == 0:
        return amount0_desired, amount1_desired
    amount1_optimal = quote(amount0_desired, reserve0, reserve1)
    if amount1_optimal <= amount1_desired:
        if amount1_optimal < amount1_min:
            raise Revert("router: insufficient amount1")
        return amount0_desired, amount1_optimal
    amount0_optimal = quote(amount1_desired, reserve1, reserve0)
    if amount0_optimal < amount0_min:
        raise Revert("router: insufficient amount0")
    return amount0_optimal, amount1_desired


def encode_price(reserve_num: int, reserve_den: int) -> int:
    """UQ112x112 price ``reserve_num / reserve_den`` as the pool accumulates it."""
    return (reserve_num << 112) // reserve_den


# --- the pool (contracts/ConstantProductPool.vy) -----------------------------------------


@dataclass
class CPMMPool:
    """State of one constant-product pool, mirroring the contract's storage.

    Token balances (`balance0`, `balance1`) are what the pool's ERC20 balances hold;
    reserves are what it last synced. Tokens arrive with `transfer_in` (an ERC20 transfer
    to the pool); `mint`, `burn`, `swap`, `skim` and `sync` then behave as the contract's
    functions, taking the block timestamp, and return what they send out. A call that
    reverts raises `Revert` with the contract's reason and leaves the state unchanged.
    Payments to the zero address revert with ``"erc20: transfer to zero address"``, as the
    ammlab ERC20 refuses them; payments to `address` (the pool itself) change nothing.

    Attributes:
        fee_bps: swap fee in basis points of the input, ``< 10_000``.
        address: the pool's address (key of LP it holds, e.g. before a burn).
        token0: address of token0 (a swap may not pay out to it); optional.
        token1: address of token1; optional.
        balance0: token0 held by the pool, base units.
        balance1: token1 held by the pool, base units.
        reserve0: token0 reserve as of the last update, base units.
        reserve1: token1 reserve as of the last update, base units.
        block_timestamp_last: timestamp of the last update, seconds modulo 2**32.
        price0_cumulative_last: UQ112x112 seconds-weighted sum of reserve1/reserve0,
            modulo 2**256.
        price1_cumulative_last: the same for reserve0/reserve1.
        total_supply: LP supply, LP wei.
        lp_balances: LP balance per address, LP wei (zero balances may be absent).
    """

    fee_bps: int = 30
    address: str = "pool"
    token0: str | None = None
    token1: str | None = None
    balance0: int = 0
    balance1: int = 0
    reserve0: int = 0
    reserve1: int = 0
    block_timestamp_last: int = 0
    price0_cumulative_last: int = 0
    price1_cumulative_last: int = 0
    total_supply: int = 0
    lp_balances: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.fee_bps < FEE_DENOMINATOR:
            raise Revert("pool: fee too high")

    # -- views ---------------------------------------------------------------------------

    def get_reserves(self) -> tuple[int, int, int]:
        """``(reserve0, reserve1, block_timestamp_last)`` as ``getReserves()`` returns."""
        return self.reserve0, self.reserve1, self.block_timestamp_last

    def lp_balance(self, owner: str) -> int:
        """LP wei held by `owner`."""
        return self.lp_balances.get(owner, 0)

    def copy(self) -> CPMMPool:
        """An independent copy (for what-if pricing or snapshots)."""
        return replace(self, lp_balances=dict(self.lp_balances))

    # -- token and LP movements ----------------------------------------------------------

    def transfer_in(self, amount0: int = 0, amount1: int = 0) -> None:
        """Credit an ERC20 transfer of token0 / token1 to the pool (base units)."""
        if amount0 < 0 or amount1 < 0:
            raise ValueError("transfer_in takes non-negative amounts")
        self.balance0 += amount0
        self.balance1 += amount1

    def transfer_lp(self, sender: str, to: str, amount: int) -> None:
        """The pool's ERC20 ``transfer`` of LP tokens (``to = address`` before a burn)."""
        balance = self.lp_balance(sender)
        if balance < amount:
            raise Revert("pool: insufficient balance")
        self.lp_balances[sender] = balance - amount
        self.lp_balances[to] = self.lp_balance(to) + amount

    def _pay(self, to: str, amount0: int, amount1: int) -> None:
        # The ammlab ERC20 refuses transfers to the zero address (even of zero tokens).
        if to == ZERO_ADDRESS:
            raise Revert("erc20: transfer to zero address")
        # A payment to the pool itself leaves its balances unchanged, as on chain.
        if to != self.address:
            self.balance0 -= amount0
            self.balance1 -= amount1

    # -- pool functions ------------------------------------------------------------------

    def mint(self, to: str, timestamp: int) -> int:
        """``mint(to)``: LP for the tokens transferred in since the last update.

        Returns:
            LP wei minted to `to`.
        """
        balance0, balance1 = self.balance0, self.balance1
        if balance0 > MAX_UINT112 or balance1 > MAX_UINT112:
            raise Revert("pool: overflow")
        amount0 = balance0 - self.reserve0
        amount1 = balance1 - self.reserve1
        supply = self.total_supply
        if supply == 0:
            root = math.isqrt(amount0 * amount1)
            if root <= MINIMUM_LIQUIDITY:
                raise Revert("pool: insufficient liquidity minted")
            liquidity = root - MINIMUM_LIQUIDITY
        else:
            liquidity = min(amount0 * supply // self.reserve0, amount1 * supply // self.reserve1)
        if liquidity <= 0:
            raise Revert("pool: insufficient liquidity minted")
        if supply == 0:
            self._mint_lp(ZERO_ADDRESS, MINIMUM_LIQUIDITY)
        self._mint_lp(to, liquidity)
        self._update(balance0, balance1, timestamp)
        return liquidity

    def burn(self, to: str, timestamp: int) -> tuple[int, int]:
        """``burn(to)``: burn the LP the pool holds, pay the pro-rata balances to `to`.

        Returns:
            ``(amount0, amount1)`` sent to `to`, base units.
        """
        balance0, balance1 = self.balance0, self.balance1
        if balance0 > MAX_UINT112 or balance1 > MAX_UINT112:
            raise Revert("pool: overflow")
        liquidity = self.lp_balance(self.address)
        amount0 = amount1 = 0
        if liquidity > 0:
            amount0 = liquidity * balance0 // self.total_supply
            amount1 = liquidity * balance1 // self.total_supply
        if amount0 <= 0 or amount1 <= 0:
            raise Revert("pool: insufficient liquidity burned")
        self._pay(to, amount0, amount1)
        self.lp_balances[self.address] = 0
        self.total_supply -= liquidity
        self._update(self.balance0, self.balance1, timestamp)
        return amount0, amount1

    def swap(
        self,
        amount0_out: int,
        amount1_out: int,
        to: str,
        timestamp: int,
        callback: Callable[[CPMMPool], None] | None = None,
    ) -> tuple[int, int]:
        """``swap(amount0Out, amount1Out, to, data)`` after the input was transferred in.

        Args:
            amount0_out: token0 paid to `to`, base units.
            amount1_out: token1 paid to `to`, base units.
            to: recipient.
            timestamp: block timestamp, seconds.
            callback: the flash-swap callback (non-empty ``data``): called with the pool
                after the optimistic payout; it may pay with `transfer_in`.

        Returns:
            ``(amount0_in, amount1_in)`` the pool measured, base units.
        """
        if amount0_out <= 0 and amount1_out <= 0:
            raise Revert("pool: insufficient output amount")
        reserve0, reserve1 = self.reserve0, self.reserve1
        if amount0_out >= reserve0 or amount1_out >= reserve1:
            raise Revert("pool: insufficient liquidity")
        if to in (self.token0, self.token1):
            raise Revert("pool: invalid to")
        if to == ZERO_ADDRESS:
            raise Revert("erc20: transfer to zero address")

        saved = self.copy() if callback is not None else None
        balance0, balance1 = self.balance0, self.balance1
        try:
            if callback is not None:
                self._pay(to, amount0_out, amount1_out)
                callback(self)
                balance0, balance1 = self.balance0, self.balance1
            elif to != self.address:
                balance0 -= amount0_out
                balance1 -= amount1_out

            amount0_in = max(balance0 - (reserve0 - amount0_out), 0)
            amount1_in = max(balance1 - (reserve1 - amount1_out), 0)
            if amount0_in <= 0 and amount1_in <= 0:
                raise Revert("pool: insufficient input amount")
            if balance0 > MAX_UINT112 or balance1 > MAX_UINT112:
                raise Revert("pool: overflow")
            adjusted0 = balance0 * FEE_DENOMINATOR - amount0_in * self.fee_bps
            adjusted1 = balance1 * FEE_DENOMINATOR - amount1_in * self.fee_bps
            if adjusted0 * adjusted1 < reserve0 * reserve1 * FEE_DENOMINATOR**2:
                raise Revert("pool: K")
        except Revert:
            if saved is not None:
                self.__dict__.update(saved.__dict__)
            raise
        self.balance0, self.balance1 = balance0, balance1
        self._update(balance0, balance1, timestamp)
        return amount0_in, amount1_in

    def skim(self, to: str) -> tuple[int, int]:
        """``skim(to)``: pay out whatever the balances hold beyond the reserves.

        Returns:
            ``(amount0, amount1)`` sent to `to`, base units.
        """
        amount0 = self.balance0 - self.reserve0
        amount1 = self.balance1 - self.reserve1
        self._pay(to, amount0, amount1)
        return amount0, amount1

    def sync(self, timestamp: int) -> None:
        """``sync()``: set the reserves to the balances (accruing the TWAP first)."""
        self._update(self.balance0, self.balance1, timestamp)

    # -- internals -----------------------------------------------------------------------

    def _mint_lp(self, to: str, amount: int) -> None:
        self.total_supply += amount
        self.lp_balances[to] = self.lp_balance(to) + amount

    def _update(self, balance0: int, balance1: int, timestamp: int) -> None:
        """Accrue the TWAP over the seconds since the last update, then store reserves."""
        if balance0 > MAX_UINT112 or balance1 > MAX_UINT112:
            raise Revert("pool: overflow")
        now = timestamp % UINT32
        elapsed = (now - self.block_timestamp_last) % UINT32
        reserve0, reserve1 = self.reserve0, self.reserve1
        if elapsed > 0 and reserve0 != 0 and reserve1 != 0:
            self.price0_cumulative_last = (
                self.price0_cumulative_last + encode_price(reserve1, reserve0) * elapsed
            ) % UINT256
            self.price1_cumulative_last = (
                self.price1_cumulative_last + encode_price(reserve0, reserve1) * elapsed
            ) % UINT256
        self.reserve0, self.reserve1 = balance0, balance1
        self.block_timestamp_last = now
