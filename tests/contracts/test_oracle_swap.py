"""OracleSwap: an oracle-priced spot venue, checked against the `sim.venues.oracle_swap.twin` twin.

A differential sequence of feed rounds and swaps in both directions (with 18/6/8 decimals,
the WETH/USDC/Chainlink shape) must leave the contract and the twin with the same outputs
and inventory; every revert string is reached on both.
"""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.oracle_swap.twin import NUMERAIRE, RISKY, OracleSwap, amount_out

pytestmark = pytest.mark.chain

MAX_UINT256 = 2**256 - 1
SPREAD = 25
DELAY = 3600
INVENTORY = {RISKY: 1_000 * 10**18, NUMERAIRE: 2_000_000 * 10**6}


@pytest.fixture(scope="module")
def venue_setup(project, owner, alice):
    weth = owner.deploy(project.ERC20, "Wrapped Ether", "WETH", 18, owner)
    usdc = owner.deploy(project.ERC20, "USD Coin", "USDC", 6, owner)
    feed = owner.deploy(project.PriceFeed, 8, "ETH / USD", owner)
    venue = owner.deploy(project.OracleSwap, weth, usdc, feed, SPREAD, DELAY)
    weth.mint(venue, INVENTORY[RISKY], sender=owner)
    usdc.mint(venue, INVENTORY[NUMERAIRE], sender=owner)
    for token in (weth, usdc):
        token.mint(alice, 10**30, sender=owner)
        token.approve(venue, MAX_UINT256, sender=alice)
    feed.transmit(2_000 * 10**8, sender=owner)
    return {"venue": venue, RISKY: weth, NUMERAIRE: usdc, "feed": feed}


@pytest.fixture
def oswap(venue_setup):
    return venue_setup


def _twin() -> OracleSwap:
    return OracleSwap(SPREAD, DELAY, 10 ** (18 + 8), 10**6, dict(INVENTORY))


def _inventory(s) -> dict[str, int]:
    return {t: s[t].balanceOf(s["venue"]) for t in (RISKY, NUMERAIRE)}


def test_quotes_are_the_oracle_price_plus_minus_the_spread(oswap):
    venue = oswap["venue"]
    one_weth = venue.quote(oswap[RISKY], 10**18)
    assert one_weth == 2_000 * 10**6 * (10_000 - SPREAD) // 10_000  # bid
    usdc_in = 2_000 * 10**6 * (10_000 + SPREAD) // 10_000
    assert venue.quote(oswap[NUMERAIRE], usdc_in) == 10**18  # ask
    assert amount_out(RISKY, 10**18, 2_000 * 10**8, SPREAD, 10**26, 10**6) == one_weth


actions = st.lists(
    st.one_of(
        st.tuples(st.just("transmit"), st.integers(1, 10**13), st.integers(1, 600)),
        st.tuples(st.just(RISKY), st.integers(1, 10**21), st.integers(0, 1)),
        st.tuples(st.just(NUMERAIRE), st.integers(1, 10**12), st.integers(0, 1)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=actions)
def test_differential_sequence(oswap, alice, owner, chain, sequence):
    """Same outputs, same reverts, same inventory after every step."""
    twin = _twin()
    twin.inventory = _inventory(oswap)
    venue, feed = oswap["venue"], oswap["feed"]
    snap = chain.snapshot()
    try:
        answer, updated = feed.latestRoundData()[1], feed.latestRoundData()[3]
        for kind, amount, extra in sequence:
            if kind == "transmit":
                chain.pending_timestamp = chain.blocks.head.timestamp + extra
                receipt = feed.transmit(amount, sender=owner)
                answer, updated = amount, chain.blocks[receipt.block_number].timestamp
                continue
            ts = chain.blocks.head.timestamp + 1
            chain.pending_timestamp = ts
            min_out = 0
            try:
                want = twin.swap(kind, amount, min_out, answer, updated, ts, ts + 60)
            except Revert as err:
                with ape.reverts(str(err)):
                    venue.swap(oswap[kind], amount, min_out, alice, ts + 60, sender=alice)
            else:
                receipt = venue.swap(oswap[kind], amount, min_out, alice, ts + 60, sender=alice)
                assert receipt.return_value == want
            assert _inventory(oswap) == twin.inventory
    finally:
        chain.restore(snap)


def test_every_revert_matches_the_twin(oswap, alice, owner, chain, project):
    venue, feed = oswap["venue"], oswap["feed"]
    twin = _twin()
    twin.inventory = _inventory(oswap)
    answer, updated = feed.latestRoundData()[1], feed.latestRoundData()[3]
    ts = chain.blocks.head.timestamp + 1
    cases = [
        (RISKY, 10**18, 0, ts - 1, "oswap: expired"),
        (RISKY, 0, 0, ts + 60, "oswap: zero input"),
        (RISKY, 1, 0, ts + 60, "oswap: zero output"),
        (RISKY, 10**18, 10**12, ts + 60, "oswap: below minOut"),
        (RISKY, 10**24, 0, ts + 60, "oswap: out of depth"),
    ]
    for token, amount, min_out, deadline, message in cases:
        with pytest.raises(Revert, match=message):
            twin.swap(token, amount, min_out, answer, updated, ts, deadline)
        chain.pending_timestamp = ts
        with ape.reverts(message):
            venue.swap(oswap[token], amount, min_out, alice, deadline, sender=alice)
    with ape.reverts("oswap: unknown token"):
        venue.quote(feed.address, 1)
    with pytest.raises(Revert, match="oswap: unknown token"):
        twin.quote("feed", 1, answer, updated, ts)
    # Stale: the answer outlives maxOracleDelay.
    late = updated + DELAY + 1
    with pytest.raises(Revert, match="oswap: stale oracle"):
        twin.swap(RISKY, 10**18, 0, answer, updated, late, late + 60)
    chain.pending_timestamp = late
    with ape.reverts("oswap: stale oracle"):
        venue.swap(oswap[RISKY], 10**18, 0, alice, late + 60, sender=alice)
    with ape.reverts("oswap: not owner"):
        venue.withdraw(oswap[RISKY], 1, alice, sender=alice)
    with ape.reverts("oswap: identical tokens"):
        owner.deploy(project.OracleSwap, oswap[RISKY], oswap[RISKY], feed, SPREAD, DELAY)
    with ape.reverts("oswap: spread >= 100%"):
        owner.deploy(project.OracleSwap, oswap[RISKY], oswap[NUMERAIRE], feed, 10_000, DELAY)


def test_owner_withdraws_inventory(oswap, owner):
    venue, weth = oswap["venue"], oswap[RISKY]
    before = weth.balanceOf(owner)
    venue.withdraw(weth, 10**18, owner, sender=owner)
    assert weth.balanceOf(owner) == before + 10**18
