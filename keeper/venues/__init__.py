"""The keeper's venue kinds, one module each: how a venue is read, priced for routing,
bounded and encoded.

==========  =============================================  ===============================
kind        contract, traded through                        module
==========  =============================================  ===============================
``cpmm``    ammlab's ConstantProductPool, Router.vy          `keeper.venues.v2`
``univ2``   a genuine UniswapV2Pair, UniswapV2Router02       `keeper.venues.v2`
``univ3``   a genuine UniswapV3Pool, SwapRouter              `keeper.venues.v3`
``perp``    ammlab's PerpMarket                              `keeper.venues.perp`
==========  =============================================  ===============================

`keeper.venues.base` holds what they share (`PoolRef`, `LegPlan`, `VenueError`).
"""
