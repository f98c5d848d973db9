"""What every ``bandhub`` subcommand shares: a clean stop on a signal, one way to fail,
and a database connection for the commands that work on the server's data."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import NoReturn

import typer


def run_until_signal(main) -> None:
    """Run ``main(stop_event)`` until it returns or SIGINT/SIGTERM sets the event."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: the command line or the setup is wrong."""
    typer.echo(f"bandhub: {message}", err=True)
    raise typer.Exit(2)


async def with_db(work):
    """``await work(conn)`` on a connection to BANDHUB_DATABASE_URL (dict rows); an
    ``ApiError`` the shared code raises becomes the command's one-line failure."""
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row

    from api.errors import ApiError
    from bandhub.settings import get_settings

    settings = get_settings()
    if not settings.database_url:
        fail("BANDHUB_DATABASE_URL is not set")
    async with await AsyncConnection.connect(settings.database_url, row_factory=dict_row) as conn:
        try:
            return await work(conn)
        except ApiError as exc:
            fail(exc.message)
