"""A Uniswap V3 pool's recorded flow, replayed exactly on the integer twin.

Every event of the pool is one call (v3-core emits one event per call): Initialize, Mint,
Burn, Collect, Swap, Flash, IncreaseObservationCardinalityNext, SetFeeProtocol and
CollectProtocol. Each is applied to the replica (a `UniswapV3Pool` at the recorded fee), whose
amounts and, after a swap, price, tick and liquidity must equal the event's, else
`HistoryError`; and to the counterfactual pool (another fee, the same tick spacing so every
recorded range stays valid) by its intent:

* a swap is an exact input, an exact output, or an input stopped at a price limit (the
  recorded final price). The replica tells which: the first of the three that reproduces the
  event on it is the intent (all three are exact integer runs of the pool's own swap loop);
* a mint or a burn moves the same liquidity at the same ticks;
* a collect takes everything the position is owed when the recorded one did, else the
  recorded amounts;
* a flash pays the same fee (`paid0`, `paid1`) to the in-range liquidity, as the pool does.

The replay starts from the pool's Initialize: the tick state of a pool pulled from the middle
of its life is not in its events (refused with the block to pull from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.errors import Revert
from sim.history.store import History, HistoryError
from sim.venues.univ3.twin import UniswapV3Pool
from sim.venues.univ3.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, Q128, UINT256_MAX, mul_div

TABLES = ("v3_initialize", "v3_mint", "v3_burn", "v3_collect", "v3_swap", "v3_flash",
          "v3_observation_cardinality", "v3_fee_protocol", "v3_collect_protocol")  # fmt: skip
ALL = (1 << 128) - 1
_ROW = dict[str, Any]


@dataclass
class Call:
    """One event of the pool: its table and row."""

    table: str
    row: _ROW

    @property
    def block(self) -> int:
        return self.row["block_number"]


def calls(history: History, address: str) -> list[Call]:
    """The pool's calls in chain order; refused when the pull started after its Initialize."""
    out = [Call(t, r) for t in TABLES for r in history.rows(t, address)]
    out.sort(key=lambda c: (c.row["block_number"], c.row["log_index"]))
    if history.sources[address].get("initial") is not None:
        raise HistoryError(
            f"pool {address} was initialised before the pulled range: its ticks are not in the "
            "events; pull from the block of its Initialize (its creation) to replay it"
        )
    return out


def new_pool(history: History, address: str, fee: int | None = None) -> UniswapV3Pool:
    s = history.sources[address]
    return UniswapV3Pool(s["fee"] if fee is None else fee, s["tick_spacing"], address)


def _swap(pool: UniswapV3Pool, zero_for_one: bool, specified: int, limit: int | None, ts: int):
    if limit is None:
        limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    return pool.swap(zero_for_one, specified, limit, ts)


def swap_intent(pool: UniswapV3Pool, r: _ROW, ts: int) -> tuple[str, bool, int, int | None]:
    """(intent, zero_for_one, amount specified, limit) that reproduces swap `r` on `pool`
    (applied: `pool` is left after the swap). Raises HistoryError when none does."""
    zero_for_one = r["amount0"] > 0
    a_in, a_out = (r["amount0"], -r["amount1"]) if zero_for_one else (r["amount1"], -r["amount0"])
    for how, specified, limit in (("in", a_in, None), ("out", -a_out, None),
                                  ("limit", a_in, r["sqrtPriceX96"])):  # fmt: skip
        trial = pool.copy()
        try:
            got = _swap(trial, zero_for_one, specified, limit, ts)
        except Revert:
            continue
        if got == (r["amount0"], r["amount1"]) and (
            trial.sqrt_price_x96,
            trial.tick,
            trial.liquidity,
        ) == (r["sqrtPriceX96"], r["tick"], r["liquidity"]):
            pool.restore(trial)
            return how, zero_for_one, specified, limit
    raise HistoryError(
        f"pool {r['address']}: no exact-in, exact-out or limited swap reproduces the swap at "
        f"block {r['block_number']} log {r['log_index']}; the pull misses events"
    )


def _flash(pool: UniswapV3Pool, paid0: int, paid1: int) -> None:
    """The pool's flash accounting of the fees paid (UniswapV3Pool.flash)."""
    for i, paid in ((0, paid0), (1, paid1)):
        if paid <= 0:
            continue
        p = pool.fee_protocol % 16 if i == 0 else pool.fee_protocol >> 4
        fees = paid // p if p else 0
        name = f"fee_growth_global{i}_x128"
        growth = (getattr(pool, name) + mul_div(paid - fees, Q128, pool.liquidity)) & UINT256_MAX
        setattr(pool, name, growth)
        setattr(pool, f"protocol_fees{i}", (getattr(pool, f"protocol_fees{i}") + fees) & ALL)
        setattr(pool, f"balance{i}", getattr(pool, f"balance{i}") + paid)


def apply_recorded(pool: UniswapV3Pool, c: Call, ts: int, check: bool = True) -> Any:
    """`c` as it happened, its amounts checked when `check`; returns a swap's intent (see
    `swap_intent`), a collect's ("all" or "part") or None."""
    r, t = c.row, c.table
    got: tuple[int, int] | None = None
    how = None
    if t == "v3_initialize":
        pool.initialize(r["sqrtPriceX96"], ts)
    elif t == "v3_mint":
        got = pool.mint(r["owner"], r["tickLower"], r["tickUpper"], r["amount"], ts)
    elif t == "v3_burn":
        got = pool.burn(r["owner"], r["tickLower"], r["tickUpper"], r["amount"], ts)
    elif t == "v3_collect":
        key = (r["owner"], r["tickLower"], r["tickUpper"])
        got = pool.collect(*key, r["amount0"], r["amount1"])
        pos = pool.positions.get(key)
        how = "all" if pos is None or pos.tokens_owed0 == pos.tokens_owed1 == 0 else "part"
    elif t == "v3_swap":
        return swap_intent(pool, r, ts)
    elif t == "v3_flash":
        _flash(pool, r["paid0"], r["paid1"])
    elif t == "v3_observation_cardinality":
        pool.increase_observation_cardinality_next(r["observationCardinalityNextNew"])
    elif t == "v3_fee_protocol":
        pool.set_fee_protocol(r["feeProtocol0New"], r["feeProtocol1New"])
    else:
        got = pool.collect_protocol(r["amount0"], r["amount1"])
    if check and got is not None and got != (r["amount0"], r["amount1"]):
        raise HistoryError(
            f"pool {r['address']}: the replayed {t} at block {r['block_number']} moved {got}, "
            f"the pool {(r['amount0'], r['amount1'])}; the pull misses events"
        )
    return how


def apply_intent(pool: UniswapV3Pool, c: Call, how: Any, ts: int) -> tuple[int, int] | bool | None:
    """`c` on the counterfactual pool by its intent; the swap's (amount0, amount1) into the
    pool, None for a call that is not a swap, False for one the pool refuses."""
    r, t = c.row, c.table
    trial = pool.copy()
    try:
        if t == "v3_swap":
            _, zero_for_one, specified, limit = how
            if limit is not None and not (
                limit < trial.sqrt_price_x96 if zero_for_one else limit > trial.sqrt_price_x96
            ):
                return False  # already past the trader's limit
            result: Any = _swap(trial, zero_for_one, specified, limit, ts)
        elif t == "v3_collect" and how == "all":
            trial.collect(r["owner"], r["tickLower"], r["tickUpper"], ALL, ALL)
            result = None
        elif t == "v3_burn":
            pos = trial.position(r["owner"], r["tickLower"], r["tickUpper"])
            trial.burn(r["owner"], r["tickLower"], r["tickUpper"], min(r["amount"],
                                                                         pos.liquidity), ts)  # fmt: skip
            result = None
        else:
            apply_recorded(trial, c, ts, check=False)
            result = None
    except Revert:
        return False
    pool.restore(trial)
    return result


def state(pool: UniswapV3Pool) -> dict[str, int]:
    """What `slot0`, `liquidity` and the fee growth accumulators return."""
    s = pool.slot0()
    return {
        "sqrtPriceX96": s.sqrt_price_x96,
        "tick": s.tick,
        "observationIndex": s.observation_index,
        "observationCardinality": s.observation_cardinality,
        "observationCardinalityNext": s.observation_cardinality_next,
        "feeProtocol": s.fee_protocol,
        "liquidity": pool.liquidity,
        "feeGrowthGlobal0X128": pool.fee_growth_global0_x128,
        "feeGrowthGlobal1X128": pool.fee_growth_global1_x128,
    }
