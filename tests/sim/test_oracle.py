"""Chainlink-style feed (deviation, heartbeat, latency), TWAP and the oracle-priced venue."""

import numpy as np

from sim.streams import WorldStreams
from sim.venues.cpmm.batch import CpmmBatch, Twap
from sim.venues.cpmm.config import TwapConfig
from sim.venues.oracle_swap.batch import OracleVenue
from sim.venues.oracle_swap.config import OracleVenueConfig
from sim.venues.pricefeed.batch import ChainlinkFeed
from sim.venues.pricefeed.config import OracleConfig


def _feed(**kw):
    cfg = OracleConfig(deviation_bps=50, heartbeat=60, latency_blocks=2, **kw)
    return ChainlinkFeed(cfg, np.array([100.0, 100.0]), WorldStreams(0, 1, 2))


def test_deviation_update_lands_after_latency_with_the_observed_price():
    f = _feed()
    now = np.array([12.0, 12.0])
    landed = f.step(0, now, np.array([100.6, 100.2]))  # world 0 moves 60 bp, world 1 20 bp
    assert not landed.any()
    f.step(1, now + 12, np.array([101.0, 100.2]))
    assert np.array_equal(f.answer, [100.0, 100.0])
    landed = f.step(2, now + 24, np.array([101.0, 100.2]))
    assert landed.tolist() == [True, False]
    assert f.answer[0] == 100.6  # stale by construction: the price observed two blocks ago
    assert f.answer[1] == 100.0


def test_heartbeat_forces_an_update():
    f = _feed()
    landed = []
    for b in range(10):
        landed.append(f.step(b, np.full(2, 12.0 * (b + 1)), np.full(2, 100.0)))
    assert np.any(np.array(landed)[:, 0])  # 60 s heartbeat at 12 s blocks
    assert f.updated_at[0] >= 60.0


def test_zero_latency_lands_same_block():
    cfg = OracleConfig(deviation_bps=10, latency_blocks=0)
    f = ChainlinkFeed(cfg, np.array([100.0]), WorldStreams(0, 1, 1))
    assert f.step(0, np.array([12.0]), np.array([101.0]))[0]
    assert f.answer[0] == 101.0


def test_twap_of_a_constant_price_and_of_a_step():
    pool = CpmmBatch("pool", np.array([1.0]), np.array([100.0]), 30.0)
    tw = Twap(TwapConfig(pool="pool", window_blocks=4), pool)
    for b in range(1, 6):
        pool.accumulate(np.array([12.0 * b]))
        tw.update()
    np.testing.assert_allclose(tw.value, 100.0)
    pool.y[:] = 200.0  # a trade at t = 60 doubles the price
    pool.accumulate(np.array([72.0]))
    tw.update()
    np.testing.assert_allclose(tw.value, (3 * 100.0 + 200.0) / 4)  # window 24..72 s
    pool.accumulate(np.array([84.0]))
    tw.update()
    np.testing.assert_allclose(tw.value, (2 * 100.0 + 2 * 200.0) / 4)


def test_oracle_venue_quotes_and_books_taker_pnl():
    f = _feed()
    v = OracleVenue(OracleVenueConfig(oracle="feed", spread_bps=10), f)
    bid, ask = v.quote()
    np.testing.assert_allclose(bid, 99.9)
    np.testing.assert_allclose(ask, 100.1)
    v.fill(np.array([1.0, 0.0]), ask, np.array([101.0, 100.0]))
    np.testing.assert_allclose(v.pnl, [-0.9, 0.0])
