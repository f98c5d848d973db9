"""The gateway service: the one owner of every device link's lifecycle.

It scans, keeps one task per device (connect, open a session of the device's kind,
sync until the link drops, retry with backoff and jitter) and resets the radio when
it goes quiet. Connects are serialised (radios, and bumble's virtual controller, do
not like concurrent connection attempts). Commands (gateway.command_relay),
publishing the spool (gateway.spool_drain) and device status (gateway.status) are
parts it starts and feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice

from bandhub.contracts.messages import Topics
from bandhub.principals.credentials import gateway_broker_url
from bandhub.settings import Settings
from gateway.backend import BleBackend
from gateway.bindings import Bindings
from gateway.command_relay import CommandRelay
from gateway.firmware_jobs import FirmwareJobs
from gateway.links import BandLink
from gateway.metrics import GatewayMetrics
from gateway.mqtt_publisher import AckingPublisher
from gateway.session import DeviceSession, SessionContext, SessionOptions
from gateway.session_kinds import device_kind, new_session
from gateway.spool_drain import SpoolDrain
from gateway.state import GatewayState
from gateway.status import StatusReporter
from gateway.watchdog import RadioWatchdog

log = logging.getLogger(__name__)

_SCAN_SECONDS = 2.0
_CONNECT_TIMEOUT_S = 10.0
_SHUTDOWN_S = 8.0


class Gateway:
    def __init__(self, settings: Settings, backend: BleBackend, publisher: AckingPublisher):
        self.settings = settings
        self.backend = backend
        self.publisher = publisher  # may be swapped before run() (tests do)
        self.topics = Topics(settings.mqtt_topic_prefix)
        self.state = GatewayState(settings.data_dir / f"gateway-{settings.gateway_id}.sqlite")
        self.links: dict[str, BandLink] = {}  # by BLE address
        self._connect_lock = asyncio.Lock()
        self.options = SessionOptions.from_settings(settings)
        self.firmware = FirmwareJobs(
            self.state, self.topics, publish=self._publish, on_change=self._firmware_changed
        )
        self.commands = CommandRelay(
            self.topics,
            publish=self._publish,
            connected=lambda band_id: self.sessions().get(band_id),
            store=self.state,
            firmware=self.firmware.add,
        )
        self.metrics = GatewayMetrics(
            connected=lambda: len(self.sessions()),
            spool_messages=lambda: self.state.spool_rows,
            spool_bytes=lambda: self.state.spool_bytes,
            spool_oldest_s=self.state.oldest_spooled_age_s,
        )
        self.drain = SpoolDrain(
            self.state,
            publish=self._publish,
            on_published=self.metrics.published,
        )
        self.status = StatusReporter(
            settings.gateway_id, self.topics, self.state.cursor, publish=self._publish,
            firmware=self.firmware.last.get,
        )  # fmt: skip
        self._firmware_reported: dict[str, tuple[str, float]] = {}
        self.bindings = Bindings(
            settings.gateway_id, settings.gateway_auth, on_change=self._bindings_changed
        )
        self.watchdog = RadioWatchdog(settings.gateway_watchdog_s)
        self.watchdog_resets = 0
        if settings.gateway_metrics_port:
            self.metrics.serve(settings.gateway_metrics_port)

    def _publish(self, topic: str, payload: str, retain: bool = False) -> asyncio.Future[None]:
        """QoS 1 through whichever publisher is set now (tests set it after __init__)."""
        return self.publisher.publish(topic, payload, retain=retain)

    def _firmware_changed(self, band_id: str) -> None:
        """An update moved on: metrics, and the band's status (at most once a second
        while the image is being sent, at once for every other step)."""
        progress = self.firmware.last.get(band_id) or {}
        state = progress.get("state", "")
        self.metrics.firmware_progress(band_id, progress)
        now = time.monotonic()
        last_state, last_at = self._firmware_reported.get(band_id, ("", 0.0))
        if state == last_state == "transferring" and now - last_at < 1.0:
            return
        self._firmware_reported[band_id] = (state, now)
        for link in self.links.values():
            if link.band_id == band_id:
                self.status.report(link)

    def sessions(self) -> dict[str, DeviceSession]:
        """The connected devices' sessions, by band id."""
        return {
            link.band_id: link.session
            for link in self.links.values()
            if link.session is not None and link.band_id
        }

    def _bindings_changed(self) -> None:
        """A newly bound band is tried now; an unbound one is disconnected (the broker
        refuses its data from this moment, so nothing more may be read from it)."""
        for link in self.links.values():
            if not link.band_id or self.bindings.allows(link.band_id):
                if link.session is None:
                    link.retry_now()
            elif link.task is not None and not link.task.done():
                log.warning("band %s was unbound from this gateway: disconnecting", link.band_id)
                link.task.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        if self.bindings.enforced:
            self.publisher.subscribe(
                self.topics.gateway_bindings(self.settings.gateway_id), self.bindings.on_message
            )
        self.publisher.subscribe(self.topics.commands_filter(), self.commands.on_message)
        self.publisher.announce()  # after the subscriptions: "online" means ready for commands
        drainer = asyncio.create_task(self.drain.run())
        try:
            while not stop.is_set():
                await self._scan_once()
                self.commands.expire()
                self.firmware.expire()
                self.status.refresh(self.links.values())
                await self._watchdog()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # not wait_for: see SpoolDrain
                        await stop.wait()
        finally:
            if stuck := await self._stop_link_tasks():
                log.warning("%d band sessions did not stop within %.0f s", stuck, _SHUTDOWN_S)
            drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drainer
            self.state.close()

    async def _stop_link_tasks(self) -> int:
        """Cancel every link task; returns how many did not stop in time (bounded: a
        BLE stack that swallows a cancellation must not block shutdown)."""
        tasks = [lk.task for lk in self.links.values() if lk.task and not lk.task.done()]
        for task in tasks:
            task.cancel()
        if not tasks:
            return 0
        _done, stuck = await asyncio.wait(tasks, timeout=_SHUTDOWN_S)
        return len(stuck)

    async def _watchdog(self) -> None:
        """The radio went quiet for BANDHUB_GATEWAY_WATCHDOG_S: drop every session and
        start scanning afresh, inside the process; count and log it."""
        if not self.links:
            return
        alive = [s.stats.alive_at for s in self.sessions().values()]
        if (quiet := self.watchdog.quiet_for(alive)) is not None:
            why = f"radio quiet for {quiet:.0f} s"
        elif self.watchdog.wedged(len(alive)):
            why = f"radio refused {self.watchdog.refusals} connection attempts in a row"
        else:
            return
        self.watchdog_resets += 1
        self.metrics.watchdog_resets.inc()
        log.warning(
            "watchdog: %s; resetting %d band link(s) (reset %d)",
            why, len(self.links), self.watchdog_resets,
        )  # fmt: skip
        await self._stop_link_tasks()
        for link in self.links.values():
            link.retry_now()
        if self.backend.reset is not None:
            await self.backend.reset()
        self.watchdog.was_reset()

    def _check_band(self, link: BandLink):
        """Identified: remember who the device is, and refuse it unless it is bound."""

        def check(band_id: str) -> None:
            link.band_id = band_id
            self.bindings.check(band_id)

        return check

    def _on_spooled(self, band_id: str, records: int) -> None:
        self.metrics.records.labels(band_id).inc(records)
        self.drain.wake()

    async def _scan_once(self) -> None:
        async with self._connect_lock:
            seen = await BleakScanner.discover(
                timeout=_SCAN_SECONDS, return_adv=True, **self.backend.scanner_kwargs()
            )
        now = time.monotonic()
        if seen:
            self.watchdog.heard()
        allowed = (
            {a for a, *_ in self.state.paired()} if self.settings.gateway_paired_only else None
        )
        for device, adv in seen.values():
            kind = device_kind(
                adv.service_uuids,
                adv.local_name,
                name_prefix=self.settings.gateway_name_prefix,
                accept_heart_rate_devices=self.settings.gateway_accept_hr_devices,
            )
            if kind is None or (allowed is not None and device.address.upper() not in allowed):
                continue
            link = self.links.setdefault(device.address, BandLink(device.address, kind))
            link.rssi = adv.rssi
            if link.due(now):
                link.task = asyncio.create_task(self._keep_band(link, device))

    async def _keep_band(self, link: BandLink, device: BLEDevice) -> None:
        """Connect, sync until the link drops, and schedule the next attempt."""
        try:
            async with self._connect_lock:
                client = BleakClient(
                    device, timeout=_CONNECT_TIMEOUT_S, **self.backend.client_kwargs()
                )
                await self._connect(client, link.address)
            try:
                context = SessionContext(
                    self.publisher, self.state, self.topics, self.options, self._on_spooled,
                    check_band=self._check_band(link), firmware=self.firmware,
                )  # fmt: skip
                session = new_session(link.kind, client, context)
                await session.open(link.address)
                link.opened(session)
                self._update_band_list()
                self.status.report(link)
                await self.commands.deliver_waiting(session)
                await session.sync_forever()
            finally:
                link.session = None
                self._update_band_list()
                with contextlib.suppress(Exception):
                    await client.disconnect()
            self.metrics.reconnects.labels(link.band_id or link.address).inc()
            link.dropped()
            self.status.report(link)
            log.info("band %s disconnected", link.band_id or link.address)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.metrics.reconnects.labels(link.band_id or link.address).inc()
            delay = link.failed(exc)
            self.status.report(link)
            log.warning(
                "band %s: %s: %s (retry in %.1f s)",
                link.band_id or link.address, type(exc).__name__, exc, delay,
            )  # fmt: skip

    async def _connect(self, client: BleakClient, address: str) -> None:
        """Connect, telling the watchdog whether the radio refused (failed before the
        timeout) rather than found no device (ran into it)."""
        started = time.monotonic()
        try:
            await client.connect()
        except Exception:
            if time.monotonic() - started < _CONNECT_TIMEOUT_S * 0.9:
                self.watchdog.refused(address)
            raise
        self.watchdog.connected()

    def _update_band_list(self) -> None:
        self.publisher.bands = sorted(self.sessions())
        self.publisher.announce()


async def run_gateway(settings: Settings, backend: BleBackend, stop: asyncio.Event) -> None:
    """Run a gateway until ``stop`` is set: broker connection, scanning, sessions."""
    publisher = AckingPublisher(
        gateway_broker_url(settings.mqtt_url, settings.data_dir, settings.gateway_id),
        settings.gateway_id,
        Topics(settings.mqtt_topic_prefix),
        location=settings.gateway_geolocation(),
        mqtt5=settings.gateway_mqtt5,
    )
    await publisher.start()
    try:
        await Gateway(settings, backend, publisher).run(stop)
    finally:
        await publisher.stop()
