"""Sharing a wearer's data: the owner invites family or a caregiver by e-mail with the
scopes they grant, the invitee accepts with the link, the owner revokes at any time.
Each grant and revocation is kept as the wearer's consent record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends

from api.account_schemas import Consent, Share, ShareIn, TokenIn
from api.db import fetch_all, fetch_one
from api.deps import DbConn, IdPath, SettingsDep
from api.errors import ApiError, error_responses
from api.mail import public_url, send_mail
from api.security import tokens
from api.security.access import Principal, Scope
from api.security.policy import BandAccess, OnBand, SignedIn
from api.sharing import create_invitation

router = APIRouter(tags=["sharing"])
Owner = Annotated[BandAccess, Depends(OnBand(Scope.OWNER))]

_SHARE = """
SELECT id, band_id, email, role, scopes, invited_at, accepted_at, revoked_at,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN accepted_at IS NOT NULL THEN 'active'
            WHEN expires_at < now() THEN 'expired' ELSE 'invited' END AS state
  FROM shares
"""


@router.post(
    "/bands/{band_id}/shares",
    status_code=201,
    response_model=Share,
    summary="Invite family or a caregiver by e-mail, with the rights you grant",
    responses=error_responses(401, 403, 404, 422),
)
async def invite(
    body: ShareIn, access: Owner, conn: DbConn, settings: SettingsDep, tasks: BackgroundTasks
) -> dict:
    share_id, token = await create_invitation(
        conn,
        access.band_id,
        body.email,
        body.role,
        body.scopes,
        access.who.account_id,
        settings.auth_invitation_days,
    )
    scopes = sorted(set(body.scopes))
    wearer = access.band["name"] or access.band_id
    tasks.add_task(
        send_mail,
        settings,
        body.email,
        f"{access.who.email} shares {wearer}'s bandhub with you",
        f"{access.who.email} invites you to see {wearer}'s data on bandhub"
        f" ({', '.join(scopes)}). Sign in (or sign up with this address) and accept with"
        f" this code:\n\n{token}\n\nPOST {public_url(settings)}/invitations/accept",
    )
    return await fetch_one(conn, _SHARE + " WHERE id = %s", (share_id,))


@router.get(
    "/bands/{band_id}/shares",
    response_model=list[Share],
    summary="Who the wearer's data is shared with, and invitations",
    responses=error_responses(401, 403, 404, 422),
)
async def list_shares(access: Owner, conn: DbConn) -> list[dict]:
    return await fetch_all(conn, _SHARE + " WHERE band_id = %s ORDER BY id", (access.band_id,))


@router.delete(
    "/bands/{band_id}/shares/{share_id}",
    status_code=204,
    summary="Revoke a share or an invitation (at once)",
    responses=error_responses(401, 403, 404, 422),
)
async def revoke(share_id: IdPath, access: Owner, conn: DbConn) -> None:
    row = await fetch_one(
        conn,
        "UPDATE shares SET revoked_at = COALESCE(revoked_at, now()), token_hash = NULL"
        " WHERE id = %s AND band_id = %s RETURNING id",
        (share_id, access.band_id),
    )
    if row is None:
        raise ApiError(404, "unknown_share", f"no share {share_id} for this band")
    await conn.execute(
        "UPDATE consents SET revoked_at = now(), revoked_by = %s"
        " WHERE share_id = %s AND revoked_at IS NULL",
        (access.who.account_id, share_id),
    )


@router.get(
    "/bands/{band_id}/consents",
    response_model=list[Consent],
    summary="The wearer's consent record: every grant, by whom, when, and when revoked",
    responses=error_responses(401, 403, 404, 422),
)
async def consents(access: Owner, conn: DbConn) -> list[dict]:
    return await fetch_all(
        conn,
        "SELECT c.id, c.grantee, c.scopes, a.email AS given_by, c.granted_at, c.revoked_at"
        " FROM consents c LEFT JOIN accounts a ON a.id = c.given_by"
        " WHERE c.band_id = %s ORDER BY c.id",
        (access.band_id,),
    )


@router.post(
    "/invitations/accept",
    response_model=Share,
    summary="Accept an invitation with the code from its e-mail",
    responses=error_responses(401, 403, 404, 422),
)
async def accept(
    body: TokenIn, me: Annotated[Principal, Depends(SignedIn())], conn: DbConn
) -> dict:
    """The invitation is for an address: only its confirmed holder can accept it."""
    share = await fetch_one(
        conn,
        "SELECT id, email FROM shares WHERE token_hash = %s AND revoked_at IS NULL"
        " AND accepted_at IS NULL AND expires_at > now()",
        (tokens.digest(body.token),),
    )
    if share is None:
        raise ApiError(404, "unknown_invitation", "this invitation is unknown, used or expired")
    if share["email"].lower() != me.email.lower() or not me.email_verified:
        raise ApiError(
            403,
            "wrong_account",
            f"this invitation is for {share['email']}: sign in with that address and confirm it",
        )
    await conn.execute(
        "UPDATE shares SET account_id = %s, accepted_at = now(), token_hash = NULL WHERE id = %s",
        (me.account_id, share["id"]),
    )
    return await fetch_one(conn, _SHARE + " WHERE id = %s", (share["id"],))
