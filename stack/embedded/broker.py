"""An MQTT broker of our own: ``mosquitto`` when on PATH, else the pure-Python amqtt.

Mosquitto gets the project's config: persistence (so a restart keeps persistent
sessions and their queued QoS 1 messages), no queue limit (its default drops QoS 1
bursts), and ``user root`` when we are root (it refuses to drop privileges to a
user that does not exist otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from stack.ports import free_port, port_taken

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """``start()``/``stop()``/``restart()`` on one fixed port; ``url`` for clients."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self._proc: subprocess.Popen | None = None
        self._amqtt = None
        self.kind = "mosquitto" if shutil.which("mosquitto") else "amqtt"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _mosquitto_conf(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            "max_inflight_messages 0",
            f"log_dest file {self.data_dir / 'mosquitto.log'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n")
        return conf

    async def start(self) -> None:
        if self.kind == "mosquitto":
            self._proc = subprocess.Popen(
                ["mosquitto", "-c", str(self._mosquitto_conf())],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        else:
            await self._start_amqtt()
        deadline = time.monotonic() + 15
        while not port_taken(self.port):
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {err}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker did not listen on port {self.port}")
            await asyncio.sleep(0.05)
        log.info("%s broker on %s", self.kind, self.url)

    async def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._amqtt = Broker(config)
        await self._amqtt.start()

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                await asyncio.to_thread(self._proc.wait, 10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
        if self._amqtt is not None:
            with contextlib.suppress(Exception):
                await self._amqtt.shutdown()
            self._amqtt = None

    async def restart(self, down_for_s: float = 0.0) -> None:
        await self.stop()
        await asyncio.sleep(down_for_s)
        await self.start()
