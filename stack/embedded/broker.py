"""An MQTT broker of our own: ``mosquitto`` when on PATH, else the pure-Python amqtt.

Mosquitto gets the project's config: persistence (so a restart keeps persistent
sessions and their queued QoS 1 messages), a queue limit of a million messages per
client (its default of 1000 drops QoS 1 bursts; "0", unlimited, makes 2.0.11 drop the
connection of any client whose QoS 1 publish an ACL refuses, because its quota check
``out_packet_count >= max_queued_messages`` is then always true), and ``user root``
when we are root (it refuses to drop privileges to a user that does not exist
otherwise). With its dynamic-security plugin (the default
when the plugin is installed) nobody connects anonymously: bandhub's services get
logins of their own, generated on first start and kept in ``service-logins.json``
(mode 0600) next to the plugin's state, and gateways get theirs when registered
(bandhub.principals). amqtt has nothing like it: the fallback enforces no logins and
no ACLs, and says so in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from bandhub.contracts.messages import Topics
from bandhub.principals import broker_acl
from bandhub.principals.credentials import with_login
from stack.ports import free_port, port_taken

log = logging.getLogger(__name__)

DYNSEC_PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)


def dynsec_plugin() -> str | None:
    return next((p for p in DYNSEC_PLUGIN_PATHS if Path(p).exists()), None)


class EmbeddedBroker:
    """``start()``/``stop()``/``restart()`` on one fixed port; ``url`` for clients."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        *,
        topic_prefix: str = "bandhub/v1",
        acls: bool = True,
        kind: str | None = None,
    ) -> None:
        """``kind``: "mosquitto" or "amqtt"; by default mosquitto when it is on PATH."""
        self.data_dir = data_dir
        self.port = port or free_port()
        self.topics = Topics(topic_prefix)
        self._proc: subprocess.Popen | None = None
        self._amqtt = None
        self.kind = kind or ("mosquitto" if shutil.which("mosquitto") else "amqtt")
        plugin = dynsec_plugin() if acls and self.kind == "mosquitto" else None
        self._plugin = plugin
        self._logins: dict[str, str] = {}

    @property
    def enforces_acls(self) -> bool:
        """True when logins and ACLs are enforced (mosquitto with dynamic security)."""
        return self._plugin is not None

    @property
    def anonymous_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """The URL of one of bandhub's service logins (broker_acl.SERVICE_USERS); without
        dynamic security every login is anonymous."""
        if not self.enforces_acls:
            return self.anonymous_url
        return with_login(self.anonymous_url, user, self._service_logins()[user])

    @property
    def url(self) -> str:
        """The operator login: every bandhub topic (tools, tests); never a device's."""
        return self.url_for(broker_acl.OPERATOR)

    @property
    def admin_url(self) -> str:
        return self.url_for(broker_acl.ADMIN)

    def _service_logins(self) -> dict[str, str]:
        """Service passwords, generated once and kept with the plugin's state."""
        if not self._logins:
            path = self.data_dir / "service-logins.json"
            if path.exists():
                self._logins = json.loads(path.read_text())
            else:
                self._logins = {u: broker_acl.new_password() for u in broker_acl.SERVICE_USERS}
                self.data_dir.mkdir(parents=True, exist_ok=True)
                path.touch(mode=0o600)
                path.write_text(json.dumps(self._logins))
        return self._logins

    def _dynsec_lines(self) -> list[str]:
        if self._plugin is None:
            return ["allow_anonymous true"]
        state = self.data_dir / "dynamic-security.json"
        if not state.exists():  # the plugin keeps it up to date from then on
            config = broker_acl.initial_config(self.topics, self._service_logins())
            state.touch(mode=0o600)
            state.write_text(json.dumps(config, indent=1))
        return [
            "allow_anonymous false",
            f"plugin {self._plugin}",
            f"plugin_opt_config_file {state}",
        ]

    def _mosquitto_conf(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            *self._dynsec_lines(),
            "persistence true",
            f"persistence_location {self.data_dir}/",
            "autosave_interval 1",
            "max_queued_messages 1000000",
            "max_inflight_messages 0",
            f"log_dest file {self.data_dir / 'mosquitto.log'}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n")
        return conf

    async def start(self) -> None:
        if not self.enforces_acls:
            log.warning(
                "%s broker without dynamic security: anonymous clients, no per-gateway"
                " logins and no ACLs are enforced (ingest still checks bindings)",
                self.kind,
            )
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
        log.info("%s broker on %s", self.kind, self.anonymous_url)
        if self.enforces_acls:
            await asyncio.to_thread(self._add_missing_logins)

    def _add_missing_logins(self) -> None:
        """A data dir from before a service existed (e.g. bandhub-ha): the plugin keeps
        the logins it started with, so the new service's login and role are added now."""
        logins = self._service_logins()
        missing = [user for user in broker_acl.SERVICE_USERS if user not in logins]
        if not missing:
            return
        from bandhub.principals.dynsec import BrokerAdmin

        roles = broker_acl.service_acls(self.topics)
        added = {user: broker_acl.new_password() for user in missing}
        with BrokerAdmin(self.admin_url, self.topics) as admin:
            for user, password in added.items():
                admin.run(
                    {"command": "createRole", "rolename": user, "acls": roles[user]},
                    {"command": "createClient", "username": user, "password": password,
                     "roles": [{"rolename": user}]},
                )  # fmt: skip
        logins.update(added)
        (self.data_dir / "service-logins.json").write_text(json.dumps(logins))
        log.info("added broker logins %s", ", ".join(missing))

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
