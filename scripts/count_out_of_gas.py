"""Count on-chain out-of-gas failures in the keeper journals under a folder.

    python scripts/count_out_of_gas.py DIR [DIR ...]

Run a test file with `--basetemp DIR` (pytest keeps every test's tmp_path there), then point
this at DIR. Every SQLite journal below it (`*.sqlite`) is read: an attempt whose receipt
says status 0 and gasUsed >= 63/64 of its gas limit ran out of gas, in the call itself (all
the gas consumed) or in a nested call (a router's call into a pool: EIP-150 leaves the caller
at most 1/64, and it reverts with that); a REVERT of the venue's own check hands the unused
gas back and stays well below. Prints, per journal kind of intent, the mined and
failed attempts, the out-of-gas ones, and the largest gasUsed / gas limit of a mined one
(how close the limits came).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path


def journal_attempts(path: Path) -> list[tuple[str, str, int, int, str]]:
    """(intent kind, venue or step, gas limit, gas used, status) of every attempt with a
    receipt in the journal at `path`."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT i.kind, i.meta, a.gas_limit, a.receipt FROM attempts a"
            " JOIN intents i ON i.id = a.intent_id WHERE a.receipt IS NOT NULL"
        ).fetchall()
    except sqlite3.DatabaseError:
        return []  # not a keeper journal
    finally:
        db.close()
    out = []
    for kind, meta, limit, receipt in rows:
        r = json.loads(receipt)
        m = json.loads(meta)
        where = (m.get("kind") or m.get("step") or "").split(":")[0]
        status = "mined" if int(r.get("status") or "0x1", 16) == 1 else "failed"
        out.append((kind, where, int(limit), int(r["gasUsed"], 16), status))
    return out


def main(folders: list[str]) -> int:
    if not folders:
        print("usage: count_out_of_gas.py DIR [DIR ...] (a pytest --basetemp folder)")
        return 2
    stats: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: {"mined": 0, "failed": 0, "out_of_gas": 0, "max_used": 0.0}
    )
    journals = 0
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.sqlite")):
            attempts = journal_attempts(path)
            journals += bool(attempts)
            for kind, where, limit, used, status in attempts:
                s = stats[(kind, where)]
                s[status] += 1
                if status == "failed" and used * 64 >= limit * 63:
                    s["out_of_gas"] += 1
                if status == "mined":
                    s["max_used"] = max(s["max_used"], used / limit)
    print(f"{journals} journals with receipts under {', '.join(folders)}")
    print(f"{'intent':<16}{'venue/step':<14}{'mined':>7}{'failed':>8}{'out of gas':>12}"
          f"{'max used/limit (mined)':>24}")  # fmt: skip
    for (kind, where), s in sorted(stats.items()):
        print(f"{kind:<16}{where:<14}{s['mined']:>7}{s['failed']:>8}{s['out_of_gas']:>12}"
              f"{s['max_used']:>24.3f}")  # fmt: skip
    total = sum(s["out_of_gas"] for s in stats.values())
    print(f"out of gas on chain: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
