"""Write validated records in one transaction: COPY into staging, then insert-if-new.

Falls that are new are confirmed on their raw window in the same transaction, and a
confirmed fall opens an alert with one outgoing delivery per contact (the outbox),
so an alert is never stored without its deliveries or the other way round.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import replace
from typing import TypeVar

import psycopg

from alerts import store as alert_store
from bandhub.contracts.messages import BandStatus, GatewayStatus, Stream
from bandhub.principals import store
from ingest import fall_check
from ingest.validate import Parsed, Rejection

log = logging.getLogger(__name__)

_COLUMNS: dict[Stream, tuple[str, tuple[str, ...]]] = {
    Stream.HR: ("hr", ("bpm", "rr_ms", "contact")),
    Stream.EPOCH: ("epochs", ("steps", "activity_count", "enmo_mg", "hr_mean", "worn")),
    Stream.FALL: ("falls", ("fs_hz", "pre_samples", "ax_g", "ay_g", "az_g")),
    Stream.BUTTON: ("buttons", ("press",)),
    Stream.BATTERY: ("battery", ("level",)),
}
T = TypeVar("T", GatewayStatus, BandStatus)


def _ts(unix: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix, dt.UTC)


class RecordWriter:
    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        auto_register: bool,
        countdown_s: float,
        escalation_s: float = 60.0,
        repeat_s: float = 300.0,
        check_bindings: bool = False,
    ):
        self.conn = conn
        self.check_bindings = check_bindings  # records only from gateways bound to the band
        self.refused = 0  # records the last write dead-lettered for that
        self.auto_register = auto_register
        self.countdown_s = countdown_s  # the default; a wearer's own setting wins
        self.escalation_s = escalation_s
        self.repeat_s = repeat_s
        # the fall alerts the last write opened (their countdowns go to the bands)
        self.opened_alerts: list[alert_store.OpenedAlert] = []
        with conn.transaction():
            for table, _cols in _COLUMNS.values():
                conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} "
                    f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )

    def write(self, items: list[tuple[str, Parsed]]) -> dict[str, int]:
        """Store one batch of parsed messages in one transaction; returns rows inserted."""
        self.refused = 0
        with self.conn.transaction():
            if self.check_bindings:
                items = self._refuse_unbound(items)
            return self._write(items)

    def _refuse_unbound(self, items: list[tuple[str, Parsed]]) -> list[tuple[str, Parsed]]:
        """The broker lets a gateway publish only for its bands; this checks it again,
        against the records' own ``gateway_id``, for whatever reached ingest another way
        (a mis-configured broker, a service or admin login)."""
        pairs = {(p.gateway_id or "", p.band_id) for _t, p in items if p.records and p.band_id}
        allowed = store.bound_pairs(self.conn, pairs)
        out = []
        for topic, p in items:
            if not p.records or (p.gateway_id or "", p.band_id) in allowed:
                out.append((topic, p))
                continue
            refused = [
                Rejection(
                    f"gateway_not_bound: gateway {p.gateway_id!r} may not publish for band"
                    f" {p.band_id!r} (seq {r.seq})",
                    r.model_dump_json().encode(),
                    p.band_id,
                    p.stream.value if p.stream else None,
                )
                for r in p.records
            ]
            self.refused += len(refused)
            out.append((topic, replace(p, records=[], rejections=[*p.rejections, *refused])))
        return out

    def _write(self, items: list[tuple[str, Parsed]]) -> dict[str, int]:
        rows: dict[Stream, list[tuple]] = defaultdict(list)
        rejections: list[tuple[str, Rejection]] = []
        bands: set[str] = set()
        via: dict[str, str] = {}  # band -> the gateway that brought its latest records
        for topic, parsed in items:
            rejections += [(topic, r) for r in parsed.rejections]
            if parsed.stream is None or not parsed.records:
                continue
            bands.add(parsed.band_id)
            if parsed.gateway_id:
                via[parsed.band_id] = parsed.gateway_id
            cols = _COLUMNS[parsed.stream][1]
            received = _ts(parsed.received_at)
            for rec in parsed.records:
                rows[parsed.stream].append(
                    (
                        parsed.band_id,
                        rec.seq,
                        _ts(rec.t),
                        *(getattr(rec, c) for c in cols),
                        received,
                    )
                )
        inserted: dict[str, int] = {}
        self.opened_alerts = []
        with self.conn.transaction():
            known = self._known_bands(bands)
            for stream in list(rows):
                keep = [r for r in rows[stream] if r[0] in known]
                for r in rows[stream]:
                    if r[0] not in known:
                        rejections.append(
                            (
                                "",
                                Rejection(
                                    f"unknown band {r[0]!r} (seq {r[1]})",
                                    repr(r[:3]).encode(),
                                    r[0],
                                    stream.value,
                                ),
                            )
                        )
                rows[stream] = keep
            added: Counter[str] = Counter()  # new records per band, all streams
            for stream, stream_rows in rows.items():
                if stream_rows:
                    new = self._copy_insert(stream, stream_rows)
                    inserted[stream.value] = len(new)
                    added.update(band_id for band_id, _seq, _t in new)
            if added:
                bands_added = sorted(added)
                self.conn.execute(
                    "UPDATE bands b SET records = b.records + a.n"
                    " FROM unnest(%s::text[], %s::bigint[]) AS a(band_id, n)"
                    " WHERE b.band_id = a.band_id",
                    (bands_added, [added[b] for b in bands_added]),
                )
            if known:
                known_via = sorted((b, g) for b, g in via.items() if b in known)
                self.conn.execute(
                    "UPDATE bands b SET last_seen = now(), last_gateway_id ="
                    " COALESCE(v.gw, b.last_gateway_id) FROM unnest(%s::text[]) AS k(band_id)"
                    " LEFT JOIN unnest(%s::text[], %s::text[]) AS v(band_id, gw)"
                    " ON v.band_id = k.band_id WHERE b.band_id = k.band_id",
                    (sorted(known), [b for b, _ in known_via], [g for _, g in known_via]),
                )
            self._dead_letters(rejections)
        return inserted

    def _status(self, model: type[T], payload: bytes, what: str, owner: str | None) -> T | None:
        """A retained status message, or None after dead-lettering it with the reason.
        ``owner`` is the gateway or band id of its topic (the one the broker let the
        publisher write): a payload naming another is refused, not stored under it."""
        try:
            status = model.model_validate_json(payload)
        except ValueError as exc:
            reason = f"invalid {what}: {exc}"
        else:
            named = status.gateway_id if isinstance(status, GatewayStatus) else status.band_id
            if owner is None or named == owner:
                return status
            reason = f"{what} on the topic of {owner!r} is about {named!r}"
        self._dead_letters([("", Rejection(reason, payload))])
        self.conn.commit()
        return None

    def gateway_status(self, payload: bytes, gateway_id: str | None = None) -> None:
        """Keep the latest retained status of each gateway (its location goes into alerts)."""
        if (status := self._status(GatewayStatus, payload, "gateway status", gateway_id)) is None:
            return
        location = status.location.model_dump_json() if status.location else None
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO gateways (gateway_id, state, location) VALUES (%s, %s, %s)"
                " ON CONFLICT (gateway_id) DO UPDATE SET state = EXCLUDED.state,"
                " location = COALESCE(EXCLUDED.location, gateways.location), updated_at = now()",
                (status.gateway_id, status.state, location),
            )

    def band_status(self, payload: bytes, band_id: str | None = None) -> None:
        """Keep the latest per-band diagnostics a gateway published (for support)."""
        if (status := self._status(BandStatus, payload, "band status", band_id)) is None:
            return
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO band_status (band_id, gateway_id, status) VALUES (%s, %s, %s)"
                " ON CONFLICT (band_id) DO UPDATE SET gateway_id = EXCLUDED.gateway_id,"
                " status = EXCLUDED.status, updated_at = now()",
                (status.band_id, status.gateway_id, status.model_dump_json()),
            )

    def _known_bands(self, bands: set[str]) -> set[str]:
        if not bands:
            return set()
        if self.auto_register:
            self.conn.execute(
                "INSERT INTO bands (band_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (sorted(bands),),
            )
            return bands
        found = self.conn.execute(
            "SELECT band_id FROM bands WHERE band_id = ANY(%s)", (sorted(bands),)
        ).fetchall()
        return {r[0] for r in found}

    def _copy_insert(self, stream: Stream, rows: list[tuple]) -> list[tuple]:
        """COPY into staging, keep what is new; returns its (band_id, seq, t)."""
        table, cols = _COLUMNS[stream]
        all_cols = ("band_id", "seq", "t", *cols, "received_at")
        col_list = ", ".join(all_cols)
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY stage_{table} ({col_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM stage_{table} "
                f"ON CONFLICT DO NOTHING RETURNING band_id, seq, t"
            )
            new = cur.fetchall()
        if stream == Stream.FALL and new:
            self._confirm_falls(new)
        if stream == Stream.BUTTON and new:
            self._wearer_pressed(new)
        return new

    def _wearer_pressed(self, keys: list[tuple]) -> None:
        """ "I'm OK" before the countdown ends cancels the band's pending fall alerts;
        "help" (a long press) alerts the contacts at once."""
        for band_id, seq, t in keys:
            press = self.conn.execute(
                "SELECT press FROM buttons WHERE band_id = %s AND seq = %s", (band_id, seq)
            ).fetchone()[0]
            if press == "im_ok":
                alert_store.cancel_by_wearer(self.conn, band_id)
            elif press == "help":
                opened = alert_store.open_sos(
                    self.conn, band_id, seq, t,
                    escalation_s=self.escalation_s, repeat_s=self.repeat_s,
                )  # fmt: skip
                if opened is not None:
                    log.warning("SOS from %s at %s: contacts alerted now", band_id, t)

    def _confirm_falls(self, keys: list[tuple]) -> None:
        for band_id, seq, t in keys:
            ax, ay, az, fs, pre = self.conn.execute(
                "SELECT ax_g, ay_g, az_g, fs_hz, pre_samples FROM falls "
                "WHERE band_id = %s AND seq = %s AND t = %s",
                (band_id, seq, t),
            ).fetchone()
            confirmed, confidence = fall_check.confirm(ax, ay, az, fs, pre)
            self.conn.execute(
                "UPDATE falls SET confirmed = %s, confidence = %s "
                "WHERE band_id = %s AND seq = %s AND t = %s",
                (confirmed, confidence, band_id, seq, t),
            )
            log.info(
                "fall on %s at %s: confirmed=%s confidence=%.2f", band_id, t, confirmed, confidence
            )
            if confirmed:
                opened = alert_store.open_fall(
                    self.conn, band_id, seq, t, confidence,
                    countdown_s=self.countdown_s,
                    escalation_s=self.escalation_s,
                    repeat_s=self.repeat_s,
                )  # fmt: skip
                if opened is not None:
                    self.opened_alerts.append(opened)

    def _dead_letters(self, rejections: list[tuple[str, Rejection]]) -> None:
        if not rejections:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dead_letters (topic, band_id, stream, reason, payload)"
                " VALUES (%s, %s, %s, %s, %s)",
                [(topic, r.band_id, r.stream, r.reason, r.payload) for topic, r in rejections],
            )
        for topic, r in rejections:
            log.warning("dead letter from %s: %s", topic or r.band_id, r.reason)
