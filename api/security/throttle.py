"""Fixed-window counters in PostgreSQL, so every API replica sees the same counts:
failed logins per address and per client, and calls of expensive routes per account."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection

from api.db import fetch_one
from api.deps import DbConn, SettingsDep
from api.errors import ApiError
from api.security.access import Principal
from api.security.policy import current_principal


def too_many(retry_after_s: float, what: str) -> ApiError:
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(
        429,
        "too_many_requests",
        f"too many {what}: try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


async def count(conn: AsyncConnection, key: str, window_s: int) -> tuple[int, float]:
    """Add one to ``key``'s current window; returns the count and the seconds left."""
    row = await fetch_one(
        conn,
        "INSERT INTO rate_counters AS r (key, window_start, count) VALUES"
        " (%(k)s, to_timestamp(floor(extract(epoch FROM now()) / %(w)s) * %(w)s), 1)"
        " ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1"
        " RETURNING count,"
        " extract(epoch FROM window_start + make_interval(secs => %(w)s) - now()) AS left_s",
        {"k": key, "w": window_s},
    )
    if row["count"] == 1:  # a new window: forget this key's old ones
        await conn.execute(
            "DELETE FROM rate_counters WHERE key = %s AND window_start < now() - interval '1 day'",
            (key,),
        )
    return row["count"], float(row["left_s"])


async def limit(conn: AsyncConnection, key: str, window_s: int, most: int, what: str) -> None:
    """Count one more for ``key``; past ``most`` in the window, 429. The count is
    committed first, so refused attempts count too."""
    n, left = await count(conn, key, window_s)
    if n > most:
        await conn.commit()
        raise too_many(left, what)


async def current(conn: AsyncConnection, key: str, window_s: int) -> tuple[int, float]:
    """The count in ``key``'s current window without adding to it."""
    row = await fetch_one(
        conn,
        "SELECT count, extract(epoch FROM window_start + make_interval(secs => %(w)s) - now())"
        " AS left_s FROM rate_counters WHERE key = %(k)s AND window_start ="
        " to_timestamp(floor(extract(epoch FROM now()) / %(w)s) * %(w)s)",
        {"k": key, "w": window_s},
    )
    return (row["count"], float(row["left_s"])) if row else (0, float(window_s))


async def expensive(
    request: Request,
    conn: DbConn,
    settings: SettingsDep,
    who: Annotated[Principal | None, Depends(current_principal)],
) -> None:
    """A budget per account (or client address) for routes that read a lot of data."""
    caller = f"a{who.account_id}" if who else f"ip{request.client.host if request.client else ''}"
    await limit(
        conn, f"expensive:{caller}", 60, settings.api_expensive_per_min, "data requests this minute"
    )


Expensive = Depends(expensive)
