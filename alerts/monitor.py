"""Caregiver alerts other than falls, checked periodically by the monitor service.

Each rule looks at what arrived recently and, when it fires, opens an alert with one
outbox delivery per contact in the same transaction (quiet hours delay these, never
falls). Every kind fires at most once per band per ``alert_rate_limit_s``:

* ``band_silent`` — nothing from the band for ``band_silent_h`` hours;
* ``low_battery`` — the latest level under ``low_battery_percent``;
* ``hr_high`` / ``hr_low`` — the last ``hr_sustained_min`` minute epochs all worn,
  without steps, and with mean heart rate above ``hr_high_bpm`` / below ``hr_low_bpm``;
* ``irregular_rhythm`` — RR intervals persistently irregular over the last
  ``irregular_rhythm_min`` minutes (analytics.hrv.persistently_irregular);
* ``sedentary`` — no steps for ``sedentary_min`` minutes while worn during the wearer's
  local waking
  hours: not a contact alert but a "move" vibration sent to the band.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from alerts import commands, store
from analytics.hrv import persistently_irregular
from bandhub.contracts.messages import Topics
from bandhub.db import compaction, retention
from bandhub.mqtt import broker_address, mqtt_client
from bandhub.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    band_id: str
    kind: str
    details: dict


class HealthMonitor:
    def __init__(self, settings: Settings, send_move: Callable[[str], None] | None = None):
        self.s = settings
        self.send_move = send_move  # publishes the "move" vibration command to a band

    def check(self, conn: psycopg.Connection) -> list[Finding]:
        """Run every rule once; returns what fired (after rate limiting)."""
        epochs = self._recent_epochs(conn, max(self.s.hr_sustained_min, self.s.sedentary_min))
        findings = [
            *self._band_silent(conn),
            *self._low_battery(conn),
            *self._heart_rate(epochs),
            *self._irregular_rhythm(conn),
        ]
        fired = [f for f in findings if self._open_alert(conn, f)]
        # only the wearers who keep the reminder on (their settings), each in their zone
        zones = dict(
            conn.execute("SELECT band_id, time_zone FROM bands WHERE sedentary_reminder").fetchall()
        )
        reminders = [
            f
            for f in self._sedentary(epochs, zones)
            if self._open_alert(conn, f, notify_contacts=False)
        ]
        conn.commit()  # recorded first, so a reminder is sent once even if the monitor restarts
        for f in reminders:
            if self.send_move:
                self.send_move(f.band_id)
        return fired + reminders

    # --- rules -----------------------------------------------------------------

    def _band_silent(self, conn) -> list[Finding]:
        rows = conn.execute(
            "SELECT band_id, last_seen FROM bands WHERE last_seen IS NOT NULL"
            " AND last_seen < now() - make_interval(secs => %s)",
            (self.s.band_silent_h * 3600,),
        ).fetchall()
        return [Finding(b, "band_silent", {"last_seen": seen.isoformat()}) for b, seen in rows]

    def _low_battery(self, conn) -> list[Finding]:
        rows = conn.execute(
            "SELECT DISTINCT ON (band_id) band_id, level FROM battery"
            " WHERE received_at > now() - interval '1 day' ORDER BY band_id, t DESC"
        ).fetchall()
        limit = self.s.low_battery_percent
        return [Finding(b, "low_battery", {"level": lv}) for b, lv in rows if lv < limit]

    @staticmethod
    def _recent_epochs(conn, n: int) -> dict[str, list[tuple]]:
        """Each band's last ``n`` minute epochs received within the hour, oldest first:
        (t, hr_mean, steps, worn). The heart-rate and sedentary rules read their tails."""
        rows = conn.execute(
            "SELECT band_id, t, hr_mean, steps, worn FROM (SELECT band_id, t, hr_mean, steps,"
            "   worn, row_number() OVER (PARTITION BY band_id ORDER BY t DESC) AS k"
            "   FROM epochs WHERE received_at > now() - interval '1 hour') e"
            " WHERE k <= %s ORDER BY band_id, t",
            (n,),
        ).fetchall()
        out: dict[str, list[tuple]] = {}
        for band_id, *epoch in rows:
            out.setdefault(band_id, []).append(tuple(epoch))
        return out

    @staticmethod
    def _last(epochs: dict[str, list[tuple]], n: int) -> Iterator[tuple]:
        """(band_id, t, hr, steps, worn) columns of each band's last ``n`` epochs, for the
        bands that have that many: the window every epoch rule looks at."""
        for band_id, recent in epochs.items():
            if len(recent) >= n:
                yield band_id, *zip(*recent[-n:], strict=True)

    def _heart_rate(self, epochs: dict[str, list[tuple]]) -> list[Finding]:
        out = []
        for band_id, _t, hr, steps, worn in self._last(epochs, self.s.hr_sustained_min):
            if not all(worn) or any(s > 0 for s in steps) or any(h is None for h in hr):
                continue
            details = {"minutes": len(hr), "min_bpm": min(hr), "max_bpm": max(hr)}
            if min(hr) > self.s.hr_high_bpm:
                out.append(Finding(band_id, "hr_high", details | {"threshold": self.s.hr_high_bpm}))
            elif max(hr) < self.s.hr_low_bpm:
                out.append(Finding(band_id, "hr_low", details | {"threshold": self.s.hr_low_bpm}))
        return out

    def _irregular_rhythm(self, conn) -> list[Finding]:
        rows = conn.execute(
            "WITH recent AS (SELECT band_id, t, rr_ms,"
            "   max(t) OVER (PARTITION BY band_id) AS last_t FROM hr"
            "   WHERE received_at > now() - interval '1 hour' AND cardinality(rr_ms) > 0)"
            " SELECT band_id, date_trunc('minute', t) AS minute, array_agg(rr ORDER BY t)"
            " FROM recent, unnest(rr_ms) AS rr"
            " WHERE t > last_t - make_interval(mins => %s) GROUP BY band_id, minute",
            (self.s.irregular_rhythm_min,),
        ).fetchall()
        by_band: dict[str, list[np.ndarray]] = {}
        for band_id, _minute, rr in rows:
            by_band.setdefault(band_id, []).append(np.asarray(rr, dtype=float))
        return [
            Finding(b, "irregular_rhythm", {"minutes": len(chunks)})
            for b, chunks in by_band.items()
            if persistently_irregular(chunks)
        ]

    def _sedentary(self, epochs: dict[str, list[tuple]], zones: dict[str, str]) -> list[Finding]:
        first, last = self.s.waking_hours
        n = self.s.sedentary_min
        out = []
        for band_id, t, _hr, steps, worn in self._last(epochs, n):
            if band_id not in zones:
                continue  # reminder turned off
            # the last epoch's band time, in the wearer's waking hours (their local time)
            local = t[-1].astimezone(ZoneInfo(zones[band_id]))
            if sum(steps) == 0 and all(worn) and first <= local.hour < last:
                out.append(Finding(band_id, "sedentary", {"minutes": n}))
        return out

    # --- opening an alert --------------------------------------------------------

    def _open_alert(self, conn, f: Finding, notify_contacts: bool = True) -> bool:
        window = self.s.sedentary_min * 60 if f.kind == "sedentary" else self.s.alert_rate_limit_s
        opened = store.open_rule_alert(
            conn, f.band_id, f.kind, f.details,
            rate_window_s=window, notify_contacts=notify_contacts,
        )  # fmt: skip
        if opened is None:
            return False
        log.warning("%s alert for %s: %s", f.kind, f.band_id, f.details)
        return True


class MonitorService:
    """Runs the rules every ``monitor_interval_s`` in a thread of its own; the sedentary
    reminder goes to the band over MQTT (through its gateway)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics(settings.mqtt_topic_prefix)
        # a process of its own on the broker: several ingest hosts never take over its session
        self._client = mqtt_client(settings.mqtt_url, f"bandhub-monitor-{uuid.uuid4().hex[:12]}")
        self._client.on_connect = lambda *_a: self.connected.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="alert-monitor", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        host, port = broker_address(self.settings.mqtt_url)
        self._client.connect_async(host, port, keepalive=30)
        self._client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self._client.disconnect()
        self._client.loop_stop()

    def send_move(self, band_id: str) -> None:
        request = commands.move_reminder(band_id)
        self._client.publish(self.topics.command(band_id), request.model_dump_json(), qos=1)

    def _loop(self) -> None:
        monitor = HealthMonitor(self.settings, send_move=self.send_move)
        next_retention = next_compaction = 0.0
        while not self._stop.wait(self.settings.monitor_interval_s):
            try:
                with psycopg.connect(self.settings.database_url) as conn:
                    monitor.check(conn)
                    if time.monotonic() >= next_retention:  # the retention job rides along
                        retention.enforce(conn, self.settings)
                        next_retention = time.monotonic() + self.settings.retention_interval_s
                    if time.monotonic() >= next_compaction:  # and heart rate's compaction
                        with psycopg.connect(self.settings.database_url, autocommit=True) as c:
                            compaction.compact(c, self.settings)  # its own transactions
                        next_compaction = time.monotonic() + self.settings.hr_compact_interval_s
            except psycopg.Error as exc:
                log.warning("alert rules skipped this round: %s", exc)
