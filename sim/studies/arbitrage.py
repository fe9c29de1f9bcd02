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

The arbitrageur. Each block it builds the token graph of every venue (`sim.arbgraph`: edge
weight -ln(marginal rate after fee), best venue per direction), asks for a negative cycle
(Bellman-Ford), sizes it in closed form (the cycle is a Möbius map a·x/(b + c·x) of its input,
x* = (sqrt(ab) - b)/c; a CEX leg is the linear map p·x), and executes it if its profit at the
reference prices pays its gas (one swap's gas units per pool hop, a perp trade's per perp hop;
gas priced in WETH). It repeats until no cycle pays, at most `max_cycles` times a block. A
screen skips the graph in blocks where every venue is inside its fee band against the
reference prices: then no cycle can be profitable (the reference terms of a cycle telescope,
so its log-rate is at most the sum of its venues' mispricings minus their fees).

Accounting, at the block's reference prices p, per hop that sells x of token i for y of j on a
venue with fee f:

    LP fee      = f·x·p_i
    LVR         = y·p_j - (1 - f)·x·p_i          (the LP's loss net of the fee)
    arb P&L     = y·p_j - x·p_i = LVR - fee      (summed over the cycle's hops)

so arbitrage profit (gross of gas) = sum of LVR - fees over the venues - CEX fees, exactly
(tested). LVR is also divided by the pool's value after the trade and summed, giving the
`lvr_rate` of each pool as a fraction of its value per day: for one pool, zero fee and short
blocks its expectation is sigma^2/8 per day (Milionis et al. 2022; tested at 3 SE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.arbgraph import Pool, build_graph, find_cycle
from sim.pools.cpmm_vec import BPS, amount_out_f

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
    max_cycles: int = Field(8, ge=1)
    """Most cycles executed per block."""

    def fee(self, p: PoolSpec) -> float:
        return self.fee_tier_bps if p.fee_bps is None else p.fee_bps


@dataclass(frozen=True)
class CexLeg:
    """The reference market as a graph edge: `token_in` -> `token_out` at the reference rate."""

    name: str
    rate: float
    """Tokens out per token in, after the fee."""
    fee_bps: float


# metric -> (unit, description)
METRICS: dict[str, tuple[str, str]] = {
    "arb_volume": ("USD/day", "volume the arbitrageur sold into pools and the perp, at reference"),
    "arb_profit": ("USD/day", "arbitrage profit net of gas, at reference prices"),
    "arb_gas": ("USD/day", "gas the arbitrageur paid"),
    "lvr": ("USD/day", "loss-versus-rebalancing of the pools' LPs (net of nothing)"),
    "fees": ("USD/day", "fees the pools' LPs earned from the arbitrageur"),
    "lp_loss": ("USD/day", "pools' LPs: LVR minus fees"),
    "lvr_bp": ("bp/day", "pools' LVR over their total initial value"),
    "perp_loss": ("USD/day", "perp counterparty: LVR minus fees (oracle latency's price)"),
    "cex_fees": ("USD/day", "fees paid on the reference-market legs"),
    "cycles": ("1/day", "cycles executed"),
    "hops": ("1", "mean hops per executed cycle"),
    "arb_block_frac": ("1", "fraction of blocks with at least one executed cycle"),
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


def _graph(venues: list[Pool], prices: dict[str, float], cex_fee: float) -> nx.DiGraph:
    """arbgraph's pool graph plus the reference legs, best rate per direction."""
    graph = build_graph(venues)
    g = (BPS - cex_fee) / BPS
    for tok in ("WETH", "WBTC"):
        for a, b, rate in ((tok, "USDC", g * prices[tok]), ("USDC", tok, g / prices[tok])):
            w = -math.log(rate)
            edge = graph.get_edge_data(a, b)
            if edge is None or w < edge["weight"]:
                graph.add_edge(a, b, weight=w, pool=CexLeg(f"cex:{tok}", rate, cex_fee))
    return graph


def _mobius(hops) -> tuple[float, float, float]:
    """(a, b, c) with out(x) = a·x / (b + c·x) for hops of pools and CEX legs."""
    a, b, c = 1.0, 1.0, 0.0
    for hop in hops:
        v = hop.pool
        if isinstance(v, CexLeg):
            big_a, big_b, big_c = v.rate, 1.0, 0.0
        else:
            r_in, r_out = v.reserves(hop.token_in)
            g = (BPS - v.fee_bps) / BPS
            big_a, big_b, big_c = g * r_out, r_in, g
        a, b, c = big_a * a, big_b * b, big_b * c + big_c * a
    return a, b, c


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
    acc = dict.fromkeys(
        [
            "volume",
            "gross",
            "gas",
            "lvr",
            "fees",
            "perp_lvr",
            "perp_fees",
            "cex_fees",
            "cycles",
            "hops",
            "blocks_arb",
        ],
        0.0,
    )
    per = {name: {"lvr": 0.0, "fees": 0.0, "volume": 0.0, "lvr_frac": 0.0} for name in specs}
    for t in range(1, n + 1):
        px = {tok: float(paths[tok][t]) for tok in TOKENS}
        gas_usd = cfg.gas_gwei * GWEI * px["WETH"]
        oracle = float(paths["WETH"][max(t - lag, 0)])
        perp_res = [cfg.perp_depth, cfg.perp_depth * oracle] if cfg.perp else None
        # screen: is any venue outside its fee band against the reference prices?
        outside = False
        for name, (r0, r1) in res.items():
            s = specs[name]
            if abs(math.log(r1 / r0 * px[s.token1] / px[s.token0])) > gammas[name]:
                outside = True
                break
        if not outside and cfg.perp and abs(math.log(oracle / px["WETH"])) > perp_gamma:
            outside = True
        if not outside:
            continue
        traded = False
        for _ in range(cfg.max_cycles):
            venues = [
                Pool(name, specs[name].token0, specs[name].token1, r[0], r[1], fees[name])
                for name, r in res.items()
            ]
            if perp_res is not None:
                venues.append(Pool("perp", "WETH", "USDC", *perp_res, cfg.perp_fee_bps))
            cycle = find_cycle(_graph(venues, px, cfg.cex_fee_bps))
            if cycle is None:
                break
            a, b, c = _mobius(cycle.hops)
            if a <= b or c <= 0:
                break
            x = (math.sqrt(a * b) - b) / c
            # evaluate hop by hop with the pool maths, then commit only if it pays its gas
            legs = []
            amount = x
            units = 0
            for hop in cycle.hops:
                v = hop.pool
                if isinstance(v, CexLeg):
                    out = amount * v.rate
                else:
                    r_in, r_out = v.reserves(hop.token_in)
                    out = amount_out_f(amount, r_in, r_out, v.fee_bps)
                    units += cfg.perp_gas if v.name == "perp" else cfg.swap_gas
                legs.append((v, hop.token_in, hop.token_out, amount, out))
                amount = out
            gross = (amount - x) * px[cycle.start]
            gas = units * gas_usd
            if gross - gas <= 0:
                break
            traded = True
            acc["gross"] += gross
            acc["gas"] += gas
            acc["cycles"] += 1
            acc["hops"] += len(legs)
            for v, tin, tout, amt_in, amt_out in legs:
                v_in, v_out = amt_in * px[tin], amt_out * px[tout]
                fee = v_in * v.fee_bps / BPS
                if isinstance(v, CexLeg):
                    acc["cex_fees"] += fee
                    continue
                lvr = v_out - v_in + fee
                acc["volume"] += v_in
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
        "cex_fees": acc["cex_fees"] / days,
        "cycles": acc["cycles"] / days,
        "hops": acc["hops"] / acc["cycles"] if acc["cycles"] else math.nan,
        "arb_block_frac": acc["blocks_arb"] / n,
        "identity_error": acc["gross"]
        - (acc["lvr"] - acc["fees"] + acc["perp_lvr"] - acc["perp_fees"] - acc["cex_fees"]),
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
    """Mean, standard error over worlds and unit of every metric (NaN worlds left out)."""
    out = {}
    for k in rows[0]:
        v = np.array([r[k] for r in rows], dtype=np.float64)
        v = v[np.isfinite(v)]
        mean = float(v.mean()) if v.size else math.nan
        se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
        out[k] = {"mean": mean, "se": se, "unit": unit(k), "n": int(v.size)}
    return out


def run_study_point(cfg: ArbStudyConfig) -> dict[str, dict[str, Any]]:
    """Every world of one configuration; returns the summary (mean, se, unit per metric)."""
    return summarise([simulate_world(cfg, w) for w in range(cfg.worlds)])


# --------------------------------------------------------------------------- the study grid

FACTORS: dict[str, tuple[str, str]] = {
    "fee_tier_bps": ("fee tier", "bp"),
    "block_time": ("block time", "s"),
    "gas_gwei": ("gas price", "gwei"),
    "oracle_latency": ("oracle latency", "s"),
}
DEFAULT_LEVELS: dict[str, list[float]] = {
    "fee_tier_bps": [1.0, 5.0, 30.0, 100.0],
    "block_time": [2.0, 12.0, 60.0],
    "gas_gwei": [0.0, 10.0, 100.0],
    "oracle_latency": [0.0, 12.0, 60.0, 300.0],
}


def one_at_a_time(
    base: dict[str, Any] | None = None, levels: dict[str, list[float]] | None = None
) -> list[dict[str, Any]]:
    """The baseline and every factor level with the other factors at the baseline.

    Returns config dicts (for `ArbStudyConfig(**d)`), each with a "factor" key naming the varied
    factor ("baseline" for the baseline itself), duplicates of the baseline left out.
    """
    base = dict(base or {})
    levels = levels or DEFAULT_LEVELS
    ref = ArbStudyConfig(**base)
    points = [{**base, "factor": "baseline"}]
    for f, vals in levels.items():
        for v in vals:
            if v == getattr(ref, f):
                continue
            points.append({**base, f: v, "factor": f})
    return points


def study_task(task: dict[str, Any]) -> dict[str, Any]:
    """Worker entry (a `sim.sweep.execute` task): run one point, return its summary."""
    import time

    t0 = time.perf_counter()
    point = dict(task["point"])
    factor = point.pop("factor", "")
    try:
        summary = run_study_point(ArbStudyConfig(**point))
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
        "config": ArbStudyConfig(**point).model_dump(),
        "summary": summary,
    }


def run_study(
    points: list[dict[str, Any]],
    workers: int = 1,
    scheduler: str | None = None,
    report=None,
) -> list[dict[str, Any]]:
    """Run study points on the sweep machinery (process pool or Dask); results in point order."""
    from sim.sweep import execute

    tasks = [{"run_id": f"p{i:03d}", "point": p} for i, p in enumerate(points)]
    results = execute(tasks, workers, scheduler, report, fn=study_task)
    by_id = {r["run_id"]: r for r in results}
    return [by_id[t["run_id"]] for t in tasks]


TABLE_COLUMNS = [
    ("arb_volume", "arb volume", 0),
    ("arb_profit", "arb profit (net of gas)", 0),
    ("arb_gas", "arb gas", 0),
    ("lvr", "LP LVR", 0),
    ("fees", "LP fees", 0),
    ("lp_loss", "LP loss (LVR - fees)", 0),
    ("perp_loss", "perp LP loss", 0),
    ("cycles", "cycles", 0),
]


def _pm(m: dict[str, Any], digits: int) -> str:
    mean, se = m["mean"], m["se"]
    if mean is None or not math.isfinite(mean):
        return "–"
    if se is None or not math.isfinite(se):
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {se:,.{digits}f}"


def markdown_table(results: list[dict[str, Any]]) -> str:
    """One row per study point: the factors, then each metric as mean ± SE with its unit."""
    head = [f"{label} ({u})" for label, u in FACTORS.values()]
    first = next(r for r in results if r["status"] == "ok")
    units = {k: first["summary"][k]["unit"] for k, _, _ in TABLE_COLUMNS}
    head += [f"{label} ({units[k]})" for k, label, _ in TABLE_COLUMNS]
    lines = ["| varied | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| failed: {r.get('error', '')} |")
            continue
        c = r["config"]
        cells = [FACTORS[r["factor"]][0] if r["factor"] in FACTORS else r["factor"]]
        for f in FACTORS:
            v = c[f]
            cell = f"{v:g}"
            cells.append(f"**{cell}**" if f == r["factor"] else cell)
        cells += [_pm(r["summary"][k], d) for k, _, d in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
