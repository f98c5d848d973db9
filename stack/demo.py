"""`bandhub demo`: the whole system on embedded defaults, in one command.

Starts (or uses, when URLs are configured) PostgreSQL and a broker, runs simulated
bands in their own process on a virtual BLE radio exposed over an HCI transport, and
in this process the gateway, ingest, the alert dispatcher, the API and a webhook
receiver registered as band 1's emergency contact. A demo owner claims the bands and
invites a caregiver (stack/demo_people.py); their sign-in is printed. ``--exit`` runs a
finite day and prints each band's daily summary next to the simulator's truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bandhub.settings import Settings
from stack.demo_people import SignedIn, set_up_people
from stack.ports import free_port, wait_port_blocking
from stack.webhook_receiver import WebhookReceiver

log = logging.getLogger("stack.demo")


@dataclass
class DemoOptions:
    bands: int = 3
    days: float | None = None
    speed: float = 1440.0
    exit_when_done: bool = False
    date: dt.date | None = None  # first simulated day (default: yesterday, UTC)
    fall_at: str = "15:30"
    timeout_s: float = 900.0


def say(message: str) -> None:
    """Demo output for a person: plain lines on stdout."""
    print(f"[bandhub] {message}", flush=True)


async def run_demo(settings: Settings, opts: DemoOptions, stop: asyncio.Event) -> int:
    from stack.services import SystemServices

    if opts.exit_when_done and not opts.days:
        opts.days = 1.0
    if opts.speed > 1:
        # band clocks run faster than real time on purpose: ingest must not call that wrong
        settings = settings.model_copy(update={"ingest_max_future_s": 10 * 365 * 86400.0})
    day0 = opts.date or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    run_dir = settings.data_dir / "demo"
    run_dir.mkdir(parents=True, exist_ok=True)
    truth_file = run_dir / "truth.json"
    truth_file.unlink(missing_ok=True)
    started = time.monotonic()

    sim = None
    try:
        async with SystemServices(settings) as system:
            say(f"database: {system.database_url_redacted}")
            say(f"broker:   {system.settings.mqtt_url}{_broker_logins(system)}")
            receiver = WebhookReceiver(secret="whsec_" + _b64(secrets.token_bytes(24)))
            await receiver.start()
            hci_port = free_port()
            sim = _start_sim(opts, day0, hci_port, truth_file, run_dir)
            try:
                await system.start_pipeline(
                    gateway_backend=f"bumble:tcp-client:127.0.0.1:{hci_port}",
                    set_band_clock=False,  # the simulated clocks run fast on purpose
                    bands=[f"BH-{i + 1:04d}" for i in range(opts.bands)],  # as if paired
                )
                api = system.api_url
                say(f"API:      {api}  (OpenAPI docs: {api}/docs)")
                owner, caregiver = await set_up_people(
                    system.settings, api, opts.bands, receiver.url, receiver.secret
                )
                say(f"sign in at {api}/docs (Authorize) as the owner of the bands:")
                say(f"  {owner.email} / {owner.password}")
                say("  or as a caregiver with summaries and alerts of BH-0001:")
                say(f"  {caregiver.email} / {caregiver.password}")
                if system.settings.ha_discovery:
                    say("Home Assistant: BH-0001 is exposed (docs/home-assistant.md)")
                auth = SignedIn(owner)
                async with httpx.AsyncClient(base_url=api, timeout=10, auth=auth) as http:
                    say(
                        f"{opts.bands} simulated bands, day {day0} at {opts.speed:g}x real "
                        f"time; band 1's wearer falls at {opts.fall_at}"
                    )
                    if not opts.exit_when_done:
                        say("running; Ctrl-C stops")
                        await _report_until(stop, http, opts.bands)
                        return 0
                    return await _finish(http, opts, day0, truth_file, receiver, stop, started)
            finally:
                await receiver.stop()
    finally:  # the bands go last, so the gateway is not left talking to a vanished radio
        if sim is not None:
            sim.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                sim.wait(10)


def _broker_logins(system) -> str:
    """Say what the broker enforces, never a password."""
    broker = system.broker
    if broker is None:
        return ""
    if not broker.enforces_acls:
        return f" ({broker.kind}: anonymous, no per-gateway logins or ACLs)"
    gw = system.settings.gateway_id
    return (
        f" (dynamic security: one login per service, gateway {gw} with its own,"
        f" logins in {broker.data_dir})"
    )


def _start_sim(opts: DemoOptions, day0: dt.date, port: int, truth: Path, run_dir: Path):
    cmd = [
        sys.executable, "-m", "stack.cli", "sim",
        "--bands", str(opts.bands),
        "--hci", f"tcp-server:127.0.0.1:{port}",
        "--speed", str(opts.speed),
        "--start", f"{day0.isoformat()}T00:00:00+00:00",
        "--fall-at", opts.fall_at,
        "--truth-file", str(truth),
    ]  # fmt: skip
    if opts.days:
        cmd += ["--days", str(opts.days)]
    log_file = open(run_dir / "sim.log", "w")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT)
    _wait_for_port(port, proc)
    return proc


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if wait_port_blocking(port, timeout, still_alive=lambda: proc.poll() is None):
        return
    if proc.poll() is not None:
        raise RuntimeError(f"band simulator exited with {proc.returncode}; see sim.log")
    raise RuntimeError("band simulator did not open its HCI port in time")


async def _stored_counts(http: httpx.AsyncClient) -> dict[str, int]:
    r = await http.get("/bands")
    r.raise_for_status()
    return {b["band_id"]: b.get("records", 0) for b in r.json()}


async def _report_until(stop: asyncio.Event, http: httpx.AsyncClient, n: int) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):  # not wait_for: a cancellation must not be lost
                await stop.wait()
        with contextlib.suppress(httpx.HTTPError):
            counts = await _stored_counts(http)
            say("records stored: " + ", ".join(f"{b} {c}" for b, c in sorted(counts.items())))


async def _finish(http, opts, day0, truth_file, receiver, stop, started) -> int:
    deadline = time.monotonic() + opts.timeout_s
    say("simulating; waiting for the bands to finish their day")
    while not truth_file.exists():
        if stop.is_set() or time.monotonic() > deadline:
            say("stopped before the bands finished")
            return 1
        await asyncio.sleep(1)
    truth = json.loads(truth_file.read_text())
    expected = {band: sum(t["records"].values()) for band, t in truth.items()}
    say(f"bands made {sum(expected.values())} records; waiting until all are stored")
    while True:
        counts = await _stored_counts(http)
        if all(counts.get(b, 0) >= n for b, n in expected.items()):
            if counts != expected:
                say(f"stored {counts} but the bands made {expected}")
                return 1
            break
        if stop.is_set() or time.monotonic() > deadline:
            say(f"not all records arrived: stored {counts}, expected {expected}")
            return 1
        await asyncio.sleep(1)
    say(f"all {sum(expected.values())} records stored exactly once")
    for band in sorted(truth):
        r = await http.get(f"/bands/{band}/summary", params={"date": day0.isoformat()})
        r.raise_for_status()
        s = r.json()
        t = truth[band]["days"].get(day0.isoformat(), {})
        hr = s.get("heart_rate", {})
        say(
            f"{band} {day0}: steps {s['steps']} (truth {t.get('steps')}), "
            f"HR min/avg/max {hr.get('min')}/{hr.get('avg')}/{hr.get('max')}, "
            f"resting {hr.get('resting')}, asleep {s.get('sleep_minutes')} min "
            f"(truth {t.get('asleep_minutes')}), falls {s.get('falls')}, "
            f"coverage {s.get('coverage', 0):.0%}"
        )
        hrv = s.get("hrv") or {}
        if hrv:
            truth_key = "sleep_rmssd_ms" if hrv["period"] == "sleep" else "rmssd_ms"
            say(
                f"{band} {day0}: HRV ({hrv['period']}) RMSSD {hrv['rmssd_ms']} ms "
                f"(truth {t.get(truth_key)}), SDNN {hrv['sdnn_ms']} ms, "
                f"from {hrv['intervals']} RR intervals"
            )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        d.payload.get("kind") == "fall" for d in receiver.deliveries
    ):
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)  # let the dispatcher record the delivery it just made
    for a in (await http.get("/alerts")).json():
        detail = (await http.get(f"/alerts/{a['id']}")).json()
        confidence = "" if a["confidence"] is None else f"confidence {a['confidence']:.2f}, "
        say(
            f"alert {a['id']}: {a['kind']} on {a['band_id']} at {a['event_t']} (band time), "
            f"{confidence}state {detail['state']}"
        )
        for d in detail["deliveries"]:
            say(
                f"  delivery {d['webhook_id']} to {d['contact']}: {d['state']} after "
                f"{d['attempts']} attempt(s) at {d['delivered_at']}"
            )
    for d in receiver.deliveries:
        p = d.payload
        say(
            f"webhook delivered to the contact: id {d.webhook_id}, signature "
            f"{'valid' if d.valid_signature else 'INVALID'}, {p.get('kind', p.get('type'))} "
            f"on {p.get('band_id')}"
        )
    say(f"done in {time.monotonic() - started:.0f} s")
    falls = [d for d in receiver.deliveries if d.payload.get("kind") == "fall"]
    return 0 if falls and all(d.valid_signature for d in receiver.deliveries) else 1


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()
