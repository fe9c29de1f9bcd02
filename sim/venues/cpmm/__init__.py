"""ConstantProductPool (`contracts/ConstantProductPool.vy`, Uniswap V2 pair semantics with the
fee set at deployment) and its periphery `Router.vy`: twin, batch twin, engine side, exact and
chain parts; its TWAPs (read from the pool's cumulative price) live here too."""
