"""Structured logs: one JSON object per line that a collector can parse."""

from __future__ import annotations

import json
import subprocess
import sys


def test_json_log_lines_carry_level_logger_message_and_extras():
    code = (
        "import logging; from bandhub.logging_setup import setup_logging;"
        "setup_logging(fmt='json');"
        "logging.getLogger('gateway.service').warning('band %s lost', 'BH-0001',"
        " extra={'band_id': 'BH-0001'})"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    [line] = out.stderr.strip().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "gateway.service"
    assert entry["msg"] == "band BH-0001 lost" and entry["band_id"] == "BH-0001"
    assert entry["ts"].endswith("Z")
