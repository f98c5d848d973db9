"""Erasing a wearer: every row of every table that names the band goes, in one
transaction; what the law asks to keep (that alerts were raised and delivered) stays
in ``erasures`` without names, addresses or measurements (docs/privacy.md)."""

from __future__ import annotations

import hashlib
import hmac
import json

from psycopg import AsyncConnection, sql
from psycopg.rows import tuple_row

# Deleted last, in this order, after every other table with a band_id column (found in
# the catalogue, so a table added later is erased too).
_LAST = ("alerts", "bands")
_KEEP = ("erasures",)


async def band_tables(conn: AsyncConnection) -> list[str]:
    """Every table of the schema with a ``band_id`` column."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(
        "SELECT c.table_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.column_name = 'band_id' AND c.table_schema = current_schema()"
        " AND t.table_type = 'BASE TABLE' ORDER BY 1"
    )
    return [r[0] for r in await cur.fetchall() if r[0] not in _KEEP]


async def band_hash(conn: AsyncConnection, band_id: str) -> str:
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT value FROM server_keys WHERE name = 'erasure'")
    (key,) = await cur.fetchone()
    return hmac.new(key.encode(), band_id.encode(), hashlib.sha256).hexdigest()


async def erase_band(conn: AsyncConnection, band_id: str, requested: str) -> dict[str, int]:
    """Remove the wearer's band and everything about it; returns rows removed per table."""
    removed: dict[str, int] = {}
    async with conn.transaction():
        await conn.execute("SET LOCAL bandhub.purge = 'on'")
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(
            "SELECT coalesce(jsonb_agg(jsonb_build_object('kind', a.kind, 'opened',"
            " a.created_at, 'delivered', (SELECT count(*) FROM deliveries d"
            "   WHERE d.alert_id = a.id AND d.state = 'delivered')) ORDER BY a.id), '[]')"
            " FROM alerts a WHERE a.band_id = %s",
            (band_id,),
        )
        (alerts,) = await cur.fetchone()
        tables = await band_tables(conn)
        ordered = [t for t in tables if t not in _LAST] + [t for t in _LAST if t in tables]
        for table in ordered:
            result = await conn.execute(
                sql.SQL("DELETE FROM {} WHERE band_id = %s").format(sql.Identifier(table)),
                (band_id,),
            )
            removed[table] = result.rowcount
        await conn.execute(
            "INSERT INTO erasures (band_hash, requested, alerts, rows) VALUES (%s, %s, %s, %s)",
            (await band_hash(conn, band_id), requested, json.dumps(alerts), json.dumps(removed)),
        )
    return removed
