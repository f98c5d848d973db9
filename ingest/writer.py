"""Write validated records in one transaction: COPY into staging, then insert-if-new.

Falls that are new are confirmed on their raw window in the same transaction, and a
confirmed fall opens an alert with one outgoing delivery per contact (the outbox),
so an alert is never stored without its deliveries or the other way round.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter, defaultdict
from dataclasses import replace
from typing import TypeVar

import msgspec
import psycopg

from alerts import store as alert_store
from bandhub.contracts.messages import BandStatus, GatewayStatus, Stream
from bandhub.principals import store
from ingest import fall_check, hr_copy, pg_binary, rollups
from ingest.hr_copy import HrChunk
from ingest.validate import HrRow, Parsed, Rejection, hr_record

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


def hr_chunk(parsed: Parsed) -> HrChunk:
    """A message's heart rate, encoded (the parser thread does it ahead of the writer:
    ``Parsed.encoded``)."""
    if parsed.encoded is not None:
        return parsed.encoded
    records = [hr_record(r) for r in parsed.records]
    return hr_copy.encode(parsed.band_id, records, parsed.received_at)


def _generic_row(stream: Stream):
    cols = _COLUMNS[stream][1]

    def row(band_id: str, rec, received: dt.datetime) -> tuple:
        return (band_id, rec.seq, _ts(rec.t), *(getattr(rec, c) for c in cols), received)

    return row


# streams written straight into their table when nothing in the batch is a repeat;
# falls and button presses come twice by design (urgent copy, then the log) and act on
# what is new, so they always go through staging
_DIRECT = {Stream.HR, Stream.EPOCH, Stream.BATTERY}
_STAGED_AFTER_A_REPEAT = 20  # batches
_SAVEPOINT = "SAVEPOINT direct_copy"  # before a COPY straight into a keyed table
_CLOCK_MARGIN_S = 600.0  # between this host's clock and the database's (compaction's)
_NOT_IN_BLOCKS = (
    "DELETE FROM stage_hr s USING hr_blocks b WHERE b.band_id = s.band_id"
    " AND b.t0 = date_bin('1 hour', s.t, TIMESTAMPTZ '2000-01-01 00:00+00')"
    " AND EXISTS (SELECT 1 FROM hr_unpack(b) u WHERE u.t = s.t AND u.seq = s.seq)"
)


_CopyData = list[tuple] | bytes  # rows, or heart rate's encoded binary COPY stream


def _copy(cur: psycopg.Cursor, table: str, col_list: str, data: _CopyData) -> None:
    if isinstance(data, bytes):  # a whole binary COPY stream (ingest.hr_copy)
        with cur.copy(f"COPY {table} ({col_list}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        return
    with cur.copy(f"COPY {table} ({col_list}) FROM STDIN") as copy:
        for row in data:
            copy.write_row(row)


def _from_pg_micros(micros: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(pg_binary.PG_EPOCH, dt.UTC) + dt.timedelta(microseconds=micros)


def _unknown(
    rows: dict[Stream, list[tuple]], hr: list[tuple[Parsed, HrChunk]], known: set[str]
) -> list[tuple[str, Rejection]]:
    """Take the records of bands that are not registered out of ``rows`` and ``hr``
    (in place); one dead letter each."""
    out = []
    for stream, stream_rows in rows.items():
        out += [
            ("", Rejection(f"unknown band {r[0]!r} (seq {r[1]})", repr(r[:3]).encode(), r[0],
                           stream.value))
            for r in stream_rows if r[0] not in known
        ]  # fmt: skip
        rows[stream] = [r for r in stream_rows if r[0] in known]
    for parsed, _chunk in hr:
        if parsed.band_id not in known:
            out += [
                ("", Rejection(f"unknown band {parsed.band_id!r} (seq {_seq(r)})",
                               _record_json(r), parsed.band_id, Stream.HR.value))
                for r in parsed.records
            ]  # fmt: skip
    hr[:] = [(p, c) for p, c in hr if p.band_id in known]
    return out


def _seq(rec) -> int:
    return rec["seq"] if isinstance(rec, dict) else rec.seq


def _record_json(rec) -> bytes:
    if isinstance(rec, HrRow):  # heart rate, as validation leaves it
        return msgspec.json.encode(rec)
    if isinstance(rec, dict):
        return json.dumps(rec, separators=(",", ":")).encode()
    return rec.model_dump_json().encode()


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
        compact_after_s: float = 7200.0,
    ):
        self.conn = conn
        # heart rate this much older than now may already sit in hr_blocks (compacted):
        # such rows are checked against the blocks, never copied straight in
        self._compacted_margin = dt.timedelta(seconds=max(compact_after_s - _CLOCK_MARGIN_S, 0))
        self.check_bindings = check_bindings  # records only from gateways bound to the band
        self.refused = 0  # records the last write dead-lettered for that
        self.auto_register = auto_register
        self.countdown_s = countdown_s  # the default; a wearer's own setting wins
        self.escalation_s = escalation_s
        self.repeat_s = repeat_s
        # the fall alerts the last write opened (their countdowns go to the bands)
        self.opened_alerts: list[alert_store.OpenedAlert] = []
        self._batches = 0
        self._staged_until: dict[Stream, int] = {}
        self._savepoint = False  # one was sent ahead for the next direct COPY
        pg_binary.register(conn)
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
                    f" {p.band_id!r} (seq {_seq(r)})",
                    _record_json(r),
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
        hr: list[tuple[Parsed, HrChunk]] = []  # heart rate, encoded (nearly every record)
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
            if parsed.stream == Stream.HR:
                hr.append((parsed, hr_chunk(parsed)))
                continue
            received = _ts(parsed.received_at)
            row = _generic_row(parsed.stream)
            rows[parsed.stream] += [row(parsed.band_id, rec, received) for rec in parsed.records]
        inserted: dict[str, int] = {}
        self.opened_alerts = []
        self._batches += 1
        streams = sorted(set(rows) | ({Stream.HR} if hr else set()))  # one lock order for all
        # what can be asked before the first COPY goes in one round trip
        with self.conn.pipeline():
            found = self._known_bands(bands)
            if bands:
                rollups.lock_bands(self.conn, sorted(bands))
            compacted = self._may_be_compacted([c for _p, c in hr])
            self._savepoint = bool(streams) and self._may_copy_direct(streams[0])
            if self._savepoint:
                self.conn.execute(_SAVEPOINT)
        known = found if isinstance(found, set) else {r[0] for r in found.fetchall()}
        old_hr = compacted is not None and compacted.fetchone()[0]
        rejections += _unknown(rows, hr, known)
        added: Counter[str] = Counter()  # new records per band, all streams
        direct: list[tuple[Stream, list[tuple]]] = []  # copied straight in: all new
        direct_hr: list[HrChunk] = []
        for stream in streams:  # a savepoint sent ahead waits for the first one copied
            if stream == Stream.HR:
                chunks = [c for _p, c in hr]
                if not chunks:  # all of unknown bands
                    continue
                new = self._copy_insert(stream, hr_copy.payload(chunks), old_hr)
                if new is None:
                    direct_hr = chunks
                    for c in chunks:
                        added[c.band_id] += c.n
                    inserted[stream.value] = sum(c.n for c in chunks)
                    continue
            else:
                if not rows[stream]:
                    continue
                new = self._copy_insert(stream, rows[stream])
                if new is None:
                    direct.append((stream, rows[stream]))
                    new = [r[:3] for r in rows[stream]]
            inserted[stream.value] = len(new)
            added.update(band_id for band_id, _seq, _t in new)
        self._finish(rejections, known, via, added, direct, direct_hr)
        return inserted

    def _finish(
        self,
        rejections: list[tuple[str, Rejection]],
        known: set[str],
        via: dict[str, str],
        added: Counter[str],
        direct: list[tuple[Stream, list[tuple]]],
        direct_hr: list[HrChunk],
    ) -> None:
        """Rollups of what was copied straight in, the bands' counts and last seen, dead
        letters: all in one pipeline."""
        with self.conn.pipeline():
            if direct_hr:
                rollups.add_hr_minutes(self.conn, hr_copy.merged_minutes(direct_hr))
            for stream, stream_rows in direct:
                rollups.add_inserted(self.conn, stream, stream_rows)
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

    def _known_bands(self, bands: set[str]) -> set[str] | psycopg.Cursor:
        """The registered bands among ``bands``, or the cursor that will have them (in
        a pipeline)."""
        if not bands:
            return set()
        if self.auto_register:
            self.conn.execute(
                "INSERT INTO bands (band_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (sorted(bands),),
            )
            return bands
        return self.conn.execute(
            "SELECT band_id FROM bands WHERE band_id = ANY(%s)", (sorted(bands),)
        )

    def _may_copy_direct(self, stream: Stream) -> bool:
        return stream in _DIRECT and self._batches >= self._staged_until.get(stream, 0)

    def _copy_direct(self, stream: Stream, table: str, col_list: str, data: _CopyData) -> bool:
        """COPY straight into the keyed table, when none of the rows is there yet (the
        usual case): one write instead of two. A re-sent record makes the COPY fail on
        the key; then it is undone (a savepoint) and this stream takes the staging path
        for a while, as re-sends come in runs."""
        savepoint, self._savepoint = self._savepoint, False  # sent ahead, or not
        if not self._may_copy_direct(stream):
            return False
        if not savepoint:
            self.conn.execute(_SAVEPOINT)
        try:
            with self.conn.cursor() as cur:
                _copy(cur, table, col_list, data)
            return True  # the savepoint goes with the commit: no round trip to release it
        except psycopg.errors.UniqueViolation:
            self.conn.execute(f"ROLLBACK TO {_SAVEPOINT}")
            self._staged_until[stream] = self._batches + _STAGED_AFTER_A_REPEAT
            return False

    def _copy_insert(
        self, stream: Stream, data: _CopyData, old: bool = False
    ) -> list[tuple] | None:
        """Store what is new: None when every row was copied straight in (the caller
        adds them to the rollups), else the new rows' (band_id, seq, t), inserted from
        staging with their rollups. ``old``: heart rate that may be compacted already."""
        table, cols = _COLUMNS[stream]
        col_list = ", ".join(("band_id", "seq", "t", *cols, "received_at"))
        if old:
            self._savepoint = False  # one sent ahead must not cover what follows
        elif self._copy_direct(stream, table, col_list, data):
            return None
        with self.conn.cursor() as cur:
            _copy(cur, f"stage_{table}", col_list, data)
            if old:  # a re-sent record may have been compacted: it is not new either
                cur.execute(_NOT_IN_BLOCKS)
            cur.execute(rollups.insert_sql(stream, table, col_list))
            new = cur.fetchall()
        if stream == Stream.FALL and new:
            self._confirm_falls(new)
        if stream == Stream.BUTTON and new:
            self._wearer_pressed(new)
        return new

    def _may_be_compacted(self, chunks: list[HrChunk]) -> psycopg.Cursor | None:
        """Whether some of this heart rate may be in hr_blocks already (a cursor that
        will say, in a pipeline; None for no): only records older than the compaction
        job's horizon (it moves hours that ended ``compact_after_s`` ago), and only if
        their bands have blocks in that span (a backlog usually lands where nothing was
        compacted). The per-band lock this transaction holds keeps the job from running
        until it commits."""
        horizon = pg_binary.pg_micros(
            (dt.datetime.now(dt.UTC) - self._compacted_margin).timestamp()
        )
        old = [c for c in chunks if c.t_min < horizon]
        if not old:
            return None
        return self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM hr_blocks WHERE band_id = ANY(%s)"
            " AND t0 > %s::timestamptz - interval '1 hour' AND t0 <= %s)",
            (
                sorted({c.band_id for c in old}),
                _from_pg_micros(min(c.t_min for c in old)),
                _from_pg_micros(max(c.t_max for c in old)),
            ),
        )

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
