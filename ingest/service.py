"""The ingest service: MQTT in, PostgreSQL out, acknowledged only after commit.

paho's network thread puts messages on a queue; one writer thread takes up to
``ingest_batch_max`` records (or what arrived within ``ingest_batch_wait_s``), writes
them in one transaction, and acks those messages only once it has committed. A
crash before the commit leaves them unacknowledged, so the broker delivers them
again (persistent session, QoS 1), and the idempotent writes ignore what was
already stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg

from alerts import commands as alert_commands
from alerts import store as alert_store
from bandhub.contracts.messages import TopicKind, Topics
from bandhub.db import migrate
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.settings import Settings
from ingest.validate import parse_message
from ingest.writer import RecordWriter

log = logging.getLogger(__name__)

_STATUS_KINDS = (TopicKind.GATEWAY_STATUS, TopicKind.BAND_STATUS)


@dataclass
class _Msg:
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class IngestStats:
    messages: int = 0
    rows: int = 0
    dead_letters: int = 0
    transactions: int = 0


class Ingest:
    def __init__(self, settings: Settings, client_id: str = "bandhub-ingest") -> None:
        self.settings = settings
        self.topics = Topics(settings.mqtt_topic_prefix)
        self.stats = IngestStats()
        self._queue: queue.Queue[_Msg] = queue.Queue()
        self._stop = threading.Event()
        self._client = mqtt_client(settings.mqtt_url, client_id, clean_start=False)
        self._client.manual_ack_set(True)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._thread = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        migrate(self.settings.database_url)
        host, port = broker_address(self.settings.mqtt_url)
        self._thread.start()
        self._client.connect_async(host, port, keepalive=15)
        self._client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.warning("broker refused ingest: %s", reason_code)
            return
        client.subscribe(
            [
                (self.topics.records_filter(), 1),
                (self.topics.gateway_status_filter(), 1),
                (self.topics.band_status_filter(), 1),
            ]
        )

    def _on_subscribe(self, _c, _u, _mid, reason_codes, _props) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused the subscription: %s", reason_codes)
            return
        self.connected.set()  # from here on no message can be missed
        log.info("ingest subscribed to %s", self.topics.records_filter())

    def _on_message(self, _c, _u, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Msg(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.settings.database_url) as conn:
                    writer = RecordWriter(
                        conn,
                        auto_register=self.settings.ingest_auto_register_bands,
                        countdown_s=self.settings.fall_countdown_s,
                        escalation_s=self.settings.alert_escalation_s,
                        repeat_s=self.settings.alert_repeat_s,
                        check_bindings=self.settings.gateway_auth,
                    )
                    while not self._stop.is_set():
                        batch = self._next_batch()
                        if batch:
                            self._write(writer, batch)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying, messages stay unacked", exc)
                time.sleep(1.0)

    def _start_countdown(self, opened: alert_store.OpenedAlert) -> None:
        """The band shows "Are you OK?" for the countdown; it runs on the server anyway."""
        request = alert_commands.fall_countdown(opened.alert_id, opened.countdown_s)
        if request is not None:
            self._client.publish(
                self.topics.command(opened.band_id), request.model_dump_json(), qos=1
            )

    def _kind(self, topic: str) -> TopicKind | None:
        """None for a topic outside the contract: parsing it as records dead-letters it."""
        try:
            return self.topics.parse(topic).kind
        except ValueError:
            return None

    def _next_batch(self) -> list[_Msg]:
        try:
            first = self._queue.get(timeout=0.5)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.ingest_batch_wait_s
        size = first.payload.count(b'"seq"')  # records in a batch, without parsing it twice
        while size < self.settings.ingest_batch_max:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                msg = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            batch.append(msg)
            size += msg.payload.count(b'"seq"')
        return batch

    def _write(self, writer: RecordWriter, batch: list[_Msg]) -> None:
        kinds = [self._kind(m.topic) for m in batch]
        statuses = [(m, k) for m, k in zip(batch, kinds, strict=True) if k in _STATUS_KINDS]
        records = [m for m, k in zip(batch, kinds, strict=True) if k not in _STATUS_KINDS]
        parsed = [
            (
                m.topic,
                parse_message(
                    self.topics,
                    m.topic,
                    m.payload,
                    self.settings.ingest_max_future_s,
                    self.settings.ingest_max_age_days * 86400,
                ),
            )
            for m in records
        ]
        try:
            for m, kind in statuses:
                ref = self.topics.parse(m.topic)
                if kind == TopicKind.GATEWAY_STATUS:
                    writer.gateway_status(m.payload, ref.gateway_id)
                else:
                    writer.band_status(m.payload, ref.band_id)
            inserted = writer.write(parsed)
        except psycopg.OperationalError:
            for m in reversed(batch):  # keep them for the next connection, unacked
                self._queue.queue.appendleft(m)
            raise
        # committed: now, and only now, the broker may forget these messages
        for m in batch:
            if m.qos > 0:
                self._client.ack(m.mid, m.qos)
        for opened in writer.opened_alerts:
            self._start_countdown(opened)
        self.stats.messages += len(batch)
        self.stats.rows += sum(inserted.values())
        self.stats.dead_letters += sum(len(p.rejections) for _t, p in parsed) + writer.refused
        self.stats.transactions += 1
