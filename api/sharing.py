"""Invitations to share a wearer's data, and the consent each one records; used by the
sharing routes and by the demo, which invites its caregiver the same way."""

from __future__ import annotations

from psycopg import AsyncConnection

from api.db import fetch_one
from api.security import tokens


async def create_invitation(
    conn: AsyncConnection,
    band_id: str,
    email: str,
    role: str,
    scopes: list[str],
    invited_by: int,
    valid_days: float,
) -> tuple[int, str]:
    """A share waiting for ``email`` to accept, with the owner's consent recorded.
    Returns the share id and the single-use code to send to the invitee."""
    code = tokens.new_secret()
    scopes = sorted(set(scopes))
    row = await fetch_one(
        conn,
        "INSERT INTO shares (band_id, email, role, scopes, token_hash, invited_by, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING id",
        (band_id, email, role, scopes, tokens.digest(code), invited_by, valid_days * 86400),
    )
    await conn.execute(
        "INSERT INTO consents (band_id, grantee, scopes, share_id, given_by)"
        " VALUES (%s, %s, %s, %s, %s)",
        (band_id, email, scopes, row["id"], invited_by),
    )
    return row["id"], code
