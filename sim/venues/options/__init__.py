"""OptionsPool (`contracts/OptionsPool.vy`, a Lyra-style options AMM on `BlackScholes.vy`):
Black–Scholes twins (`bs`), the pool's twin, batch twin, engine venue and side, exact and
chain parts, its traders, and its synthetic forward as an arbitrage venue (`forward`)."""
