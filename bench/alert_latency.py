"""Fall-to-contact latency: from the band recording a fall to the webhook arriving.

Real parts in one process: a bumble band, the bleak gateway, mosquitto, ingest,
PostgreSQL, the dispatcher and a webhook receiver; countdown 0. Prints median and
p99 over N falls next to the floor in the same run: an MQTT publish-to-receive
round trip on the same broker.

    python bench/alert_latency.py [--falls 100]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
from bumble.link import LocalLink
from psycopg import sql

from bandhub.settings import Settings
from firmware_sim.runner import FleetOptions, start_fleet
from gateway.backend import local_link_backend
from stack.embedded.broker import EmbeddedBroker
from stack.services import SystemServices
from stack.webhook_receiver import WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def mqtt_round_trips(port: int, n: int) -> list[float]:
    got = asyncio.Queue()
    loop = asyncio.get_running_loop()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex)
    client.on_message = lambda _c, _u, _m: loop.call_soon_threadsafe(
        got.put_nowait, time.monotonic()
    )
    client.connect("127.0.0.1", port)
    client.subscribe("bench/rtt", qos=1)
    client.loop_start()
    await asyncio.sleep(0.5)
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        client.publish("bench/rtt", b"x", qos=1)
        out.append(await got.get() - t0)
    client.loop_stop()
    return out


async def main(falls: int, server: str) -> None:
    name = f"bandhub_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server) | {"dbname": name}
    tmp = Path(tempfile.mkdtemp())
    broker = EmbeddedBroker(tmp / "broker")
    await broker.start()
    settings = Settings(
        database_url=psycopg.conninfo.make_conninfo(**info), mqtt_url=broker.url,
        data_dir=tmp, fall_countdown_s=0, ingest_batch_wait_s=0.02, _env_file=None,
    )  # fmt: skip
    link = LocalLink()
    receiver = WebhookReceiver(secret=SECRET)
    await receiver.start()
    latencies: list[float] = []
    try:
        async with SystemServices(settings) as system:
            await system.start_pipeline(gateway_backend=await local_link_backend(link))
            async with httpx.AsyncClient(base_url=system.api_url) as http:
                await http.post("/bands", json={"band_id": "BH-0001"})
                await http.post(
                    "/bands/BH-0001/contacts",
                    json={"name": "bench", "url": receiver.url, "secret": SECRET},
                )
            [band] = await start_fleet(
                FleetOptions(count=1, start=dt.datetime.now(dt.UTC), fall_band=None), link
            )
            while not band.is_connected:
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # first sync done
            for _ in range(falls):
                before = len(receiver.deliveries)
                t0 = time.time()
                band.inject_fall()
                while len(receiver.deliveries) == before:
                    await asyncio.sleep(0.002)
                latencies.append(receiver.deliveries[-1].received_at - t0)
                await asyncio.sleep(0.05)
            rtt = await mqtt_round_trips(broker.port, falls)
            await band.close()
    finally:
        await receiver.stop()
        await broker.stop()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"\n{'path':<44}{'n':>5}{'median ms':>11}{'p99 ms':>9}")
    for label, xs in (
        ("band fall record -> signed webhook received", latencies),
        ("floor: MQTT QoS1 publish -> receive (RTT)", rtt),
    ):
        print(
            f"{label:<44}{len(xs):>5}{statistics.median(xs) * 1e3:>11.1f}{_pct(xs, 99) * 1e3:>9.1f}"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--falls", type=int, default=100)
    ap.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    asyncio.run(main(args.falls, args.server))
