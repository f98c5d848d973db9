"""``bandhub gateway register | bind | list | revoke`` as an operator runs them, in a
child process against the real broker and database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from bandhub.principals import credentials


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stack.cli", "gateway", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_register_bind_list_and_revoke_from_the_command_line(settings, broker, tmp_path):
    env = {
        "BANDHUB_DATABASE_URL": settings.database_url,
        "BANDHUB_MQTT_URL": broker.anonymous_url,
        "BANDHUB_MQTT_ADMIN_URL": broker.admin_url,
        "BANDHUB_DATA_DIR": str(tmp_path),
        "BANDHUB_GATEWAY_ID": "gw-home",
    }
    out = _cli(["register"], env)
    assert out.returncode == 0, out.stderr
    saved = json.loads(credentials.credentials_file(tmp_path, "gw-home").read_text())
    assert saved["username"] == "gateway-gw-home" and saved["password"] not in out.stdout
    assert (
        _cli(["bind", "gw-home", "BH-0001"], env).stdout.strip()
        == "BH-0001 bound to gateway gw-home"
    )
    assert _cli(["list"], env).stdout.split() == [
        "gw-home", "registered", "bands:", "BH-0001"
    ]  # fmt: skip
    assert _cli(["revoke", "gw-home"], env).returncode == 0
    assert "revoked" in _cli(["list"], env).stdout
    refused = _cli(["bind", "gw-home", "BH-0002"], env)
    assert refused.returncode != 0 and "was revoked" in refused.stdout + refused.stderr
    no_admin = _cli(["register", "gw-2"], {**env, "BANDHUB_MQTT_ADMIN_URL": ""})
    assert (
        no_admin.returncode != 0 and "BANDHUB_MQTT_ADMIN_URL" in no_admin.stdout + no_admin.stderr
    )


async def test_a_gateway_registers_with_its_owners_token_and_no_admin_access(
    api, settings, broker, owner, tmp_path
):
    """A phone gateway: no database, no broker-admin login; only the API and a token."""
    env = {
        "BANDHUB_DATABASE_URL": "",
        "BANDHUB_MQTT_URL": broker.anonymous_url,
        "BANDHUB_MQTT_ADMIN_URL": "",
        "BANDHUB_API_PORT": str(settings.api_port),
        "BANDHUB_DATA_DIR": str(tmp_path),
        "BANDHUB_GATEWAY_ID": "gw-phone",
        "BANDHUB_API_TOKEN": owner.token,
    }
    # the API answers from this test's event loop: the CLI runs beside it
    out = await asyncio.to_thread(_cli, ["register"], env)
    assert out.returncode == 0, out.stdout + out.stderr
    saved = json.loads(credentials.credentials_file(tmp_path, "gw-phone").read_text())
    assert saved["username"] == "gateway-gw-phone"
    mine = (await owner.client.get("/gateways")).json()
    assert [g["gateway_id"] for g in mine] == ["gw-phone"]
    refused = await asyncio.to_thread(
        _cli, ["register"], {**env, "BANDHUB_API_TOKEN": "not-a-token"}
    )
    assert refused.returncode != 0 and "refused the registration (401)" in refused.stderr
