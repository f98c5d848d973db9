"""Prometheus metrics of one gateway (``BANDHUB_GATEWAY_METRICS_PORT`` serves /metrics).

A registry per gateway, so several gateways in one process (tests, benchmarks) do
not collide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)


class GatewayMetrics:
    def __init__(
        self,
        connected: Callable[[], int],
        spool_messages: Callable[[], int],
        spool_bytes: Callable[[], int],
        spool_oldest_s: Callable[[], float],
    ) -> None:
        self.registry = r = CollectorRegistry()
        Gauge("bandhub_gateway_connected_bands", "Bands connected now", registry=r).set_function(
            connected
        )
        Gauge(
            "bandhub_gateway_spool_messages", "Messages waiting for the broker", registry=r
        ).set_function(spool_messages)
        Gauge("bandhub_gateway_spool_bytes", "Bytes in the spool", registry=r).set_function(
            spool_bytes
        )
        Gauge(
            "bandhub_gateway_spool_oldest_seconds", "Age of the oldest spooled message", registry=r
        ).set_function(spool_oldest_s)
        self.records = Counter(
            "bandhub_gateway_records", "Records read from bands", ["band_id"], registry=r
        )
        self.reconnects = Counter(
            "bandhub_gateway_reconnects", "Band connections lost or failed", ["band_id"], registry=r
        )
        self.watchdog_resets = Counter(
            "bandhub_gateway_watchdog_resets", "Radio resets by the watchdog", registry=r
        )
        self.messages = Counter(
            "bandhub_gateway_published_messages", "Messages the broker acknowledged", registry=r
        )
        self.publish_latency = Histogram(
            "bandhub_gateway_publish_seconds",
            "From publishing a window of spooled messages to the broker's last ack",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
            registry=r,
        )

        self.firmware_bytes = Gauge(
            "bandhub_gateway_firmware_confirmed_bytes",
            "Bytes of the firmware image being installed that the band confirmed",
            ["band_id"],
            registry=r,
        )
        self.firmware_resumes = Counter(
            "bandhub_gateway_firmware_resumes",
            "Firmware transfers resumed after a dropped link",
            ["band_id"],
            registry=r,
        )
        self.firmware_updates = Counter(
            "bandhub_gateway_firmware_updates",
            "Firmware updates ended, by outcome (updated, refused, rolled_back, failed, expired)",
            ["outcome"],
            registry=r,
        )
        self._resumes_seen: dict[str, int] = {}

    def firmware_progress(self, band_id: str, progress: dict) -> None:
        """Follow one update's progress (gateway.firmware_jobs) in the metrics."""
        state = progress.get("state", "")
        self.firmware_bytes.labels(band_id).set(progress.get("offset", 0))
        resumes = progress.get("resumes", 0)
        if resumes > self._resumes_seen.get(band_id, 0):
            self.firmware_resumes.labels(band_id).inc(resumes - self._resumes_seen.get(band_id, 0))
        self._resumes_seen[band_id] = resumes
        if state in ("updated", "refused", "rolled_back", "failed", "expired"):
            self.firmware_updates.labels(state).inc()
            self._resumes_seen.pop(band_id, None)

    def published(self, count: int, seconds: float) -> None:
        self.messages.inc(count)
        self.publish_latency.observe(seconds)

    def serve(self, port: int) -> None:
        start_http_server(port, addr="0.0.0.0", registry=self.registry)
        log.info("gateway metrics on http://0.0.0.0:%d/metrics", port)
