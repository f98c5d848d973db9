"""Row helpers for the API's dict-row connections: execute and fetch in one call."""

from __future__ import annotations

from psycopg import AsyncConnection


async def fetch_one(conn: AsyncConnection, sql: str, params: tuple | dict = ()) -> dict | None:
    """One row (a dict) of ``sql``, or None."""
    return await (await conn.execute(sql, params)).fetchone()


async def fetch_all(conn: AsyncConnection, sql: str, params: tuple | dict = ()) -> list[dict]:
    return await (await conn.execute(sql, params)).fetchall()
