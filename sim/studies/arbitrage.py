"""Cross-protocol arbitrage study: who profits and how much the LPs lose, against fee tier,
block time, gas price and oracle latency.

The market. Three tokens, USDC (the numeraire, worth 1) and WETH, WBTC whose reference (CEX)
prices follow a correlated GBM (zero drift, volatility per sqrt(day)). The venues:

* constant-product pools with Uniswap V2 semantics (fee on the input, kept in the reserves),
  seeded at the reference prices: WETH/USDC at a fixed 5 bp, and WETH/USDC, WBTC/USDC and
  WBTC/WETH at the studied fee tier;
* the reference market itself (a CEX leg per token against USDC: no gas, infinite depth,
  optional taker fee) that anchors every cycle;
* optionally a WETH perp quoted off an oracle: an oracle-priced venue that re-centres each block
  on the oracle's answer, which is the WETH reference price `oracle_latency` seconds ago, with
  constant-product depth (`perp_depth` WETH of virtual reserve, so a fill's premium grows with
  its size like a perp's skew premium) and a taker fee. Its counterparty (the perp's LPs) is the
  venue's "LP".
* optionally an options pool on WETH (`sim.venues.options.batch.OptionsPoolVec`, the contract's
  vectorised twin) priced off the same oracle, one board of strikes around the initial price.
  It enters the graph through its synthetic forwards (`sim.venues.options.forward`): buying a call and
  selling a put at one strike (plus the strike as collateral) is one WETH delivered at expiry,
  so with the pool's zero rate it converts USDC to WETH at K + C_ask − P_bid and back at
  K + C_bid − P_ask, which parity puts at the oracle price plus the two legs' fees (option
  value, spot and vega-utilisation fees) and IV impact. The pool's fees are wide (the spot
  fee alone is 0.1 % a leg), so it is arbitraged only when its oracle strays. A forward is
  IV-neutral (the put leg undoes the call leg's IV and skew impact), so its quote does not
  move after a fill: against a stale oracle the arbitrageur repeats it, as many times a block
  as `max_cycles` lets it.

The arbitrageur. Each block it builds the token graph of every venue (`sim.decisions.arbgraph`: edge
weight -ln(marginal rate after fee), best venue per direction), asks for a negative cycle
(Bellman-Ford), sizes it in closed form (the cycle is a Möbius map a·x/(b + c·x) of its input,
x* = (sqrt(ab) - b)/c; a CEX leg is the linear map p·x; a cycle through the options pool's
forward is sized numerically on the pool's own pricing, `sim.decisions.arbgraph.plan`), and executes it
if its profit at the reference prices pays its gas (one swap's gas units per pool hop, a perp
trade's per perp hop, two option trades' per forward; gas priced in WETH). It repeats until
no cycle pays, at most `max_cycles` times a block. A screen skips the graph in blocks where
every venue is inside its fee band against the reference prices: then no cycle can be
profitable (the reference terms of a cycle telescope, so its log-rate is at most the sum of
its venues' mispricings minus their fees; for the options pool the screen's fee is one leg's
spot fee, a lower bound on the forward's cost).

Accounting, at the block's reference prices p, per hop that sells x of token i for y of j on a
venue with fee f:

    LP fee      = f·x·p_i
    LVR         = y·p_j - (1 - f)·x·p_i          (the LP's loss net of the fee)
    arb P&L     = y·p_j - x·p_i = LVR - fee      (summed over the cycle's hops)

so arbitrage profit (gross of gas) = sum of LVR - fees over the venues - CEX fees, exactly
(tested). For a forward on the options pool, x and y are the USDC and WETH of the conversion,
its fee what the pool charged on top of the fee-free option values (both legs), and
LVR - fee is the options LPs' loss against the reference price at trade time; WETH delivered
at expiry is valued at the reference price (zero rate; the pool settles at its oracle, which
at expiry differs from the reference by the oracle's lag, a zero-mean difference left out).
LVR is also divided by the pool's value after the trade and summed, giving the `lvr_rate` of
each pool as a fraction of its value per day: for one pool, zero fee and short
blocks its expectation is sigma^2/8 per day (Milionis et al. 2022; tested at 3 SE).
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.decisions.arbgraph import CexLeg, Pool, add_edge, build_graph, find_cycle, plan
from sim.stats import summarise_worlds
from sim.venues.cpmm.batch import BPS
from sim.venues.options.batch import OptionsPoolVec
from sim.venues.options.config import OptionsPricing
from sim.venues.options.forward import OptionsForward
from sim.venues.options.venue import vec_params

DAY = 86400.0
GWEI = 1e-9
TOKENS = ("USDC", "WETH", "WBTC")


class PoolSpec(BaseModel):
    """A constant-product pool of the study."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str
    """Pool name."""
    token0: str
    """First token (priced in token1 by the pool)."""
    token1: str
    """Second token."""
    fee_bps: float | None = Field(None, ge=0, lt=10_000)
    """Fee on the input, basis points; None takes the study's `fee_tier_bps`."""
    tvl: float = Field(2e7, gt=0)
    """Initial value in USD, half in each token."""


def default_pools() -> list[PoolSpec]:
    return [
        PoolSpec(name="weth_usdc_5", token0="WETH", token1="USDC", fee_bps=5.0, tvl=2e7),
        PoolSpec(name="weth_usdc_t", token0="WETH", token1="USDC", tvl=2e7),
        PoolSpec(name="wbtc_usdc_t", token0="WBTC", token1="USDC", tvl=1e7),
        PoolSpec(name="wbtc_weth_t", token0="WBTC", token1="WETH", tvl=1e7),
    ]


class OptionsVenueSpec(OptionsPricing):
    """The options pool of the study: one board on WETH, quoted in USDC, read off the oracle;
    pricing, fees and limits as in `sim.scenario.OptionsPricing` (the contract's defaults)."""

    liquidity: float = Field(1e7, gt=0)
    """LP deposit, USDC."""
    expiry_days: float = Field(7.0, gt=0)
    """Board expiry from the start, days; must outlast the horizon plus the trading cutoff."""
    base_iv: float = Field(0.9, gt=0)
    """Initial base IV (annualised)."""
    moneyness: list[float] = Field(default_factory=lambda: [0.9, 1.0, 1.1], min_length=1)
    """Strikes as multiples of the initial WETH price (at most 8)."""
    skews: list[float] | None = None
    """Skew of each strike (None: 1.0 each)."""
    call_cap: float = Field(4.0, ge=0.1, le=100.0)
    """A call pays at most call_cap x strike."""

    @model_validator(mode="after")
    def _check(self) -> OptionsVenueSpec:
        if len(self.moneyness) > 8:
            raise ValueError("options_pool.moneyness: at most 8 strikes per board")
        if self.skews is not None and len(self.skews) != len(self.moneyness):
            raise ValueError("options_pool.skews: give one skew per moneyness, or leave it out")
        return self


class ArbStudyConfig(BaseModel):
    """One point of the study: market, venues, chain and arbitrageur settings."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seed: int = Field(0, ge=0)
    """Seed; world w draws from np.random.default_rng([seed, w])."""
    worlds: int = Field(16, ge=1)
    """Independent worlds."""
    horizon: float = Field(6 * 3600.0, gt=0)
    """Simulated time per world, seconds."""
    block_time: float = Field(12.0, gt=0)
    """Block time, seconds (fixed)."""
    fee_tier_bps: float = Field(30.0, ge=0, lt=10_000)
    """Fee of the pools whose `fee_bps` is None, basis points."""
    gas_gwei: float = Field(10.0, ge=0)
    """Gas price (base + priority fee), gwei; gas is paid in WETH at its reference price."""
    swap_gas: int = Field(110_000, ge=0)
    """Gas units per pool hop of a cycle."""
    perp_gas: int = Field(160_000, ge=0)
    """Gas units per perp hop of a cycle."""
    oracle_latency: float = Field(12.0, ge=0)
    """Age of the oracle answer that prices the perp, seconds (rounded to whole blocks)."""
    perp: bool = True
    """Include the oracle-priced WETH perp venue."""
    perp_depth: float = Field(2000.0, gt=0)
    """Virtual WETH reserve of the perp's constant-product quote around the oracle price."""
    perp_fee_bps: float = Field(5.0, ge=0, lt=10_000)
    """Perp taker fee, basis points."""
    cex_fee_bps: float = Field(0.0, ge=0, lt=10_000)
    """Taker fee of the reference (CEX) legs, basis points."""
    s0: dict[str, float] = Field(default_factory=lambda: {"WETH": 3000.0, "WBTC": 60000.0})
    """Initial reference prices, USD."""
    sigma_per_day: dict[str, float] = Field(default_factory=lambda: {"WETH": 0.05, "WBTC": 0.04})
    """Volatility of each reference price, per sqrt(day)."""
    rho: float = Field(0.7, ge=-1, le=1)
    """Correlation of the WETH and WBTC log-price shocks."""
    pools: list[PoolSpec] = Field(default_factory=default_pools)
    """Constant-product pools."""
    options: bool = True
    """Include the options pool (its synthetic forwards) priced off the oracle."""
    options_pool: OptionsVenueSpec = Field(default_factory=OptionsVenueSpec)
    """The options pool."""
    option_gas: int = Field(220_000, ge=0)
    """Gas units per option trade (a forward is two; anvil: 160,150 to 221,933)."""
    max_cycles: int = Field(8, ge=1)
    """Most cycles executed per block."""

    @model_validator(mode="after")
    def _check(self) -> ArbStudyConfig:
        o = self.options_pool
        if self.options and o.expiry_days * DAY < self.horizon + o.trading_cutoff:
            raise ValueError(
                f"options_pool.expiry_days: the board ({o.expiry_days:g} days) must outlast the "
                f"horizon plus the trading cutoff ({(self.horizon + o.trading_cutoff) / DAY:g} "
                "days); raise it or shorten the horizon"
            )
        return self

    def fee(self, p: PoolSpec) -> float:
        return self.fee_tier_bps if p.fee_bps is None else p.fee_bps


# metric -> (unit, description)
METRICS: dict[str, tuple[str, str]] = {
    "arb_volume": (
        "USD/day",
        "volume the arbitrageur sold into pools, perp and options, at reference",
    ),
    "arb_profit": ("USD/day", "arbitrage profit net of gas, at reference prices"),
    "arb_gas": ("USD/day", "gas the arbitrageur paid"),
    "lvr": ("USD/day", "loss-versus-rebalancing of the pools' LPs (net of nothing)"),
    "fees": ("USD/day", "fees the pools' LPs earned from the arbitrageur"),
    "lp_loss": ("USD/day", "pools' LPs: LVR minus fees"),
    "lvr_bp": ("bp/day", "pools' LVR over their total initial value"),
    "perp_loss": ("USD/day", "perp counterparty: LVR minus fees (oracle latency's price)"),
    "options_volume": ("USD/day", "volume the arbitrageur sold into the options pool's forwards"),
    "options_profit": ("USD/day", "profit net of gas of the cycles through the options pool"),
    "options_lvr": ("USD/day", "options LPs' loss against the reference, before fees"),
    "options_fees": ("USD/day", "fees the options pool earned from the arbitrageur"),
    "options_loss": ("USD/day", "options LPs: LVR minus fees"),
    "options_cycles": ("1/day", "cycles executed through the options pool"),
    "cex_fees": ("USD/day", "fees paid on the reference-market legs"),
    "cycles": ("1/day", "cycles executed"),
    "hops": ("1", "mean hops per executed cycle"),
    "arb_block_frac": ("1", "fraction of blocks with at least one executed cycle"),
    "plan_error": ("USD", "largest |executed - planned| gross profit of a cycle"),
    "identity_error": ("USD", "gross arb profit - (LVR - fees of all venues - CEX fees)"),
}


def price_paths(cfg: ArbStudyConfig, world: int, n: int) -> dict[str, np.ndarray]:
    """Reference prices at block times 0..n for one world, each shape (n + 1,).

    d ln S_k = -sigma_k^2/2 dt + sigma_k dW_k, corr(dW_WETH, dW_WBTC) = rho; dt in days.
    """
    rng = np.random.default_rng([cfg.seed, world])
    z = rng.standard_normal((n, 2))
    z[:, 1] = cfg.rho * z[:, 0] + math.sqrt(1.0 - cfg.rho**2) * z[:, 1]
    dt = cfg.block_time / DAY
    out = {"USDC": np.ones(n + 1)}
    for k, tok in enumerate(("WETH", "WBTC")):
        s = cfg.sigma_per_day[tok]
        steps = -0.5 * s * s * dt + s * math.sqrt(dt) * z[:, k]
        out[tok] = cfg.s0[tok] * np.exp(np.concatenate([[0.0], np.cumsum(steps)]))
    return out


def _graph(venues: list[Pool], prices: dict[str, float], cex_fee: float, sized=()) -> nx.DiGraph:
    """arbgraph's venue graph plus the reference legs, best rate per direction."""
    graph = build_graph(venues, sized)
    g = (BPS - cex_fee) / BPS
    for tok in ("WETH", "WBTC"):
        for a, b, rate in ((tok, "USDC", g * prices[tok]), ("USDC", tok, g / prices[tok])):
            add_edge(graph, a, b, rate, CexLeg(f"cex:{tok}", rate, cex_fee))
    return graph


def make_options_pool(cfg: ArbStudyConfig) -> OptionsPoolVec:
    """The study's options pool, one world, at the start (board clock: seconds from 0)."""
    o = cfg.options_pool
    k = len(o.moneyness)
    return OptionsPoolVec(
        1,
        expiry=[o.expiry_days * DAY],
        call_cap=[o.call_cap],
        base_iv=[o.base_iv],
        strike=[m * cfg.s0["WETH"] for m in o.moneyness],
        board=[0] * k,
        skew=o.skews or [1.0] * k,
        params=vec_params(o),
        liquidity=o.liquidity,
    )


def simulate_world(cfg: ArbStudyConfig, world: int) -> dict[str, float]:
    """Run one world block by block; returns its metrics (see METRICS) and per-pool columns."""
    n = max(1, math.ceil(cfg.horizon / cfg.block_time))
    paths = price_paths(cfg, world, n)
    lag = round(cfg.oracle_latency / cfg.block_time)
    specs = {p.name: p for p in cfg.pools}
    fees = {p.name: cfg.fee(p) for p in cfg.pools}
    gammas = {k: -math.log1p(-f / BPS) for k, f in fees.items()}
    res: dict[str, list[float]] = {}  # name -> [r0, r1]
    for p in cfg.pools:
        res[p.name] = [0.5 * p.tvl / paths[p.token0][0], 0.5 * p.tvl / paths[p.token1][0]]
    perp_gamma = -math.log1p(-cfg.perp_fee_bps / BPS)
    g_cex = (BPS - cfg.cex_fee_bps) / BPS
    opt = make_options_pool(cfg) if cfg.options else None
    opt_holder = np.zeros((len(cfg.options_pool.moneyness), 4))
    spf = cfg.options_pool.spot_price_fee
    opt_gamma = math.log1p(spf)  # one leg's spot fee: the forward costs at least this
    opt_fresh = cfg.oracle_latency <= cfg.options_pool.max_oracle_delay
    acc = dict.fromkeys(
        [
            "volume",
            "gross",
            "gas",
            "lvr",
            "fees",
            "perp_lvr",
            "perp_fees",
            "opt_lvr",
            "opt_fees",
            "opt_volume",
            "opt_net",
            "opt_cycles",
            "cex_fees",
            "cycles",
            "hops",
            "blocks_arb",
        ],
        0.0,
    )
    per = {name: {"lvr": 0.0, "fees": 0.0, "volume": 0.0, "lvr_frac": 0.0} for name in specs}
    plan_error = 0.0
    for t in range(1, n + 1):
        px = {tok: float(paths[tok][t]) for tok in TOKENS}
        gas_usd = cfg.gas_gwei * GWEI * px["WETH"]
        oracle = float(paths["WETH"][max(t - lag, 0)])
        perp_res = [cfg.perp_depth, cfg.perp_depth * oracle] if cfg.perp else None
        off = abs(math.log(oracle / px["WETH"]))
        # screen: is any venue outside its fee band against the reference prices?
        outside = False
        for name, (r0, r1) in res.items():
            s = specs[name]
            if abs(math.log(r1 / r0 * px[s.token1] / px[s.token0])) > gammas[name]:
                outside = True
                break
        if not outside and cfg.perp and off > perp_gamma:
            outside = True
        if not outside and opt is not None and opt_fresh and off > opt_gamma:
            outside = True
        if not outside:
            continue
        # the forward's quotes lie outside [oracle (1 - spf), oracle (1 + spf)]; when the
        # reference legs' quotes lie inside that, the forward is never the best edge
        opt_live = (
            opt is not None
            and opt_fresh
            and not (
                oracle * (1 - spf) <= px["WETH"] * g_cex
                and px["WETH"] / g_cex <= oracle * (1 + spf)
            )
        )
        sized = []
        if opt_live:  # one venue per block: it re-prices itself after each of its fills
            fw = OptionsForward(opt, oracle, t * cfg.block_time, "WETH", "USDC", opt_holder)
            sized = [(fw, "USDC", "WETH"), (fw, "WETH", "USDC")]
        traded = False
        for _ in range(cfg.max_cycles):
            venues = [
                Pool(name, specs[name].token0, specs[name].token1, r[0], r[1], fees[name])
                for name, r in res.items()
            ]
            if perp_res is not None:
                venues.append(Pool("perp", "WETH", "USDC", *perp_res, cfg.perp_fee_bps))
            cycle = find_cycle(_graph(venues, px, cfg.cex_fee_bps, sized))
            if cycle is None:
                break
            pl = plan(cycle)
            if pl is None:
                break
            units = 0
            for hop in pl.cycle.hops:
                if hop.sized:
                    units += 2 * cfg.option_gas
                elif isinstance(hop.pool, Pool):
                    units += cfg.perp_gas if hop.pool.name == "perp" else cfg.swap_gas
            gas = units * gas_usd
            if pl.profit * px[pl.cycle.start] - gas <= 0:
                break
            # execute hop by hop (the options pool trades itself; the rest is booked below)
            legs = []
            amount = pl.amount_in
            for hop in pl.cycle.hops:
                v = hop.pool
                if hop.sized:
                    fill = v.execute(hop.token_in, pl.size)
                    amount_in, out, fee = fill.amount_in, fill.amount_out, fill.fee * px["USDC"]
                else:
                    amount_in, out = amount, v.amount_out(hop.token_in, amount)
                    fee = amount * px[hop.token_in] * v.fee_bps / BPS
                legs.append((v, hop.token_in, hop.token_out, amount_in, out, fee))
                amount = out
            gross = (amount - pl.amount_in) * px[pl.cycle.start]
            plan_error = max(plan_error, abs(gross - pl.profit * px[pl.cycle.start]))
            traded = True
            acc["gross"] += gross
            acc["gas"] += gas
            acc["cycles"] += 1
            acc["hops"] += len(legs)
            if pl.size is not None:
                acc["opt_net"] += gross - gas
                acc["opt_cycles"] += 1
            for v, tin, tout, amt_in, amt_out, fee in legs:
                v_in, v_out = amt_in * px[tin], amt_out * px[tout]
                if isinstance(v, CexLeg):
                    acc["cex_fees"] += fee
                    continue
                lvr = v_out - v_in + fee
                acc["volume"] += v_in
                if isinstance(v, OptionsForward):
                    acc["opt_lvr"] += lvr
                    acc["opt_fees"] += fee
                    acc["opt_volume"] += v_in
                    continue
                if v.name == "perp":
                    acc["perp_lvr"] += lvr
                    acc["perp_fees"] += fee
                    r = perp_res
                else:
                    acc["lvr"] += lvr
                    acc["fees"] += fee
                    r = res[v.name]
                if tin == v.token0:
                    r[0] += amt_in
                    r[1] -= amt_out
                else:
                    r[1] += amt_in
                    r[0] -= amt_out
                if v.name != "perp":
                    pb = per[v.name]
                    pb["lvr"] += lvr
                    pb["fees"] += fee
                    pb["volume"] += v_in
                    pb["lvr_frac"] += lvr / (r[0] * px[v.token0] + r[1] * px[v.token1])
        acc["blocks_arb"] += traded
    days = n * cfg.block_time / DAY
    tvl = sum(p.tvl for p in cfg.pools)
    out = {
        "arb_volume": acc["volume"] / days,
        "arb_profit": (acc["gross"] - acc["gas"]) / days,
        "arb_gas": acc["gas"] / days,
        "lvr": acc["lvr"] / days,
        "fees": acc["fees"] / days,
        "lp_loss": (acc["lvr"] - acc["fees"]) / days,
        "lvr_bp": acc["lvr"] / tvl * 1e4 / days,
        "perp_loss": (acc["perp_lvr"] - acc["perp_fees"]) / days,
        "options_volume": acc["opt_volume"] / days,
        "options_profit": acc["opt_net"] / days,
        "options_lvr": acc["opt_lvr"] / days,
        "options_fees": acc["opt_fees"] / days,
        "options_loss": (acc["opt_lvr"] - acc["opt_fees"]) / days,
        "options_cycles": acc["opt_cycles"] / days,
        "cex_fees": acc["cex_fees"] / days,
        "cycles": acc["cycles"] / days,
        "hops": acc["hops"] / acc["cycles"] if acc["cycles"] else math.nan,
        "arb_block_frac": acc["blocks_arb"] / n,
        "plan_error": plan_error,
        "identity_error": acc["gross"]
        - (
            acc["lvr"]
            - acc["fees"]
            + acc["perp_lvr"]
            - acc["perp_fees"]
            + acc["opt_lvr"]
            - acc["opt_fees"]
            - acc["cex_fees"]
        ),
    }
    for name, pb in per.items():
        out[f"pool.{name}.lvr_rate"] = pb["lvr_frac"] / days
        out[f"pool.{name}.lvr"] = pb["lvr"] / days
        out[f"pool.{name}.fees"] = pb["fees"] / days
        out[f"pool.{name}.volume"] = pb["volume"] / days
    return out


def unit(metric: str) -> str:
    if metric.startswith("pool."):
        return "1/day" if metric.endswith("lvr_rate") else "USD/day"
    return METRICS.get(metric, ("", ""))[0]


def summarise(rows: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean, standard error over worlds and unit of every metric (NaN worlds left out;
    `sim.stats.summarise_worlds`)."""
    return {k: {**summarise_worlds([r[k] for r in rows]), "unit": unit(k)} for k in rows[0]}


def run_study_point(cfg: ArbStudyConfig) -> dict[str, dict[str, Any]]:
    """Every world of one configuration; returns the summary (mean, se, unit per metric)."""
    return summarise([simulate_world(cfg, w) for w in range(cfg.worlds)])


# --------------------------------------------------------------------------- the study grid

FACTORS: dict[str, tuple[str, str]] = {
    "fee_tier_bps": ("fee tier", "bp"),
    "block_time": ("block time", "s"),
    "gas_gwei": ("gas price", "gwei"),
    "oracle_latency": ("oracle latency", "s"),
    "max_cycles": ("cycles per block", ""),
    "options_pool.spot_price_fee": ("options spot fee", ""),
    "options_pool.liquidity": ("options liquidity", "USD"),
}
"""Factors a study may vary: config key (dotted for nested fields) -> (label, unit)."""
DEFAULT_LEVELS: dict[str, list[float]] = {
    "fee_tier_bps": [1.0, 5.0, 30.0, 100.0],
    "block_time": [2.0, 12.0, 60.0],
    "gas_gwei": [0.0, 10.0, 100.0],
    "oracle_latency": [0.0, 12.0, 60.0, 300.0],
}


def config_of(point: dict[str, Any]) -> ArbStudyConfig:
    """`ArbStudyConfig` of a study point whose keys may be dotted ("options_pool.liquidity")."""
    nested: dict[str, Any] = {}
    for key, v in point.items():
        if key == "factor":
            continue
        *parents, leaf = key.split(".")
        d = nested
        for p in parents:
            d = d.setdefault(p, {})
            if not isinstance(d, dict):
                raise ValueError(f"{key}: {p} is not a section of the study config")
        d[leaf] = v
    return ArbStudyConfig(**nested)


def _value(cfg: ArbStudyConfig, key: str) -> Any:
    v: Any = cfg
    for part in key.split("."):
        v = getattr(v, part)
    return v


def one_at_a_time(
    base: dict[str, Any] | None = None, levels: dict[str, list[float]] | None = None
) -> list[dict[str, Any]]:
    """The baseline and every factor level with the other factors at the baseline.

    Returns point dicts (for `config_of`), each with a "factor" key naming the varied factor
    ("baseline" for the baseline itself), duplicates of the baseline left out.
    """
    base = dict(base or {})
    levels = levels or DEFAULT_LEVELS
    unknown = [f for f in levels if f not in FACTORS]
    if unknown:
        raise ValueError(f"unknown study factor(s) {unknown}; choose from {sorted(FACTORS)}")
    ref = config_of(base)
    points = [{**base, "factor": "baseline"}]
    for f, vals in levels.items():
        for v in vals:
            if v == _value(ref, f):
                continue
            points.append({**base, f: v, "factor": f})
    return points


def study_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker entry (a `sim.studies.sweep.execute` task): run one point, return its summary."""
    import time

    t0 = time.perf_counter()
    point = dict(task["point"])
    factor = point.pop("factor", "")
    try:
        cfg = config_of(point)
        summary = run_study_point(cfg)
    except Exception as err:  # noqa: BLE001 - reported in the table, the study goes on
        return {
            "run_id": task["run_id"],
            "status": "failed",
            "error": f"{err}",
            "seconds": time.perf_counter() - t0,
        }
    return {
        "run_id": task["run_id"],
        "status": "ok",
        "seconds": time.perf_counter() - t0,
        "factor": factor,
        "value": _value(cfg, factor) if factor in FACTORS else None,
        "config": cfg.model_dump(),
        "summary": summary,
    }


def run_study(
    points: list[dict[str, Any]],
    workers: int = 1,
    scheduler: str | None = None,
    report=None,
) -> list[dict[str, Any]]:
    """Run study points on the sweep machinery (process pool or Dask); results in point order."""
    from sim.studies.sweep import execute

    tasks = [{"run_id": f"p{i:03d}", "point": p} for i, p in enumerate(points)]
    results = execute(tasks, workers, scheduler, report, fn=study_task)
    by_id = {r["run_id"]: r for r in results}
    return [by_id[t["run_id"]] for t in tasks]


TABLE_COLUMNS = [
    ("arb_volume", "arb volume", 0),
    ("arb_profit", "arb profit (net of gas)", 0),
    ("lvr", "LP LVR", 0),
    ("fees", "LP fees", 0),
    ("lp_loss", "LP loss (LVR − fees)", 0),
    ("perp_loss", "perp LP loss", 0),
    ("options_volume", "options volume", 0),
    ("options_profit", "options arb profit", 0),
    ("options_loss", "options LP loss", 0),
    ("cycles", "cycles/day", 0),
]
"""(metric, column label, decimals); every one in USD/day but cycles (1/day)."""


def _pm(m: dict[str, Any], digits: int) -> str:
    mean, se = m["mean"], m["se"]
    if mean is None or not math.isfinite(mean):
        return "–"
    if se is None or not math.isfinite(se):
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {se:,.{digits}f}"


def markdown_table(results: list[dict[str, Any]]) -> str:
    """One row per study point: the varied factor and its value, then each metric as
    mean ± SE (USD/day at reference prices; cycles per day)."""
    head = ["varied", "value"] + [label for _, label, _ in TABLE_COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| failed | | {r.get('error', '')} |")
            continue
        f = r["factor"]
        label, u = FACTORS.get(f, (f, ""))
        value = f"{r['value']:,g} {u}".strip() if r.get("value") is not None else ""
        cells = [label, value] + [_pm(r["summary"][k], d) for k, _, d in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
