"""The gateway service: find bands, keep each one connected and synced, relay commands.

One task per band; connects are serialised (radios, and bumble's virtual controller,
do not like concurrent connection attempts); a band that drops is retried with
exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from pydantic import ValidationError

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import (
    BandStatus,
    CommandRequest,
    CommandResult,
    LinkEvent,
    Topics,
)
from bandhub.settings import Settings
from gateway.backend import BleBackend
from gateway.band_session import BandSession, SessionOptions
from gateway.metrics import GatewayMetrics
from gateway.mqtt_publisher import AckingPublisher
from gateway.state import GatewayState
from gateway.strap_session import StrapSession

log = logging.getLogger(__name__)

_SCAN_SECONDS = 2.0
_CONNECT_TIMEOUT_S = 10.0
_BACKOFF_MAX_S = 30.0
_SHUTDOWN_S = 8.0
_DRAIN_WINDOW = 100  # messages in flight at once
_STATUS_EVERY_S = 30.0


@dataclass
class _PendingCommand:
    request: CommandRequest
    expires_at: float


@dataclass
class BandLink:
    """What the gateway knows of one band, connected or not."""

    address: str
    band_id: str = ""
    session: BandSession | StrapSession | None = None
    failures: int = 0
    retry_at: float = 0.0
    task: asyncio.Task | None = None
    rssi: int | None = None
    reconnects: int = 0
    last_error: str = ""
    history: deque[LinkEvent] = field(default_factory=lambda: deque(maxlen=20))
    status_at: float = 0.0
    kind: str = "band"  # "band" (bandhub record log) or "strap" (Heart Rate Service only)


class Gateway:
    def __init__(self, settings: Settings, backend: BleBackend, publisher: AckingPublisher):
        self.settings = settings
        self.backend = backend
        self.publisher = publisher
        self.topics = Topics(settings.mqtt_topic_prefix)
        self.state = GatewayState(settings.data_dir / f"gateway-{settings.gateway_id}.sqlite")
        self.links: dict[str, BandLink] = {}  # by BLE address
        self._connect_lock = asyncio.Lock()
        self._commands_waiting: dict[str, list[_PendingCommand]] = {}  # by band id
        self._command_tasks: set[asyncio.Task] = set()
        self.options = SessionOptions(
            gateway_id=settings.gateway_id,
            page_size=settings.gateway_page_size,
            batch_max=settings.gateway_batch_max,
            set_clock=settings.gateway_set_band_clock,
            pair=settings.gateway_pair,
            spool_max_bytes=int(settings.gateway_spool_max_mb * 1024 * 1024),
        )
        self._spooled = asyncio.Event()
        self._heard_at = time.monotonic()  # last advertisement seen
        self.watchdog_resets = 0
        self.metrics = GatewayMetrics(
            connected=lambda: len(self.sessions()),
            spool_messages=lambda: self.state.spool_rows,
            spool_bytes=lambda: self.state.spool_bytes,
            spool_oldest_s=self.state.oldest_spooled_age_s,
        )
        if settings.gateway_metrics_port:
            self.metrics.serve(settings.gateway_metrics_port)

    def sessions(self) -> dict[str, BandSession | StrapSession]:
        return {
            link.band_id: link.session
            for link in self.links.values()
            if link.session is not None and link.band_id
        }

    async def run(self, stop: asyncio.Event) -> None:
        self.publisher.subscribe(self.topics.commands_filter(), self._on_command_message)
        drainer = asyncio.create_task(self._drain_spool())
        try:
            while not stop.is_set():
                await self._scan_once()
                self._expire_commands()
                self._refresh_band_status()
                await self._watchdog()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # not wait_for: see _drain_spool_forever
                        await stop.wait()
        finally:
            tasks = [lk.task for lk in self.links.values() if lk.task and not lk.task.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                # bounded: a BLE stack that swallows a cancellation must not block shutdown
                _done, stuck = await asyncio.wait(tasks, timeout=_SHUTDOWN_S)
                if stuck:
                    log.warning(
                        "%d band sessions did not stop within %.0f s", len(stuck), _SHUTDOWN_S
                    )
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drainer
            self.state.close()

    async def _watchdog(self) -> None:
        """The radio went quiet: no advertisement and no sign of life from any connected
        band for BANDHUB_GATEWAY_WATCHDOG_S, although bands were seen before. Drop every
        session and start scanning afresh, inside the process; count and log it."""
        if not self.links:
            return
        alive = max([self._heard_at] + [s.stats.alive_at for s in self.sessions().values()])
        quiet = time.monotonic() - alive
        if quiet < self.settings.gateway_watchdog_s:
            return
        self.watchdog_resets += 1
        self.metrics.watchdog_resets.inc()
        log.warning(
            "watchdog: radio quiet for %.0f s; resetting %d band link(s) (reset %d)",
            quiet, len(self.links), self.watchdog_resets,
        )  # fmt: skip
        tasks = [lk.task for lk in self.links.values() if lk.task and not lk.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_SHUTDOWN_S)
        for link in self.links.values():
            link.retry_at = 0.0
            link.failures = 0
        if self.backend.reset is not None:
            await self.backend.reset()
        self._heard_at = time.monotonic()

    def _on_spooled(self, band_id: str, records: int) -> None:
        self.metrics.records.labels(band_id).inc(records)
        self._spooled.set()

    async def _drain_spool(self) -> None:
        """Keep draining; an unexpected error is logged and the drain resumes."""
        while True:
            try:
                await self._drain_spool_forever()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("spool drain failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _drain_spool_forever(self) -> None:
        """Publish spooled messages in (priority, arrival) order; forget each once acked.
        While the broker is away the publishes wait and the spool grows on disk."""
        while True:
            self._spooled.clear()
            entries = self.state.spool_next(_DRAIN_WINDOW)
            if not entries:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can turn a
                # cancellation that coincides with its timeout into TimeoutError, which
                # this loop would swallow, and the drainer would never stop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._spooled.wait()
                continue
            started = time.monotonic()
            await asyncio.gather(*(self.publisher.publish(e.topic, e.payload) for e in entries))
            self.state.spool_remove([e.id for e in entries])
            self.metrics.published(len(entries), time.monotonic() - started)

    async def _scan_once(self) -> None:
        async with self._connect_lock:
            seen = await BleakScanner.discover(
                timeout=_SCAN_SECONDS, return_adv=True, **self.backend.scanner_kwargs()
            )
        now = time.monotonic()
        if seen:
            self._heard_at = now
        allowed = (
            {a for a, *_ in self.state.paired()} if self.settings.gateway_paired_only else None
        )
        for device, adv in seen.values():
            kind = self._kind(adv)
            if kind is None or (allowed is not None and device.address.upper() not in allowed):
                continue
            link = self.links.setdefault(device.address, BandLink(device.address, kind=kind))
            link.rssi = adv.rssi
            if (link.task is None or link.task.done()) and now >= link.retry_at:
                link.task = asyncio.create_task(self._keep_band(link, device))

    def _kind(self, adv: AdvertisementData) -> str | None:
        """A bandhub band by its service UUID (or a name with the set prefix); any other
        device with the standard Heart Rate Service is a heart-rate-only device."""
        prefix = self.settings.gateway_name_prefix
        uuids = [u.lower() for u in adv.service_uuids]
        if g.VENDOR_SERVICE.lower() in uuids or (
            prefix and adv.local_name and adv.local_name.startswith(prefix)
        ):
            return "band"
        if g.HEART_RATE_SERVICE.lower() in uuids and self.settings.gateway_accept_hr_devices:
            return "strap"
        return None

    async def _keep_band(self, link: BandLink, device: BLEDevice) -> None:
        """Connect, sync until the link drops, and schedule the next attempt."""
        try:
            async with self._connect_lock:
                client = BleakClient(
                    device, timeout=_CONNECT_TIMEOUT_S, **self.backend.client_kwargs()
                )
                await client.connect()
            try:
                if link.kind == "strap":
                    session = StrapSession(
                        client, self.state, self.topics, self.settings.gateway_id,
                        self._on_spooled,
                    )  # fmt: skip
                    link.band_id = await session.open(link.address)
                else:
                    session = BandSession(
                        client, self.publisher, self.state, self.options, self._on_spooled
                    )
                    link.band_id = await session.open()
                link.session = session
                link.failures = 0
                link.history.append(LinkEvent(at=time.time(), event="connected"))
                self._update_band_list()
                self._publish_band_status(link)
                await self._deliver_waiting_commands(session)
                await session.sync_forever()
            finally:
                link.session = None
                self._update_band_list()
                with contextlib.suppress(Exception):
                    await client.disconnect()
            self.metrics.reconnects.labels(link.band_id or link.address).inc()
            link.reconnects += 1
            link.history.append(LinkEvent(at=time.time(), event="disconnected"))
            self._publish_band_status(link)
            log.info("band %s disconnected", link.band_id or link.address)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.metrics.reconnects.labels(link.band_id or link.address).inc()
            link.failures += 1
            link.reconnects += 1
            link.last_error = f"{type(exc).__name__}: {exc}"[:300]
            link.history.append(LinkEvent(at=time.time(), event="failed", detail=link.last_error))
            self._publish_band_status(link)
            delay = min(_BACKOFF_MAX_S, 0.5 * 2**link.failures) * random.uniform(0.5, 1.0)
            link.retry_at = time.monotonic() + delay
            log.warning(
                "band %s: %s: %s (retry in %.1f s)",
                link.band_id or link.address,
                type(exc).__name__,
                exc,
                delay,
            )

    def _publish_band_status(self, link: BandLink) -> None:
        """The retained per-band diagnostics (docs/mqtt.md); only for identified bands."""
        if not link.band_id:
            return
        session = link.session
        st = session.stats if session else None
        status = BandStatus(
            v=1,
            band_id=link.band_id,
            gateway_id=self.settings.gateway_id,
            connected=session is not None,
            at=time.time(),
            address=link.address,
            rssi_dbm=link.rssi,
            firmware=st.firmware if st else "",
            battery_percent=st.battery if st else None,
            clock_offset_s=round(st.clock_offset_s, 3) if st else None,
            next_seq=session.cursor if session else self.state.cursor(link.band_id),
            backlog=session.backlog if session else 0,
            records_spooled=st.records_spooled if st else 0,
            rejected=st.rejected if st else 0,
            reconnects=link.reconnects,
            last_error=link.last_error,
            history=list(link.history),
        )
        link.status_at = time.monotonic()
        self.publisher.publish(
            self.topics.band_status(link.band_id), status.model_dump_json(), retain=True
        )

    def _refresh_band_status(self) -> None:
        now = time.monotonic()
        for link in self.links.values():
            if link.session is not None and now - link.status_at >= _STATUS_EVERY_S:
                self._publish_band_status(link)

    def _update_band_list(self) -> None:
        self.publisher.bands = sorted(self.sessions())
        self.publisher.announce()

    # --- commands ---------------------------------------------------------------------
    def _on_command_message(self, topic: str, payload: bytes) -> None:
        band_id = topic.split("/")[-2]
        try:
            req = CommandRequest.model_validate_json(payload)
        except ValidationError as exc:
            reason = exc.errors()[0]
            self._publish_result(
                band_id, "?", "invalid", f"{'.'.join(map(str, reason['loc']))}: {reason['msg']}"
            )
            return
        issued = req.issued_at or time.time()
        pending = _PendingCommand(req, issued + req.ttl_s)
        session = self.sessions().get(band_id)
        if session is not None:
            task = asyncio.create_task(self._run_command(session, pending))
            self._command_tasks.add(task)
            task.add_done_callback(self._command_tasks.discard)
        else:
            log.info("band %s absent: command %s waits up to %.0f s", band_id, req.id, req.ttl_s)
            self._commands_waiting.setdefault(band_id, []).append(pending)

    async def _deliver_waiting_commands(self, session: BandSession | StrapSession) -> None:
        for pending in self._commands_waiting.pop(session.band_id, []):
            await self._run_command(session, pending)

    async def _run_command(
        self, session: BandSession | StrapSession, pending: _PendingCommand
    ) -> None:
        req = pending.request
        if time.time() > pending.expires_at:
            self._publish_result(session.band_id, req.id, "expired", "time to live passed")
            return
        try:
            status, detail = await session.run_command(req)
        except Exception as exc:
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
        self._publish_result(session.band_id, req.id, status, detail)

    def _expire_commands(self) -> None:
        now = time.time()
        for band_id, waiting in list(self._commands_waiting.items()):
            for pending in [p for p in waiting if now > p.expires_at]:
                waiting.remove(pending)
                self._publish_result(band_id, pending.request.id, "expired", "band not reached")

    def _publish_result(self, band_id: str, cmd_id: str, status: str, detail: str) -> None:
        result = CommandResult(v=1, id=cmd_id, band_id=band_id, status=status, detail=detail)
        self.publisher.publish(self.topics.command_result(band_id), result.model_dump_json())


async def run_gateway(settings: Settings, backend: BleBackend, stop: asyncio.Event) -> None:
    """Run a gateway until ``stop`` is set: broker connection, scanning, sessions."""
    publisher = AckingPublisher(
        settings.mqtt_url,
        settings.gateway_id,
        Topics(settings.mqtt_topic_prefix),
        location=settings.gateway_geolocation(),
    )
    await publisher.start()
    try:
        await Gateway(settings, backend, publisher).run(stop)
    finally:
        await publisher.stop()
