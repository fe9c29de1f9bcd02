"""Exact integer twin of the genuine Uniswap V3 pool (v3-core 1.0.1, ``UniswapV3Pool.sol``).

PyPI packages checked first; none is exact against the whole pool, so this twin exists:
degenbot 0.5.0 (MIT) ports the libraries and swap loop but has no positions, fees inside,
collect or oracle, and needs Python >= 3.12 and click >= 8.3 (we pin 3.11, click 8.1.8).
uniswap-v3-quoter 1.0.6 (MIT) quotes exact-input swaps only. uniswappy 1.7.9 (Apache-2.0) has
its own revert strings and token bookkeeping and no oracle. web3-ethereum-defi 1.2 (MIT) only
drives deployed contracts over RPC (and needs psutil < 6; we pin 7.2.2).

Everything is plain Python ints and reproduces the pool to the wei: slot0, liquidity, fee growth
(global, outside, inside), protocol fees, ticks and the tick bitmap, positions keyed like the
pool (owner, tick_lower, tick_upper), the oracle's observations, and the pool's token balances.
Each operation succeeds or fails exactly where the contract does, raising `sim.errors.Revert`
with the contract's reason ('AS', 'SPL', 'LOK', 'TLU', 'LO', 'M0', 'IIA', 'OLD', ... and '' for
a bare ``require``), and leaves the twin unchanged when it fails. Fee growth, tick and
seconds-per-liquidity accumulators and tokens owed wrap exactly as Solidity 0.7 wraps them.

Units: sqrt prices are Q64.96, fee growth is token base units per unit of liquidity in X128
(``* 2**128``), seconds per liquidity are X128, amounts are base units, `fee` is pips
(3000 = 0.3 %), timestamps are seconds (the contract's uint32 ``block.timestamp``, passed in).

The twin does not know who the factory owner is (`set_fee_protocol`, `collect_protocol`) or the
tokens' own rules (a transfer to a refusing recipient): callers check those.

Why it is long: it is one contract's storage and every function that writes it (the pool, its
Tick, TickBitmap, Position and Oracle libraries share that storage); split apart, each piece
would reach into the others' state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from eth_utils import keccak, to_canonical_address

from sim.errors import Revert
from sim.venues.univ3.v3math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q128,
    UINT128_MAX,
    UINT256_MAX,
    add_delta,
    compute_swap_step,
    get_amount0_delta_signed,
    get_amount1_delta_signed,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    mul_div,
    tick_spacing_to_max_liquidity_per_tick,
    to_int128,
)

UINT32 = 1 << 32
UINT160 = 1 << 160
_U32_MASK = UINT32 - 1
_U160_MASK = UINT160 - 1
_INT56_HALF = 1 << 55
_INT56 = 1 << 56
INT256_MIN = -(1 << 255)

FEE_TIERS = {500: 10, 3000: 60, 10000: 200}
"""Fee (pips) -> tick spacing that v3-core 1.0.1's factory enables at deployment. The 100 pip
(1 bp, spacing 1) tier came later, by the factory owner's ``enableFeeAmount``."""


class Slot0(NamedTuple):
    """``slot0()``, field for field."""

    sqrt_price_x96: int
    tick: int
    observation_index: int
    observation_cardinality: int
    observation_cardinality_next: int
    fee_protocol: int
    unlocked: bool


class TickInfo(NamedTuple):
    """``ticks(tick)``, field for field; the "outside" values are relative to the current tick."""

    liquidity_gross: int
    liquidity_net: int
    fee_growth_outside0_x128: int
    fee_growth_outside1_x128: int
    tick_cumulative_outside: int
    seconds_per_liquidity_outside_x128: int
    seconds_outside: int
    initialized: bool


class PositionInfo(NamedTuple):
    """``positions(key)``, field for field."""

    liquidity: int
    fee_growth_inside0_last_x128: int
    fee_growth_inside1_last_x128: int
    tokens_owed0: int
    tokens_owed1: int


class Observation(NamedTuple):
    """``observations(i)``, field for field."""

    block_timestamp: int
    tick_cumulative: int
    seconds_per_liquidity_cumulative_x128: int
    initialized: bool


EMPTY_TICK = TickInfo(0, 0, 0, 0, 0, 0, 0, False)
EMPTY_POSITION = PositionInfo(0, 0, 0, 0, 0)
EMPTY_OBSERVATION = Observation(0, 0, 0, False)
_GROWN_OBSERVATION = Observation(1, 0, 0, False)
"""What ``Oracle.grow`` stores in a new slot (a non-zero timestamp, to pre-pay its SSTORE)."""

Callback = Callable[["UniswapV3Pool", int, int], None]
"""A mint or swap callback: ``callback(pool, amount0, amount1)``; pays with `transfer_in`."""


def position_key(owner: str, tick_lower: int, tick_upper: int) -> bytes:
    """The pool's ``positions`` key: ``keccak256(abi.encodePacked(owner, tickLower, tickUpper))``."""
    packed = (
        to_canonical_address(owner)
        + (tick_lower & 0xFFFFFF).to_bytes(3, "big")
        + (tick_upper & 0xFFFFFF).to_bytes(3, "big")
    )
    return keccak(packed)


def _wrap56(x: int) -> int:
    """Two's-complement wrap to int56 (tick cumulatives)."""
    return ((x + _INT56_HALF) % _INT56) - _INT56_HALF


def _sdiv(a: int, b: int) -> int:
    """Solidity's signed division, truncating towards zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _transform(last: Observation, time: int, tick: int, liquidity: int) -> Observation:
    """Oracle.transform: `last` carried forward to `time` at `tick` and `liquidity`."""
    delta = (time - last.block_timestamp) & _U32_MASK
    return Observation(
        time,
        _wrap56(last.tick_cumulative + tick * delta),
        (last.seconds_per_liquidity_cumulative_x128 + ((delta << 128) // (liquidity or 1)))
        & _U160_MASK,
        True,
    )


def _lte(time: int, a: int, b: int) -> bool:
    """Oracle.lte: `a` <= `b` for uint32 timestamps at or before `time`, across a wrap."""
    if a <= time and b <= time:
        return a <= b
    a_adjusted = a if a > time else a + UINT32
    b_adjusted = b if b > time else b + UINT32
    return a_adjusted <= b_adjusted


class UniswapV3Pool:
    """State of one Uniswap V3 pool, mirroring the contract's storage and token balances.

    Args:
        fee: swap fee in pips (500, 3000, 10000 are the factory's tiers).
        tick_spacing: the fee tier's spacing; defaults to the factory's for `fee`.
        address: the pool's address (only used to name it).

    Attributes:
        sqrt_price_x96, tick, observation_index, observation_cardinality,
        observation_cardinality_next, fee_protocol, unlocked: the fields of ``slot0``.
        liquidity: in-range liquidity.
        fee_growth_global0_x128, fee_growth_global1_x128: fees per unit of liquidity, X128,
            modulo 2**256.
        protocol_fees0, protocol_fees1: ``protocolFees()``, base units, modulo 2**128.
        ticks: initialised ticks, tick -> `TickInfo` (absent: all zero).
        tick_bitmap: word position -> uint256 word (absent: zero).
        positions: (owner, tick_lower, tick_upper) -> `PositionInfo` (absent: all zero); spell
            each owner's address one way (checksummed, say): the key compares strings.
        observations: the oracle array up to ``observation_cardinality_next``.
        balance0, balance1: the pool's ERC20 balances, base units.

    Tick and position entries are immutable tuples replaced on change, so `copy` is a handful of
    shallow dict copies.
    """

    def __init__(self, fee: int, tick_spacing: int | None = None, address: str = "pool"):
        if tick_spacing is None:
            tick_spacing = FEE_TIERS[fee]
        self.fee = fee
        self.tick_spacing = tick_spacing
        self.max_liquidity_per_tick = tick_spacing_to_max_liquidity_per_tick(tick_spacing)
        self.address = address
        self.sqrt_price_x96 = 0
        self.tick = 0
        self.observation_index = 0
        self.observation_cardinality = 0
        self.observation_cardinality_next = 0
        self.fee_protocol = 0
        self.unlocked = False
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.protocol_fees0 = 0
        self.protocol_fees1 = 0
        self.liquidity = 0
        self.ticks: dict[int, TickInfo] = {}
        self.tick_bitmap: dict[int, int] = {}
        self.positions: dict[tuple[str, int, int], PositionInfo] = {}
        self.observations: list[Observation] = []
        self.balance0 = 0
        self.balance1 = 0

    # -- views ---------------------------------------------------------------------------

    def slot0(self) -> Slot0:
        """``slot0()``."""
        return Slot0(
            self.sqrt_price_x96,
            self.tick,
            self.observation_index,
            self.observation_cardinality,
            self.observation_cardinality_next,
            self.fee_protocol,
            self.unlocked,
        )

    def tick_info(self, tick: int) -> TickInfo:
        """``ticks(tick)``."""
        return self.ticks.get(tick, EMPTY_TICK)

    def bitmap_word(self, word_pos: int) -> int:
        """``tickBitmap(wordPos)``."""
        return self.tick_bitmap.get(word_pos, 0)

    def position(self, owner: str, tick_lower: int, tick_upper: int) -> PositionInfo:
        """``positions(position_key(owner, tick_lower, tick_upper))``."""
        return self.positions.get((owner, tick_lower, tick_upper), EMPTY_POSITION)

    def observation(self, index: int) -> Observation:
        """``observations(index)``, ``0 <= index < 65535``."""
        obs = self.observations
        return obs[index] if index < len(obs) else EMPTY_OBSERVATION

    def protocol_fees(self) -> tuple[int, int]:
        """``protocolFees()``: ``(token0, token1)`` base units."""
        return self.protocol_fees0, self.protocol_fees1

    def copy(self) -> UniswapV3Pool:
        """An independent copy (a trial world for "would this revert", or a snapshot)."""
        new = object.__new__(UniswapV3Pool)
        new.__dict__.update(self.__dict__)
        new.ticks = dict(self.ticks)
        new.tick_bitmap = dict(self.tick_bitmap)
        new.positions = dict(self.positions)
        new.observations = list(self.observations)
        return new

    def restore(self, snapshot: UniswapV3Pool) -> None:
        """Put this pool back to `snapshot` (a `copy` taken earlier, not used afterwards)."""
        self.__dict__.update(snapshot.__dict__)

    # -- token movements -----------------------------------------------------------------

    def transfer_in(self, amount0: int = 0, amount1: int = 0) -> None:
        """Credit ERC20 transfers of token0 / token1 to the pool (base units)."""
        if amount0 < 0 or amount1 < 0:
            raise ValueError("transfer_in takes non-negative amounts")
        self.balance0 += amount0
        self.balance1 += amount1

    # -- pool functions ------------------------------------------------------------------

    def initialize(self, sqrt_price_x96: int, timestamp: int) -> None:
        """``initialize(sqrtPriceX96)`` at block time `timestamp` (seconds).

        Raises:
            Revert: ``'AI'`` if already initialised, ``'R'`` for a price out of range.
        """
        if self.sqrt_price_x96 != 0:
            raise Revert("AI")
        tick = get_tick_at_sqrt_ratio(sqrt_price_x96)
        self.observations[:1] = [Observation(timestamp & _U32_MASK, 0, 0, True)]
        self.sqrt_price_x96 = sqrt_price_x96
        self.tick = tick
        self.observation_index = 0
        self.observation_cardinality = 1
        self.observation_cardinality_next = 1
        self.fee_protocol = 0
        self.unlocked = True

    def increase_observation_cardinality_next(self, observation_cardinality_next: int) -> None:
        """``increaseObservationCardinalityNext(n)``: room for `n` observations (uint16).

        Raises:
            Revert: ``'LOK'`` before initialisation.
        """
        if not self.unlocked:
            raise Revert("LOK")
        current = self.observation_cardinality_next
        if current == 0:
            raise Revert("I")
        if observation_cardinality_next <= current:
            return
        self.observations.extend([_GROWN_OBSERVATION] * (observation_cardinality_next - current))
        self.observation_cardinality_next = observation_cardinality_next

    def set_fee_protocol(self, fee_protocol0: int, fee_protocol1: int) -> None:
        """``setFeeProtocol(p0, p1)``: the protocol takes 1/p of each swap fee (p in 4..10, or 0
        for none). The caller checks that the sender is the factory owner."""
        if not self.unlocked:
            raise Revert("LOK")
        for p in (fee_protocol0, fee_protocol1):
            if not (p == 0 or 4 <= p <= 10):
                raise Revert("")
        self.fee_protocol = fee_protocol0 + (fee_protocol1 << 4)

    def collect_protocol(self, amount0_requested: int, amount1_requested: int) -> tuple[int, int]:
        """``collectProtocol(recipient, a0, a1)``; leaves one unit in a slot it would empty.

        Returns:
            ``(amount0, amount1)`` paid out, base units.
        """
        if not self.unlocked:
            raise Revert("LOK")
        amount0 = min(amount0_requested, self.protocol_fees0)
        amount1 = min(amount1_requested, self.protocol_fees1)
        if amount0 == self.protocol_fees0 and amount0 > 0:
            amount0 -= 1
        if amount1 == self.protocol_fees1 and amount1 > 0:
            amount1 -= 1
        self._check_payable(amount0, amount1)
        self.protocol_fees0 -= amount0
        self.protocol_fees1 -= amount1
        self.balance0 -= amount0
        self.balance1 -= amount1
        return amount0, amount1

    def mint(
        self,
        recipient: str,
        tick_lower: int,
        tick_upper: int,
        amount: int,
        timestamp: int,
        callback: Callback | None = None,
    ) -> tuple[int, int]:
        """``mint(recipient, tickLower, tickUpper, amount, data)``: add `amount` liquidity.

        Args:
            recipient: the position's owner.
            tick_lower, tick_upper: the range, multiples of `tick_spacing`.
            amount: liquidity to add (uint128).
            timestamp: block time, seconds.
            callback: ``uniswapV3MintCallback``; None pays exactly what is owed.

        Returns:
            ``(amount0, amount1)`` the callback had to pay, base units.

        Raises:
            Revert: ``'LOK'``, ``'TLU'``/``'TLM'``/``'TUM'``, ``'LO'``, ``'M0'``/``'M1'``, or
                ``''`` (zero amount, a tick off the spacing).
        """
        if not self.unlocked:
            raise Revert("LOK")
        if amount <= 0:
            raise Revert("")
        to_int128(amount)
        saved = self.copy() if callback is not None else None
        amount0, amount1 = self._modify_position(
            recipient, tick_lower, tick_upper, amount, timestamp
        )
        if callback is None:
            self.balance0 += amount0
            self.balance1 += amount1
            return amount0, amount1
        balance0_before, balance1_before = self.balance0, self.balance1
        try:
            self._run_callback(callback, amount0, amount1)
            if amount0 > 0 and balance0_before + amount0 > self.balance0:
                raise Revert("M0")
            if amount1 > 0 and balance1_before + amount1 > self.balance1:
                raise Revert("M1")
        except Revert:
            self.restore(saved)
            raise
        return amount0, amount1

    def burn(
        self, owner: str, tick_lower: int, tick_upper: int, amount: int, timestamp: int
    ) -> tuple[int, int]:
        """``burn(tickLower, tickUpper, amount)`` sent by `owner`: remove liquidity; the tokens
        become owed to the position (collect them with `collect`). ``amount == 0`` pokes the
        position, crediting its fees.

        Returns:
            ``(amount0, amount1)`` credited to tokens owed, base units.

        Raises:
            Revert: ``'LOK'``, ``'TLU'``/``'TLM'``/``'TUM'``, ``'LS'`` (more than the position
                holds), ``'NP'`` (poke of an empty position).
        """
        if not self.unlocked:
            raise Revert("LOK")
        to_int128(amount)
        amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, -amount, timestamp)
        amount0, amount1 = -amount0, -amount1
        if amount0 > 0 or amount1 > 0:
            key = (owner, tick_lower, tick_upper)
            pos = self.positions[key]
            self.positions[key] = pos._replace(
                tokens_owed0=(pos.tokens_owed0 + amount0) & UINT128_MAX,
                tokens_owed1=(pos.tokens_owed1 + amount1) & UINT128_MAX,
            )
        return amount0, amount1

    def collect(
        self,
        owner: str,
        tick_lower: int,
        tick_upper: int,
        amount0_requested: int,
        amount1_requested: int,
    ) -> tuple[int, int]:
        """``collect(recipient, tickLower, tickUpper, a0, a1)`` sent by `owner`: pay out up to
        the requested amounts of the tokens owed.

        Returns:
            ``(amount0, amount1)`` paid, base units.
        """
        if not self.unlocked:
            raise Revert("LOK")
        key = (owner, tick_lower, tick_upper)
        pos = self.positions.get(key, EMPTY_POSITION)
        amount0 = min(amount0_requested, pos.tokens_owed0)
        amount1 = min(amount1_requested, pos.tokens_owed1)
        if amount0 > 0 or amount1 > 0:
            self._check_payable(amount0, amount1)
            self.positions[key] = pos._replace(
                tokens_owed0=pos.tokens_owed0 - amount0, tokens_owed1=pos.tokens_owed1 - amount1
            )
            self.balance0 -= amount0
            self.balance1 -= amount1
        return amount0, amount1

    def swap(
        self,
        zero_for_one: bool,
        amount_specified: int,
        sqrt_price_limit_x96: int,
        timestamp: int,
        callback: Callback | None = None,
    ) -> tuple[int, int]:
        """``swap(recipient, zeroForOne, amountSpecified, sqrtPriceLimitX96, data)``.

        Args:
            zero_for_one: token0 in, token1 out (the price falls).
            amount_specified: > 0 exact input, < 0 exact output, base units (int256).
            sqrt_price_limit_x96: the swap stops at this price, Q64.96; strictly between the
                current price and MIN/MAX_SQRT_RATIO in the swap's direction.
            timestamp: block time, seconds.
            callback: ``uniswapV3SwapCallback``; None pays exactly what is owed.

        Returns:
            ``(amount0, amount1)``: the pool's balance changes, base units; positive is paid
            in, negative paid out.

        Raises:
            Revert: ``'AS'``, ``'LOK'``, ``'SPL'``, ``'IIA'`` (callback paid too little), ``'TF'``
                (the pool cannot pay the output), ``''`` (arithmetic bounds).
        """
        if amount_specified == 0:
            raise Revert("AS")
        if not self.unlocked:
            raise Revert("LOK")
        sqrt_price = self.sqrt_price_x96
        if zero_for_one:
            if not MIN_SQRT_RATIO < sqrt_price_limit_x96 < sqrt_price:
                raise Revert("SPL")
        elif not sqrt_price < sqrt_price_limit_x96 < MAX_SQRT_RATIO:
            raise Revert("SPL")
        (amount0, amount1, sqrt_price, tick, liquidity, fee_growth, protocol_fee, crossed) = (
            self.swap_steps(zero_for_one, amount_specified, sqrt_price_limit_x96)
        )
        self._check_payable(max(-amount0, 0), max(-amount1, 0))
        saved = self.copy() if callback is not None else None
        time = timestamp & _U32_MASK
        if crossed:
            tick_cumulative, seconds_per_liquidity = self.observe_single(time, 0)
            ticks = self.ticks
            for tick_crossed, growth0, growth1 in crossed:
                ticks[tick_crossed] = _cross(
                    ticks[tick_crossed], growth0, growth1, seconds_per_liquidity,
                    tick_cumulative, time,
                )  # fmt: skip
        if tick != self.tick:
            self._write_observation(time, self.tick, self.liquidity)
            self.tick = tick
        self.sqrt_price_x96 = sqrt_price
        self.liquidity = liquidity
        if zero_for_one:
            self.fee_growth_global0_x128 = fee_growth
            self.protocol_fees0 = (self.protocol_fees0 + protocol_fee) & UINT128_MAX
        else:
            self.fee_growth_global1_x128 = fee_growth
            self.protocol_fees1 = (self.protocol_fees1 + protocol_fee) & UINT128_MAX

        if callback is None:
            self.balance0 += amount0
            self.balance1 += amount1
            return amount0, amount1
        try:
            if zero_for_one:
                self.balance1 += amount1
                balance0_before = self.balance0
                self._run_callback(callback, amount0, amount1)
                if balance0_before + amount0 > self.balance0:
                    raise Revert("IIA")
            else:
                self.balance0 += amount0
                balance1_before = self.balance1
                self._run_callback(callback, amount0, amount1)
                if balance1_before + amount1 > self.balance1:
                    raise Revert("IIA")
        except Revert:
            self.restore(saved)
            raise
        return amount0, amount1

    def swap_steps(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> tuple[int, int, int, int, int, int, int, list[tuple[int, int, int]]]:
        """The swap loop of ``swap`` without touching the pool (the checks before it are the
        caller's: 'AS', 'LOK', 'SPL').

        Returns:
            ``(amount0, amount1, sqrt_price_x96, tick, liquidity, fee_growth_global_x128,
            protocol_fee, crossed)``: the amounts as `swap` returns them, the price, tick and
            liquidity after, the input token's fee growth global after, the protocol's cut in
            the input token, and the initialised ticks crossed as ``(tick, fee_growth_global0,
            fee_growth_global1)`` at the moment of crossing.
        """
        fee = self.fee
        spacing = self.tick_spacing
        bitmap = self.tick_bitmap
        ticks = self.ticks
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        sqrt_price = self.sqrt_price_x96
        tick = self.tick
        liquidity = self.liquidity
        if zero_for_one:
            fee_growth = self.fee_growth_global0_x128
            other_growth = self.fee_growth_global1_x128
            fee_protocol = self.fee_protocol % 16
        else:
            fee_growth = self.fee_growth_global1_x128
            other_growth = self.fee_growth_global0_x128
            fee_protocol = self.fee_protocol >> 4
        protocol_fee = 0
        crossed: list[tuple[int, int, int]] = []

        while remaining != 0 and sqrt_price != sqrt_price_limit_x96:
            sqrt_price_start = sqrt_price
            tick_next, initialized = next_initialized_tick_within_one_word(
                bitmap, tick, spacing, zero_for_one
            )
            # The bitmap knows nothing of the price bounds.
            if tick_next < MIN_TICK:
                tick_next = MIN_TICK
            elif tick_next > MAX_TICK:
                tick_next = MAX_TICK
            sqrt_price_next = get_sqrt_ratio_at_tick(tick_next)
            if (
                sqrt_price_next < sqrt_price_limit_x96
                if zero_for_one
                else sqrt_price_next > sqrt_price_limit_x96
            ):
                target = sqrt_price_limit_x96
            else:
                target = sqrt_price_next
            sqrt_price, amount_in, amount_out, fee_amount = compute_swap_step(
                sqrt_price, target, liquidity, remaining, fee
            )
            if exact_input:
                remaining -= _to_int256(amount_in + fee_amount)
                calculated -= _to_int256(amount_out)
            else:
                remaining += _to_int256(amount_out)
                calculated += _to_int256(amount_in + fee_amount)
            if not INT256_MIN <= calculated <= UINT256_MAX >> 1:
                raise Revert("")  # LowGasSafeMath's checked int256 add/sub
            if fee_protocol > 0:
                delta = fee_amount // fee_protocol
                fee_amount -= delta
                protocol_fee = (protocol_fee + delta) & UINT128_MAX
            if liquidity > 0:
                fee_growth = (fee_growth + mul_div(fee_amount, Q128, liquidity)) & UINT256_MAX

            if sqrt_price == sqrt_price_next:
                if initialized:
                    if zero_for_one:
                        crossed.append((tick_next, fee_growth, other_growth))
                        liquidity = add_delta(liquidity, -ticks[tick_next].liquidity_net)
                    else:
                        crossed.append((tick_next, other_growth, fee_growth))
                        liquidity = add_delta(liquidity, ticks[tick_next].liquidity_net)
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sqrt_price != sqrt_price_start:
                tick = get_tick_at_sqrt_ratio(sqrt_price)

        if zero_for_one == exact_input:
            amount0, amount1 = amount_specified - remaining, calculated
        else:
            amount0, amount1 = calculated, amount_specified - remaining
        return amount0, amount1, sqrt_price, tick, liquidity, fee_growth, protocol_fee, crossed

    # -- oracle --------------------------------------------------------------------------

    def observe(self, seconds_agos: Iterable[int], timestamp: int) -> tuple[list[int], list[int]]:
        """``observe(secondsAgos)`` at block time `timestamp`.

        Returns:
            ``(tick_cumulatives, seconds_per_liquidity_cumulative_x128s)``, one each per entry of
            `seconds_agos`: tick * seconds (int56, wrapping) and seconds / liquidity in X128
            (uint160, wrapping).

        Raises:
            Revert: ``'I'`` before initialisation, ``'OLD'`` before the oldest observation.
        """
        if self.observation_cardinality == 0:
            raise Revert("I")
        time = timestamp & _U32_MASK
        results = [self.observe_single(time, seconds_ago) for seconds_ago in seconds_agos]
        return [r[0] for r in results], [r[1] for r in results]

    def observe_single(self, time: int, seconds_ago: int) -> tuple[int, int]:
        """Oracle.observeSingle at uint32 `time` for the pool's current tick and liquidity.

        Returns:
            ``(tick_cumulative, seconds_per_liquidity_cumulative_x128)`` `seconds_ago` before.
        """
        obs = self.observations
        tick, index, liquidity = self.tick, self.observation_index, self.liquidity
        if seconds_ago == 0:
            last = obs[index]
            if last.block_timestamp != time:
                last = _transform(last, time, tick, liquidity)
            return last.tick_cumulative, last.seconds_per_liquidity_cumulative_x128
        target = (time - seconds_ago) & _U32_MASK
        before, after = self._surrounding_observations(time, target)
        if target == before.block_timestamp:
            return before.tick_cumulative, before.seconds_per_liquidity_cumulative_x128
        if target == after.block_timestamp:
            return after.tick_cumulative, after.seconds_per_liquidity_cumulative_x128
        observation_time_delta = (after.block_timestamp - before.block_timestamp) & _U32_MASK
        target_delta = (target - before.block_timestamp) & _U32_MASK
        tick_slope = _sdiv(
            _wrap56(after.tick_cumulative - before.tick_cumulative), observation_time_delta
        )
        spl_delta = (
            after.seconds_per_liquidity_cumulative_x128
            - before.seconds_per_liquidity_cumulative_x128
        ) & _U160_MASK
        return (
            _wrap56(before.tick_cumulative + _wrap56(tick_slope * target_delta)),
            (
                before.seconds_per_liquidity_cumulative_x128
                + (spl_delta * target_delta // observation_time_delta)
            )
            & _U160_MASK,
        )

    def snapshot_cumulatives_inside(
        self, tick_lower: int, tick_upper: int, timestamp: int
    ) -> tuple[int, int, int]:
        """``snapshotCumulativesInside(tickLower, tickUpper)`` at block time `timestamp`.

        Returns:
            ``(tick_cumulative_inside, seconds_per_liquidity_inside_x128, seconds_inside)``,
            wrapping like the contract (int56, uint160, uint32).
        """
        check_ticks(tick_lower, tick_upper)
        lower, upper = self.tick_info(tick_lower), self.tick_info(tick_upper)
        if not lower.initialized or not upper.initialized:
            raise Revert("")
        if self.tick < tick_lower:
            return (
                _wrap56(lower.tick_cumulative_outside - upper.tick_cumulative_outside),
                (
                    lower.seconds_per_liquidity_outside_x128
                    - upper.seconds_per_liquidity_outside_x128
                )
                & _U160_MASK,
                (lower.seconds_outside - upper.seconds_outside) & _U32_MASK,
            )
        if self.tick < tick_upper:
            time = timestamp & _U32_MASK
            tick_cumulative, seconds_per_liquidity = self.observe_single(time, 0)
            return (
                _wrap56(
                    tick_cumulative - lower.tick_cumulative_outside - upper.tick_cumulative_outside
                ),
                (
                    seconds_per_liquidity
                    - lower.seconds_per_liquidity_outside_x128
                    - upper.seconds_per_liquidity_outside_x128
                )
                & _U160_MASK,
                (time - lower.seconds_outside - upper.seconds_outside) & _U32_MASK,
            )
        return (
            _wrap56(upper.tick_cumulative_outside - lower.tick_cumulative_outside),
            (upper.seconds_per_liquidity_outside_x128 - lower.seconds_per_liquidity_outside_x128)
            & _U160_MASK,
            (upper.seconds_outside - lower.seconds_outside) & _U32_MASK,
        )

    # -- internals -----------------------------------------------------------------------

    def _run_callback(self, callback: Callback, amount0: int, amount1: int) -> None:
        # The pool is locked while the callback runs: re-entering it reverts with 'LOK'.
        self.unlocked = False
        try:
            callback(self, amount0, amount1)
        finally:
            self.unlocked = True

    def _check_payable(self, amount0: int, amount1: int) -> None:
        # TransferHelper.safeTransfer reverts with 'TF' when the token refuses the transfer.
        if amount0 > self.balance0 or amount1 > self.balance1:
            raise Revert("TF")

    def _write_observation(self, time: int, tick: int, liquidity: int) -> None:
        """Oracle.write: at most one observation per block, growing the ring when due."""
        index = self.observation_index
        last = self.observations[index]
        if last.block_timestamp == time:
            return
        cardinality = self.observation_cardinality
        if self.observation_cardinality_next > cardinality and index == cardinality - 1:
            cardinality = self.observation_cardinality_next
        index = (index + 1) % cardinality
        self.observations[index] = _transform(last, time, tick, liquidity)
        self.observation_index = index
        self.observation_cardinality = cardinality

    def _surrounding_observations(self, time: int, target: int) -> tuple[Observation, Observation]:
        """Oracle.getSurroundingObservations and its binary search."""
        obs = self.observations
        index, cardinality = self.observation_index, self.observation_cardinality
        before = obs[index]
        if _lte(time, before.block_timestamp, target):
            if before.block_timestamp == target:
                return before, EMPTY_OBSERVATION
            return before, _transform(before, target, self.tick, self.liquidity)
        before = obs[(index + 1) % cardinality]
        if not before.initialized:
            before = obs[0]
        if not _lte(time, before.block_timestamp, target):
            raise Revert("OLD")
        lo = (index + 1) % cardinality
        hi = lo + cardinality - 1
        while True:
            i = (lo + hi) // 2
            before = obs[i % cardinality]
            if not before.initialized:
                lo = i + 1
                continue
            after = obs[(i + 1) % cardinality]
            target_at_or_after = _lte(time, before.block_timestamp, target)
            if target_at_or_after and _lte(time, target, after.block_timestamp):
                return before, after
            if not target_at_or_after:
                hi = i - 1
            else:
                lo = i + 1

    def _modify_position(
        self, owner: str, tick_lower: int, tick_upper: int, liquidity_delta: int, timestamp: int
    ) -> tuple[int, int]:
        """``_modifyPosition``: every check first, in the contract's order, then the writes.

        Returns:
            ``(amount0, amount1)`` signed: owed to the pool (> 0) or released (< 0), base units.
        """
        check_ticks(tick_lower, tick_upper)
        tick = self.tick
        growth0, growth1 = self.fee_growth_global0_x128, self.fee_growth_global1_x128
        key = (owner, tick_lower, tick_upper)
        pos = self.positions.get(key, EMPTY_POSITION)
        time = timestamp & _U32_MASK
        if liquidity_delta != 0:
            latest = None  # the oracle's latest values, computed when a tick needs them
            infos = []
            for t, upper in ((tick_lower, False), (tick_upper, True)):
                info = self.ticks.get(t, EMPTY_TICK)
                gross_before = info.liquidity_gross
                gross_after = add_delta(gross_before, liquidity_delta)
                if gross_after > self.max_liquidity_per_tick:
                    raise Revert("LO")
                net = (
                    info.liquidity_net - liquidity_delta
                    if upper
                    else info.liquidity_net + liquidity_delta
                )
                to_int128(net)
                if gross_before == 0:
                    # By convention all growth before initialisation happened below the tick.
                    if t <= tick:
                        if latest is None:
                            latest = self.observe_single(time, 0)
                        info = TickInfo(
                            gross_after, net, growth0, growth1, latest[0], latest[1], time, True
                        )
                    else:
                        info = info._replace(
                            liquidity_gross=gross_after, liquidity_net=net, initialized=True
                        )
                else:
                    info = info._replace(liquidity_gross=gross_after, liquidity_net=net)
                infos.append((t, info, (gross_after == 0) != (gross_before == 0)))
            for t, _, flipped in infos:
                if flipped and t % self.tick_spacing:
                    raise Revert("")
            lower_info, upper_info = infos[0][1], infos[1][1]
        else:
            infos = []
            lower_info, upper_info = self.tick_info(tick_lower), self.tick_info(tick_upper)

        inside0, inside1 = _fee_growth_inside(
            lower_info, upper_info, tick_lower, tick_upper, tick, growth0, growth1
        )
        if liquidity_delta == 0:
            if pos.liquidity == 0:
                raise Revert("NP")
            liquidity_next = pos.liquidity
        else:
            liquidity_next = add_delta(pos.liquidity, liquidity_delta)
        owed0 = (
            mul_div((inside0 - pos.fee_growth_inside0_last_x128) & UINT256_MAX, pos.liquidity, Q128)
            & UINT128_MAX
        )
        owed1 = (
            mul_div((inside1 - pos.fee_growth_inside1_last_x128) & UINT256_MAX, pos.liquidity, Q128)
            & UINT128_MAX
        )
        if owed0 > 0 or owed1 > 0:
            pos = PositionInfo(
                liquidity_next,
                inside0,
                inside1,
                (pos.tokens_owed0 + owed0) & UINT128_MAX,
                (pos.tokens_owed1 + owed1) & UINT128_MAX,
            )
        else:
            pos = PositionInfo(liquidity_next, inside0, inside1, pos.tokens_owed0, pos.tokens_owed1)

        # Every check passed: write.
        self.positions[key] = pos
        for t, info, flipped in infos:
            if flipped:
                word, bit = (t // self.tick_spacing) >> 8, (t // self.tick_spacing) & 0xFF
                self.tick_bitmap[word] = self.tick_bitmap.get(word, 0) ^ (1 << bit)
                if liquidity_delta < 0:
                    del self.ticks[t]
                    continue
            self.ticks[t] = info

        if liquidity_delta == 0:
            return 0, 0
        if tick < tick_lower:
            amount0 = get_amount0_delta_signed(
                get_sqrt_ratio_at_tick(tick_lower),
                get_sqrt_ratio_at_tick(tick_upper),
                liquidity_delta,
            )
            return amount0, 0
        if tick < tick_upper:
            self._write_observation(time, tick, self.liquidity)
            amount0 = get_amount0_delta_signed(
                self.sqrt_price_x96, get_sqrt_ratio_at_tick(tick_upper), liquidity_delta
            )
            amount1 = get_amount1_delta_signed(
                get_sqrt_ratio_at_tick(tick_lower), self.sqrt_price_x96, liquidity_delta
            )
            self.liquidity = add_delta(self.liquidity, liquidity_delta)
            return amount0, amount1
        amount1 = get_amount1_delta_signed(
            get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper), liquidity_delta
        )
        return 0, amount1


# --- free functions of the pool's libraries ----------------------------------------------


def check_ticks(tick_lower: int, tick_upper: int) -> None:
    """The pool's ``checkTicks``.

    Raises:
        Revert: ``'TLU'`` (lower >= upper), ``'TLM'`` (lower < MIN_TICK), ``'TUM'``.
    """
    if tick_lower >= tick_upper:
        raise Revert("TLU")
    if tick_lower < MIN_TICK:
        raise Revert("TLM")
    if tick_upper > MAX_TICK:
        raise Revert("TUM")


def next_initialized_tick_within_one_word(
    tick_bitmap: dict[int, int], tick: int, tick_spacing: int, lte: bool
) -> tuple[int, bool]:
    """TickBitmap.nextInitializedTickWithinOneWord: the next initialised tick at or below
    (`lte`) or above `tick`, looking no further than the bitmap word it starts in.

    Returns:
        ``(next_tick, initialized)``; when no tick is initialised in the word, the word's last
        tick in that direction and False.
    """
    compressed = tick // tick_spacing
    if lte:
        bit_pos = compressed & 0xFF
        masked = tick_bitmap.get(compressed >> 8, 0) & ((2 << bit_pos) - 1)
        if masked:
            return (compressed - (bit_pos - (masked.bit_length() - 1))) * tick_spacing, True
        return (compressed - bit_pos) * tick_spacing, False
    compressed += 1
    bit_pos = compressed & 0xFF
    masked = tick_bitmap.get(compressed >> 8, 0) >> bit_pos
    if masked:
        return (compressed + ((masked & -masked).bit_length() - 1)) * tick_spacing, True
    return (compressed + 255 - bit_pos) * tick_spacing, False


def _fee_growth_inside(
    lower: TickInfo,
    upper: TickInfo,
    tick_lower: int,
    tick_upper: int,
    tick_current: int,
    growth0: int,
    growth1: int,
) -> tuple[int, int]:
    """Tick.getFeeGrowthInside, modulo 2**256."""
    if tick_current >= tick_lower:
        below0, below1 = lower.fee_growth_outside0_x128, lower.fee_growth_outside1_x128
    else:
        below0 = growth0 - lower.fee_growth_outside0_x128
        below1 = growth1 - lower.fee_growth_outside1_x128
    if tick_current < tick_upper:
        above0, above1 = upper.fee_growth_outside0_x128, upper.fee_growth_outside1_x128
    else:
        above0 = growth0 - upper.fee_growth_outside0_x128
        above1 = growth1 - upper.fee_growth_outside1_x128
    return (growth0 - below0 - above0) & UINT256_MAX, (growth1 - below1 - above1) & UINT256_MAX


def _cross(
    info: TickInfo,
    growth0: int,
    growth1: int,
    seconds_per_liquidity: int,
    tick_cumulative: int,
    time: int,
) -> TickInfo:
    """Tick.cross: flip every "outside" value to the other side of the tick."""
    return TickInfo(
        info.liquidity_gross,
        info.liquidity_net,
        (growth0 - info.fee_growth_outside0_x128) & UINT256_MAX,
        (growth1 - info.fee_growth_outside1_x128) & UINT256_MAX,
        _wrap56(tick_cumulative - info.tick_cumulative_outside),
        (seconds_per_liquidity - info.seconds_per_liquidity_outside_x128) & _U160_MASK,
        (time - info.seconds_outside) & _U32_MASK,
        info.initialized,
    )


def _to_int256(y: int) -> int:
    if y > UINT256_MAX >> 1:
        raise Revert("")
    return y
