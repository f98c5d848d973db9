"""Two `bandhub ingest` workers on a real broker and PostgreSQL: one is killed (-9)
in the middle of a stream, and every record is still stored, exactly once; the
messages the broker had queued for the killed one reach the other within seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

from bandhub.contracts.messages import Topics
from bandhub.mqtt import broker_address, mqtt_client
from tests.e2e.helpers import eventually

T0 = 1_795_500_000
BANDS = [f"BH-{i:04d}" for i in range(1, 11)]
MESSAGES_PER_BAND = 40
RECORDS_PER_MESSAGE = 25


def _start_worker(settings, log: Path) -> subprocess.Popen:
    env = os.environ | {
        "BANDHUB_DATABASE_URL": settings.database_url,
        "BANDHUB_MQTT_URL": settings.mqtt_url,
        "BANDHUB_DATA_DIR": str(settings.data_dir),
        "BANDHUB_INGEST_MAX_FUTURE_S": str(10 * 365 * 86400),
        "BANDHUB_INGEST_BATCH_WAIT_S": "0.05",
        "BANDHUB_INGEST_BATCH_MAX": "200",  # many small transactions: some are in flight
        "BANDHUB_INGEST_SHARE_GROUP": "ingest",
        "BANDHUB_GATEWAY_AUTH": str(settings.gateway_auth).lower(),  # as the test's settings
    }
    cmd = [sys.executable, "-c", "from stack.cli import app; app()", "ingest"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


def _subscribed(log: Path) -> str | None:
    """The worker's client id once it has subscribed (its log says so)."""
    if "Traceback" in log.read_text(errors="replace"):
        raise AssertionError(log.read_text())
    for line in log.read_text(errors="replace").splitlines():
        if " subscribed to " in line:
            return line.split("ingest ", 1)[1].split(" subscribed")[0].strip()
    return None


def _publish_stream(url: str, kill_after: int, kill) -> None:
    """HR batches round-robin over the bands, at a steady pace; ``kill`` is called
    after ``kill_after`` messages, while the stream goes on."""
    client = mqtt_client(url, "test-stream")  # a login that may publish for any band
    client.connect(*broker_address(url))
    client.loop_start()
    topics, sent = Topics(), 0
    for m in range(MESSAGES_PER_BAND):
        for band in BANDS:
            seqs = range(m * RECORDS_PER_MESSAGE, (m + 1) * RECORDS_PER_MESSAGE)
            records = [{"seq": s, "t": T0 + 5 * s, "bpm": 60 + s % 50} for s in seqs]
            batch = {"v": 1, "band_id": band, "gateway_id": "gw-test", "stream": "hr",
                     "received_at": T0 + 5 * seqs[-1] + 1, "records": records}  # fmt: skip
            client.publish(topics.records(band, "hr"), json.dumps(batch), qos=1).wait_for_publish(5)
            sent += 1
            if sent == kill_after:
                kill()
            time.sleep(0.005)
    client.disconnect()
    client.loop_stop()


def _one(url: str, query: str):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()


async def test_a_killed_worker_loses_and_doubles_nothing(settings, broker, tmp_path):
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    workers = [_start_worker(settings, logs[0])]
    await eventually(lambda: _subscribed(logs[0]), 60, "the first worker to subscribe")
    workers.append(_start_worker(settings, logs[1]))
    await eventually(lambda: _subscribed(logs[1]), 60, "the second worker to subscribe")
    ids = [_subscribed(log) for log in logs]
    assert ids[0] != ids[1]  # distinct client ids out of the box

    total = len(BANDS) * MESSAGES_PER_BAND * RECORDS_PER_MESSAGE
    killed_at: list[float] = []

    def kill() -> None:
        workers[0].send_signal(signal.SIGKILL)
        killed_at.append(time.monotonic())
        killed_at.append(_one(settings.database_url, "SELECT extract(epoch FROM now())")[0])

    stream = threading.Thread(
        target=_publish_stream, args=(settings.mqtt_url, len(BANDS) * MESSAGES_PER_BAND // 3, kill)
    )
    try:
        stream.start()
        await eventually(lambda: not stream.is_alive(), 120, "the stream to be published")
        await eventually(
            lambda: _one(settings.database_url, "SELECT count(*) FROM hr")[0] == total,
            60,
            "every record stored",
        )
        print(f"all {total} records stored {time.monotonic() - killed_at[0]:.1f} s after the kill")
        assert workers[0].wait(5) == -signal.SIGKILL
        stored, distinct, counted = _one(
            settings.database_url,
            "SELECT (SELECT count(*) FROM hr), (SELECT count(DISTINCT (band_id, seq)) FROM hr),"
            " (SELECT sum(records) FROM bands)",
        )
        assert stored == distinct == counted == total  # none lost, none twice
        assert _one(settings.database_url, "SELECT count(*) FROM dead_letters") == (0,)
        # the killed worker's share was queued in its session, and the live one drained it
        query = (
            "SELECT drained, drained_by, drained_messages, extract(epoch FROM adopted_at),"
            " extract(epoch FROM first_drained_at) FROM ingest_sessions"
            f" WHERE client_id = '{ids[0]}'"
        )
        await eventually(lambda: _one(settings.database_url, query)[0], 30, "the drained mark")
        _drained, by, n, adopted, first = _one(settings.database_url, query)
        assert by == ids[1] and n > 0
        took_over, first_after = float(adopted - killed_at[1]), float(first - killed_at[1])
        print(
            f"the live worker took the killed one's session {took_over:.2f} s after the kill;"
            f" the first of its {n} queued messages arrived {first_after:.2f} s after it"
        )
        assert 0 <= took_over <= first_after < 10  # within seconds
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(20)
