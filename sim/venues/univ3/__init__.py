"""Uniswap V3 (v3-core 1.0.1, v3-periphery 1.4.4): the exact integer twins of the pool and its
libraries (`twin`, `v3math`) and of the periphery's maths and position manager (`periphery`),
input checks (`checks`), the scenario config (`config`), the vectorised pool (`batch`, with its
per-world `kernels`), the agents that trade it (`agents`), the engine side (`engine`), the V3
reference as one kernel (`fused`), and the exact and chain parts (`exact`, `chain`: the genuine
factory, SwapRouter and NonfungiblePositionManager from npm)."""
