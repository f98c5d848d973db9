"""A band's emergency contacts, in the order they are alerted."""

from __future__ import annotations

from fastapi import APIRouter

from api.db import fetch_all, fetch_one
from api.deps import DbConn, KnownBand
from api.errors import error_responses
from api.schemas import ContactIn, ContactPublic

router = APIRouter(prefix="/bands/{band_id}/contacts", tags=["contacts"])

_PUBLIC_COLUMNS = "id, band_id, name, channel, address, position, quiet_start, quiet_end"


@router.post(
    "",
    status_code=201,
    response_model=ContactPublic,
    summary="Add an emergency contact",
    responses=error_responses(404, 422),
)
async def add_contact(band: KnownBand, contact: ContactIn, conn: DbConn) -> dict:
    return await fetch_one(
        conn,
        "INSERT INTO contacts (band_id, name, channel, address, secret, position,"
        " quiet_start, quiet_end) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        f" RETURNING {_PUBLIC_COLUMNS}",
        (
            band["band_id"],
            contact.name,
            contact.channel,
            contact.address,
            contact.secret or "",
            contact.position,
            contact.quiet_start,
            contact.quiet_end,
        ),
    )


@router.get(
    "",
    response_model=list[ContactPublic],
    summary="A band's emergency contacts",
    responses=error_responses(404, 422),
)
async def list_contacts(band: KnownBand, conn: DbConn) -> list[dict]:
    return await fetch_all(
        conn,
        f"SELECT {_PUBLIC_COLUMNS} FROM contacts WHERE band_id = %s ORDER BY position, id",
        (band["band_id"],),
    )
