"""Random sequences of pool operations give identical results on chain and on the twin.

Hypothesis draws sequences of transfers, mints, burns, swaps (exact, one wei too greedy,
or one wei short), skims, syncs and waits; every step runs on the deployed pool and on
`sim.venues.cpmm.twin.CPMMPool`, must succeed or revert with the same reason on both, and must
leave identical balances, reserves, timestamp, LP supply, LP balances and cumulative prices.
Each example starts from the empty pool (chain snapshot restored after it).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sim.errors import Revert
from sim.venues.cpmm import twin as cpmm

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ZERO = cpmm.ZERO_ADDRESS

token_amounts = st.one_of(st.integers(0, 10**4), st.integers(10**12, 10**21))
recipients = st.sampled_from(["alice", "bob", "zero"])
# Swap input as parts per million of the input reserve (any size, even above it) or raw.
swaps = st.tuples(
    st.just("swap"),
    st.booleans(),
    st.one_of(st.integers(1, 3 * 10**6), st.integers(0, 10**4).map(lambda n: -n)),
    st.sampled_from([-1, 0, 0, 1]),
)
steps = st.one_of(
    *[swaps] * 4,
    st.tuples(st.just("deposit"), token_amounts, token_amounts),
    st.tuples(st.just("mint"), recipients),
    st.tuples(st.just("burn"), st.integers(0, 10**6), recipients),
    st.tuples(st.just("skim"), recipients),
    st.tuples(st.just("sync")),
    st.tuples(st.just("wait"), st.one_of(st.integers(0, 30), st.integers(0, 10**6))),
    st.tuples(st.just("wait"), st.integers(1, 600)),
    # Rarely: push balance0 past uint112; mint/swap/sync/burn overflow until skimmed.
    st.tuples(st.just("deposit"), st.just(2**112), st.just(0)),
)
# Most sequences should start by seeding the pool so that swaps and burns get exercised.
seed = st.tuples(st.just("deposit"), st.integers(10**4, 10**22), st.integers(10**4, 10**22))
sequences = st.tuples(seed, st.just(("mint", "alice")), st.lists(steps, min_size=1, max_size=8))


def run_step(t, step, who) -> None:
    kind = step[0]
    outcome = None
    if kind == "deposit":
        t.transfer_in(step[1], step[2])
    elif kind == "mint":
        outcome = t.mint(who[step[1]])
    elif kind == "burn":
        lp = t.pool.balanceOf(t.user)
        t.transfer_lp(lp * step[1] // 10**6)
        outcome = t.burn(who[step[2]])
    elif kind == "swap":
        zero_for_one, size, delta = step[1:]
        reserve_in, reserve_out = t.twin.reserve0, t.twin.reserve1
        if not zero_for_one:
            reserve_in, reserve_out = reserve_out, reserve_in
        # size > 0: parts per million of the input reserve; size <= 0: -size base units.
        amount_in = reserve_in * size // 10**6 if size > 0 else -size
        try:
            out = cpmm.get_amount_out(amount_in, reserve_in, reserve_out, t.twin.fee_bps)
        except Revert:
            out = 1
        out = max(out + delta, 0)
        t.transfer_in(*((amount_in, 0) if zero_for_one else (0, amount_in)))
        outcome = t.swap(*((0, out) if zero_for_one else (out, 0)), who["alice"])
    elif kind == "skim":
        outcome = t.skim(who[step[1]])
    elif kind == "sync":
        outcome = t.sync()
    elif kind == "wait":
        t.wait(step[1])
    if outcome is not None:
        event(f"{kind}: {outcome.reason or 'ok'}")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sequence=sequences)
def test_pool_matches_twin(chain, make_twinned, alice, bob, sequence):
    who = {"alice": alice.address, "bob": bob.address, "zero": ZERO}
    first, second, rest = sequence
    snapshot = chain.snapshot()
    try:
        t = make_twinned()
        for step in [first, second, *rest]:
            run_step(t, step, who)
            t.assert_same_state()
    finally:
        chain.restore(snapshot)
