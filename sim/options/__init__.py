"""Options maths: Black–Scholes twins of `contracts/BlackScholes.vy` (see `sim.options.bs`)."""

from sim.options.bs import (
    Greeks,
    bs_greeks_int,
    bs_price_greeks,
    bs_price_int,
    reference_price_greeks,
)

__all__ = [
    "Greeks",
    "bs_greeks_int",
    "bs_price_greeks",
    "bs_price_int",
    "reference_price_greeks",
]
