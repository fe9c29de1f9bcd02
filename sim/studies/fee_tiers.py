"""The fee-tier study: one pulled pool's real flow replayed at 1, 5, 30 and 100 bp.

Each tier is an exact replay (`sim.history.replay.replay`) of the same recorded calls on a
pool of the same kind at that fee (a V3 pool keeps its tick spacing), marked at a reference
price (a feed or another pool of the folder): LP fees, LVR, LP fees net of LVR, volume, the
swaps filled and refused, and, with the arbitrageur, its profit. The recorded tier is the
pool itself (its row reproduces the chain); the others are counterfactuals: the traders keep
their intents (exact input, exact output, price limit), not their amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.history.replay import replay
from sim.history.schema import FEED, V3
from sim.history.store import POOL_KINDS, PRICE_KINDS, History, HistoryError

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
) -> dict[str, Any]:
    """Replay `pool` (default: the folder's only pool) at every tier.

    Returns:
        {"pool", "kind", "recorded_bp", "reference", "rows": [{"tier_bp", "fees", "lvr", "net",
        "volume", "swaps", "refused", "arb_profit", "days"}]}; money in the numeraire.
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
    rows = []
    for tier in tiers:
        if not 0 <= tier < 10_000 or tier * unit != int(tier * unit):
            raise HistoryError(f"--tiers {tier}: a fee in basis points the pool can take")
        r = replay(history, address, int(tier * unit), block_time, reference, arbitrage, risky)
        m = r.metrics
        rows.append({"tier_bp": tier, **{k: m[k] for k in ("fees", "lvr", "volume", "swaps",
                     "refused", "arb_profit")}, "net": m["fees"] - m["lvr"]})  # fmt: skip
    return {"pool": address, "kind": kind, "recorded_bp": recorded, "reference": reference,
            "rows": rows}  # fmt: skip


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
