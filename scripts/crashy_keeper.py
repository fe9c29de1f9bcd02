"""A minimal keeper process for the crash tests: one hedge intent, optionally frozen mid-way.

    python scripts/crashy_keeper.py --rpc URL --journal DB --lock-dir DIR --to TOKEN \
        --data 0x... --decision d1 [--stop-at intent|signed|sent] [--poll 0.1]

It opens the transaction manager (lock, reconcile, resume), records the intent under the
idempotency key of (decision, 0, target) and executes it. With `--stop-at STAGE` it prints
`STAGE <stage>` and sleeps once that stage is durable in the journal, so that a test can
kill -9 it there; without, it prints `DONE <json>` at the end. Every stage the manager reports
(`TxManager.on_stage`: intent, signed, sent) is printed.

The whole keeper (`ammlab keeper run --live`) is frozen the same way by the manager's own
hook, `AMMLAB_CHAOS_STOP_AT=STAGE[:KIND]` (tests/e2e/test_keeper_chaos.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from keeper.journal import Journal  # noqa: E402
from keeper.journal_records import intent_key  # noqa: E402
from keeper.safety_config import load_safety_config  # noqa: E402
from keeper.txmanager import TxManager, keeper_private_key  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--lock-dir", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--decision", default="d1")
    parser.add_argument("--stop-at", choices=["intent", "signed", "sent"], default=None)
    parser.add_argument("--poll", type=float, default=0.1)
    args = parser.parse_args()

    def stage(name: str, *_: object) -> None:
        print(f"STAGE {name}", flush=True)
        if name == args.stop_at:
            while True:  # frozen here until the test kills us
                time.sleep(3600)

    config = load_safety_config(tx={"poll_s": args.poll, "rpc_retry_budget_s": 20})
    journal = Journal(args.journal)
    manager = TxManager(
        args.rpc, keeper_private_key(), journal, args.lock_dir, config.tx, on_stage=stage
    )
    report = manager.open()
    print(f"RECONCILED {json.dumps(report.__dict__)}", flush=True)
    manager.resume(report)
    intent = journal.record_intent(
        intent_key(args.decision, 0, args.to),
        account=manager.address,
        chain_id=manager.chain_id,
        to=args.to,
        data=args.data,
        notional=1.0,
    )
    final = manager.execute(intent)  # the manager reports "intent" first, then the others
    hashes = [a.tx_hash for a in journal.attempts(final.id)]
    print(f"DONE {json.dumps({'status': final.status, 'hashes': hashes})}", flush=True)
    manager.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
