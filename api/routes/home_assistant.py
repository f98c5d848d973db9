"""The owner's choice to show a band in Home Assistant (MQTT discovery), and whether its
health values (heart rate, steps) go with it. Only the owner decides: it is their data
leaving bandhub for another system. Each choice is a consent row (grantee
``Home Assistant``) and an audit entry; the discovery service reads the choice
(docs/home-assistant.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from api.db import fetch_one
from api.deps import DbConn, SettingsDep
from api.errors import ApiError, error_responses
from api.security.access import Scope
from api.security.policy import BandAccess, OnBand, audit
from bandhub.contracts.home_assistant import HaTopics, entities_for, node_id

router = APIRouter(tags=["home assistant"])
Owner = Annotated[BandAccess, Depends(OnBand(Scope.OWNER))]
GRANTEE = "Home Assistant"


class HomeAssistantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exposed: Annotated[bool, Field(strict=True)] = Field(
        description="show the band in Home Assistant: battery, last sync, worn, fall or SOS,"
        " and a find-my-band button"
    )
    health: Annotated[bool, Field(strict=True)] = Field(
        False, description="also its heart rate and steps today (needs exposed)"
    )


class HaEntity(BaseModel):
    component: str = Field(description="sensor, binary_sensor or button")
    key: str = Field(description="the object id")
    name: str
    unique_id: str
    config_topic: str


class HomeAssistantOut(BaseModel):
    exposed: bool
    health: bool
    discovery_enabled: bool = Field(description="whether this server publishes discovery")
    node_id: str = Field(description="the device identifier Home Assistant gets")
    entities: list[HaEntity] = Field(description="what Home Assistant shows (none if hidden)")


async def _current(conn, band_id: str) -> dict | None:
    return await fetch_one(
        conn, "SELECT health, consent_id FROM ha_exposure WHERE band_id = %s", (band_id,)
    )


def _answer(band_id: str, exposed: bool, health: bool, settings) -> dict:
    ha = HaTopics(settings.mqtt_topic_prefix, settings.ha_discovery_prefix)
    node = node_id(band_id)
    entities = [
        {
            "component": e.component,
            "key": e.key,
            "name": e.name,
            "unique_id": f"{node}_{e.key}",
            "config_topic": ha.config(e, band_id),
        }
        for e in (entities_for(health) if exposed else ())
    ]
    return {
        "exposed": exposed,
        "health": health and exposed,
        "discovery_enabled": settings.ha_discovery,
        "node_id": node,
        "entities": entities,
    }


@router.get(
    "/bands/{band_id}/home-assistant",
    response_model=HomeAssistantOut,
    summary="Whether the band shows in Home Assistant, and with which entities",
    responses=error_responses(401, 403, 404, 422),
)
async def get_home_assistant(access: Owner, conn: DbConn, settings: SettingsDep) -> dict:
    row = await _current(conn, access.band_id)
    return _answer(access.band_id, row is not None, bool(row and row["health"]), settings)


@router.put(
    "/bands/{band_id}/home-assistant",
    response_model=HomeAssistantOut,
    summary="Show the band in Home Assistant or hide it; share its health values or not",
    responses=error_responses(401, 403, 404, 422),
)
async def put_home_assistant(
    body: HomeAssistantIn,
    request: Request,
    access: Owner,
    conn: DbConn,
    settings: SettingsDep,
) -> dict:
    """Health values go only with ``exposed``; a change revokes the previous consent and
    records the new one, so the consent record says what Home Assistant was given when."""
    if body.health and not body.exposed:
        raise ApiError(422, "invalid_request", "health: share health values of an exposed band")
    band_id, me = access.band_id, access.who.account_id
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "SELECT health, consent_id FROM ha_exposure WHERE band_id = %s FOR UPDATE",
            (band_id,),
        )
        unchanged = (row is not None) == body.exposed and (
            row is None or row["health"] == body.health
        )
        if not unchanged:
            await conn.execute(
                "UPDATE consents SET revoked_at = now(), revoked_by = %s"
                " WHERE band_id = %s AND grantee = %s AND revoked_at IS NULL",
                (me, band_id, GRANTEE),
            )
            await conn.execute("DELETE FROM ha_exposure WHERE band_id = %s", (band_id,))
            if body.exposed:
                scopes = ["status", "find_band"] + (["health"] if body.health else [])
                consent = await fetch_one(
                    conn,
                    "INSERT INTO consents (band_id, grantee, scopes, given_by)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    (band_id, GRANTEE, scopes, me),
                )
                await conn.execute(
                    "INSERT INTO ha_exposure (band_id, health, consent_id, exposed_by)"
                    " VALUES (%s, %s, %s, %s)",
                    (band_id, body.health, consent["id"], me),
                )
            await audit(
                conn,
                request,
                access.who,
                access.roles.actor(),
                band_id,
                {"home_assistant": {"exposed": body.exposed, "health": body.health}},
            )
    return _answer(band_id, body.exposed, body.health, settings)
