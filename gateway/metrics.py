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

    def published(self, count: int, seconds: float) -> None:
        self.messages.inc(count)
        self.publish_latency.observe(seconds)

    def serve(self, port: int) -> None:
        start_http_server(port, addr="0.0.0.0", registry=self.registry)
        log.info("gateway metrics on http://0.0.0.0:%d/metrics", port)
