"""Configuration of learned hedging: the book, the venue's costs, the markets, training, evaluation.

One YAML schema serves as a training config (`ammlab learn train`) and as an evaluation
scenario (`ammlab learn evaluate`): the `train` section is ignored by evaluation and the
`evaluate` section by training. Units as in the rest of `sim`: time in seconds, volatility
annualised with a 365-day year, prices in quote per base, sizes in base units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.decisions.hedging import DeltaBand, FixedInterval, NoHedge, WhalleyWilmott
from sim.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptionLeg(_Model):
    """One option position of the hedged book (as in scenarios/keeper_options.yaml)."""

    type: Literal["call", "put"] = Field(description="Call or put.")
    strike: float = Field(gt=0, description="Strike, quote per base.")
    expiry: float = Field(gt=0, description="Expiry, seconds after `time_origin`.")
    size: float = Field(description="Contracts on one base each; negative when the book is short.")
    iv: float = Field(0.8, gt=0, description="Implied volatility marking the leg, annualised.")


class Grid(_Model):
    """The hedging clock: a decision every `dt` seconds over `horizon` seconds."""

    horizon: float = Field(86400.0, gt=0, description="Accounted period, seconds.")
    dt: float = Field(600.0, gt=0, description="Seconds between hedge decisions.")
    s0: float = Field(2000.0, gt=0, description="Initial spot, quote per base.")

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon / self.dt))


class Venue(_Model):
    """Trading costs of the hedge venue: a constant-product pool kept at the reference price by
    arbitrage, plus gas.

    The pool has base reserve x = tvl / (2 S) and quote reserve y = x S (S the reference
    price); a trade of q base costs what the router charges on it, fee on the input
    (`sim.decisions.routing.cpmm_cost`: y q / ((x − q)(1 − f)) buying, the symmetric sell; first order
    f |q| S + S q² / x), the same function in training, evaluation, the simulator's keeper
    agent and the keeper; plus `gas` quote per trade (training uses the smooth
    gas·(1 − exp(−|q|/gas_smooth))).
    """

    fee_bps: float = Field(5.0, ge=0, lt=10_000, description="Pool fee on the swap input, bps.")
    tvl: float = Field(2e7, gt=0, description="Pool value (both sides), quote.")
    gas: float = Field(3.0, ge=0, description="Gas cost of one hedge trade, quote.")
    gas_smooth: float = Field(0.05, gt=0, description="Base units over which gas switches on.")


class Stress(_Model):
    """A scheduled announcement: in [at - before, at + after] volatility is multiplied by
    `vol_mult` (spot moves), the fee by `cost_mult` and the pool depth divided by `cost_mult`."""

    at: float = Field(43200.0, ge=0, description="Announcement time, seconds.")
    before: float = Field(3600.0, ge=0, description="Seconds of stress before it.")
    after: float = Field(7200.0, ge=0, description="Seconds of stress after it.")
    vol_mult: float = Field(3.0, gt=0, description="Volatility multiplier in the window.")
    cost_mult: float = Field(4.0, gt=0, description="Cost multiplier in the window.")


class Market(_Model):
    """A price process in `sim.processes`' parameterisation (annualised), plus optional stress."""

    name: str = Field(description="Label in tables.")
    kind: Literal["gbm", "merton", "heston"] = Field("gbm", description="Process.")
    sigma: float = Field(0.8, gt=0, description="Diffusion volatility (gbm, merton).")
    mu: float = Field(0.0, description="Drift, per year.")
    jump_rate: float = Field(20.0, ge=0, description="Merton: jumps per year.")
    jump_mean: float = Field(-0.01, description="Merton: mean log jump.")
    jump_std: float = Field(0.04, ge=0, description="Merton: std of log jump.")
    v0: float = Field(0.64, gt=0, description="Heston: initial variance.")
    kappa: float = Field(20.0, gt=0, description="Heston: mean reversion, per year.")
    theta: float = Field(0.64, gt=0, description="Heston: long-run variance.")
    xi: float = Field(3.0, gt=0, description="Heston: vol of variance, per sqrt(year).")
    rho: float = Field(-0.5, ge=-1, le=1, description="Heston: correlation.")
    stress: Stress | None = Field(None, description="Scheduled stress window, if any.")


class Network(_Model):
    """The no-transaction-band network (an MLP; see `sim.learn.model`)."""

    hidden: int = Field(32, gt=0, description="Units per hidden layer.")
    layers: int = Field(2, gt=0, description="Hidden layers.")
    use_flow: bool = Field(False, description="Feed the pool-flow feature (arbitrage volume).")


class Objective(_Model):
    """What training minimises over the terminal P&L X (in units of `pnl_unit`).

    mean_variance: −E[X] + λ Var[X];  entropic: (1/a) log E[exp(−a X)];
    cvar: CVaR_α of the loss −X (mean of the worst α fraction), minus `cvar_mean_weight`·E[X].
    """

    kind: Literal["mean_variance", "entropic", "cvar"] = "mean_variance"
    lam: float = Field(1.0, ge=0, description="Variance weight λ, per pnl_unit.")
    risk_aversion: float = Field(1.0, gt=0, description="Entropic a, per pnl_unit.")
    alpha: float = Field(0.05, gt=0, lt=1, description="CVaR tail fraction.")
    cvar_mean_weight: float = Field(0.0, ge=0, description="Weight of −E[X] in the CVaR loss.")


class Train(_Model):
    """Training of the deep hedger."""

    markets: list[str] = Field(
        default_factory=lambda: ["gbm", "merton", "heston"],
        description="Names of `markets` to train on (paths split evenly among them).",
    )
    n_paths: int = Field(6000, gt=0, description="Training paths (all markets together).")
    batch: int = Field(1024, gt=0, description="Paths per gradient step.")
    steps: int = Field(300, gt=0, description="Gradient steps.")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate.")
    network: Network = Network()
    objective: Objective = Objective()
    rv_window: int = Field(12, gt=1, description="Steps of realised-vol feature.")


class Baselines(_Model):
    """The static hedgers compared with the learned one."""

    fixed_interval: FixedInterval = FixedInterval(interval=3600.0)
    delta_band: DeltaBand = DeltaBand(band=2.0, min_delay=0.0, override=1e9)
    whalley_wilmott: WhalleyWilmott = WhalleyWilmott(risk_aversion=1e-3)
    no_hedge: NoHedge | None = None


class Evaluate(_Model):
    """Held-out evaluation."""

    markets: list[str] = Field(
        default_factory=lambda: ["gbm", "merton", "heston", "stress"],
        description="Names of `markets` to evaluate on.",
    )
    n_paths: int = Field(2000, gt=1, description="Paths per market.")
    seed: int = Field(10_001, ge=0, description="Held-out seed (keep it apart from training's).")
    baselines: Baselines = Baselines()
    k_se: float = Field(2.0, gt=0, description="Standard errors for a difference to count.")
    n_boot: int = Field(400, gt=10, description="Paired bootstrap resamples for verdict SEs.")


class LearnConfig(_Model):
    """A training config / evaluation scenario for learned hedging."""

    name: str = "learn"
    seed: int = Field(0, ge=0, description="Training seed.")
    grid: Grid = Grid()
    venue: Venue = Venue()
    options: list[OptionLeg] = Field(
        default_factory=lambda: [
            OptionLeg(type="call", strike=2200.0, expiry=604800.0, size=-100.0),
            OptionLeg(type="put", strike=1800.0, expiry=604800.0, size=-100.0),
            OptionLeg(type="call", strike=2000.0, expiry=172800.0, size=-50.0),
        ],
        description="The hedged book (short: size < 0).",
    )
    markets: list[Market] = Field(
        default_factory=lambda: [
            Market(name="gbm", kind="gbm"),
            Market(name="merton", kind="merton", sigma=0.6),
            Market(name="heston", kind="heston"),
            Market(name="stress", kind="gbm", stress=Stress()),
        ]
    )
    lp_base: float = Field(
        0.0,
        ge=0,
        description="Base held through LP shares of constant-product pools at spot s0 (its "
        "delta, +x√(s0/S), and short gamma are hedged with the options).",
    )
    time_origin: float = Field(
        0.0,
        ge=0,
        description="Clock time of the paths' start, seconds: 0 on the simulator's clock, a "
        "block timestamp for a chain's book (`--book-from`). Expiries and stress times are "
        "seconds after it; the model file stores expiries as clock times.",
    )
    book_source: str | None = Field(
        None, description="Where the book was read (set by `--book-from`; kept in the model)."
    )
    train: Train = Train()
    evaluate: Evaluate = Evaluate()

    @model_validator(mode="after")
    def _names(self) -> LearnConfig:
        names = [m.name for m in self.markets]
        if len(set(names)) != len(names):
            raise ValueError(f"markets: duplicate names {names}")
        for where, wanted in (
            ("train.markets", self.train.markets),
            ("evaluate.markets", self.evaluate.markets),
        ):
            missing = [n for n in wanted if n not in names]
            if missing:
                raise ValueError(f"{where}: unknown markets {missing}; define them under `markets`")
        if not self.options:
            raise ValueError("options: the book needs at least one leg")
        for m in self.markets:
            # The stress window multiplies the fee; the pool's fee is a share of the input.
            if m.stress is not None and self.venue.fee_bps * m.stress.cost_mult >= 10_000:
                raise ValueError(
                    f"markets.{m.name}.stress.cost_mult: venue.fee_bps × cost_mult = "
                    f"{self.venue.fee_bps * m.stress.cost_mult:g} bps is 100 % or more of the "
                    "input; lower one of them"
                )
        return self

    def market(self, name: str) -> Market:
        return next(m for m in self.markets if m.name == name)


def load_config(path: str | Path) -> LearnConfig:
    """Read and validate a YAML config; errors name the field (ConfigError)."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{p}: cannot read YAML ({err})") from err
    try:
        return LearnConfig.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{p}: {loc}: {first['msg']}") from err
