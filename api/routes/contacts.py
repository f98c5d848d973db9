"""A band's emergency contacts, in the order they are alerted: managed by the owner (or
a caregiver with the settings right), seen by those who handle alerts. A new contact
is told who added them and can opt out with a signed link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query

from alerts import links
from alerts import store as alert_store
from api.account_schemas import Message
from api.contact_notice import send_contact_notice
from api.db import fetch_all, fetch_one
from api.deps import DbConn, IdPath, SettingsDep
from api.errors import ApiError, error_responses
from api.mail import public_url
from api.schemas import AlertListItem, ContactIn, ContactPatch, ContactPublic
from api.security.access import Scope
from api.security.policy import Anyone, BandAccess, OnBand

router = APIRouter(tags=["contacts"])
Manager = Annotated[BandAccess, Depends(OnBand(Scope.SETTINGS))]

_PUBLIC_COLUMNS = (
    "id, band_id, name, channel, address, position, quiet_start, quiet_end, opted_out_at"
)


async def _ack_key(conn) -> str:
    return (await fetch_one(conn, "SELECT value FROM server_keys WHERE name = 'ack_link'"))["value"]


@router.post(
    "/bands/{band_id}/contacts",
    status_code=201,
    response_model=ContactPublic,
    summary="Add an emergency contact (they are told, and can opt out)",
    responses=error_responses(401, 403, 404, 422),
)
async def add_contact(
    access: Manager,
    contact: ContactIn,
    conn: DbConn,
    settings: SettingsDep,
    tasks: BackgroundTasks,
) -> dict:
    row = await fetch_one(
        conn,
        "INSERT INTO contacts (band_id, name, channel, address, secret, position,"
        " quiet_start, quiet_end, added_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" RETURNING {_PUBLIC_COLUMNS}, secret",
        (
            access.band_id,
            contact.name,
            contact.channel,
            contact.address,
            contact.secret or "",
            contact.position,
            contact.quiet_start,
            contact.quiet_end,
            access.who.account_id,
        ),
    )
    opt_out = links.opt_out_url(public_url(settings), await _ack_key(conn), row["id"])
    wearer = access.band["name"] or access.band_id
    tasks.add_task(send_contact_notice, settings, dict(row), wearer, access.who.email, opt_out)
    row.pop("secret")
    return row


@router.get(
    "/bands/{band_id}/contacts",
    response_model=list[ContactPublic],
    summary="A band's emergency contacts",
    responses=error_responses(401, 403, 404, 422),
)
async def list_contacts(
    access: Annotated[BandAccess, Depends(OnBand(Scope.ALERTS, Scope.SETTINGS))], conn: DbConn
) -> list[dict]:
    return await fetch_all(
        conn,
        f"SELECT {_PUBLIC_COLUMNS} FROM contacts WHERE band_id = %s ORDER BY position, id",
        (access.band_id,),
    )


async def _own_contact(conn, access: BandAccess, contact_id: int) -> None:
    row = await fetch_one(
        conn,
        "SELECT 1 AS found FROM contacts WHERE id = %s AND band_id = %s",
        (contact_id, access.band_id),
    )
    if row is None:
        raise ApiError(404, "unknown_contact", f"no contact {contact_id} for this band")


@router.patch(
    "/bands/{band_id}/contacts/{contact_id}",
    response_model=ContactPublic,
    summary="Edit a contact or move it in the order (position)",
    responses=error_responses(401, 403, 404, 422),
)
async def edit_contact(
    contact_id: IdPath, body: ContactPatch, access: Manager, conn: DbConn
) -> dict:
    await _own_contact(conn, access, contact_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    assignments = ", ".join(f"{column} = %({column})s" for column in changes) or "name = name"
    return await fetch_one(
        conn,
        f"UPDATE contacts SET {assignments} WHERE id = %(id)s RETURNING {_PUBLIC_COLUMNS}",
        {**changes, "id": contact_id},
    )


@router.delete(
    "/bands/{band_id}/contacts/{contact_id}",
    status_code=204,
    summary="Remove a contact (messages still due to them are not sent)",
    responses=error_responses(401, 403, 404, 422),
)
async def delete_contact(contact_id: IdPath, access: Manager, conn: DbConn) -> None:
    await _own_contact(conn, access, contact_id)
    await conn.execute("DELETE FROM contacts WHERE id = %s", (contact_id,))


@router.post(
    "/bands/{band_id}/test-alert",
    status_code=201,
    response_model=AlertListItem,
    summary="Send every contact a test alert (marked as a test; no escalation)",
    responses=error_responses(401, 403, 404, 422),
)
async def test_alert(access: Manager, conn: DbConn) -> dict:
    alert_id = await alert_store.open_test(conn, access.band_id)
    return await fetch_one(
        conn,
        "SELECT id, band_id, kind, state, event_t, confidence, created_at, dispatch_at"
        " FROM alerts WHERE id = %s",
        (alert_id,),
    )


@router.get(
    "/contacts/{contact_id}/opt-out",
    response_model=Message,
    summary="The opt-out link a new contact received: no more alerts for them",
    dependencies=[Depends(Anyone())],
    responses=error_responses(403, 422),
)
async def opt_out(
    contact_id: IdPath, sig: Annotated[str, Query(max_length=100)], conn: DbConn
) -> dict:
    if not links.valid_opt_out(await _ack_key(conn), contact_id, sig):
        raise ApiError(403, "bad_signature", "this opt-out link is not valid")
    await conn.execute(
        "UPDATE contacts SET opted_out_at = COALESCE(opted_out_at, now()) WHERE id = %s",
        (contact_id,),
    )
    await conn.execute(
        "UPDATE deliveries SET state = 'cancelled' WHERE contact_id = %s AND state = 'pending'",
        (contact_id,),
    )
    return {"message": "You will get no more alerts from this band. Thank you for telling us."}
