"""Expose a bumble virtual radio (a ``LocalLink``) to gateways in other processes.

Each gateway that connects over TCP gets a fresh virtual controller on the link,
speaking HCI H4 over the socket (open it with ``bumble:tcp-client:HOST:PORT``).
bumble 0.0.236's controller has no supervision timeout and ignores HCI_Reset, so a
killed gateway would leave bands "connected" forever: when a gateway's socket
closes, its controller terminates every link it held, as a real radio's supervision
timeout would, and leaves the link. The controllers are ``bandhub.bumble_radio``'s,
whose pending connection attempts can be cancelled, and bands share a
``VirtualLink`` (``firmware_sim.runner``), on which a controller that left is silent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from bumble import ll
from bumble.link import LocalLink
from bumble.transport.common import StreamPacketSink, StreamPacketSource

from bandhub.bumble_radio import VirtualController

log = logging.getLogger(__name__)

_REMOTE_USER_TERMINATED = 0x13
_CONNECTION_TIMEOUT = 0x08
_ids = itertools.count(1)


class _GatewayPort(asyncio.Protocol):
    """One gateway's HCI connection: a controller that lives as long as the socket."""

    def __init__(self, link: LocalLink) -> None:
        self.link = link
        self.controller: VirtualController | None = None
        self.source = StreamPacketSource()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        n = next(_ids)
        self.controller = VirtualController(
            f"gw-port-{n}",
            host_source=self.source,
            host_sink=StreamPacketSink(transport),  # type: ignore[arg-type]
            link=self.link,
            public_address=f"C0:00:00:00:{n >> 8:02X}:{n & 0xFF:02X}",
        )
        self.controller.le_acl_data_packet_length = 251
        self.controller.acl_data_packet_length = 251
        log.info("gateway attached to the virtual radio (%s)", self.controller.name)

    def data_received(self, data: bytes) -> None:
        self.source.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        ctl = self.controller
        if ctl is None:
            return
        for connection in list(ctl.le_connections.values()):
            try:
                connection.send_ll_control_pdu(ll.TerminateInd(_CONNECTION_TIMEOUT))
                ctl.on_le_disconnected(connection, _CONNECTION_TIMEOUT)
            except Exception as err:  # the band side may already be gone
                log.debug("terminating %s: %s", connection, err)
        self.link.remove_controller(ctl)
        log.info("gateway detached from the virtual radio (%s)", ctl.name)


class LinkServer:
    def __init__(self, server: asyncio.Server) -> None:
        self._server = server

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def serve_link(link: LocalLink, spec: str) -> LinkServer:
    """Listen on ``tcp-server:HOST:PORT`` and give each gateway a controller on ``link``."""
    if not spec.startswith("tcp-server:"):
        raise ValueError(f"only tcp-server:HOST:PORT is supported, got {spec!r}")
    host, port = spec.removeprefix("tcp-server:").rsplit(":", 1)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _GatewayPort(link), host=None if host == "_" else host, port=int(port)
    )
    return LinkServer(server)
