"""What the sim-vs-chain decision parity tests share: the simulator's keeper agent's view at
every block of an exact world (where its turn starts among the block's transactions, the
inputs it built and its decision) and the chain as the agent saw it at its turn (the block's
transactions before that turn mined on a snapshot, read, then reverted)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sim.agents.keeper import KeeperAgent
from sim.chain.backend import ChainSession
from sim.engine.exact import BlockRecord


def run_recording_turns(monkeypatch, session: ChainSession, recorder: type) -> tuple[
    dict[int, BlockRecord], dict[int, int], dict[int, tuple]
]:  # fmt: skip
    """Run the session's exact world with the keeper agent watched: (records by block, the
    index of the agent's first transaction in each block, (inputs, decision) by block as
    `recorder.record` received them)."""
    turns: dict[int, int] = {}
    seen: dict[int, tuple] = {}
    act = KeeperAgent.act

    def spy_act(self, ctx):
        # Transactions the exact world has recorded in the open block before this turn.
        turns[ctx.block] = session.world.sent_in_block
        return act(self, ctx)

    def spy_record(self, inputs, decision):
        seen[max(turns)] = (inputs, decision)

    monkeypatch.setattr(KeeperAgent, "act", spy_act)
    monkeypatch.setattr(recorder, "record", spy_record)
    try:
        exact = session.world.run()
    finally:
        monkeypatch.undo()
    return {r.block: r for r in exact.blocks}, turns, seen


@contextmanager
def at_the_keepers_turn(session: ChainSession, rec: BlockRecord, turn: int) -> Iterator[
    list[dict[str, Any]]
]:  # fmt: skip
    """The chain as the keeper agent saw it in block `rec`: the block's transactions before its
    turn mined (each with its recorded status) on a snapshot, reverted on exit. Yields the
    agent's own actions of the block (it acts last: everything from its turn on)."""
    prefix, own = rec.actions[:turn], rec.actions[turn:]
    snap_id = session.snapshot()
    try:
        for tx in session.encode(BlockRecord(rec.block, rec.timestamp, prefix)):
            session.builder.add(*tx)
        receipts, _ = session.builder.mine_and_read(rec.timestamp, [])
        assert [r.status for r in receipts] == [a["status"] for a in prefix]
        yield own
    finally:
        session.revert(snap_id)
