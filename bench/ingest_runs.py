"""The ingest runs of bench/ingest_scale.py: records queued on a real mosquitto while
the consumers are away, then timed from the first row stored to the last.

* ``bandhub ingest`` as 1 and as 2 worker processes (the CLI, as deployed), on backlog
  pages of ~370 records, and on the live shape (one record per message);
* a naive consumer: one INSERT per record, a commit per message, then the ack;
* psycopg's COPY of the same rows into an empty hr (its keys), no MQTT at all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bandhub.contracts.messages import Topics
from bandhub.mqtt import broker_address, mqtt_client
from stack.embedded.broker import EmbeddedBroker

T0 = 1_795_478_400
PAGE = 370


def _messages(records: int, per_message: int, bands: int = 50) -> list[tuple[str, bytes]]:
    """Heart-rate batches as a gateway publishes them, bands interleaved."""
    topics, out = Topics(), []
    per_band = records // bands
    for first in range(0, per_band, per_message):
        for b in range(bands):
            band = f"BH-{b + 1:04d}"
            seqs = range(first, min(first + per_message, per_band))
            recs = [
                {"seq": s, "t": T0 + 5 * s, "bpm": 60 + s % 40,
                 "rr_ms": [1000.0 - s % 40, 990.0] if s % 2 == 0 else [], "contact": True}
                for s in seqs
            ]  # fmt: skip
            body = {"v": 1, "band_id": band, "gateway_id": "gw-bench", "stream": "hr",
                    "received_at": T0 + 5 * seqs[-1] + 1, "records": recs}  # fmt: skip
            out.append((topics.records(band, "hr"), json.dumps(body).encode()))
    return out


def _publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt_client(url, "bench-publisher")  # the broker's operator login
    client.max_inflight_messages_set(1000)
    client.connect(*broker_address(url))
    client.loop_start()
    for first in range(0, len(messages), 20_000):  # message ids are 16 bits: wait in rounds
        infos = [client.publish(topic, body, qos=1) for topic, body in messages[first:][:20_000]]
        for info in infos:
            info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM hr").fetchone()[0]


def _cpu_s(pid: int) -> float:
    """CPU seconds a process (and its waited-for children) used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[str]:
    """The pids of a process's children (Linux), none once it is gone."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []


class _CpuSplit:
    """Where the CPU went during a run: the workers (and the summary refresher they
    start), the database's backends for this database, the broker."""

    def __init__(self, url: str, workers: _Workers, broker: EmbeddedBroker) -> None:
        self.url, self.workers, self.broker = url, workers, broker
        self.start = self._now()

    def _pids(self) -> dict[str, list[int]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            backends = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchall()
        workers = [p.pid for p in self.workers.procs]
        children = [int(c) for w in workers for c in _children(w)]
        proc = getattr(self.broker, "_proc", None)
        return {
            "workers (with the summary refresher)": workers + children,
            "PostgreSQL": [r[0] for r in backends],
            "broker": [proc.pid] if proc is not None else [],
        }

    def _now(self) -> dict[str, dict[int, float]]:
        return {k: {p: _cpu_s(p) for p in pids} for k, pids in self._pids().items()}

    def used(self) -> dict[str, float]:
        """CPU seconds per part since construction (new processes count from zero)."""
        now = self._now()
        return {
            k: sum(t - self.start.get(k, {}).get(p, 0.0) for p, t in now[k].items()) for k in now
        }


class _Stored(threading.Thread):
    """Polls the stored count from before the consumers start: ``took`` is the time
    from the first row stored to the last. Ingest keeps the count per band (migration
    007), so polling costs the database nothing; counting hr's rows every 0.1 s would
    take a core of its own."""

    def __init__(
        self,
        url: str,
        total: int,
        query: str = "SELECT sum(records) FROM bands",
        cpu: Callable[[], _CpuSplit] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.total, self.query = url, total, query
        self.first: float | None = None
        self.last: float | None = None
        self._cpu_from_first = cpu  # CPU counted over the same span as the time
        self.cpu_used: dict[str, float] = {}

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while self.last is None:
                try:
                    n = conn.execute(self.query).fetchone()[0] or 0
                except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
                    # the workers have not migrated yet
                    n = 0
                now = time.monotonic()
                if n and self.first is None:
                    self.first = now
                    split = self._cpu_from_first() if self._cpu_from_first else None
                if n >= self.total:
                    self.last = now
                    self.cpu_used = split.used() if self._cpu_from_first else {}
                time.sleep(0.1)

    def took(self, timeout: float = 1800) -> float:
        self.join(timeout)
        if self.last is None or self.first is None:
            raise TimeoutError(f"not all {self.total} rows stored")
        return max(self.last - self.first, 0.02)


class _Workers:
    """``bandhub ingest`` processes; no adoption, so each drains its own session."""

    def __init__(self, url: str, mqtt_url: str, n: int, logs: Path, src: str = "") -> None:
        self.env = os.environ | {"PYTHONPATH": src} if src else dict(os.environ)
        self.env |= {
            "BANDHUB_DATABASE_URL": url,
            "BANDHUB_MQTT_URL": mqtt_url,
            "BANDHUB_DATA_DIR": str(logs),
            "BANDHUB_INGEST_MAX_FUTURE_S": str(10 * 365 * 86400),
            "BANDHUB_INGEST_ORPHAN_CHECK_S": "3600",
            "BANDHUB_INGEST_SHARE_GROUP": "ingest",
            # the gateway-band bindings check is bench/ingest_bindings.py's to measure
            "BANDHUB_GATEWAY_AUTH": "false",
        }
        self.n, self.logs, self.procs, self.src = n, logs, [], src

    def start(self) -> None:
        """All at once; each takes a free slot (the sessions of the last run)."""
        cmd = [sys.executable, "-c", "from stack.cli import app; app()", "ingest"]
        logs = [self.logs / f"worker-{i}.log" for i in range(self.n)]
        for log in logs:
            out = log.open("w")
            self.procs.append(
                subprocess.Popen(  # in the checkout: `-c` imports from the current directory
                    cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=out, cwd=self.src or None
                )
            )
        for proc, log in zip(self.procs, logs, strict=True):
            while " subscribed to " not in log.read_text():
                if proc.poll() is not None:
                    raise RuntimeError(log.read_text())
                time.sleep(0.1)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(30)
        self.procs = []


CPU: dict[tuple[int, int, str], dict[str, float]] = {}  # (records, workers, src) -> CPU s


def _bandhub(throwaway_db, messages, total: int, workers: int, src: str = "") -> float:
    """Records (or messages) per second; ``src``: run the workers from that checkout.
    The CPU each part used from the first row stored to the last is left in ``CPU``."""
    # the baseline's own workers create its schema (its migrations, not ours)
    with throwaway_db(migrated=not src) as url, tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(Path(tmp) / "broker")
        asyncio.run(broker.start())
        try:
            w = _Workers(url, broker.url, workers, Path(tmp), src)
            w.start()  # register the sessions and their subscriptions, then go away
            w.stop()
            _publish(broker.url, messages)
            stored = _Stored(url, total, cpu=lambda: _CpuSplit(url, w, broker))
            stored.start()
            w.start()
            took = stored.took()
            CPU[(total, workers, src)] = stored.cpu_used
            w.stop()
        finally:
            asyncio.run(broker.stop())
    return total / took


def _naive(throwaway_db, messages, total: int) -> float:
    """One INSERT per record, a commit per message, the ack after it."""
    with throwaway_db() as url, tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(Path(tmp) / "broker")
        asyncio.run(broker.start())
        conn = psycopg.connect(url)
        conn.execute("INSERT INTO bands (band_id) SELECT DISTINCT 'BH-' ||"
                     " lpad(g::text, 4, '0') FROM generate_series(1, 50) g")  # fmt: skip
        conn.commit()

        def on_message(client, _u, msg) -> None:
            body = json.loads(msg.payload)
            for r in body["records"]:
                conn.execute(
                    "INSERT INTO hr (band_id, seq, t, bpm, rr_ms, contact, received_at)"
                    " VALUES (%s, %s, to_timestamp(%s), %s, %s, %s, to_timestamp(%s))"
                    " ON CONFLICT DO NOTHING",
                    (body["band_id"], r["seq"], r["t"], r["bpm"], r["rr_ms"], r["contact"],
                     body["received_at"]),
                )  # fmt: skip
            conn.commit()
            client.ack(msg.mid, msg.qos)

        client = mqtt_client(broker.url, "bench-naive", clean_start=False)
        client.manual_ack_set(True)
        client.on_message = on_message
        try:
            client.connect(*broker_address(broker.url))
            client.loop_start()
            client.subscribe(Topics().records_filter(), 1)
            time.sleep(1.0)  # the session now holds the subscription
            client.disconnect()
            client.loop_stop()
            _publish(broker.url, messages)
            stored = _Stored(url, total, "SELECT count(*) FROM hr")
            stored.start()
            client.connect(*broker_address(broker.url))
            client.loop_start()
            took = stored.took()
            client.disconnect()
            client.loop_stop()
        finally:
            conn.close()
            asyncio.run(broker.stop())
    return total / took


def _copy(throwaway_db, messages) -> tuple[float, int]:
    """psycopg COPY of the same rows (already as tuples) into hr with its keys."""
    rows = []
    for _topic, body in messages:
        b = json.loads(body)
        received = dt.datetime.fromtimestamp(b["received_at"], dt.UTC)
        for r in b["records"]:
            rows.append((b["band_id"], r["seq"], dt.datetime.fromtimestamp(r["t"], dt.UTC),
                         r["bpm"], r["rr_ms"], r["contact"], received))  # fmt: skip
    with throwaway_db() as url, psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE hr DROP CONSTRAINT IF EXISTS hr_band_id_fkey")
        start = time.perf_counter()
        with conn.cursor() as cur:
            cols = "band_id, seq, t, bpm, rr_ms, contact, received_at"
            with cur.copy(f"COPY hr ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - start), len(rows)


def run(args, throwaway_db) -> list[tuple[str, str, str]]:
    src = args.baseline_src
    pages = _messages(args.records, PAGE)
    copy_rate, total = _copy(throwaway_db, pages)
    print(f"COPY: {copy_rate:,.0f} records/s", flush=True)
    naive_msgs = _messages(args.naive_records, PAGE)
    naive_total = sum(len(json.loads(b)["records"]) for _, b in naive_msgs)
    naive = _naive(throwaway_db, naive_msgs, naive_total)
    print(f"naive: {naive:,.0f} records/s", flush=True)
    rates = {}
    for label, n, source in (("before", 1, src), ("1", 1, ""), ("2", 2, "")):
        if label == "before" and not src:
            continue
        rates[label] = _bandhub(throwaway_db, pages, total, n, source)
        print(f"bandhub {label}: {rates[label]:,.0f} records/s", flush=True)
    live_msgs = _messages(args.records // 5, 1)
    live = {"after": _bandhub(throwaway_db, live_msgs, len(live_msgs), 1)}
    if src:
        live["before"] = _bandhub(throwaway_db, live_msgs, len(live_msgs), 1, src)
    print(f"live shape: {live} messages/s", flush=True)
    one, two = rates["1"], rates["2"]

    def cpu(workers: int) -> str:
        used = CPU[(total, workers, "")]
        return ", ".join(f"{k} {v / total * 1e6:.1f}" for k, v in used.items())

    def vs(rate: float) -> str:
        return f"{rate:,.0f} ({rate / copy_rate:.2f} x COPY, {rate / naive:.0f} x naive)"

    before = vs(rates["before"]) if "before" in rates else "-"
    return [
        (f"ingest {total:,} hr records, pages of {PAGE}, records/s", "", ""),
        ("  psycopg COPY of the same rows (hr's keys)", f"{copy_rate:,.0f}", ""),
        ("  naive consumer (INSERT per record)", f"{naive:,.0f}", ""),
        ("  bandhub ingest, 1 worker", before, vs(one)),
        ("  bandhub ingest, 2 workers", "-", f"{two:,.0f} ({two / one:.2f} x 1 worker)"),
        ("  CPU µs a record, 1 worker", "", cpu(1)),
        ("  CPU µs a record, 2 workers", "", cpu(2)),
        (f"ingest live shape ({len(live_msgs):,} messages of 1 record), msg/s",
         f"{live['before']:,.0f}" if "before" in live else "-", f"{live['after']:,.0f}"),
    ]  # fmt: skip
