"""Gateway throughput on real parts: simulated bands in their own process (bumble over
TCP HCI), the gateway in its own process, mosquitto.

    python bench/gateway_throughput.py [--seconds 20]

1. Live load for 1, 10 and 20 bands (band clocks at 60x, so each band makes 12
   heart-rate records a second): records/s acknowledged by the broker, next to what
   the bands produce, and the gateway's CPU per band.
2. Backlog: one band that was away 8 hours. The link's limit in the same setup is
   the gateway draining it with the broker down (BLE fetch + durable spool only);
   end to end is the same with the broker up, until the broker holds every record.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack.embedded.broker import EmbeddedBroker
from stack.ports import free_port, wait_port

TICKS = os.sysconf("SC_CLK_TCK")


def spawn(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stack.cli", *args],
        env={**os.environ, "BANDHUB_LOG_LEVEL": "WARNING", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Counter:
    """Counts records arriving on the broker's record topics."""

    def __init__(self, port: int) -> None:
        self.records = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{port}")
        self.client.on_message = self._on
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("bandhub/v1/band/+/rec/+", qos=1)
        self.client.loop_start()

    def _on(self, _c, _u, msg) -> None:
        self.records += len(json.loads(msg.payload)["records"])

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def gw_env(broker_url: str, hci: int, data: Path) -> dict:
    return {
        "BANDHUB_MQTT_URL": broker_url,
        "BANDHUB_GATEWAY_BACKEND": f"bumble:tcp-client:127.0.0.1:{hci}",
        "BANDHUB_GATEWAY_SET_BAND_CLOCK": "false",
        "BANDHUB_DATA_DIR": str(data),
    }


async def live(n: int, seconds: float, tmp: Path, broker: EmbeddedBroker) -> tuple:
    hci = free_port()
    sim = spawn(["sim", "--bands", str(n), "--hci", f"tcp-server:127.0.0.1:{hci}",
                 "--speed", "60", "--fall-at", "none"])  # fmt: skip
    await wait_port(hci, timeout=30.0)
    counter = Counter(broker.port)
    gw = spawn(["gateway", "run"], gw_env(broker.url, hci, tmp / f"live{n}"))
    try:
        # every band connected and caught up: the rate is then what the bands make
        await asyncio.sleep(8 + n * 0.8)
        r0, c0, t0 = counter.records, cpu_seconds(gw.pid), time.monotonic()
        await asyncio.sleep(seconds)
        r1, c1, t1 = counter.records, cpu_seconds(gw.pid), time.monotonic()
    finally:
        for p in (gw, sim):
            p.terminate()
            p.wait(20)
        counter.close()
    produced = n * (12 + 1) * 1.0  # per band per s at 60x: HR every 5 s, epoch every 60 s
    return (r1 - r0) / (t1 - t0), produced, 100 * (c1 - c0) / (t1 - t0) / n


def cursor(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT max(next_seq) FROM cursors").fetchone()
            return int(row[0] or 0)
    except sqlite3.Error:
        return 0


async def backlog(tmp: Path, broker: EmbeddedBroker, broker_up: bool, tag: str) -> tuple:
    hci = free_port()
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=8)).isoformat()
    truth = tmp / f"truth-{tag}.json"
    sim = spawn(["sim", "--bands", "1", "--hci", f"tcp-server:127.0.0.1:{hci}", "--speed",
                 "2880", "--start", start, "--days", str(8 / 24), "--fall-at", "none",
                 "--truth-file", str(truth)])  # fmt: skip
    await wait_port(hci, timeout=30.0)
    while not truth.exists():  # the 8 hours are on the band before the gateway comes
        await asyncio.sleep(0.2)
    total = sum(json.loads(truth.read_text())["BH-0001"]["records"].values())
    if not broker_up:
        await broker.stop()
    counter = Counter(broker.port) if broker_up else None
    data = tmp / f"backlog-{tag}"
    gw = spawn(["gateway", "run"], gw_env(broker.url, hci, data))
    t0 = time.monotonic()
    try:
        if broker_up:
            while counter.records < total:
                await asyncio.sleep(0.05)
        else:
            while cursor(data / "gateway-gw-local.sqlite") < total:
                await asyncio.sleep(0.05)
        elapsed = time.monotonic() - t0
    finally:
        for p in (gw, sim):
            p.terminate()
            p.wait(20)
        if counter:
            counter.close()
        if not broker_up:
            await broker.start()
    return total, elapsed


async def main(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        broker = EmbeddedBroker(tmp / "broker")
        await broker.start()
        try:
            print(f"{'bands':>5} {'records/s at broker':>20} {'bands produce/s':>16} "
                  f"{'gateway CPU % per band':>23}")  # fmt: skip
            for n in (1, 10, 20):
                rate, produced, cpu = await live(n, seconds, tmp, broker)
                print(f"{n:>5} {rate:>20.1f} {produced:>16.1f} {cpu:>23.2f}")
            print()
            total, link = await backlog(tmp, broker, broker_up=False, tag="link")
            _, e2e = await backlog(tmp, broker, broker_up=True, tag="e2e")
            print(f"backlog of one band away 8 h: {total} records")
            print(f"  link limit (BLE fetch + spool, broker down): {link:6.1f} s"
                  f"  {total / link:8.0f} records/s")  # fmt: skip
            print(f"  end to end (until the broker holds all):    {e2e:6.1f} s"
                  f"  {total / e2e:8.0f} records/s")  # fmt: skip
        finally:
            await broker.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    asyncio.run(main(ap.parse_args().seconds))
