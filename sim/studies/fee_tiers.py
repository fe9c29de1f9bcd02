"""The fee-tier study: one pulled pool's real flow replayed at 1, 5, 30 and 100 bp.

Each tier replays the same recorded calls on a pool of the same kind at that fee (a V3 pool
keeps its tick spacing), marked at a reference price (a feed or another pool of the folder):
LP fees, LVR, LP fees net of LVR, volume, the swaps filled and refused, and, with the
arbitrageur, its profit. The recorded tier is the pool itself (it reproduces the chain); the
others are counterfactuals: the traders keep their intents (exact input, exact output, price
limit), not their amounts.

A V2 pair replays exactly (`sim.history.replay.replay`, on the integer twin). A V3 pool
replays through the fast engine (`flow: {kind: replay, v3_pool}`, `sim.history.v3flow`): one
world, blocks of `block_time` seconds (default 12, the chain's slot; calls are sent in the
first block whose time has come and marked at its reference price), the `v3_arbitrageur` with
no gas when `arbitrage`; `exact=True` replays it exactly instead (same columns; the two agree
to float rounding, tested). 1 bp is fee 100 pips: a tier mainnet's governance enabled (tick
spacing 1) but v3-core's factory does not at deployment; the study keeps the recorded
spacing, which changes nothing for the recorded ranges (multiples of it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sim.history.agent import FlowConfig
from sim.history.replay import replay
from sim.history.schema import FEED, V3
from sim.history.store import POOL_KINDS, PRICE_KINDS, History, HistoryError
from sim.history.v3flow import v3_flow
from sim.venues.univ3.twin import FEE_TIERS

DEFAULT_TIERS = (1.0, 5.0, 30.0, 100.0)
"""Fee tiers, basis points."""
COLUMNS = (
    ("fees", "LP fees"),
    ("lvr", "LVR"),
    ("net", "fees − LVR"),
    ("volume", "volume"),
    ("swaps", "swaps"),
    ("refused", "refused"),
    ("arb_profit", "arb profit"),
)


def fee_tier_study(
    history: History,
    pool: str | None = None,
    reference: str | None = None,
    tiers: Sequence[float] = DEFAULT_TIERS,
    block_time: float | None = None,
    arbitrage: bool = False,
    risky: str = "auto",
    exact: bool = False,
) -> dict[str, Any]:
    """Replay `pool` (default: the folder's only pool) at every tier.

    Args:
        block_time: seconds per block; None keeps the chain's blocks (exact replays) or takes
            12 s (the engine).
        exact: replay a V3 pool exactly instead of through the engine (a V2 pair always is).

    Returns:
        {"pool", "kind", "recorded_bp", "reference", "engine" ("fast" or "exact"),
        "block_time", "rows": [{"tier_bp", "fees", "lvr", "net", "volume", "swaps",
        "refused", "arb_profit"}]}; money in the numeraire.
    """
    address = history.source(pool, POOL_KINDS, "--pool")
    if reference is None:
        feeds = [a for a, s in history.sources.items() if s["kind"] == FEED]
        if len(feeds) != 1:
            raise HistoryError(
                f"--reference: {history.path} holds {len(feeds)} feeds; name the feed or pool "
                "whose price marks the trades"
            )
        reference = feeds[0]
    reference = history.source(reference, PRICE_KINDS, "--reference")
    kind = history.sources[address]["kind"]
    unit = 100 if kind == V3 else 1  # V3 fees are pips
    recorded = history.sources[address]["fee" if kind == V3 else "fee_bps"] / unit
    engine = kind == V3 and not exact
    if engine and block_time is None:
        block_time = 12.0
    rows = []
    for tier in tiers:
        if not 0 <= tier < 10_000 or tier * unit != int(tier * unit):
            raise HistoryError(f"--tiers {tier}: a fee in basis points the pool can take")
        if engine:
            m = engine_tier(history, address, reference, int(tier * unit), block_time,
                            arbitrage, risky)  # fmt: skip
        else:
            m = replay(history, address, int(tier * unit), block_time, reference, arbitrage,
                       risky).metrics  # fmt: skip
        rows.append({"tier_bp": tier, **{k: m[k] for k in ("fees", "lvr", "volume", "swaps",
                     "refused", "arb_profit")}, "net": m["fees"] - m["lvr"]})  # fmt: skip
    return {"pool": address, "kind": kind, "recorded_bp": recorded, "reference": reference,
            "engine": "fast" if engine else "exact", "block_time": block_time,
            "rows": rows}  # fmt: skip


def engine_scenario(
    history: History,
    address: str,
    reference: str,
    fee: int,
    block_time: float,
    arbitrage: bool = False,
    risky: str = "auto",
    paths: int = 1,
) -> Any:
    """The scenario of one tier of V3 pool `address` through the fast engine: its flow at
    `fee` (pips) in the `v3_pools` entry "v3pool", the price of `reference`, blocks of
    `block_time` seconds up to the last call, the `v3_arbitrageur` (no gas) with `arbitrage`.

    Raises:
        HistoryError: a bad block time, or a flow the replay refuses.
    """
    from sim.scenario import scenario_from_dict

    if not block_time > 0:
        raise HistoryError(f"--block-time {block_time}: must be > 0 seconds")
    source = str(history.path)
    flow = {"kind": "replay", "source": source, "address": address, "v3_pool": "v3pool",
            "risky": risky, "fee": fee}  # fmt: skip
    steps = v3_flow(FlowConfig(**flow)).steps
    end = steps[-1].time if steps else 0.0
    recorded = history.sources[address]["fee"]
    return scenario_from_dict({
        "name": "fee-tiers", "paths": paths,
        "blocks": {"n_blocks": max(1, math.ceil(end / block_time)), "block_time": block_time},
        "price": {"kind": "replay", "source": source, "address": reference, "risky": risky},
        # the entry's fee is flow.fee's placeholder: the config takes the factory's tiers only
        "v3_pools": [{"name": "v3pool", "fee": recorded if recorded in FEE_TIERS else 500}],
        "flow": flow,
        "agents": [{"kind": "v3_arbitrageur", "name": "arb", "pay_gas": False}]
        if arbitrage else [],
    }, source="fee-tiers")  # fmt: skip


def engine_tier(
    history: History,
    address: str,
    reference: str,
    fee: int,
    block_time: float,
    arbitrage: bool = False,
    risky: str = "auto",
) -> dict[str, float]:
    """One tier of a V3 pool through the fast engine (one world, `engine_scenario`).

    Returns:
        fees, lvr, volume, arb_profit (numeraire) and swaps, refused (counts), as
        `sim.history.replay.ReplayResult.metrics` names them.
    """
    from sim.engine.core import Engine

    sc = engine_scenario(history, address, reference, fee, block_time, arbitrage, risky)
    w = Engine(sc).run().worlds
    head = "v3.v3pool."
    return {
        "fees": float(w[head + "fees"][0]),
        "lvr": float(w[head + "lvr"][0]),
        "volume": float(w[head + "volume"][0]),
        "arb_profit": float(w[head + "arb_profit"][0]),
        "swaps": float(w["flow.swaps"][0]),
        "refused": float(w["flow.refused"][0]),
    }


def format_table(study: dict[str, Any]) -> str:
    """The study as a Markdown table (money rounded to the unit)."""
    head = ["tier"] + [label for _, label in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in study["rows"]:
        mark = " (recorded)" if row["tier_bp"] == study["recorded_bp"] else ""
        cells = [f"{row['tier_bp']:g} bp{mark}"]
        cells += [f"{row[key]:,.0f}" for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
