"""Local TCP ports: pick a free one, tell whether one is taken, wait for a server on one.

The embedded broker, the API, the demo's band simulator and the tests all need the
same three things; one place keeps them consistent.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; a race is possible but rare)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_taken(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def wait_port(port: int, timeout: float = 20.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port`` (a child process's server)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"nothing listening on port {port}") from None
            await asyncio.sleep(0.1)


def wait_port_blocking(
    port: int, timeout: float, still_alive: Callable[[], bool] = lambda: True
) -> bool:
    """Blocking form for threads and start-up code: True once the port answers, False on
    timeout or as soon as ``still_alive()`` says the process that should open it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not still_alive():
            return False
        if port_taken(port):
            return True
        time.sleep(0.1)
    return False
