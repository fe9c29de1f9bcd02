"""A Uniswap V2 pair's recorded flow, replayed exactly on the integer twin.

The pair's logs, grouped by transaction, become actions: a swap (its Sync and Swap), a mint
(the LP token's mint Transfer, Sync, Mint), a burn (the LP burn Transfer, Sync, Burn), or a
lone Sync (a donation or a skim the pair synced). Each action is applied twice:

* to the replica, a `CPMMPool` at the recorded fee set to exactly what the pair saw (its
  balances before the call follow from the event: reserves plus the amounts in), whose
  reserves must then equal the recorded Sync, else `HistoryError`. The replica also tells
  each swap's intent: exact input (the output is `getAmountOut` of the input), exact output
  (the input is `getAmountIn` of the output), or fixed amounts (anything else: a contract that
  computed its own amounts, a flash swap);
* to the counterfactual pool, whose fee may differ, by that intent: the same input, the same
  output, or the same amounts (refused when they fail the K check); a mint deposits the
  recorded amounts scaled token by token by the counterfactual over the recorded reserves (so
  a deposit at the pool's ratio stays one); a burn burns the recorded LP amount (with any
  tokens that sat unsynced in the pair, as there); a donation adds the same tokens. With the recorded fee both pools are the same pool, step for step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.errors import Revert
from sim.history.schema import ZERO_ADDRESS
from sim.history.store import History, HistoryError
from sim.venues.cpmm.twin import CPMMPool, get_amount_in, get_amount_out

TABLES = ("v2_sync", "v2_swap", "v2_mint", "v2_burn", "v2_transfer")
LP = "lp"
TRADER = "trader"


@dataclass
class Action:
    """One call on the pair, from its events."""

    kind: str
    """"swap", "mint", "burn" or "sync"."""
    block: int
    log_index: int
    sync: tuple[int, int]
    """Reserves after the call (its Sync)."""
    amounts: tuple[int, int, int, int] = (0, 0, 0, 0)
    """swap: (in0, in1, out0, out1); mint/burn: (amount0, amount1, 0, 0)."""
    liquidity: int | None = None
    """LP minted to the depositor / burned (None: no Transfer seen for it)."""
    fee_mints: list[int] = field(default_factory=list)
    """LP minted to the protocol's feeTo before the call."""


@dataclass
class Trade:
    """A swap on the counterfactual pool: what the pool received (negative: paid out) and the
    fee part of the input, raw units of token0 / token1."""

    d0: int
    d1: int
    fee0: float
    fee1: float
    arb: bool = False


def actions(history: History, address: str) -> list[Action]:
    """The pair's calls in chain order."""
    logs = sorted(
        ((t, r) for t in TABLES for r in history.rows(t, address)),
        key=lambda tr: (tr[1]["block_number"], tr[1]["log_index"]),
    )
    out: list[Action] = []
    pending: list[tuple[str, dict]] = []
    tx = None
    for table, r in logs:
        key = (r["block_number"], r["transaction_index"])
        if key != tx:
            _flush(pending, out)
            tx = key
        pending.append((table, r))
        if table in ("v2_swap", "v2_mint", "v2_burn"):
            _close(pending, out)
    _flush(pending, out)
    return out


def _flush(pending: list[tuple[str, dict]], out: list[Action]) -> None:
    """Lone Syncs left at the end of a transaction (donations, skims synced)."""
    for table, r in pending:
        if table == "v2_sync":
            out.append(Action("sync", r["block_number"], r["log_index"],
                              (r["reserve0"], r["reserve1"])))  # fmt: skip
    pending.clear()


def _close(pending: list[tuple[str, dict]], out: list[Action]) -> None:
    table, r = pending[-1]
    syncs = [x for t, x in pending if t == "v2_sync"]
    if not syncs:
        raise HistoryError(f"pair {r['address']}: a {table} at block {r['block_number']} has no "
                           "Sync before it; the pull is incomplete")  # fmt: skip
    for _, lone in ((t, x) for t, x in pending[:-1] if t == "v2_sync" and x is not syncs[-1]):
        out.append(Action("sync", lone["block_number"], lone["log_index"],
                          (lone["reserve0"], lone["reserve1"])))  # fmt: skip
    sync = (syncs[-1]["reserve0"], syncs[-1]["reserve1"])
    # LP minted (the first mint's MINIMUM_LIQUIDITY to the zero address is the twin's own)
    mints = [
        x["value"]
        for t, x in pending
        if t == "v2_transfer" and x["from"] == ZERO_ADDRESS and x["to"] != ZERO_ADDRESS
    ]
    burns = [x["value"] for t, x in pending if t == "v2_transfer" and x["to"] == ZERO_ADDRESS
             and x["from"] != ZERO_ADDRESS]  # fmt: skip
    a = Action("", r["block_number"], r["log_index"], sync)
    if table == "v2_swap":
        a.kind = "swap"
        a.amounts = (r["amount0In"], r["amount1In"], r["amount0Out"], r["amount1Out"])
        a.fee_mints = mints
    elif table == "v2_mint":
        a.kind, a.amounts = "mint", (r["amount0"], r["amount1"], 0, 0)
        a.liquidity = mints[-1] if mints else None
        a.fee_mints = mints[:-1]
    else:
        a.kind, a.amounts = "burn", (r["amount0"], r["amount1"], 0, 0)
        a.liquidity = burns[-1] if burns else None
        a.fee_mints = mints
    out.append(a)
    pending.clear()


def initial_pool(history: History, address: str, fee_bps: int) -> CPMMPool:
    """The pair at the anchor block as a twin (empty when it did not exist yet)."""
    pool = CPMMPool(fee_bps=fee_bps, address=address, token0="token0", token1="token1")
    init = history.sources[address].get("initial")
    if init is not None:
        pool.reserve0, pool.reserve1 = int(init["reserve0"]), int(init["reserve1"])
        pool.balance0, pool.balance1 = int(init["balance0"]), int(init["balance1"])
        pool.block_timestamp_last = int(init["block_timestamp_last"])
        pool.price0_cumulative_last = int(init["price0_cumulative_last"])
        pool.price1_cumulative_last = int(init["price1_cumulative_last"])
        pool.total_supply = int(init["total_supply"])
    return pool


def apply_recorded(pool: CPMMPool, a: Action, ts: int) -> None:
    """`a` as it happened (the replica), checked against its Sync and LP amounts."""
    for v in a.fee_mints:
        pool.total_supply += v
    in0, in1, out0, out1 = a.amounts
    if a.kind == "swap":
        pool.balance0, pool.balance1 = pool.reserve0 + in0, pool.reserve1 + in1
        pool.swap(out0, out1, TRADER, ts)
    elif a.kind == "mint":
        pool.balance0, pool.balance1 = pool.reserve0 + in0, pool.reserve1 + in1
        minted = pool.mint(LP, ts)
        if a.liquidity is not None and minted != a.liquidity:
            raise HistoryError(f"pair replay mints {minted} LP at block {a.block}, the pair "
                               f"minted {a.liquidity}: the pull misses events")  # fmt: skip
    elif a.kind == "burn":
        pool.balance0, pool.balance1 = a.sync[0] + in0, a.sync[1] + in1
        pool.lp_balances[pool.address] = a.liquidity or 0
        if pool.burn(LP, ts) != (in0, in1):
            raise HistoryError(f"pair replay burns other amounts than {(in0, in1)} at block "
                               f"{a.block}: the pull misses events")  # fmt: skip
    else:
        pool.balance0, pool.balance1 = a.sync
        pool.sync(ts)
    if (pool.reserve0, pool.reserve1) != a.sync:
        raise HistoryError(
            f"pair replay diverges from the recorded Sync at block {a.block} log {a.log_index}: "
            f"reserves {(pool.reserve0, pool.reserve1)} != {a.sync}; the pull misses events"
        )


def intent(pool: CPMMPool, a: Action) -> str:
    """A swap's intent on the pool before it: "in", "out" or "fixed"."""
    in0, in1, out0, out1 = a.amounts
    if (in0 > 0) == (in1 > 0) or (out0 > 0) == (out1 > 0) or (in0 > 0) == (out0 > 0):
        return "fixed"
    r_in, r_out = (pool.reserve0, pool.reserve1) if in0 else (pool.reserve1, pool.reserve0)
    a_in, a_out = in0 or in1, out0 or out1
    try:
        if get_amount_out(a_in, r_in, r_out, pool.fee_bps) == a_out:
            return "in"
        if get_amount_in(a_out, r_in, r_out, pool.fee_bps) == a_in:
            return "out"
    except Revert:
        pass
    return "fixed"


def apply_intent(
    pool: CPMMPool, replica: CPMMPool, a: Action, how: str, ts: int
) -> Trade | None | bool:
    """`a` on the counterfactual `pool` by its intent (`replica`: the pair before `a`).

    Returns the Trade of a swap, None for a call that is not a swap, False for a refused one.
    """
    for v in a.fee_mints:
        pool.total_supply += v
    in0, in1, out0, out1 = a.amounts
    trial = pool.copy()
    try:
        if a.kind == "swap":
            if how != "fixed":
                zero_in = in0 > 0
                r_in, r_out = ((trial.reserve0, trial.reserve1) if zero_in
                               else (trial.reserve1, trial.reserve0))  # fmt: skip
                if how == "in":
                    a_in = in0 or in1
                    a_out = get_amount_out(a_in, r_in, r_out, trial.fee_bps)
                else:
                    a_out = out0 or out1
                    a_in = get_amount_in(a_out, r_in, r_out, trial.fee_bps)
                in0, in1 = (a_in, 0) if zero_in else (0, a_in)
                out0, out1 = (0, a_out) if zero_in else (a_out, 0)
            trial.balance0, trial.balance1 = trial.reserve0 + in0, trial.reserve1 + in1
            trial.swap(out0, out1, TRADER, ts)
            fee = trial.fee_bps / 10_000
            result: Trade | None = Trade(in0 - out0, in1 - out1, in0 * fee, in1 * fee)
        elif a.kind == "mint":
            scaled = [v * c // r if r else v for v, c, r in
                      ((in0, trial.reserve0, replica.reserve0),
                       (in1, trial.reserve1, replica.reserve1))]  # fmt: skip
            trial.balance0, trial.balance1 = trial.reserve0 + scaled[0], trial.reserve1 + scaled[1]
            trial.mint(LP, ts)
            result = None
        elif a.kind == "burn":
            # tokens sent to the pair unsynced (a donation) are burned out with the LP too
            trial.balance0 = trial.reserve0 + max(a.sync[0] + in0 - replica.reserve0, 0)
            trial.balance1 = trial.reserve1 + max(a.sync[1] + in1 - replica.reserve1, 0)
            trial.lp_balances[trial.address] = min(a.liquidity or 0, trial.total_supply)
            trial.burn(LP, ts)
            result = None
        else:
            d0, d1 = a.sync[0] - replica.reserve0, a.sync[1] - replica.reserve1
            trial.balance0 = max(trial.reserve0 + d0, 0)
            trial.balance1 = max(trial.reserve1 + d1, 0)
            trial.sync(ts)
            result = None
    except Revert:
        return False
    pool.__dict__.update(trial.__dict__)
    return result


def state(pool: CPMMPool) -> dict[str, int]:
    """What `getReserves`, `totalSupply` and the cumulative prices return."""
    return {
        "reserve0": pool.reserve0,
        "reserve1": pool.reserve1,
        "blockTimestampLast": pool.block_timestamp_last,
        "totalSupply": pool.total_supply,
        "price0CumulativeLast": pool.price0_cumulative_last,
        "price1CumulativeLast": pool.price1_cumulative_last,
    }
