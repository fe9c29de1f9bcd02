"""The keeper's JSON logs: the same fields as ever, levels, rotation, per-instance loggers."""

import io
import json
import logging

from keeper.logs import KeeperLog


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_each_record_is_one_json_object_with_ts_event_level_and_its_fields(tmp_path):
    stream = io.StringIO()
    log = KeeperLog(stream=stream, path=tmp_path / "k.jsonl")
    log("leg", mode="dry_run", to="0xabc", amount=1.5, nested={"a": [1, 2]})
    log("rpc_down", error="connection refused")
    (leg, down) = _lines(stream.getvalue())
    assert leg["event"] == "leg" and leg["level"] == "info" and leg["amount"] == 1.5
    assert leg["nested"] == {"a": [1, 2]} and isinstance(leg["ts"], float)
    assert down["level"] == "warning" and down["error"] == "connection refused"
    assert _lines((tmp_path / "k.jsonl").read_text()) == [leg, down]
    assert [r["event"] for r in log.records] == ["leg", "rpc_down"]
    log.close()


def test_values_json_cannot_encode_become_strings():
    import numpy as np

    stream = io.StringIO()
    KeeperLog(stream=stream)("settled", size=np.float64(2.5), inf=float("inf"), obj=object())
    (rec,) = _lines(stream.getvalue())
    assert rec["size"] == 2.5 and rec["inf"] == "inf" and rec["obj"].startswith("<object")


def test_the_level_filters_and_errors_are_errors():
    stream = io.StringIO()
    log = KeeperLog(stream=stream, level=logging.WARNING)
    log("leg", mode="live")
    log("tick_failed", block=3, error="x")
    (rec,) = _lines(stream.getvalue())
    assert rec["event"] == "tick_failed" and rec["level"] == "error"


def test_the_file_rotates_and_keeps_the_configured_backups(tmp_path):
    path = tmp_path / "k.jsonl"
    log = KeeperLog(stream=None, path=path, rotate_bytes=2_000, backups=2)
    for i in range(200):
        log("leg", i=i, pad="x" * 50)
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["k.jsonl", "k.jsonl.1", "k.jsonl.2"]
    assert all(p.stat().st_size <= 2_200 for p in tmp_path.iterdir())
    assert _lines(path.read_text())[-1]["i"] == 199


def test_two_keepers_in_one_process_do_not_share_handlers():
    a, b = io.StringIO(), io.StringIO()
    KeeperLog(stream=a)("started", who="a")
    KeeperLog(stream=b)("started", who="b")
    assert [r["who"] for r in _lines(a.getvalue())] == ["a"]
    assert [r["who"] for r in _lines(b.getvalue())] == ["b"]
