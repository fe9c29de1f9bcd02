"""Uniswap V3 (v3-core 1.0.1, v3-periphery 1.4.4) as exact integer twins: the pool's libraries,
the pool, the periphery's liquidity and quoting maths, and input checks."""
