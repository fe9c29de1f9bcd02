"""Exact integer model of the oracle-priced perp's quote: the reference its float batch
(`sim.venues.oracle_perp.batch`) is checked against. There is no contract yet; this is what
one would compute, in base units with Uniswap V2's floors.

At each block the virtual reserves are re-centred on the oracle's answer: `depth` risky base
units against depth × answer numeraire base units; a fill is V2's `getAmountOut` on them (fee
on the input, kept in the virtual reserves until the next re-centring).

Units: token amounts in base units; `answer` is the feed's integer answer (price times
10**feed_decimals); `risky_feed_scale` = 10**(risky decimals + feed decimals),
`numeraire_scale` = 10**(numeraire decimals).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import Revert
from sim.venues.cpmm.twin import get_amount_out

RISKY = "risky"
NUMERAIRE = "numeraire"


@dataclass
class OraclePerpQuote:
    """The quote's virtual reserves (base units) within one block.

    Attributes:
        depth: virtual risky reserve at each re-centring, base units.
        fee_bps: taker fee on the input, basis points.
        risky_feed_scale, numeraire_scale: see the module docstring.
    """

    depth: int
    fee_bps: int
    risky_feed_scale: int
    numeraire_scale: int
    risky: int = 0
    numeraire: int = 0

    def recenter(self, answer: int) -> None:
        """Centre the curve on `answer`: risky = depth, numeraire = depth × price."""
        if answer <= 0:
            raise Revert("oracle perp: bad answer")
        self.risky = self.depth
        self.numeraire = self.depth * answer * self.numeraire_scale // self.risky_feed_scale

    def swap(self, token_in: str, amount_in: int) -> int:
        """Sell `amount_in` of `token_in`; returns the output (floored), moving the curve."""
        if amount_in <= 0:
            raise Revert("oracle perp: zero amount")
        if token_in == RISKY:
            out = get_amount_out(amount_in, self.risky, self.numeraire, self.fee_bps)
            self.risky += amount_in
            self.numeraire -= out
        elif token_in == NUMERAIRE:
            out = get_amount_out(amount_in, self.numeraire, self.risky, self.fee_bps)
            self.numeraire += amount_in
            self.risky -= out
        else:
            raise Revert("oracle perp: unknown token")
        return out
