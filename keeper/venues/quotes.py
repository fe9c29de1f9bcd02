"""The protocols' own quotes for a plan's pool legs, to hold the twins to: QuoterV2's
`quoteExactInputSingle` / `quoteExactOutputSingle` for a `univ3` leg (same tokens, fee and
sqrtPriceLimitX96), UniswapV2Router02's `getAmountsOut` / `getAmountsIn` for a `univ2` leg,
each an eth_call at the block the plan read. Used by the tests and the main job; the keeper's
own path never needs them (the twins are exact).
"""

from __future__ import annotations

from dataclasses import dataclass

from keeper.calls import Call
from keeper.venues.base import LegPlan
from sim.chain.rpc import Rpc

_QUOTE = "(address,address,uint256,uint24,uint160)"


@dataclass(frozen=True)
class QuoteCheck:
    """One leg's amount as the twin planned it and as the protocol's own quote says."""

    venue: str
    kind: str
    what: str
    """Which amount: 'amount_in' (a buy's input for its exact output) or 'amount_out'."""
    twin: int
    protocol: int

    @property
    def equal(self) -> bool:
        return self.twin == self.protocol


def _call(leg: LegPlan, quoter_v2: str, router02: str) -> Call:
    buy = leg.size > 0
    if leg.kind == "univ3":
        amount = leg.amount_out if buy else leg.amount_in
        name = "quoteExactOutputSingle" if buy else "quoteExactInputSingle"
        params = (leg.token_in, leg.token_out, amount, leg.fee_pips, leg.sqrt_price_limit_x96)
        return Call(leg.venue, quoter_v2, f"{name}({_QUOTE})",
                    ("uint256", "uint160", "uint32", "uint256"), (_QUOTE,), (params,))  # fmt: skip
    path = [leg.token_in, leg.token_out]
    name, amount = ("getAmountsIn", leg.amount_out) if buy else ("getAmountsOut", leg.amount_in)
    return Call(leg.venue, router02, f"{name}(uint256,address[])", ("uint256[]",),
                ("uint256", "address[]"), (amount, path))  # fmt: skip


def protocol_quotes(
    url: str, legs: tuple[LegPlan, ...], block: int, quoter_v2: str, router02: str
) -> list[QuoteCheck]:
    """Every genuine-pool leg of `legs` quoted by its protocol at `block` (one batch)."""
    legs = tuple(leg for leg in legs if leg.kind in ("univ2", "univ3"))
    calls = [_call(leg, quoter_v2, router02) for leg in legs]
    results = Rpc(url, timeout=30.0).many([c.rpc(hex(block)) for c in calls])
    out = []
    for leg, call, raw in zip(legs, calls, results, strict=True):
        value = call.decode(raw)
        buy = leg.size > 0
        # QuoterV2 answers (amount, ...); Router02 the amounts along the path.
        amounts = value[0] if leg.kind == "univ2" else [value[0]]
        quoted = amounts[0] if buy else amounts[-1]
        what, twin = ("amount_in", leg.amount_in) if buy else ("amount_out", leg.amount_out)
        out.append(QuoteCheck(leg.venue, leg.kind, what, twin, quoted))
    return out
