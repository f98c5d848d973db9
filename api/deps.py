"""What routes ask for, as typed dependencies: the settings, a pooled connection, a
band that exists, and the query parameters several routes share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from psycopg import AsyncConnection

from bandhub.contracts.messages import BAND_ID_PATTERN
from bandhub.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection from the app's pool (dict rows). Used with ``scope="function"``: the
    transaction commits before the response leaves, so a client that has its 201 sees
    the new row in its next request."""
    async with request.app.state.pool.connection() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbConn = Annotated[AsyncConnection, Depends(get_db, scope="function")]


MAX_ID = 2**53 - 1  # ids fit a bigint and survive a JSON number (a double) unchanged
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000, description="how many rows at most")]
BandIdFilter = Annotated[str | None, Query(pattern=BAND_ID_PATTERN, description="only this band's")]
