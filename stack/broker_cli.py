"""``bandhub broker init``: the dynamic-security file a production mosquitto starts with.

The plugin needs its JSON file to exist before the broker starts; this writes one with
a login and role per bandhub service (bandhub.principals.broker_acl). From then on the
plugin owns the file: gateways are added and revoked over ``$CONTROL``, so an existing
file is left alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from stack.cli_support import fail as _fail

broker_app = typer.Typer(help="The MQTT broker's logins and ACLs.", no_args_is_help=True)


def _password(env: str):
    return typer.Option(envvar=env, help=f"Password of this login (env {env})")


@broker_app.command("init")
def broker_init(
    path: Annotated[Path, typer.Argument(help="The plugin's file (plugin_opt_config_file)")],
    admin_password: Annotated[str, _password("MQTT_ADMIN_PASSWORD")],
    ingest_password: Annotated[str, _password("MQTT_INGEST_PASSWORD")],
    api_password: Annotated[str, _password("MQTT_API_PASSWORD")],
    monitor_password: Annotated[str, _password("MQTT_MONITOR_PASSWORD")],
    operator_password: Annotated[str, _password("MQTT_OPERATOR_PASSWORD")],
    ha_password: Annotated[str, _password("MQTT_HA_PASSWORD")],
) -> None:
    """Write the initial dynamic-security file (service logins and roles) unless it exists."""
    from bandhub.contracts.messages import Topics
    from bandhub.principals import broker_acl
    from bandhub.settings import get_settings

    if path.exists():
        typer.echo(f"{path} exists: the broker keeps its logins (change them over $CONTROL)")
        return
    passwords = {
        broker_acl.ADMIN: admin_password,
        broker_acl.INGEST: ingest_password,
        broker_acl.API: api_password,
        broker_acl.MONITOR: monitor_password,
        broker_acl.OPERATOR: operator_password,
        broker_acl.HOME_ASSISTANT: ha_password,
    }
    if weak := [user for user, pw in passwords.items() if len(pw) < 12]:
        _fail(f"passwords of {', '.join(weak)} are shorter than 12 characters")
    settings = get_settings()
    config = broker_acl.initial_config(
        Topics(settings.mqtt_topic_prefix), passwords, settings.ha_discovery_prefix
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=1)
    typer.echo(f"wrote {path}: logins {', '.join(broker_acl.SERVICE_USERS)}")
