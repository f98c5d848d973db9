"""What every ``bandhub`` subcommand shares: a clean stop on a signal, one way to fail."""

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
