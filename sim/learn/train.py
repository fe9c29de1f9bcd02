"""Deep hedging: train the no-transaction-band network through a differentiable simulation.

Paths, the book's Greeks and values, and the venue's fee and depth along them come from
`sim.learn.paths` (numpy, `sim.processes`); only the hedging loop runs in torch:

    h_0 = −Δ_0 (start hedged, as the keeper's `start_hedged`)
    for each step k:  r_k = rate(−(Δ_k + h_k));  [lo, hi] = band(features_k(h_k), r_k)
        q = min(min(max(h_k, lo), hi) − h_k, MAX_BUY x_k);  h_{k+1} = h_k + q
        cost += pool_cost(q) + gas (1 − exp(−|q| / ε))
        hedge P&L += h_{k+1} (S_{k+1} − S_k)
    X = V_T − V_0 + hedge P&L − cost        (V: the book's value, `paths.book_along`)

pool_cost and rate are `paths.pool_cost` / `pool_rate`, i.e. `sim.decisions.routing.cpmm_cost` and
`cpmm_rate` on torch tensors: the exact constant-product cost (fee on the input, reserves x_k
and x_k S_k) that evaluation charges and the keeper agent and the keeper price with. Only gas
is smoothed (a step at q = 0 has no gradient); evaluation charges it per trade.

and Adam minimises the configured risk measure of X / pnl_unit (`Objective`). pnl_unit is the
standard deviation of X under costless hedging to delta neutral at every step on the training
paths, so λ and the entropic risk aversion are per unit of that irreducible noise.

Reproducible: everything is seeded from the training seed, torch runs on one thread with
deterministic algorithms, and the model file is JSON with sorted keys, so the same seed and
config give the same bytes.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from sim.learn.book import BookSnapshot
from sim.learn.config import LearnConfig, Objective
from sim.learn.features import features_along
from sim.learn.forecast import FEATURES
from sim.learn.model import ENDOGENOUS, BandModel
from sim.learn.paths import MAX_BUY, MarketPaths, pool_cost, pool_rate, positions, simulate_market


def skeleton(cfg: LearnConfig) -> BandModel:
    """A BandModel with the book's constants and no weights (features only)."""
    o = positions(cfg)
    w = np.abs(o.size)
    n = cfg.train.network
    return BandModel(
        unit=0.02 * float(w.sum()),
        k_ref=float(np.sum(w * o.strike) / w.sum()),
        iv=float(np.sum(w * o.iv) / w.sum()),
        expiries=o.expiry.astype(float),
        dt=cfg.grid.dt,
        horizon=cfg.grid.horizon,
        use_flow=n.use_flow,
        mean=np.zeros(len(FEATURES)),
        std=np.ones(len(FEATURES)),
        layers=[],
        book=BookSnapshot.from_config(cfg),
        time_origin=cfg.time_origin,
        rv_window=cfg.train.rv_window,
        fee=cfg.venue.fee_bps / 1e4,
    )


def exogenous_along(m: BandModel, mp: MarketPaths, extra: dict[str, np.ndarray]) -> np.ndarray:
    """Raw exogenous features at steps 0..T−1, (N, T, F)."""
    t = mp.n_steps
    return m.exogenous(
        mp.spot[:, :t], mp.time[None, :t], mp.delta[:, :t], mp.gamma[:, :t],
        extra["realised_vol"][:, :t], None, extra["flow"][:, :t] if "flow" in extra else None,
    )  # fmt: skip


def delta_hedged_pnl(mp: MarketPaths) -> np.ndarray:
    """P&L of costless hedging to delta neutral at every step, (N,)."""
    hedge_pnl = np.sum(-mp.delta[:, :-1] * np.diff(mp.spot, axis=1), axis=1)
    return mp.value[:, -1] - mp.value[:, 0] + hedge_pnl


class BandNet(torch.nn.Module):
    """The MLP of `BandModel.forward` in torch (float64)."""

    def __init__(self, n_in: int, hidden: int, layers: int):
        super().__init__()
        mods: list[torch.nn.Module] = []
        d = n_in
        for _ in range(layers):
            mods += [torch.nn.Linear(d, hidden, dtype=torch.float64), torch.nn.ReLU()]
            d = hidden
        last = torch.nn.Linear(d, 2, dtype=torch.float64)
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
        mods.append(last)
        self.mlp = torch.nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)

    def export(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in self.mlp
            if isinstance(m, torch.nn.Linear)
        ]


def rollout(
    net: BandNet, d: dict[str, torch.Tensor], unit: float, gas: float, gas_smooth: float
) -> torch.Tensor:
    """Terminal P&L X (B,) of the band policy on a batch of paths (see the module docstring).

    `d` holds (B, T + 1) tensors spot, delta, value, fee, depth and z (B, T, F), the
    normalised exogenous features.
    """
    spot, delta, fee, depth, z = d["spot"], d["delta"], d["fee"], d["depth"], d["z"]
    t_steps = z.shape[1]
    h = -delta[:, 0]
    hedge_pnl = torch.zeros_like(h)
    cost = torch.zeros_like(h)
    for k in range(t_steps):
        s, dk, fk, xk = spot[:, k], delta[:, k], fee[:, k], depth[:, k]
        net_delta = dk + h
        most = MAX_BUY * xk
        rate = pool_rate(fk, xk, s, torch.minimum(-net_delta, most))
        feats = torch.cat([z[:, k], (net_delta / unit)[:, None], (rate * 1e3)[:, None]], dim=1)
        w = torch.nn.functional.softplus(net(feats)) * unit
        target = torch.minimum(torch.maximum(h, -dk - w[:, 0]), -dk + w[:, 1])
        q = torch.minimum(target - h, most)
        h_new = h + q
        cost = cost + pool_cost(fk, xk, s, q)
        if gas > 0:
            cost = cost + gas * (1.0 - torch.exp(-q.abs() / gas_smooth))
        hedge_pnl = hedge_pnl + h_new * (spot[:, k + 1] - s)
        h = h_new
    return d["value"][:, -1] - d["value"][:, 0] + hedge_pnl - cost


def risk(x: torch.Tensor, obj: Objective) -> torch.Tensor:
    """The objective's loss of P&L samples x (B,), in pnl units (lower is better)."""
    if obj.kind == "mean_variance":
        return -x.mean() + obj.lam * x.var()
    if obj.kind == "entropic":
        a = obj.risk_aversion
        return (torch.logsumexp(-a * x, dim=0) - math.log(x.numel())) / a
    k = max(1, int(math.ceil(obj.alpha * x.numel())))
    return torch.topk(-x, k).values.mean() - obj.cvar_mean_weight * x.mean()


def training_paths(cfg: LearnConfig, seed: int) -> list[MarketPaths]:
    names = cfg.train.markets
    per = [
        cfg.train.n_paths // len(names) + (i < cfg.train.n_paths % len(names))
        for i in range(len(names))
    ]
    return [simulate_market(cfg, cfg.market(n), k, seed) for n, k in zip(names, per, strict=True)]


def train(cfg: LearnConfig, seed: int | None = None, log=None, progress=None) -> BandModel:
    """Train a band model on `cfg` (seed: `cfg.seed` unless given); returns it with
    `info` holding the loss history. Deterministic for a given (cfg, seed).

    `log(line)` gets a loss line every 25 steps; `progress(1)` is called after every step."""
    seed = cfg.seed if seed is None else seed
    tc = cfg.train
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    det = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        m = skeleton(cfg)
        mps = training_paths(cfg, seed)
        exo = np.concatenate([exogenous_along(m, mp, features_along(m, mp.spot)) for mp in mps])
        flat = exo.reshape(-1, exo.shape[-1])
        m.mean = flat.mean(axis=0)
        m.std = np.maximum(flat.std(axis=0), 1e-3)
        m.pnl_unit = float(np.std(np.concatenate([delta_hedged_pnl(mp) for mp in mps]))) or 1.0

        def cat(attr: str) -> torch.Tensor:
            return torch.from_numpy(np.concatenate([getattr(mp, attr) for mp in mps]))

        data = {k: cat(k) for k in ("spot", "delta", "value", "fee", "depth")}
        data["z"] = torch.from_numpy((exo - m.mean) / m.std)
        n = data["spot"].shape[0]

        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        net = BandNet(exo.shape[-1] + len(ENDOGENOUS), tc.network.hidden, tc.network.layers)
        opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
        history = []
        for step in range(tc.steps):
            idx = torch.randperm(n, generator=gen)[: min(tc.batch, n)]
            batch = {k: v[idx] for k, v in data.items()}
            x = rollout(net, batch, m.unit, cfg.venue.gas, cfg.venue.gas_smooth) / m.pnl_unit
            loss = risk(x, tc.objective)
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(round(loss.item(), 6))
            if progress is not None:
                progress(1)
            if log is not None and (step % 25 == 0 or step == tc.steps - 1):
                log(f"step {step:4d}  loss {loss.item():+.4f}  ({time.perf_counter() - t0:.0f} s)")
        m.layers = net.export()
        m.config = cfg.model_dump(mode="json")
        m.info = {"seed": seed, "n_paths": n, "loss_history": history}
        return m
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)
