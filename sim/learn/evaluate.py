"""One evaluation routine for every hedging policy, on the same held-out paths.

`run_policy` plays any `sim.decisions.hedging` policy through its `decide(HedgeInputs)` on a market's
paths (the learned one through the same `Learned` object, given its extra features), with the
venue's costs: the constant-product pool's (`paths.pool_cost`, i.e. `sim.decisions.routing.cpmm_cost`
with base reserve x and quote reserve x S, fee on the input; buys cut at MAX_BUY x), the cost
rate it gives the policy (`paths.pool_rate` of the re-hedge, as the keeper agent's and the
keeper's), and gas per trade — the same functions training differentiates.
Per path it records P&L (book value change + hedge P&L − costs), cost, trade count and the
largest |net delta| after the step's trade. `evaluate` runs every policy on the same paths of
every market and summarises each metric with its standard error (`sim.stats`):

    mean P&L, cost, trades, max|Δ|: sample mean, SE sd/√n;
    P&L std s: SE sqrt(m4 − s⁴)/(2 s √n) (delta method on s², valid for fat tails);
    CVaR95 (mean of the worst 5 % of P&L, q + E[min(X − q, 0)]/α): SE sd(min(X − q, 0))/(α√n)
        (Hong and Liu 2009).

The verdict compares the learned policy with the best static policy on each of mean P&L, P&L
std and CVaR95: the paired difference (same paths) and its SE from a paired bootstrap; it is
"better"/"worse" only beyond `k_se` SEs. Nothing in it is written by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.atomic import atomic_write_text
from sim.decisions.hedging import DeltaBand, FixedInterval, HedgeInputs, NoHedge, WhalleyWilmott
from sim.learn.config import LearnConfig
from sim.learn.features import features_along
from sim.learn.paths import MAX_BUY, MarketPaths, pool_cost, pool_rate, positions, simulate_market
from sim.learn.policy import Learned, check_model_book
from sim.stats import CVAR_ALPHA, cvar, cvar_se, mean_se, std_se

METRICS = ["score", "pnl_mean", "pnl_std", "cvar95", "cost", "trades", "max_abs_delta"]
LABELS = {
    "score": "objective score",
    "pnl_mean": "mean P&L",
    "pnl_std": "P&L std",
    "cvar95": "CVaR95",
    "cost": "cost",
    "trades": "trades",
    "max_abs_delta": "max abs delta",
}
# +1: higher is better, -1: lower is better.
SENSE = {"score": 1, "pnl_mean": 1, "pnl_std": -1, "cvar95": 1}


@dataclass(frozen=True)
class Score:
    """The training objective as a certainty equivalent in quote (higher is better):
    mean_variance: E[X] − λ Var[X]/u;  entropic: −(u/a) ln E[exp(−a X/u)];
    cvar: −CVaR_α(−X) + w E[X]; u the model's pnl_unit."""

    kind: str = "mean_variance"
    lam: float = 1.0
    risk_aversion: float = 1.0
    alpha: float = 0.05
    mean_weight: float = 0.0
    unit: float = 1.0

    @classmethod
    def from_model(cls, path: str | Path) -> Score:
        from sim.learn.model import load_cached

        m = load_cached(path)
        o = m.config.get("train", {}).get("objective", {})
        return cls(
            o.get("kind", "mean_variance"), o.get("lam", 1.0), o.get("risk_aversion", 1.0),
            o.get("alpha", 0.05), o.get("cvar_mean_weight", 0.0), m.pnl_unit,
        )  # fmt: skip

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Score over the last axis of x (..., n)."""
        if self.kind == "mean_variance":
            return x.mean(axis=-1) - self.lam * x.var(axis=-1, ddof=1) / self.unit
        if self.kind == "entropic":
            a = self.risk_aversion / self.unit
            z = -a * x
            zmax = z.max(axis=-1, keepdims=True)
            lme = zmax[..., 0] + np.log(np.mean(np.exp(z - zmax), axis=-1))
            return -lme / a
        k = max(1, int(math.ceil(self.alpha * x.shape[-1])))
        worst = -np.sort(x, axis=-1)[..., :k]
        return -worst.mean(axis=-1) + self.mean_weight * x.mean(axis=-1)


@dataclass
class PathMetrics:
    """Per-path results of one policy on one market, each (N,)."""

    pnl: np.ndarray
    cost: np.ndarray
    trades: np.ndarray
    max_abs_delta: np.ndarray


def summarise(
    pm: PathMetrics, score: Score | None = None, n_boot: int = 400, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Each of METRICS as (value, SE); the score's SE by bootstrap."""
    score = score or Score()
    rng = np.random.default_rng(seed)
    boot = score(pm.pnl[rng.integers(0, pm.pnl.size, size=(n_boot, pm.pnl.size))])
    return {
        "score": (float(score(pm.pnl)), float(boot.std(ddof=1))),
        "pnl_mean": mean_se(pm.pnl),
        "pnl_std": std_se(pm.pnl),
        "cvar95": cvar_se(pm.pnl, CVAR_ALPHA),
        "cost": mean_se(pm.cost),
        "trades": mean_se(pm.trades),
        "max_abs_delta": mean_se(pm.max_abs_delta),
    }


def _statistic(x: np.ndarray, metric: str, score: Score | None = None) -> np.ndarray:
    """metric over the last axis of x (..., n), vectorised for the bootstrap."""
    if metric == "score":
        return (score or Score())(x)
    if metric == "pnl_mean":
        return x.mean(axis=-1)
    if metric == "pnl_std":
        return x.std(axis=-1, ddof=1)
    return cvar(x, CVAR_ALPHA)


def paired_difference(
    a: np.ndarray,
    b: np.ndarray,
    metric: str,
    n_boot: int,
    seed: int = 0,
    score: Score | None = None,
) -> tuple[float, float]:
    """(metric(a) − metric(b), paired bootstrap SE) for P&L samples on the same paths."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    d = _statistic(a[idx], metric, score) - _statistic(b[idx], metric, score)
    full = _statistic(a, metric, score) - _statistic(b, metric, score)
    return float(full), float(d.std(ddof=1))


def policy_features(policy: object, mp: MarketPaths) -> dict | None:
    """Extra features a Learned policy gets along the paths (`sim.learn.features`), arrays
    (N, T + 1); None for the static policies (they see `HedgeInputs` only)."""
    if not isinstance(policy, Learned):
        return None
    from sim.learn.model import load_cached

    return features_along(load_cached(policy.model), mp.spot, policy.forecaster is not None)


def check_book(name: str, policy: Learned, cfg: LearnConfig) -> None:
    """Raise ConfigError, in one line, when `policy`'s model was trained for another book than
    `cfg`'s at the paths' start (evaluate it on its own with `--book-from MODEL`)."""
    check_model_book(
        policy, positions(cfg), cfg.time_origin, cfg.lp_base, cfg.grid.s0,
        f"policy {name} on {cfg.name} (try --book-from {policy.model})",
    )  # fmt: skip


def run_policy(
    policy: object, mp: MarketPaths, gas: float, features: dict[str, np.ndarray] | None = None
) -> PathMetrics:
    """Play `policy` on the paths (see the module docstring); start hedged at −Δ_0."""
    n, t_steps = mp.n, mp.n_steps
    h = -mp.delta[:, 0].copy()
    last = np.full(n, -math.inf)
    hedge_pnl, cost, trades, max_d = (np.zeros(n) for _ in range(4))
    for k in range(t_steps):
        s, d, fee, x_res = mp.spot[:, k], mp.delta[:, k], mp.fee[:, k], mp.depth[:, k]
        most = MAX_BUY * x_res
        x = HedgeInputs(
            now=np.full(n, mp.time[k]),
            spot=s,
            book_delta=d,
            book_gamma=mp.gamma[:, k],
            hedge=h,
            last_hedge_time=last,
            cost_rate=pool_rate(fee, x_res, s, np.minimum(-(d + h), most)),
        )
        if features is None:
            dec = policy.decide(x)
        else:
            dec = policy.decide(x, {key: v[:, k] for key, v in features.items()})
        q = np.minimum(np.where(dec.trade, dec.target_hedge - h, 0.0), most)
        traded = q != 0
        cost += pool_cost(fee, x_res, s, q) + gas * traded
        trades += traded
        h = h + q
        last = np.where(traded, mp.time[k], last)
        hedge_pnl += h * (mp.spot[:, k + 1] - s)
        max_d = np.maximum(max_d, np.abs(d + h))
    pnl = mp.value[:, -1] - mp.value[:, 0] + hedge_pnl - cost
    return PathMetrics(pnl, cost, trades, max_d)


COMPARISON_FILE = "policy_comparison.json"
COMPARISON_FORMAT = "ammlab.learn.comparison/1"


@dataclass
class Evaluation:
    """Per (market, policy): summary metrics; per market: verdict lines."""

    rows: list[dict] = field(default_factory=list)
    verdicts: dict[str, list[str]] = field(default_factory=dict)
    overall: str = ""
    meta: dict = field(default_factory=dict)

    def to_markdown(self) -> str:
        head = "| market | policy | " + " | ".join(LABELS[m] for m in METRICS) + " |"
        lines = [head, "|" + "---|" * (len(METRICS) + 2)]
        for r in self.rows:
            cells = [_fmt(*r[m]) for m in METRICS]
            lines.append(f"| {r['market']} | {r['policy']} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(
            f"Values ± 1 SE over {self.meta.get('n_paths')} held-out paths per market "
            f"(seed {self.meta.get('seed')}); P&L, cost in quote, deltas in base. CVaR95: mean of "
            "the worst 5 % of P&L (higher is better)."
        )
        lines.append("")
        for market, vs in self.verdicts.items():
            for v in vs:
                lines.append(f"- {market}: {v}")
        lines.append("")
        lines.append(f"**Verdict:** {self.overall}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": COMPARISON_FORMAT,
                "rows": [
                    {k: (list(v) if isinstance(v, tuple) else v) for k, v in r.items()}
                    for r in self.rows
                ],
                "verdicts": self.verdicts,
                "overall": self.overall,
                "meta": self.meta,
            },
            indent=2,
        )

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """comparison.md and policy_comparison.json (what `ammlab report DIR` reads),
        each written atomically."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        md = atomic_write_text(d / "comparison.md", self.to_markdown())
        js = atomic_write_text(d / COMPARISON_FILE, self.to_json())
        return md, js


def _fmt(v: float, se: float) -> str:
    mag = max(abs(v), abs(se))
    digits = 0 if mag >= 100 else 1 if mag >= 10 else 2 if mag >= 1 else 3
    return f"{v:,.{digits}f} ± {se:,.{digits}f}"


def evaluate(
    cfg: LearnConfig,
    policies: dict[str, object],
    learned: str | None = None,
    n_paths: int | None = None,
    seed: int | None = None,
    markets: list[str] | None = None,
    score: Score | None = None,
    progress=None,
) -> Evaluation:
    """Run every policy on the same held-out paths of each market.

    `learned` names the policy the verdict is about; it is compared with the best of the
    static delta hedgers (every policy that is neither `Learned` nor `NoHedge`). `score` is the
    objective column (default: the learned model's training objective). `progress(1)` is
    called after each (market, policy) run.
    """
    ev = cfg.evaluate
    n = n_paths or ev.n_paths
    seed = ev.seed if seed is None else seed
    names = markets or ev.markets
    for pname, pol in policies.items():
        if isinstance(pol, Learned):
            check_book(pname, pol, cfg)
    if score is None:
        score = Score.from_model(policies[learned].model) if learned is not None else Score()
    out = Evaluation(
        meta={"n_paths": n, "seed": seed, "markets": names, "k_se": ev.k_se, "score": vars(score)}
    )
    tally = {m: {"better": 0, "worse": 0, "same": 0} for m in SENSE}
    for mk in names:
        mp = simulate_market(cfg, cfg.market(mk), n, seed)
        pnls: dict[str, np.ndarray] = {}
        for pname, pol in policies.items():
            feats = policy_features(pol, mp)
            pm = run_policy(pol, mp, cfg.venue.gas, feats)
            pnls[pname] = pm.pnl
            out.rows.append(
                {"market": mk, "policy": pname, **summarise(pm, score, ev.n_boot, seed)}
            )
            if progress is not None:
                progress(1)
        if learned is None:
            continue
        lines = []
        others = [p for p, pol in policies.items() if not isinstance(pol, Learned | NoHedge)]
        for metric, sense in SENSE.items():
            stats = {p: float(_statistic(pnls[p], metric, score)) for p in others}
            best = max(others, key=lambda p: sense * stats[p])
            d, se = paired_difference(pnls[learned], pnls[best], metric, ev.n_boot, seed, score)
            gain = sense * d
            word = "better" if gain > ev.k_se * se else "worse" if gain < -ev.k_se * se else "same"
            tally[metric][word] += 1
            text = {
                "better": "better than",
                "worse": "worse than",
                "same": "not distinguishable from",
            }[word]
            lines.append(
                f"{LABELS[metric]}: {learned} is {text} the best static hedger ({best}): "
                f"difference {d:+,.1f} ± {se:,.1f} (paired bootstrap SE; threshold {ev.k_se:g} SE)"
            )
        out.verdicts[mk] = lines
    if learned is not None:
        t = tally["score"]
        m = len(names)
        if t["better"] == m:
            head = f"{learned} WINS on its training objective in all {m} markets"
        elif t["better"] and not t["worse"]:
            head = f"{learned} wins on its training objective in {t['better']} of {m} markets (the rest within {ev.k_se:g} SE)"
        elif t["worse"] and not t["better"]:
            head = f"{learned} DOES NOT WIN: worse on its training objective in {t['worse']} of {m} markets"
        elif t["better"] and t["worse"]:
            head = f"mixed: {learned} better on its training objective in {t['better']}, worse in {t['worse']} of {m} markets"
        else:
            head = f"{learned} DOES NOT WIN: no difference beyond {ev.k_se:g} SE on its training objective in any of {m} markets"
        rest = "; ".join(
            f"{LABELS[k]} better/same/worse {v['better']}/{v['same']}/{v['worse']}"
            for k, v in tally.items()
            if k != "score"
        )
        out.overall = f"{head} against the best static delta hedger per market. {rest}."
        out.meta["tally"] = tally
    return out


TUNING_CANDIDATES = 19
"""Candidates `tune_baselines` tries (5 intervals, 6 bands, 8 risk aversions)."""


def tune_baselines(
    cfg: LearnConfig, score: Score, seed: int, n_paths: int = 500, log=None, progress=None
) -> dict[str, object]:
    """Each static family's parameter that maximises the mean score over the training markets,
    on tuning paths of `seed` (keep it apart from the evaluation seed). Returns the policies.
    `progress(1)` is called after each candidate (`TUNING_CANDIDATES` in all)."""
    grids = {
        "fixed_interval": [
            FixedInterval(interval=v) for v in (600.0, 1800.0, 3600.0, 7200.0, 14400.0)
        ],
        "delta_band": [
            DeltaBand(band=v, min_delay=0.0, override=1e9) for v in (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
        ],
        "whalley_wilmott": [
            WhalleyWilmott(risk_aversion=v)
            for v in (1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
        ],
    }
    mps = [simulate_market(cfg, cfg.market(mk), n_paths, seed) for mk in cfg.train.markets]
    best: dict[str, object] = {}
    for fam, cands in grids.items():
        scores = []
        for c in cands:
            scores.append(
                float(np.mean([score(run_policy(c, mp, cfg.venue.gas).pnl) for mp in mps]))
            )
            if progress is not None:
                progress(1)
        best[fam] = cands[int(np.argmax(scores))]
        if log is not None:
            log(f"tuned {fam}: {best[fam]!r} (score {max(scores):,.1f})")
    return best


def default_policies(
    cfg: LearnConfig,
    model: str | Path | None = None,
    forecaster: str | Path | None = None,
    tuned: dict[str, object] | None = None,
) -> dict[str, object]:
    """The configured static baselines (replaced by `tuned` ones where given), plus `learned`
    (and `learned+forecast`) when a model (and forecaster) is given."""
    b = cfg.evaluate.baselines
    pols: dict[str, object] = {
        "fixed_interval": b.fixed_interval,
        "delta_band": b.delta_band,
        "whalley_wilmott": b.whalley_wilmott,
    }
    if tuned is not None:
        pols.update(tuned)
    if b.no_hedge is not None:
        pols["no_hedge"] = b.no_hedge
    if model is not None:
        pols["learned"] = Learned(model=Path(model))
        if forecaster is not None:
            pols["learned+forecast"] = Learned(model=Path(model), forecaster=Path(forecaster))
    return pols
