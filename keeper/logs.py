"""The keeper's structured logs: stdlib `logging` with a JSON formatter, one object per line.

Every record carries the fields the keeper has always written — `ts` (Unix seconds, ms
precision), `event`, then the event's own fields — plus `level`. Records go to stderr and,
with `log_path`, to a rotating file (`logging.handlers.RotatingFileHandler`, so a long-running
keeper's log cannot fill the disk). The formatter is python-json-logger's, the maintained
JSON formatter for the stdlib.

Levels: transport outages and failovers are WARNING, task errors and failed ticks ERROR, the
rest INFO; `KeeperLog(level=...)` filters (an operator who wants only problems sets WARNING).
"""

from __future__ import annotations

import logging
import math
import sys
from collections import deque
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

LEVELS = {
    "rpc_down": logging.WARNING,
    "rpc_retry": logging.WARNING,
    "failover": logging.WARNING,
    "resume_pending": logging.WARNING,
    "error": logging.ERROR,
    "tick_failed": logging.ERROR,
    "foreign_signer": logging.ERROR,
}
"""Events above INFO; every other event is INFO."""
ROTATE_BYTES = 50 * 2**20
ROTATE_BACKUPS = 5


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return str(x)


class _Formatter(JsonFormatter):
    """`{"ts", "event", "level", ...fields}`: the event's fields as given, nothing of the
    logging machinery (module, line, thread) unless asked."""

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_record["ts"] = round(record.created, 3)
        log_record["event"] = record.getMessage()
        log_record["level"] = record.levelname.lower()
        for k, v in getattr(record, "fields", {}).items():
            # Infinity/NaN are not JSON: a strict reader (jq) would reject the whole line.
            log_record[k] = str(v) if isinstance(v, float) and not math.isfinite(v) else v


class _Recent(logging.Handler):
    """The last records as dicts, for `ammlab keeper status`-style inspection and tests."""

    def __init__(self, keep: int):
        super().__init__()
        self.records: deque[dict[str, Any]] = deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(
            {"ts": round(record.created, 3), "event": record.getMessage(), **record.fields}
        )


class KeeperLog:
    """Call as `log(event, **fields)`. A logger of its own per instance (two keepers in one
    process, as tests run them, do not share handlers).

    Args:
        stream: where lines go besides the file (None: nowhere).
        path: a file, rotated at `rotate_bytes` with `backups` old files kept.
        level: the lowest level written.
        keep: how many recent records `records` holds.
    """

    _count = 0

    def __init__(
        self,
        stream: TextIO | None = sys.stderr,
        path: Path | None = None,
        level: int = logging.INFO,
        rotate_bytes: int = ROTATE_BYTES,
        backups: int = ROTATE_BACKUPS,
        keep: int = 1000,
    ):
        KeeperLog._count += 1
        self.logger = logging.getLogger(f"ammlab.keeper.{KeeperLog._count}")
        self.logger.setLevel(level)
        self.logger.propagate = False
        formatter = _Formatter(json_default=_jsonable, json_ensure_ascii=False)
        self._recent = _Recent(keep)
        self.logger.addHandler(self._recent)
        if stream is not None:
            h = logging.StreamHandler(stream)
            h.setFormatter(formatter)
            self.logger.addHandler(h)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = RotatingFileHandler(path, maxBytes=rotate_bytes, backupCount=backups)
            f.setFormatter(formatter)
            self.logger.addHandler(f)

    @property
    def records(self) -> deque[dict[str, Any]]:
        return self._recent.records

    def __call__(self, event: str, **fields: Any) -> None:
        self.logger.log(LEVELS.get(event, logging.INFO), event, extra={"fields": fields})

    def close(self) -> None:
        for h in list(self.logger.handlers):
            h.close()
            self.logger.removeHandler(h)
