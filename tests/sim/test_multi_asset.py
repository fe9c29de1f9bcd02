"""The engine's general pieces the arbitrage study runs on, each default-off: a multi-asset
price process, pools on any token pair booked at the tokens' prices, a pipelined (fixed-delay)
feed, the oracle-priced perp venue, and the refusals of what the chain cannot run."""

import math

import numpy as np
import pytest

from sim.engine.context import BlockContext
from sim.engine.exact import check_supported
from sim.engine.ledger import Ledger
from sim.errors import ConfigError
from sim.processes import MultiGBMConfig, multi_gbm
from sim.run import run
from sim.scenario import scenario_from_dict
from sim.streams import WorldStreams
from sim.venues.cpmm.batch import CpmmBatch
from sim.venues.cpmm.exact import CpmmPart
from sim.venues.oracle_perp.batch import OraclePerpVenue
from sim.venues.oracle_perp.config import OraclePerpConfig
from sim.venues.oracle_perp.twin import NUMERAIRE, RISKY, OraclePerpQuote
from sim.venues.pricefeed.batch import ChainlinkFeed
from sim.venues.pricefeed.config import OracleConfig

K = 4.0
PRICE = {
    "kind": "multi_gbm",
    "numeraire": "USDC",
    "assets": [
        {"token": "WETH", "s0": 3000.0, "sigma_per_day": 0.05},
        {"token": "WBTC", "s0": 60000.0, "sigma_per_day": 0.04},
    ],
    "rho": 0.7,
}


def test_correlated_gbm_has_its_variances_and_correlation():
    cfg = MultiGBMConfig(**PRICE)
    n, steps, dt = 20_000, 4, 3600.0
    proc = multi_gbm(cfg, n, WorldStreams(3, 11, n))
    start = proc.log_s.copy()
    for _ in range(steps):
        proc.step(np.full(n, dt))
    assert np.array_equal(proc.prices["USDC"], np.ones(n))
    assert np.array_equal(proc.price, proc.prices["WETH"])  # the primary asset is ctx.ref
    r = proc.log_s - start  # (2, N) log returns over steps * dt seconds
    days = steps * dt / 86400.0
    for k, sigma in enumerate((0.05, 0.04)):
        var = sigma**2 * days
        # mean -var/2 and variance var, each at K standard errors
        se_mean = math.sqrt(var / n)
        assert abs(r[k].mean() + var / 2) < K * se_mean
        se_var = var * math.sqrt(2.0 / (n - 1))
        assert abs(r[k].var(ddof=1) - var) < K * se_var
    rho = np.corrcoef(r)[0, 1]
    assert abs(rho - 0.7) < K * (1 - 0.7**2) / math.sqrt(n - 3)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rho": 1.0}, "rho: not positive definite"),
        ({"correlation": [[1.0, 0.2], [0.3, 1.0]]}, "correlation: must be symmetric"),
        ({"correlation": [[1.0]]}, "correlation: give a 2 x 2 matrix"),
        ({"numeraire": "WBTC"}, "numeraire: 'WBTC' is also an asset"),
    ],
    ids=["perfect-correlation", "asymmetric", "shape", "numeraire-twice"],
)
def test_a_bad_process_is_refused_naming_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        scenario_from_dict({"price": {**PRICE, **change}})


def test_a_pool_on_two_risky_tokens_is_booked_at_both_prices():
    n = 3
    prices = {"WETH": np.array([3000.0, 3100.0, 2900.0]), "WBTC": np.full(n, 60000.0)}
    # 10 M in each token, priced off the reference by the pool: WBTC at 19.8 WETH
    pool = CpmmBatch(
        "p", np.full(n, 1e7 / 60000), np.full(n, 1e7 / 3030), 30.0, tokens=("WBTC", "WETH")
    )
    x0, y0 = pool.x.copy(), pool.y.copy()
    ledger = Ledger(n, {"p": pool}, ["arb"], [], prices.__getitem__)
    ledger.start(prices["WETH"])
    ctx = BlockContext(
        0,
        np.zeros(n),
        np.ones(n),
        prices["WETH"],
        np.zeros(n),
        None,
        {"pools": {"p": pool}},
        ledger,
    )
    ctx.prices = {**prices, "USDC": np.ones(n)}
    a = np.array([2.0, 0.0, 1.0])  # WETH in, WBTC out, in worlds 0 and 2
    out = ctx.swap("arb", "p", a, np.array([1, 0, 1]), is_arb=True)
    b = ledger.books["p"]
    p_weth, p_wbtc = prices["WETH"], prices["WBTC"]
    fee = 0.003 * a * p_weth
    pnl = out * p_wbtc - a * p_weth
    np.testing.assert_allclose(b.fees, fee, rtol=1e-12)
    np.testing.assert_allclose(b.lvr, pnl + fee, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ledger.agent_pnl["arb"], pnl, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(b.volume, a * p_weth)
    v = pool.x * p_wbtc + pool.y * p_weth
    np.testing.assert_allclose(b.lvr_frac, (pnl + fee) / v, rtol=1e-12, atol=1e-15)
    assert out[1] == 0 and pool.x[1] == x0[1] and pool.y[1] == y0[1]
    table = ledger.world_table(prices["WETH"], {})
    np.testing.assert_allclose(table["p.price_ratio"], 1.0)
    hold = x0 * p_wbtc + y0 * p_weth
    np.testing.assert_allclose(table["p.lp_vs_hold"], v / hold - 1.0, rtol=1e-12)


def _scenario(**extra):
    base = {
        "price": PRICE,
        "paths": 2,
        "blocks": {"n_blocks": 5},
        "pools": [{"name": "cross", "tokens": ["WBTC", "WETH"]}, {"name": "main"}],
        "agents": [{"kind": "graph_arbitrageur", "name": "arb"}],
    }
    return scenario_from_dict({**base, **extra})


def test_pools_on_other_pairs_take_only_agents_that_trade_any_pair():
    sc = _scenario()
    assert sc.pools[0].pair(sc) == ("WBTC", "WETH") and sc.pools[1].pair(sc) is None
    with pytest.raises(
        ConfigError, match="pools.cross.tokens: agent 'a' .arbitrageur. trades only"
    ):
        _scenario(agents=[{"kind": "arbitrageur", "name": "a", "pools": ["cross"]}])
    # without a list of pools, a CEX-DEX arbitrageur trades the risky/numeraire pools alone
    _scenario(agents=[{"kind": "arbitrageur", "name": "a"}])
    with pytest.raises(ConfigError, match=r"pools.cross.tokens: name two different tokens"):
        _scenario(pools=[{"name": "cross", "tokens": ["WBTC", "DOGE"]}])
    with pytest.raises(ConfigError, match=r"pools.cross.tokens: name two different tokens"):
        scenario_from_dict({"pools": [{"name": "cross", "tokens": ["risky", "WBTC"]}]})


def test_the_chain_refuses_what_it_cannot_run_in_one_line():
    with pytest.raises(ConfigError, match="^price.kind: multi_gbm"):
        run(_scenario(), backend="chain")  # before any node starts
    with pytest.raises(ConfigError, match="^pools.cross.tokens: the chain holds"):
        CpmmPart.check(_scenario())
    single = {"paths": 1, "blocks": {"n_blocks": 5}}
    with pytest.raises(ConfigError, match="^agents.g: kind 'graph_arbitrageur' has no chain"):
        check_supported(
            scenario_from_dict({**single, "agents": [{"kind": "graph_arbitrageur", "name": "g"}]})
        )
    feed = {"name": "o", "pipelined": True}
    with pytest.raises(ConfigError, match="^oracles.o.pipelined: not on chain yet"):
        check_supported(scenario_from_dict({**single, "oracles": [feed]}))
    perp = [{"name": "pp", "oracle": "o"}]
    with pytest.raises(ConfigError, match=r"^oracle_perps \(pp\): no contract"):
        check_supported(
            scenario_from_dict({**single, "oracles": [{"name": "o"}], "oracle_perps": perp})
        )


@pytest.mark.parametrize("lag", [0, 1, 5])
def test_a_pipelined_feed_answers_the_price_exactly_lag_blocks_ago(lag):
    cfg = OracleConfig(name="o", deviation_bps=0, heartbeat=12, latency_blocks=lag, pipelined=True)
    n = 2
    ref = np.array([[100.0 + t + 10 * w for w in range(n)] for t in range(30)])
    feed = ChainlinkFeed(cfg, np.array([99.0, 109.0]), WorldStreams(0, 1, n))
    for t in range(30):
        landed = feed.step(t, np.full(n, 12.0 * (t + 1)), ref[t])
        want = ref[t - lag] if t >= lag else np.array([99.0, 109.0])
        np.testing.assert_array_equal(feed.price(), want)
        assert landed.all() == (t >= lag)
        if t >= lag:
            np.testing.assert_array_equal(feed.updated_at, np.full(n, 12.0 * (t + 1)))


class FixedFeed:
    """A feed whose answer the test sets."""

    def __init__(self, answer):
        self.answer = answer

    def price(self):
        return self.answer


def test_the_oracle_perp_float_quote_is_its_integer_twin_within_rounding():
    rng = np.random.default_rng(4)
    scale = {RISKY: 10**18, NUMERAIRE: 10**6}
    feed_scale = 10**8
    twin = OraclePerpQuote(2000 * scale[RISKY], 5, scale[RISKY] * feed_scale, scale[NUMERAIRE])
    oracle = FixedFeed(np.array([3000.0]))
    venue = OraclePerpVenue(OraclePerpConfig(name="p", depth=2000.0, fee_bps=5), 1, oracle)
    for _ in range(20):
        price = float(rng.uniform(2000, 4000))
        answer = round(price * feed_scale)
        price = answer / feed_scale
        oracle.answer = np.array([price])
        twin.recenter(answer)
        venue.recenter()
        for _ in range(5):
            token = RISKY if rng.random() < 0.5 else NUMERAIRE
            amount = float(rng.uniform(0.1, 50.0)) * (1.0 if token == RISKY else price)
            units = round(amount * scale[token])
            out_twin = twin.swap(token, units) / scale[RISKY if token == NUMERAIRE else NUMERAIRE]
            d = np.array([1 if token == NUMERAIRE else -1])
            out = venue.swap(np.array([units / scale[token]]), d, np.array([price]), True)[0]
            assert out == pytest.approx(out_twin, rel=1e-9)
    m = venue.world_columns()
    # the perp's LPs lose what its takers gain at the reference price (here, the oracle)
    assert m["oracle_perp.p.loss"][0] == pytest.approx(
        m["oracle_perp.p.lvr"][0] - m["oracle_perp.p.fees"][0]
    )
    assert m["oracle_perp.p.n_trades"][0] == 100 and m["oracle_perp.p.fees"][0] > 0
