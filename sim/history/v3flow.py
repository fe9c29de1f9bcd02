"""`flow: {kind: replay, source: DIR, v3_pool: NAME}`: a pulled V3 pool's real flow through the
fast engine's vectorised V3 pool (`sim.venues.univ3.batch.V3Batch`).

The pool. The `v3_pools` entry `NAME` becomes the recorded pool: from the first block of the
run it holds the recorded Initialize price (the pull must start at the pool's creation, as for
the exact replay: the tick state of a pool pulled mid-life is not in its events, refused in one
line by `sim.history.v3.calls`), the recorded tick spacing (so every recorded range is valid at
any fee) and the fee of the entry, or `flow.fee` (any fee in pips, e.g. 100 = 1 bp, which
v3-core's factory does not enable). It holds only the recorded positions: the entry's own
`positions` (and `price_offset_bps`) are refused in one line (a `v3_lp` agent adds liquidity
beside the flow). The pool is canonical, as every V3 pool of the simulator (token0 = the risky
asset, whole units, `sim.venues.univ3.config`): when the risky token is the pool's token1 (WETH
in mainnet's USDC/WETH pools), canonical ticks are the negated ones: a range [l, u) is
[-u, -l), the current tick t is -t - 1 (the same positions in range), and a price P is 1/P.

The flow. Every call of the pool (`sim.history.v3.calls`), in chain order, is read once on the
exact replica (`sim.history.v3.apply_recorded`, which checks it against the event) into a
`V3Step` at its chain time (seconds from the pull's time origin), sent by `V3FlowReplay` in the
first engine block whose time has come, by its intent as the exact replay reads it:

* a swap: an exact input (the recorded gross input), an exact output (its input for this
  pool's state and fee, `V3Batch.input_for_output`; not sent where the pool cannot pay it) or
  an input stopped at a price limit (the recorded final price; refused where the pool is
  already past it), booked in the pool's and the flow agent's accounts as any trader's;
* a mint or burn: the recorded position's liquidity set to its recorded value
  (`V3Batch.set_liquidity_raw`; one slot per (owner, lower, upper), as the pool keys them),
  exact in every counterfactual because mints and burns are by liquidity;
* a collect: the position's fees owed, all of them or up to the recorded amounts (burned
  tokens are paid at the burn in the float pool); a flash: its fees to the in-range liquidity.

Oracle cardinality and protocol-fee events change nothing the float pool models (it has no
protocol fee: a pool with one set pays its share to the LPs here).

At the recorded fee the engine's pool equals the exact replay (and so the chain) after every
block, within float64 and the contract's roundings: the tick exactly, price and in-range
liquidity to 1e-9 relative (`tests/e2e/test_history.py`; the bound is in its docstring).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine.context import BlockContext
from sim.history import v3
from sim.history.schema import MANIFEST, V3
from sim.history.store import HistoryError, open_history
from sim.venues.univ3.batch import V3Batch

V3_POOLS = "v3_pools"
Q96 = 2**96


@dataclass(frozen=True)
class V3Step:
    """One recorded call as the float pool takes it (canonical orientation, whole units)."""

    time: float
    """Seconds from the time origin."""
    kind: str
    """Swaps by intent: "in", "out", "limit"; "liquidity", "collect", "flash"."""
    direction: int = 0
    """Swaps: +1 numeraire in / risky out (price up), -1 risky in / numeraire out."""
    amount: float = 0.0
    """"in", "limit": the gross input; "out": the output."""
    limit: float = 0.0
    """"limit": the sqrt price where the swap stops."""
    position: int = 0
    """"liquidity", "collect": the recorded position (its index among them)."""
    lower: int = 0
    upper: int = 0
    """"liquidity": the position's canonical ticks."""
    liquidity: float = 0.0
    """"liquidity": the position's liquidity after the call, whole units."""
    tokens: tuple[float, float] = (0.0, 0.0)
    """"collect": at most this much (risky, numeraire; inf: everything owed); "flash": the
    fees paid."""


@dataclass(frozen=True)
class V3Flow:
    """A pulled V3 pool's flow, read (see the module docstring)."""

    address: str
    fee: int
    """The recorded fee, pips."""
    tick_spacing: int
    price_scale: float
    """Whole-unit price of canonical tick 0: 10**(risky decimals - numeraire decimals)."""
    sqrt_price: float
    """Canonical sqrt price of the Initialize."""
    tick: int
    """Canonical tick of the Initialize."""
    positions: int
    """Distinct recorded positions (owner, lower, upper)."""
    steps: tuple[V3Step, ...]


class _Units:
    """Raw integers of the pool -> canonical whole units (module docstring)."""

    def __init__(self, src: dict[str, Any], side: int):
        self.side = side
        self.dec = (src["token0"]["decimals"], src["token1"]["decimals"])
        self.liq = 10.0 ** ((self.dec[0] + self.dec[1]) / 2)
        self.sqrt_scale = 10.0 ** ((self.dec[0] - self.dec[1]) / 2)

    def sqrt_price(self, sqrt_x96: int) -> float:
        if self.side == 0:
            return sqrt_x96 / Q96 * self.sqrt_scale
        return Q96 / sqrt_x96 / self.sqrt_scale

    def tick(self, t: int) -> int:
        return t if self.side == 0 else -t - 1

    def ticks(self, lower: int, upper: int) -> tuple[int, int]:
        return (lower, upper) if self.side == 0 else (-upper, -lower)

    def tokens(self, a0: float, a1: float) -> tuple[float, float]:
        """(risky, numeraire) of raw token0, token1 amounts (inf stays inf)."""
        v = (a0 / 10 ** self.dec[0], a1 / 10 ** self.dec[1])
        return (v[0], v[1]) if self.side == 0 else (v[1], v[0])

    def human(self, raw: int, risky: bool) -> float:
        """An amount of the risky asset or the numeraire in whole units."""
        return raw / 10 ** self.dec[self.side if risky else 1 - self.side]

    def direction(self, zero_for_one: bool) -> int:
        """+1 when the input is the numeraire (canonical price up)."""
        return -1 if zero_for_one == (self.side == 0) else 1


def v3_flow(cfg: Any) -> V3Flow:
    """The flow of `cfg` (a `FlowConfig` with `v3_pool`), read once per pulled folder state."""
    h = open_history(cfg.source)
    address = h.source(cfg.address, (V3,), "flow.address")
    side = h.risky_side(address, cfg.risky)
    stamp = (Path(cfg.source) / MANIFEST).stat().st_mtime_ns
    return _read(str(cfg.source), address, side, stamp)


@functools.lru_cache(maxsize=8)
def _read(source: str, address: str, side: int, stamp: int) -> V3Flow:
    """`v3_flow`, cached on the folder, pool, risky side and the manifest's time (a re-pull
    rewrites it)."""
    h = open_history(source)
    src = h.sources[address]
    u = _Units(src, side)
    calls = v3.calls(h, address)
    replica = v3.new_pool(h, address)
    t0, ts = h.time_origin(), h.timestamps
    init = next((c.row for c in calls if c.table == "v3_initialize"), None)
    if init is None:
        raise HistoryError(
            f"flow.address: pool {address} was not initialised in the pulled range; pull from "
            "a block after its Initialize"
        )
    slots: dict[tuple[str, int, int], int] = {}
    liquidity: dict[tuple[str, int, int], int] = {}
    steps: list[V3Step] = []
    for c in calls:
        r, t = c.row, float(ts[c.block] - t0)
        how = v3.apply_recorded(replica, c, ts[c.block])
        if c.table == "v3_swap":
            kind, zero_for_one, specified, limit = how
            d = u.direction(zero_for_one)
            if kind == "out":  # specified: minus the output, risky when the numeraire goes in
                steps.append(V3Step(t, "out", d, u.human(-specified, risky=d > 0)))
            else:
                lim = u.sqrt_price(limit) if limit is not None else 0.0
                steps.append(V3Step(t, kind, d, u.human(specified, risky=d < 0), lim))
        elif c.table in ("v3_mint", "v3_burn"):
            key = (r["owner"], r["tickLower"], r["tickUpper"])
            if r["amount"] == 0:  # a poke: only fees credited, nothing the float pool holds
                continue
            sign = 1 if c.table == "v3_mint" else -1
            liquidity[key] = liquidity.get(key, 0) + sign * r["amount"]
            lower, upper = u.ticks(r["tickLower"], r["tickUpper"])
            steps.append(V3Step(t, "liquidity", position=slots.setdefault(key, len(slots)),
                                lower=lower, upper=upper, liquidity=liquidity[key] / u.liq))  # fmt: skip
        elif c.table == "v3_collect":
            key = (r["owner"], r["tickLower"], r["tickUpper"])
            if key not in slots:
                continue
            amounts = (math.inf, math.inf) if how == "all" else (r["amount0"], r["amount1"])
            steps.append(V3Step(t, "collect", position=slots[key], tokens=u.tokens(*amounts)))
        elif c.table == "v3_flash":
            steps.append(V3Step(t, "flash", tokens=u.tokens(r["paid0"], r["paid1"])))
    return V3Flow(address, src["fee"], src["tick_spacing"], 10.0 ** (u.dec[side] - u.dec[1 - side]),
                  u.sqrt_price(init["sqrtPriceX96"]), u.tick(init["tick"]), len(slots),
                  tuple(steps))  # fmt: skip


def forget_flows() -> None:
    """Drop the flows read so far (`v3_flow` reads a folder's flow once per process; a
    benchmark times a fresh read)."""
    _read.cache_clear()


def make_flow_pool(sc: Any, cfg: Any, n: int, slots: int) -> V3Batch:
    """The `v3_pools` entry `cfg` as the pool of the scenario's V3 flow, in `n` worlds, with
    `slots` slots before the recorded positions' (the entry's own and its LP agents')."""
    if "positions" in cfg.model_fields_set:
        raise HistoryError(
            f"v3_pools.{cfg.name}.positions: the pool a replayed flow trades holds the recorded "
            "positions; remove them (a v3_lp agent adds liquidity beside the flow)"
        )
    if "price_offset_bps" in cfg.model_fields_set:
        raise HistoryError(
            f"v3_pools.{cfg.name}.price_offset_bps: the pool a replayed flow trades starts at "
            "the recorded Initialize price; remove it"
        )
    flow = v3_flow(sc.flow)
    fee = sc.flow.fee if sc.flow.fee is not None else cfg.fee
    pool = V3Batch(cfg.name, n, fee, flow.tick_spacing, slots + flow.positions, flow.price_scale)
    pool.s[:] = flow.sqrt_price
    pool.tick[:] = flow.tick
    pool.flow_base = slots  # the first recorded position's slot, for `V3FlowReplay`
    return pool


class V3FlowReplay:
    """The recorded flow of a V3 pool as an agent (see the module docstring). Reports
    `flow.swaps` (swaps filled) and `flow.refused` (exact outputs the pool could not pay,
    limited swaps already past their limit) per world."""

    priority = False

    def __init__(self, cfg: Any, flow: V3Flow):
        self.cfg = cfg
        self.name = "flow"
        self.flow = flow
        self.next = 0
        self.swaps: np.ndarray | None = None
        self.refused: np.ndarray | None = None

    def act(self, ctx: BlockContext) -> None:
        pool = ctx.market(V3_POOLS)[self.cfg.v3_pool]
        base = getattr(pool, "flow_base", None)
        if base is None:
            raise HistoryError("flow: a replayed V3 flow runs on the fast engine (--backend fast)")
        if self.swaps is None:
            self.swaps, self.refused = np.zeros(pool.n), np.zeros(pool.n)
        steps, now, n = self.flow.steps, float(ctx.time[0]), pool.n
        while self.next < len(steps) and steps[self.next].time <= now:
            s = steps[self.next]
            self.next += 1
            if s.kind == "liquidity":
                pool.set_liquidity_raw(base + s.position, np.full(n, s.lower),
                                       np.full(n, s.upper), np.full(n, s.liquidity))  # fmt: skip
            elif s.kind == "collect":
                pool.collect_raw(base + s.position, *(np.full(n, v) for v in s.tokens))
            elif s.kind == "flash":
                pool.flash_raw(*(np.full(n, v) for v in s.tokens))
            else:
                self._swap(ctx, pool, s)

    def _swap(self, ctx: BlockContext, pool: V3Batch, s: V3Step) -> None:
        n, led = pool.n, ctx.ledger
        direction = np.full(n, s.direction, dtype=np.int64)
        if s.kind == "out":
            amount, fills = pool.input_for_output(np.full(n, s.amount), direction)
            direction = np.where(fills, direction, 0)
        else:
            amount = np.full(n, s.amount)
        limit = np.full(n, s.limit) if s.kind == "limit" else None
        used, _ = pool.swap_raw(amount, direction, limit, ctx.ref, led.active, False,
                                led.agent_pnl[self.name])  # fmt: skip
        filled = used > 0.0
        self.swaps += filled
        self.refused += ~filled

    def finish(self, ctx: BlockContext) -> dict[str, np.ndarray]:
        n = ctx.ref.shape[0]
        zero = np.zeros(n)
        return {
            "flow.swaps": zero if self.swaps is None else self.swaps,
            "flow.refused": zero if self.refused is None else self.refused,
        }
