"""Checks of Uniswap V3 position and pool settings, for validating configuration at load time.

Each raises `ValueError` with one line naming the field and the values it allows, before a bad
setting could reach the pool (where it would only revert with 'TLU', 'TLM', 'TUM' or no reason).
"""

from __future__ import annotations

from sim.venues.univ3.twin import FEE_TIERS
from sim.venues.univ3.v3math import MAX_TICK, MIN_TICK, UINT128_MAX


def check_fee_tier(fee: int, field: str = "fee") -> int:
    """The tick spacing of fee tier `fee` (pips) in v3-core 1.0.1's factory.

    Raises:
        ValueError: for a tier the factory does not enable at deployment (100 included).
    """
    if fee not in FEE_TIERS:
        allowed = ", ".join(f"{f} (spacing {s})" for f, s in FEE_TIERS.items())
        raise ValueError(
            f"{field}: {fee} is not a fee tier of the Uniswap V3 factory; use {allowed}"
        )
    return FEE_TIERS[fee]


def check_tick(tick: int, tick_spacing: int, field: str = "tick") -> None:
    """A tick a position may use: in [MIN_TICK, MAX_TICK] and a multiple of the spacing.

    Raises:
        ValueError: naming `field`.
    """
    if not MIN_TICK <= tick <= MAX_TICK:
        raise ValueError(f"{field}: {tick} is outside [{MIN_TICK}, {MAX_TICK}]")
    if tick % tick_spacing:
        raise ValueError(
            f"{field}: {tick} is not a multiple of the pool's tick spacing {tick_spacing}"
        )


def check_range(tick_lower: int, tick_upper: int, tick_spacing: int, field: str = "range") -> None:
    """A position's range: both ticks valid and ``tick_lower < tick_upper``.

    Raises:
        ValueError: naming `field`.tick_lower / .tick_upper or the pair.
    """
    check_tick(tick_lower, tick_spacing, f"{field}.tick_lower")
    check_tick(tick_upper, tick_spacing, f"{field}.tick_upper")
    if tick_lower >= tick_upper:
        raise ValueError(f"{field}: tick_lower {tick_lower} must be below tick_upper {tick_upper}")


def check_liquidity(liquidity: int, field: str = "liquidity") -> None:
    """Liquidity to mint: ``0 < liquidity < 2**127`` (the pool casts it to int128).

    Raises:
        ValueError: naming `field`.
    """
    if not 0 < liquidity <= UINT128_MAX >> 1:
        raise ValueError(f"{field}: {liquidity} must be in [1, 2**127 - 1]")
