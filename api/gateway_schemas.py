"""Request and answer bodies of the gateway routes (gateways as principals)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from bandhub.contracts.messages import BAND_ID_PATTERN

GatewayId = Annotated[
    str, Field(pattern=BAND_ID_PATTERN, description="your name for it, e.g. gw-kitchen")
]


class GatewayIn(BaseModel):
    gateway_id: GatewayId


class GatewayLogin(BaseModel):
    """Shown once: bandhub keeps only a hash of the password. The gateway puts them in
    BANDHUB_MQTT_URL (mqtt://USERNAME:PASSWORD@broker:1883) or in its data directory
    (`bandhub gateway register --token`, which does this for you)."""

    gateway_id: str
    mqtt_username: str
    mqtt_password: str
    mqtt_client_id: str = Field(description="the client id the broker expects of it")


class GatewayOut(BaseModel):
    gateway_id: str
    mqtt_username: str
    registered_at: dt.datetime
    state: str | None = Field(description="online / offline, as it last said on the broker")
    last_status_at: dt.datetime | None
    bands: list[str] = Field(description="the bands it may sync (bound to it)")


class GatewayBinding(BaseModel):
    gateway_id: str
    band_id: str
    bound: bool = Field(description="whether the band is bound to the gateway now")
