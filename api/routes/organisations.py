"""Care organisations (a care home, a home-care service): admins manage staff; staff
see the wearers in the organisation's care and nobody else's. A band enters an
organisation's care when its owner puts it there (and that consent is recorded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.account_schemas import (
    Care,
    CareIn,
    Member,
    MemberIn,
    Organisation,
    OrganisationIn,
    Wearer,
)
from api.accounts import confirmed_account
from api.db import fetch_all, fetch_one
from api.deps import DbConn, IdPath, Limit
from api.errors import ApiError, error_responses
from api.security.access import STAFF_SCOPES, Principal, Scope
from api.security.policy import BandAccess, InOrganisation, OnBand, SignedIn

router = APIRouter(tags=["organisations"])
Me = Annotated[Principal, Depends(SignedIn())]
Admin = Annotated[Principal, Depends(InOrganisation("admin"))]
MemberOf = Annotated[Principal, Depends(InOrganisation("member"))]


@router.post(
    "/organisations",
    status_code=201,
    response_model=Organisation,
    summary="Create a care organisation (you become its admin)",
    responses=error_responses(401, 422),
)
async def create(body: OrganisationIn, me: Me, conn: DbConn) -> dict:
    org = await fetch_one(
        conn, "INSERT INTO organisations (name) VALUES (%s) RETURNING id, name", (body.name,)
    )
    await conn.execute(
        "INSERT INTO org_members (org_id, account_id, role) VALUES (%s, %s, 'admin')",
        (org["id"], me.account_id),
    )
    return {**org, "role": "admin"}


@router.get(
    "/organisations",
    response_model=list[Organisation],
    summary="The organisations you belong to",
    responses=error_responses(401),
)
async def mine(me: Me, conn: DbConn) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT o.id, o.name, m.role FROM organisations o JOIN org_members m ON m.org_id = o.id"
        " WHERE m.account_id = %s ORDER BY o.id",
        (me.account_id,),
    )


@router.get(
    "/organisations/{org_id}/members",
    response_model=list[Member],
    summary="The organisation's staff",
    responses=error_responses(401, 403, 404, 422),
)
async def members(org_id: IdPath, _: MemberOf, conn: DbConn) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT a.id AS account_id, a.email, a.display_name, m.role FROM org_members m"
        " JOIN accounts a ON a.id = m.account_id WHERE m.org_id = %s ORDER BY a.email",
        (org_id,),
    )


@router.post(
    "/organisations/{org_id}/members",
    status_code=201,
    response_model=Member,
    summary="Add a staff member (or admin) by the e-mail of their account",
    responses=error_responses(401, 403, 404, 422),
)
async def add_member(org_id: IdPath, body: MemberIn, _: Admin, conn: DbConn) -> dict:
    account = await confirmed_account(conn, body.email)
    await conn.execute(
        "INSERT INTO org_members (org_id, account_id, role) VALUES (%s, %s, %s)"
        " ON CONFLICT (org_id, account_id) DO UPDATE SET role = EXCLUDED.role",
        (org_id, account["id"], body.role),
    )
    return {"account_id": account["id"], "email": account["email"],
            "display_name": account["display_name"], "role": body.role}  # fmt: skip


@router.delete(
    "/organisations/{org_id}/members/{account_id}",
    status_code=204,
    summary="Remove a member (they lose access to the organisation's wearers at once)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def remove_member(org_id: IdPath, account_id: IdPath, _: Admin, conn: DbConn) -> None:
    admins = await fetch_one(
        conn,
        "SELECT count(*) FILTER (WHERE role = 'admin') AS admins,"
        " bool_or(account_id = %s AND role = 'admin') AS is_admin"
        " FROM org_members WHERE org_id = %s",
        (account_id, org_id),
    )
    if admins["is_admin"] and admins["admins"] == 1:
        raise ApiError(409, "last_admin", "the organisation's last admin cannot leave it")
    await conn.execute(
        "DELETE FROM org_members WHERE org_id = %s AND account_id = %s", (org_id, account_id)
    )


@router.get(
    "/organisations/{org_id}/wearers",
    response_model=list[Wearer],
    summary="The wearers in the organisation's care, with open alerts",
    responses=error_responses(401, 403, 404, 422),
)
async def wearers(org_id: IdPath, _: MemberOf, conn: DbConn, limit: Limit = 1000) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT b.band_id, b.name, b.last_seen, (SELECT count(*) FROM alerts a"
        "   WHERE a.band_id = b.band_id AND a.state IN ('pending', 'dispatched')) AS open_alerts"
        " FROM bands b WHERE b.org_id = %s ORDER BY b.name, b.band_id LIMIT %s",
        (org_id, limit),
    )


@router.put(
    "/bands/{band_id}/organisation",
    response_model=Care,
    summary="Put the band in a care organisation's care (its staff see it)",
    responses=error_responses(401, 403, 404, 422),
)
async def put_in_care(
    body: CareIn,
    access: Annotated[BandAccess, Depends(OnBand(Scope.OWNER))],
    conn: DbConn,
) -> dict:
    org = await fetch_one(conn, "SELECT id, name FROM organisations WHERE id = %s", (body.org_id,))
    if org is None:
        raise ApiError(404, "unknown_organisation", f"no organisation {body.org_id}")
    await _end_care(conn, access)
    await conn.execute(
        "UPDATE bands SET org_id = %s WHERE band_id = %s", (org["id"], access.band_id)
    )
    await conn.execute(
        "INSERT INTO consents (band_id, grantee, scopes, org_id, given_by)"
        " VALUES (%s, %s, %s, %s, %s)",
        (access.band_id, org["name"], sorted(STAFF_SCOPES), org["id"], access.who.account_id),
    )
    return {"org_id": org["id"], "name": org["name"]}


async def _end_care(conn, access: BandAccess) -> None:
    await conn.execute(
        "UPDATE consents SET revoked_at = now(), revoked_by = %s"
        " WHERE band_id = %s AND org_id IS NOT NULL AND revoked_at IS NULL",
        (access.who.account_id, access.band_id),
    )
    await conn.execute("UPDATE bands SET org_id = NULL WHERE band_id = %s", (access.band_id,))


@router.delete(
    "/bands/{band_id}/organisation",
    status_code=204,
    summary="End the organisation's care of the band",
    responses=error_responses(401, 403, 404, 422),
)
async def end_care(
    access: Annotated[BandAccess, Depends(OnBand(Scope.OWNER))], conn: DbConn
) -> None:
    await _end_care(conn, access)
