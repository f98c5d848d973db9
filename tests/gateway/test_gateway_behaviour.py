"""Gateway behaviour a user would notice, on real parts (bumble band, bleak, mosquitto):
malformed BLE data is reported and skipped, commands reach the band and report back,
commands for an absent band expire."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from bumble.link import LocalLink

from bandhub.contracts.messages import Topics
from bandhub.mqtt import mqtt_client
from firmware_sim.runner import FleetOptions, start_fleet
from gateway.backend import local_link_backend
from gateway.mqtt_publisher import AckingPublisher
from gateway.service import Gateway, run_gateway
from tests.e2e.helpers import eventually

pytestmark = [pytest.mark.e2e]


class Listener:
    """A real MQTT subscriber collecting (topic, payload) pairs."""

    def __init__(self, broker) -> None:
        self.messages: list[tuple[str, dict]] = []
        self.client = mqtt_client(broker.url, uuid.uuid4().hex)  # the operator: every topic
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, json.loads(m.payload))
        )
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe("bandhub/v1/#", qos=1)
        self.client.loop_start()

    def on(self, suffix: str) -> list[dict]:
        return [p for t, p in self.messages if t.endswith(suffix)]

    def send(self, topic: str, payload: dict) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
async def running(settings, broker):
    link = LocalLink()
    bands = await start_fleet(
        FleetOptions(count=1, start=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC), speed=60,
                     fall_band=None),
        link,
    )  # fmt: skip
    listener = Listener(broker)
    stop = asyncio.Event()
    gw_settings = settings.model_copy(update={"gateway_set_band_clock": False})
    task = asyncio.create_task(run_gateway(gw_settings, await local_link_backend(link), stop))
    yield bands[0], listener
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), 20)
    except TimeoutError:
        for t in asyncio.all_tasks():
            t.print_stack()
        raise
    await bands[0].close()
    listener.close()


async def test_a_malformed_record_is_reported_and_the_rest_still_flows(running):
    band, listener = running
    band.corrupt_seqs.add(band.log.status.next_seq + 2)
    bad_seq = next(iter(band.corrupt_seqs))
    await eventually(lambda: listener.on("/rejected"), 20, "a rejection report")
    [report] = listener.on("/rejected")
    assert report["band_id"] == band.config.serial
    assert f"record seq {bad_seq}: unknown record type 0x7f" in report["reason"]
    assert bytes.fromhex(report["raw_hex"])[6] == 0x7F

    def later_records() -> bool:
        seqs = [r["seq"] for p in listener.on("/rec/hr") for r in p["records"]]
        return any(s > bad_seq for s in seqs)

    await eventually(later_records, 20, "records after the bad one")


async def test_find_my_band_vibrates_the_band_and_reports_ok(running):
    band, listener = running
    await eventually(lambda: band.is_connected and listener.on("/status"), 20, "the band online")
    await asyncio.sleep(1)
    topics = Topics()
    listener.send(
        topics.command(band.config.serial),
        {"v": 1, "id": "find-1", "cmd": "find_band", "args": {"seconds": 3}},
    )
    listener.send(
        topics.command(band.config.serial),
        {"v": 1, "id": "msg-1", "cmd": "message", "args": {"text": "Lunch at 1?"}},
    )
    listener.send(
        topics.command(band.config.serial),
        {"v": 1, "id": "hr-1", "cmd": "set_hr_interval", "args": {"seconds": 2}},
    )
    await eventually(lambda: len(listener.on("/cmd/result")) == 3, 20, "three command results")
    results = {r["id"]: r["status"] for r in listener.on("/cmd/result")}
    assert results == {"find-1": "ok", "msg-1": "ok", "hr-1": "ok"}
    assert band.hr_interval_s == 2

    band_now = dt.datetime.fromtimestamp(band.clock.now(), dt.UTC) + dt.timedelta(minutes=2)
    for cmd_id, cmd, args in [
        ("prof-1", "set_profile", {"age": 71, "height_cm": 162, "weight_kg": 58.4}),
        ("prof-2", "set_profile", {"age": 71, "height_cm": 16, "weight_kg": 58.4}),
        ("alarm-1", "set_alarm", {"slot": 1, "time": band_now.strftime("%H:%M"),
                                  "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}),
    ]:  # fmt: skip
        listener.send(topics.command(band.config.serial), {"v": 1, "id": cmd_id, "cmd": cmd,
                                                           "args": args})  # fmt: skip
    await eventually(lambda: len(listener.on("/cmd/result")) == 6, 20, "six command results")
    results = {r["id"]: r for r in listener.on("/cmd/result")}
    assert results["prof-1"]["status"] == "ok" and band.profile.weight_kg == 58.4
    assert (
        results["prof-2"]["status"] == "invalid" and "out of range" in results["prof-2"]["detail"]
    )
    assert results["alarm-1"]["status"] == "ok"
    await eventually(
        lambda: ("vibrate", "alarm 1") in [(e.kind, e.detail) for e in band.events],
        20,
        "the alarm ringing on the band",
    )
    kinds = [(e.kind, e.detail) for e in band.events]
    assert ("vibrate", "find_band") in kinds
    assert ("message", "SMS: Lunch at 1? (1)") in kinds
    assert band._state.connection.is_encrypted  # the gateway bonded before reading data

    # the wearer's zone: the gateway keeps it and writes its offset now and at every sync
    for cmd_id, zone in (("zone-1", "Asia/Kolkata"), ("zone-2", "Mars/Olympus")):
        listener.send(topics.command(band.config.serial), {"v": 1, "id": cmd_id,
                      "cmd": "set_time_zone", "args": {"zone": zone}})  # fmt: skip
    await eventually(lambda: len(listener.on("/cmd/result")) == 8, 20, "the zones' results")
    results = {r["id"]: r for r in listener.on("/cmd/result")}
    assert results["zone-1"]["status"] == "ok" and band._state.utc_offset_s == 5 * 3600 + 1800
    assert (
        results["zone-2"]["status"] == "invalid" and "Mars/Olympus" in results["zone-2"]["detail"]
    )
    band._state.utc_offset_s = 0  # as if the band had forgotten it (a reboot)
    await band.drop_link()
    await eventually(lambda: band._state.utc_offset_s == 19800, 30, "the offset at the next sync")


async def test_commands_for_an_absent_band_expire_and_bad_ones_are_refused(running):
    _band, listener = running
    await eventually(lambda: listener.on("/status"), 20, "the gateway online")
    topics = Topics()
    listener.send(topics.command("BH-9999"), {"v": 1, "id": "lost-1", "cmd": "vibrate", "ttl_s": 1})
    listener.send(topics.command("BH-9999"), {"v": 1, "id": "bad-1", "cmd": "explode"})
    await eventually(lambda: len(listener.on("/cmd/result")) == 2, 20, "two command results")
    results = {r["id"]: r for r in listener.on("/cmd/result")}
    assert results["lost-1"]["status"] == "expired"
    assert results["?"]["status"] == "invalid" and "cmd" in results["?"]["detail"]


async def test_each_band_has_a_retained_status_for_remote_support(running, broker):
    band, listener = running
    serial = band.config.serial

    def statuses() -> list[dict]:
        return listener.on(f"/band/{serial}/status")

    await eventually(lambda: any(s["connected"] for s in statuses()), 20, "the band status")
    s = next(s for s in statuses() if s["connected"])
    assert s["gateway_id"] == "gw-local" and s["firmware"]
    assert 0 < s["battery_percent"] <= 100
    assert s["history"][-1]["event"] == "connected"
    assert s["rssi_dbm"] is not None and s["clock_offset_s"] is not None
    late = Listener(broker)  # a support tool that connects later still sees it
    try:
        await eventually(lambda: late.on(f"/band/{serial}/status"), 10, "the retained status")
    finally:
        late.close()


async def test_a_third_party_heart_rate_strap_is_accepted_as_heart_rate_only(settings, broker):
    from firmware_sim.hr_strap import HeartRateStrap

    link = LocalLink()
    strap = HeartRateStrap(link, "C0:11:22:33:44:55", bpm=72)
    await strap.start()
    listener = Listener(broker)
    stop = asyncio.Event()
    gw_settings = settings.model_copy(update={"gateway_accept_hr_devices": True})
    task = asyncio.create_task(run_gateway(gw_settings, await local_link_backend(link), stop))
    try:

        def records() -> list[dict]:
            return [r for p in listener.on("/band/HRM-C01122334455/rec/hr") for r in p["records"]]

        await eventually(lambda: len(records()) >= 5, 30, "heart rate from the strap")
        got = records()
        assert [r["seq"] for r in got] == list(range(len(got)))  # numbered by the gateway
        assert {r["bpm"] for r in got} == {72}
        assert all(abs(r["rr_ms"][0] - 833) < 2 for r in got)
        assert abs(got[-1]["t"] - dt.datetime.now(dt.UTC).timestamp()) < 10
        status = listener.on("/band/HRM-C01122334455/status")
        assert status and status[-1]["firmware"] == "third-party heart-rate device"
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await strap.close()
        listener.close()


async def test_the_watchdog_resets_a_radio_gone_quiet_without_exiting(settings, broker):
    link = LocalLink()
    start = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    [band] = await start_fleet(FleetOptions(count=1, start=start, speed=60, fall_band=None), link)
    stop = asyncio.Event()
    gw_settings = settings.model_copy(
        update={"gateway_set_band_clock": False, "gateway_watchdog_s": 3.0}
    )
    backend = await local_link_backend(link)
    gateway = Gateway(gw_settings, backend, None)
    publisher = AckingPublisher(settings.mqtt_url, "gw-local", Topics())
    gateway.publisher = publisher
    await publisher.start()
    task = asyncio.create_task(gateway.run(stop))
    try:
        await eventually(lambda: band.is_connected and gateway.sessions(), 20, "the band online")
        await band.go_silent()  # mid-connection: no reply, no goodbye, no advertising
        await eventually(lambda: backend.central.reopened >= 1, 30, "the adapter reopened")
        assert gateway.watchdog_resets >= 1
        assert not task.done()  # still running, not exited
        assert not gateway.sessions()
        await band.wake()  # the band is heard again
        await eventually(lambda: gateway.sessions(), 30, "the band reconnected after the reset")
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await publisher.stop()
        await band.close()


async def test_pairing_lists_bands_bonds_claims_and_limits_the_gateway(settings, broker, owner):
    from bandhub.claims import claim_code
    from gateway.pairing import PairingError, pair_band, scan_nearby, state_for, unpair

    link = LocalLink()
    start = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    bands = await start_fleet(FleetOptions(count=2, start=start, speed=60, fall_band=None), link)
    backend = await local_link_backend(link)
    stop = asyncio.Event()
    task = None
    try:
        nearby = await scan_nearby(backend, 2.0)
        assert {n.address for n in nearby} == {b.config.address for b in bands}
        assert all(n.kind == "band" and n.rssi is not None for n in nearby)
        second = bands[1].config
        with pytest.raises(PairingError, match="refused the claim"):
            await pair_band(
                settings, backend, second.address, api_token=owner.token, claim_code="AAAA-AAAA"
            )
        band_id = await pair_band(
            settings, backend, second.address, api_token=owner.token,
            claim_code=claim_code(settings.claim_secret, second.serial),
        )  # fmt: skip
        assert band_id == second.serial
        with psycopg.connect(settings.database_url) as conn:
            owner_id = conn.execute(
                "SELECT owner_id FROM bands WHERE band_id = %s", (second.serial,)
            ).fetchone()
        assert owner_id == (owner.account_id,)
        state = state_for(settings)
        assert [p[1] for p in state.paired()] == [second.serial]  # survives: it is on disk
        state.close()

        gw_settings = settings.model_copy(
            update={"gateway_paired_only": True, "gateway_set_band_clock": False}
        )
        gateway = Gateway(gw_settings, backend, None)
        gateway.publisher = AckingPublisher(settings.mqtt_url, "gw-local", Topics())
        await gateway.publisher.start()
        task = asyncio.create_task(gateway.run(stop))
        await eventually(lambda: gateway.sessions(), 20, "the paired band connected")
        await asyncio.sleep(3)  # more scans: the unpaired band is left alone
        assert list(gateway.sessions()) == [second.serial]
        assert not bands[0].is_connected
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 20)
            await gateway.publisher.stop()
        for b in bands:
            await b.close()
    from bandhub.bumble_keys import BlindJsonKeyStore
    from gateway.pairing import bonds_file

    # the bond as `gateway run` on a bumble transport keeps it (a JSON file)
    bonds = BlindJsonKeyStore(None, str(bonds_file(settings)))
    await bonds.update(second.address, await backend.central.device.keystore.get(second.address))
    assert await unpair(settings, second.serial) == 1
    assert await unpair(settings, second.serial) == 0
    assert await BlindJsonKeyStore(None, str(bonds_file(settings))).get(second.address) is None


async def test_gateway_status_command_shows_what_support_needs(running, broker):
    band, listener = running
    await eventually(lambda: listener.on(f"/band/{band.config.serial}/status"), 20, "a status")
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "stack.cli", "gateway", "status"],
        env={**os.environ, "BANDHUB_MQTT_URL": broker.url},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "gateway gw-local: online" in out.stdout
    assert f"{band.config.serial}" in out.stdout and "connected" in out.stdout


async def test_a_fall_and_live_heart_rate_overtake_a_long_backlog(settings, broker):
    """A band back after 8 hours: while its backlog syncs in bounded pages, a fall it
    detects and its live heart rate reach the broker ahead of the backlog; the fall also
    arrives again through the record log (ingest keeps one copy)."""
    link = LocalLink()
    start = dt.datetime(2026, 11, 23, 0, tzinfo=dt.UTC)
    [band] = await start_fleet(
        FleetOptions(count=1, start=start, speed=3600, days=8 / 24, fall_band=None), link
    )
    listener = Listener(broker)
    stop = asyncio.Event()
    task = None
    try:
        await asyncio.wait_for(band.stopped.wait(), 60)  # 8 band hours made, none synced
        backlog = band.log.status.next_seq
        assert backlog > 6000
        gw_settings = settings.model_copy(
            update={"gateway_set_band_clock": False, "gateway_page_size": 20}
        )
        task = asyncio.create_task(run_gateway(gw_settings, await local_link_backend(link), stop))
        # live heart rate flows as soon as the band is subscribed, long before the backlog
        await eventually(lambda: listener.on("/live/hr"), 30, "live heart rate")
        band.inject_fall()
        fall_seq = backlog  # the next seq after the backlog

        def fall_messages() -> list[int]:
            return [i for i, (t, _p) in enumerate(listener.messages) if t.endswith("/rec/fall")]

        await eventually(lambda: len(fall_messages()) >= 2, 60, "the fall, urgent and logged")
        first_fall = fall_messages()[0]
        backlog_after_fall = [
            r["seq"] for t, p in listener.messages[first_fall + 1 :]
            if t.endswith(("/rec/hr", "/rec/epoch")) for r in p["records"]
        ]  # fmt: skip
        assert len(backlog_after_fall) > 1000  # the fall overtook most of the backlog
        falls = [p["records"][0]["seq"] for t, p in listener.messages if t.endswith("/rec/fall")]
        assert falls[:2] == [fall_seq, fall_seq]  # urgently, then again via the log
        [live] = listener.on("/live/hr")[:1]
        assert live["band_id"] == band.config.serial and 30 < live["bpm"] < 200
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 20)
        await band.close()
        listener.close()


async def test_raw_accelerometer_streaming_turns_on_and_off_on_command(running):
    band, listener = running
    await eventually(lambda: band.is_connected and listener.on("/status"), 20, "the band online")
    await asyncio.sleep(1)
    command = Topics().command(band.config.serial)
    listener.send(command, {"v": 1, "id": "raw-on", "cmd": "raw_stream", "args": {"hz": 50}})
    await eventually(lambda: len(listener.on("/live/raw")) >= 10, 20, "raw accelerometer chunks")
    listener.send(command, {"v": 1, "id": "raw-off", "cmd": "raw_stream", "args": {"on": False}})
    listener.send(command, {"v": 1, "id": "raw-bad", "cmd": "raw_stream", "args": {"hz": 400}})
    await eventually(lambda: len(listener.on("/cmd/result")) == 3, 20, "three command results")
    results = {r["id"]: r["status"] for r in listener.on("/cmd/result")}
    assert results == {"raw-on": "ok", "raw-off": "ok", "raw-bad": "invalid"}
    await asyncio.sleep(1)
    chunks = listener.on("/live/raw")
    await asyncio.sleep(1)
    assert len(listener.on("/live/raw")) == len(chunks)  # stopped
    starts = [c["first_sample"] for c in chunks]
    sizes = [len(c["ax_g"]) for c in chunks]
    assert starts == [sum(sizes[:i]) for i in range(len(sizes))]  # no gap, no repeat
    assert all(c["fs_hz"] == 50 for c in chunks)
    z = [v for c in chunks for v in c["az_g"]]
    assert 0.9 < sum(z) / len(z) < 1.1  # gravity, in g


async def test_a_band_with_a_display_bonds_only_by_passkey_entry(settings, broker):
    from gateway.pairing import PairingError, pair_band

    link = LocalLink()
    start = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    [band] = await start_fleet(
        FleetOptions(count=1, start=start, speed=60, fall_band=None, passkey=True), link
    )
    backend = await local_link_backend(link)
    address = band.config.address

    async def typed(wrong: bool = False) -> int:
        """The user reads the band's screen and types what it shows."""
        await eventually(lambda: band.shown_passkey, 10, "a passkey on the band's screen")
        shown = int(band.shown_passkey)
        return (shown + 1) % 1_000_000 if wrong else shown

    async def typo() -> int:
        return await typed(wrong=True)

    stop = asyncio.Event()
    task = None
    try:
        with pytest.raises(PairingError, match="--passkey"):
            await pair_band(settings, backend, address, scan_seconds=2.0)  # Just Works
        assert ("pairing_refused", "not authenticated by passkey") in [
            (e.kind, e.detail) for e in band.events
        ]
        band.shown_passkey = None
        with pytest.raises(PairingError, match="pairing with"):
            await pair_band(settings, backend, address, scan_seconds=2.0, passkey=typo)
        band.shown_passkey = None
        band_id = await pair_band(settings, backend, address, scan_seconds=2.0, passkey=typed)
        assert band_id == band.config.serial
        assert ("paired", "passkey entry") in [(e.kind, e.detail) for e in band.events]

        # The service reconnects with the stored bond: no passkey asked, link encrypted.
        gw_settings = settings.model_copy(update={"gateway_set_band_clock": False})
        gateway = Gateway(gw_settings, backend, None)
        gateway.publisher = AckingPublisher(settings.mqtt_url, "gw-local", Topics())
        await gateway.publisher.start()
        task = asyncio.create_task(gateway.run(stop))
        await eventually(lambda: gateway.sessions(), 20, "the bonded band connected")
        assert band._state.connection.is_encrypted
        refusals = [e for e in band.events if e.kind == "pairing_refused"]
        assert len(refusals) == 1  # only the Just Works attempt above
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 20)
            await gateway.publisher.stop()
        await band.close()


async def test_live_values_published_while_the_broker_is_away_are_dropped_not_hoarded(
    settings, broker
):
    """Live heart rate is QoS 0: while the broker is away it is dropped at once, so a
    gateway cut off for hours does not pile up one waiting future per value; records
    (QoS 1) still wait for the broker and arrive when it is back."""
    publisher = AckingPublisher(settings.mqtt_url, "gw-live", Topics())
    await publisher.start()
    listener = None
    try:
        await asyncio.wait_for(publisher.connected.wait(), 10)
        await broker.stop()
        await eventually(lambda: not publisher.connected.is_set(), 10, "the broker gone")
        live = [publisher.publish("bandhub/v1/band/BH-1/live/hr", {"bpm": 60}, qos=0)
                for _ in range(1000)]  # fmt: skip
        durable = publisher.publish("bandhub/v1/band/BH-1/rejected", {"reason": "kept"})
        await asyncio.sleep(0.1)
        assert all(f.done() for f in live)
        assert not durable.done()
        await broker.start()
        listener = Listener(broker)
        await asyncio.wait_for(durable, 30)
    finally:
        await publisher.stop()
        if listener is not None:
            listener.close()
