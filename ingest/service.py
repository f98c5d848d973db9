"""The ingest service: MQTT in, PostgreSQL out, acknowledged only after commit.

paho's network thread puts messages on a queue; a parser thread takes up to
``ingest_batch_max`` records (or what arrived within ``ingest_batch_wait_s``) and
validates them (and encodes heart rate as binary COPY rows) while the writer thread
stores the batch before (at most two wait between them); the writer stores each
batch in one transaction and acks its messages only once it has committed. A crash
before the commit leaves them unacknowledged, so the broker delivers them again
(persistent session, QoS 1), and the idempotent writes ignore what was already stored.

Several workers share the records: each takes a slot (``ingest.sessions``), so its
own client id, and subscribes to ``$share/<group>/...``. A watcher thread drains the
sessions of workers that are gone (``ingest.adopt``), so what the broker queued for
them reaches a live worker within seconds.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg

from alerts import commands as alert_commands
from alerts import store as alert_store
from bandhub.contracts.messages import Stream, TopicKind, Topics
from bandhub.db import migrate
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.settings import Settings
from ingest.adopt import Delivery, drain_session
from ingest.sessions import SessionRegistry
from ingest.validate import Parsed, parse_message
from ingest.writer import RecordWriter, hr_chunk

log = logging.getLogger(__name__)

_STATUS_KINDS = (TopicKind.GATEWAY_STATUS, TopicKind.BAND_STATUS)


@dataclass
class _Batch:
    """Messages validated by the parser thread, for the writer thread to store."""

    batch: list[Delivery]
    statuses: list[tuple[Delivery, TopicKind]]
    parsed: list[tuple[str, Parsed]]


@dataclass
class IngestStats:
    messages: int = 0
    rows: int = 0
    dead_letters: int = 0
    transactions: int = 0


class Ingest:
    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        """Without ``client_id`` the worker takes a registered slot (start()), whose
        session other workers drain if this one goes away; with one, it is on its own."""
        self.settings = settings
        self.topics = Topics(settings.mqtt_topic_prefix)
        self.stats = IngestStats()
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._stop = threading.Event()
        self._registry: SessionRegistry | None = None
        self.client_id = client_id or ""
        self._client = self._make_client()
        self._parsed: queue.Queue[_Batch] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._parser = threading.Thread(target=self._parse_loop, name="ingest-parser", daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="ingest-watcher", daemon=True)
        self.connected = threading.Event()
        self.drained_sessions = 0

    @property
    def slot(self) -> int | None:
        """This worker's slot (0 for the first worker), None with a fixed client id."""
        return self._registry.slot if self._registry is not None else None

    def _make_client(self) -> mqtt.Client:
        client_id = self.client_id or "unclaimed"  # start() claims a slot first
        client = mqtt_client(self.settings.mqtt_url, client_id, clean_start=False)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _record_filters(self) -> list[str]:
        group = self.settings.ingest_share_group
        records = self.topics.records_filter()
        return [f"$share/{group}/{records}" if group else records]

    def _filters(self) -> list[str]:
        """Records shared among the workers; statuses (retained, few) to every worker."""
        statuses = [self.topics.gateway_status_filter(), self.topics.band_status_filter()]
        return self._record_filters() + statuses

    def start(self) -> None:
        migrate(self.settings.database_url)
        # every record makes short-lived dicts, tuples and datetimes: with the default
        # thresholds the cyclic collector ran every 700 allocations, 30-50 % of the
        # time spent validating and building rows (measured); it rarely finds cycles
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        if not self.client_id:
            self._registry = SessionRegistry(
                self.settings.database_url, self.settings.ingest_client_prefix
            )
            self.client_id = self._registry.client_id(self._registry.claim())
            self._client = self._make_client()
        self._thread.start()
        self._parser.start()
        self._connect()
        if self._registry is not None:
            self._watcher.start()
        log.info("ingest worker %s started", self.client_id)

    def _connect(self) -> None:
        host, port = broker_address(self.settings.mqtt_url)
        self._client.connect_async(host, port, keepalive=15)
        self._client.loop_start()

    def stop(self) -> None:
        """Stop taking messages; what the broker still holds for this worker stays in
        its session, for this worker's next start or another worker to drain."""
        self._stop.set()
        self._thread.join(timeout=15)
        if self._parser.is_alive():
            self._parser.join(timeout=15)
        self._client.disconnect()
        self._client.loop_stop()
        if self._watcher.is_alive():
            self._watcher.join(timeout=15)
        if self._registry is not None:
            self._registry.close()  # lets the slot go: a live worker drains it

    def _watch(self) -> None:
        """Keep our slot, and drain the sessions of workers that are gone."""
        registry = self._registry
        assert registry is not None
        while not self._stop.wait(self.settings.ingest_orphan_check_s):
            try:
                if not registry.healthy():
                    self._regain_slot(registry)
                    continue
                for slot in registry.orphans():
                    self._drain(registry, slot)
            except psycopg.OperationalError as exc:
                log.warning("session registry unavailable (%s)", exc)

    def _regain_slot(self, registry: SessionRegistry) -> None:
        """Our lock went with our database connection: another worker may be draining
        our session, so stay off the broker until the slot is ours again."""
        log.warning("lost the lock of %s; off the broker until it is ours again", self.client_id)
        self._client.disconnect()
        self._client.loop_stop()
        while not self._stop.is_set() and not registry.reclaim():
            time.sleep(1.0)
        if not self._stop.is_set():
            self._connect()

    def _drain(self, registry: SessionRegistry, slot: int) -> None:
        client_id = registry.client_id(slot)
        registry.adopting(slot)
        first: list[float] = []

        def deliver(d: Delivery) -> None:
            if not first:
                first.append(time.time())
            self._queue.put(d)

        n = drain_session(self.settings.mqtt_url, client_id, self._filters(), deliver)
        if n is None:
            registry.unlock(slot)  # try again on the next round
            return
        registry.drained(slot, n, first[0] if first else None)
        self.drained_sessions += 1

    def _on_connect(self, client, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.warning("broker refused ingest: %s", reason_code)
            return
        client.subscribe([(f, 1) for f in self._filters()])

    def _on_subscribe(self, _c, _u, _mid, reason_codes, _props) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker refused the subscription: %s", reason_codes)
            return
        self.connected.set()  # from here on no message can be missed
        log.info("ingest %s subscribed to %s", self.client_id, self._record_filters()[0])

    def _on_message(self, client, _u, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(Delivery(msg.topic, bytes(msg.payload), msg.mid, msg.qos, client))

    def _parse_loop(self) -> None:
        """Validate the next batch while the writer stores the last one."""
        while not self._stop.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            item = self._parse(batch)
            while not self._stop.is_set():
                try:
                    self._parsed.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def _write_loop(self) -> None:
        pending: _Batch | None = None  # kept across a lost connection, unacked
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
                        compact_after_s=self.settings.hr_compact_after_s,
                    )
                    while not self._stop.is_set():
                        if pending is None:
                            try:
                                pending = self._parsed.get(timeout=0.5)
                            except queue.Empty:
                                continue
                        self._write(writer, pending)
                        pending = None
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

    def _next_batch(self) -> list[Delivery]:
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

    def _parse(self, batch: list[Delivery]) -> _Batch:
        kinds = [self._kind(m.topic) for m in batch]
        # a drained session's statuses reached every live worker already, newer ones too
        statuses = [
            (m, k)
            for m, k in zip(batch, kinds, strict=True)
            if k in _STATUS_KINDS and not m.adopted
        ]
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
        for _topic, p in parsed:  # encoded here, while the writer stores the last batch
            if p.stream == Stream.HR and p.records:
                p.encoded = hr_chunk(p)
        return _Batch(batch, statuses, parsed)

    def _write(self, writer: RecordWriter, item: _Batch) -> None:
        for m, kind in item.statuses:
            ref = self.topics.parse(m.topic)  # a payload must name its own topic's owner
            if kind == TopicKind.GATEWAY_STATUS:
                writer.gateway_status(m.payload, ref.gateway_id)
            else:
                writer.band_status(m.payload, ref.band_id)
        inserted = writer.write(item.parsed)
        # committed: now, and only now, the broker may forget these messages
        for m in item.batch:
            m.ack()
        for opened in writer.opened_alerts:
            self._start_countdown(opened)
        self.stats.messages += len(item.batch)
        self.stats.rows += sum(inserted.values())
        self.stats.dead_letters += sum(len(p.rejections) for _t, p in item.parsed) + writer.refused
        self.stats.transactions += 1
