"""One consistent, read-only view of a wearer's data for an export, read in chunks so a
year of records never sits in memory at once."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

RECORD_STREAMS = {  # table: columns, in the order of docs/privacy.md
    "hr": "seq, t, bpm, rr_ms, contact, received_at",
    "epochs": "seq, t, steps, activity_count, enmo_mg, hr_mean, worn, received_at",
    "falls": "seq, t, fs_hz, pre_samples, ax_g, ay_g, az_g, confirmed, confidence, received_at",
    "buttons": "seq, t, press, received_at",
    "battery": "seq, t, level, received_at",
}
# where a stream's records are read from, when not its table: heart rate's history is
# partly in compact blocks (migration 025), and the view gives both as rows
SOURCES = {"hr": "hr_all"}
CHUNK = 5000


@asynccontextmanager
async def snapshot(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection inside a REPEATABLE READ, READ ONLY transaction: everything the
    export reads is of one moment, even while ingest writes."""
    async with (
        await AsyncConnection.connect(database_url, row_factory=dict_row) as conn,
        conn.transaction(),
    ):
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield conn


async def chunks(conn: AsyncConnection, sql: str, params: tuple) -> AsyncIterator[list[dict]]:
    """Rows of ``sql`` through a server-side cursor, ``CHUNK`` at a time."""
    async with conn.cursor(name="bandhub_export", row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        while rows := await cur.fetchmany(CHUNK):
            yield rows


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: object) -> str:
    return json.dumps(value, default=_plain, separators=(",", ":"), ensure_ascii=False)
