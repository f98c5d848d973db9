"""One log format for every bandhub process: readable lines by default, or one JSON
object per line (``BANDHUB_LOG_FORMAT=json``) for a log collector."""

from __future__ import annotations

import json
import logging
import os
import time


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...}``; extra= fields and exceptions included."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    handler = logging.StreamHandler()
    if (fmt or os.environ.get("BANDHUB_LOG_FORMAT", "text")).lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    logging.basicConfig(
        level=(level or os.environ.get("BANDHUB_LOG_LEVEL", "INFO")).upper(),
        handlers=[handler],
        force=True,
    )
    for noisy in ("bumble", "httpx", "uvicorn.access", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
