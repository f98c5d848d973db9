"""Where a gateway process finds its broker login.

``bandhub gateway register`` writes it to ``<data_dir>/gateway-<id>.credentials.json``
(mode 0600); the gateway uses it unless ``BANDHUB_MQTT_URL`` carries a login itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse


def with_login(broker_url: str, username: str, password: str) -> str:
    """``broker_url`` with this login in it, replacing any it had."""
    u = urlparse(broker_url)
    host = u.netloc.rsplit("@", 1)[-1]
    login = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return urlunparse(u._replace(netloc=f"{login}@{host}"))


def credentials_file(data_dir: Path, gateway_id: str) -> Path:
    return data_dir / f"gateway-{gateway_id}.credentials.json"


def save(data_dir: Path, gateway_id: str, username: str, password: str) -> Path:
    """Write the login readable by this user only (the password is not kept elsewhere)."""
    path = credentials_file(data_dir, gateway_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"gateway_id": gateway_id, "username": username, "password": password}, f)
    os.chmod(path, 0o600)
    return path


def gateway_broker_url(broker_url: str, data_dir: Path, gateway_id: str) -> str:
    """The URL the gateway connects with: ``broker_url`` as given when it has a login,
    else with the login from the credentials file when there is one."""
    path = credentials_file(data_dir, gateway_id)
    if urlparse(broker_url).username or not path.exists():
        return broker_url
    login = json.loads(path.read_text())
    return with_login(broker_url, login["username"], login["password"])
