"""Exact twin of `contracts/OracleSwap.vy`, a spot venue quoting around an oracle.

Buying risky costs answer * (1 + spread); selling it pays answer * (1 - spread); outputs are
floored; the venue trades against its own inventory. Failures raise `sim.errors.Revert` with
the contract's revert strings, checked in the contract's order.

Units: token amounts in base units; `answer` is the feed's integer answer (price times
10**feed_decimals); spread in basis points; timestamps in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.errors import Revert

BPS = 10_000
RISKY = "risky"
NUMERAIRE = "numeraire"


def amount_out(
    token_in: str,
    amount_in: int,
    answer: int,
    spread_bps: int,
    risky_feed_scale: int,
    numeraire_scale: int,
) -> int:
    """The contract's `_amount_out`: output of selling `amount_in` of `token_in` ("risky" or
    "numeraire") at the oracle quote. `risky_feed_scale` = 10**(risky decimals + feed
    decimals), `numeraire_scale` = 10**(numeraire decimals)."""
    if token_in == NUMERAIRE:
        return (amount_in * risky_feed_scale * BPS) // (
            answer * (BPS + spread_bps) * numeraire_scale
        )
    if token_in != RISKY:
        raise Revert("oswap: unknown token")
    return (amount_in * answer * (BPS - spread_bps) * numeraire_scale) // (risky_feed_scale * BPS)


@dataclass
class OracleSwap:
    """State of one venue: its inventory of both tokens.

    Attributes:
        spread_bps: half-spread, basis points.
        max_oracle_delay: oldest answer accepted, seconds.
        risky_feed_scale: 10**(risky decimals + feed decimals).
        numeraire_scale: 10**(numeraire decimals).
        inventory: base units held, by token name.
    """

    spread_bps: int
    max_oracle_delay: int
    risky_feed_scale: int
    numeraire_scale: int
    inventory: dict[str, int]

    def quote(self, token_in: str, amount_in: int, answer: int, updated_at: int, now: int) -> int:
        """`quote(tokenIn, amountIn)` at block time `now` with the feed's latest round."""
        self._check_answer(answer, updated_at, now)
        return amount_out(
            token_in, amount_in, answer, self.spread_bps, self.risky_feed_scale,
            self.numeraire_scale,
        )  # fmt: skip

    def swap(
        self,
        token_in: str,
        amount_in: int,
        min_out: int,
        answer: int,
        updated_at: int,
        now: int,
        deadline: int,
    ) -> int:
        """`swap(...)`: takes `amount_in` into the inventory, pays the output out of it."""
        if now > deadline:
            raise Revert("oswap: expired")
        if amount_in <= 0:
            raise Revert("oswap: zero input")
        out = self.quote(token_in, amount_in, answer, updated_at, now)
        if out <= 0:
            raise Revert("oswap: zero output")
        if out < min_out:
            raise Revert("oswap: below minOut")
        token_out = RISKY if token_in == NUMERAIRE else NUMERAIRE
        if out > self.inventory[token_out]:
            raise Revert("oswap: out of depth")
        self.inventory[token_in] += amount_in
        self.inventory[token_out] -= out
        return out

    def _check_answer(self, answer: int, updated_at: int, now: int) -> None:
        if answer <= 0:
            raise Revert("oswap: bad answer")
        if now - updated_at > self.max_oracle_delay:
            raise Revert("oswap: stale oracle")
