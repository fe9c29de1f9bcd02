"""The book's Greeks against finite differences of the book's value."""

import numpy as np
import pytest

from sim.decisions.book import OptionPositions, compute_book, cpmm_lp_greeks, option_greeks
from sim.processes import YEAR

DAY = 86_400.0


def random_positions(rng, n, spot=3000.0, now=0.0):
    return OptionPositions(
        size=rng.normal(0, 10, n),
        strike=spot * rng.uniform(0.6, 1.6, n),
        expiry=now + rng.uniform(1, 180, n) * DAY,
        is_call=rng.integers(0, 2, n).astype(bool),
        iv=rng.uniform(0.4, 1.2, n),
    )


def value(positions, spot, now, lp_k=0.0, lp_share=0.0):
    return option_greeks(positions, spot, now)["price"] + lp_share * 2 * np.sqrt(lp_k * spot)


def test_option_book_greeks_match_finite_differences():
    rng = np.random.default_rng(11)
    pos = random_positions(rng, 200)
    s, now, h = 3000.0, 0.0, 0.5
    book = compute_book(s, now, pos)
    v0, up, down = value(pos, s, now), value(pos, s + h, now), value(pos, s - h, now)
    assert book.delta == pytest.approx((up - down) / (2 * h), rel=1e-6)
    assert book.gamma == pytest.approx((up - 2 * v0 + down) / h**2, rel=1e-4)
    dv = 1e-4
    bumped = [
        OptionPositions(pos.size, pos.strike, pos.expiry, pos.is_call, pos.iv + e)
        for e in (dv, -dv)
    ]
    vega_fd = (value(bumped[0], s, now) - value(bumped[1], s, now)) / (2 * dv)
    assert book.vega == pytest.approx(vega_fd, rel=1e-6)
    dt = 60.0  # theta is dV/dt per year of calendar time
    theta_fd = (value(pos, s, now + dt) - value(pos, s, now - dt)) / (2 * dt / YEAR)
    assert book.theta == pytest.approx(theta_fd, rel=1e-4)


def test_lp_greeks_match_the_constant_product_value():
    k, share, s, h = 1000.0 * 3_000_000.0, 0.25, 3000.0, 0.01
    x = np.sqrt(k / s)  # base reserve of a pool priced at s
    g = cpmm_lp_greeks(x, share, s)
    v = lambda p: share * 2 * np.sqrt(k * p)  # noqa: E731
    assert g["delta"] == pytest.approx((v(s + h) - v(s - h)) / (2 * h), rel=1e-8)
    assert g["gamma"] == pytest.approx((v(s + h) - 2 * v(s) + v(s - h)) / h**2, rel=1e-4)


def test_expired_positions_contribute_nothing_and_empty_book_is_flat():
    pos = OptionPositions(
        np.array([5.0]), np.array([3000.0]), np.array([100.0]), np.array([True]), np.array([0.8])
    )
    assert option_greeks(pos, 3000.0, 200.0)["delta"] == 0.0
    book = compute_book(3000.0, 0.0)
    assert (book.delta, book.gamma, book.vega, book.theta) == (0.0, 0.0, 0.0, 0.0)


def test_book_is_batch_shaped_over_worlds():
    rng = np.random.default_rng(5)
    pos = random_positions(rng, 50)
    spots = np.array([2500.0, 3000.0, 3500.0])
    batch = compute_book(
        spots, 0.0, pos, lp_reserve_base=np.array([10.0, 20.0, 30.0]), lp_share=0.5
    )
    for i, s in enumerate(spots):
        one = compute_book(s, 0.0, pos, lp_reserve_base=[10.0, 20.0, 30.0][i], lp_share=0.5)
        assert batch.delta[i] == pytest.approx(one.delta, rel=1e-14)
        assert batch.gamma[i] == pytest.approx(one.gamma, rel=1e-14)
    assert batch.delta_quote.shape == (3,)


def test_short_call_book_is_short_delta_short_gamma_short_vega():
    pos = OptionPositions(
        np.array([-10.0]),
        np.array([3000.0]),
        np.array([30 * DAY]),
        np.array([True]),
        np.array([0.8]),
    )
    book = compute_book(3000.0, 0.0, pos)
    assert book.delta < 0 and book.gamma < 0 and book.vega < 0 and book.theta > 0
