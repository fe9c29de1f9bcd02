"""Price processes and per-world streams."""

import math
from pathlib import Path

import numpy as np
import pytest

from sim.errors import ConfigError
from sim.processes import GBM, YEAR, Heston, Merton, Replay, load_price_csv
from sim.stats import mean_se
from sim.streams import WorldStreams

K = 4.0
CSV = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "eth_usd_synthetic_1m.csv"


def _check(sample, theory):
    mean, se = mean_se(sample)
    assert abs(mean - theory) < K * se, (mean, se, theory)


def _paths(proc, n_steps: int, dt: float) -> np.ndarray:
    """Prices of `proc` at the start and after each of `n_steps` steps of `dt` seconds, as the
    engine steps it. Shape: (N, n_steps + 1)."""
    out = [proc.price.copy()]
    for _ in range(n_steps):
        out.append(proc.step(np.full(out[0].shape, dt)).copy())
    return np.stack(out, axis=1)


def _gbm(n, s0, sigma, mu, seed):
    return GBM(n, s0, sigma, mu, WorldStreams.from_rng(np.random.default_rng(seed), n))


def test_streams_are_per_world_and_batch_independent():
    a = WorldStreams(7, 3, 10).normal(5)
    b = WorldStreams(7, 3, 100).normal(5)
    c = WorldStreams(7, 3, 95, offset=5).normal(5)
    np.testing.assert_array_equal(a, b[:, :10])
    np.testing.assert_array_equal(b[:, 5:], c)
    assert not np.array_equal(WorldStreams(7, 4, 10).normal(5), a)
    assert not np.array_equal(WorldStreams(8, 3, 10).normal(5), a)


@pytest.mark.statistical
def test_stream_moments():
    s = WorldStreams(1, 2, 200_000)
    z = s.normal()
    _check(z, 0.0)
    _check(z**2, 1.0)
    _check(s.uniform(), 0.5)
    _check(s.poisson(0.7), 0.7)


@pytest.mark.statistical
def test_gbm_log_return_moments():
    sigma, mu, dt, n = 0.9, 0.3, 3600.0, 48
    paths = _paths(_gbm(20_000, 100.0, sigma, mu, seed=1), n, dt)
    assert paths.shape == (20_000, n + 1)
    t = n * dt / YEAR
    lr = np.log(paths[:, -1] / 100.0)
    _check(lr, (mu - sigma**2 / 2) * t)
    _check((lr - (mu - sigma**2 / 2) * t) ** 2, sigma**2 * t)
    _check(paths[:, -1], 100.0 * math.exp(mu * t))


def test_gbm_same_seed_same_paths_and_sigma_zero_is_a_line():
    a = _paths(_gbm(50, 100.0, 0.8, 0.0, seed=5), 20, 12.0)
    b = _paths(_gbm(50, 100.0, 0.8, 0.0, seed=5), 20, 12.0)
    np.testing.assert_array_equal(a, b)
    flat = _paths(_gbm(5, 100.0, 0.0, 0.5, seed=5), 20, YEAR / 20)
    np.testing.assert_allclose(flat[0], 100.0 * np.exp(0.5 * np.arange(21) / 20), rtol=1e-12)


@pytest.mark.statistical
def test_merton_mean_is_compensated():
    mu, t_steps, dt = 0.1, 24, 3600.0 * 24
    rng, n = np.random.default_rng(2), 40_000
    streams = WorldStreams.from_rng(rng, n), WorldStreams.from_rng(rng, n)
    paths = _paths(Merton(n, 100.0, 0.5, mu, 50.0, -0.05, 0.1, *streams), t_steps, dt)
    t = t_steps * dt / YEAR
    _check(paths[:, -1], 100.0 * math.exp(mu * t))
    # Jumps fatten the tails: excess kurtosis of daily log returns is clearly positive.
    r = np.diff(np.log(paths), axis=1).ravel()
    assert ((r - r.mean()) ** 4).mean() / r.var() ** 2 > 3.5


@pytest.mark.statistical
def test_heston_mean_and_variance_level():
    rng, n = np.random.default_rng(3), 20_000
    streams = WorldStreams.from_rng(rng, n), WorldStreams.from_rng(rng, n)
    paths = _paths(Heston(n, 100.0, 0.05, 0.25, 2.0, 0.25, 0.5, -0.7, *streams), 30, 86400.0)
    t = 30 * 86400.0 / YEAR
    _check(paths[:, -1], 100.0 * math.exp(0.05 * t))


def test_replay_no_lookahead_and_wraps():
    times, prices = load_price_csv(CSV)
    rp = Replay(times, prices, np.zeros(2))
    assert rp.price[0] == pytest.approx(prices[0], rel=1e-14)
    rp.step(np.array([59.0, 60.0]))
    assert rp.price[0] == pytest.approx(prices[0], rel=1e-14)  # 60 s tick unseen at 59 s
    assert rp.price[1] == pytest.approx(prices[1], rel=1e-14)
    rp2 = Replay(times, prices, np.array([times[-1]]))
    np.testing.assert_allclose(rp2.price, prices[-1])


def test_replay_bad_csv(tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text("timestamp,price\n2,1\n1,1\n")
    with pytest.raises(ConfigError, match="increasing"):
        load_price_csv(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_price_csv(tmp_path / "none.csv")
