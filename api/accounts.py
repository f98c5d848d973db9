"""Accounts and their sessions: create, authenticate, sign in, renew, revoke, and the
single-use e-mail tokens. Shared by the API routes and the ``bandhub accounts`` CLI."""

from __future__ import annotations

from psycopg import AsyncConnection

from api.db import fetch_one
from api.errors import ApiError
from api.security import tokens
from api.security.passwords import hash_password, needs_rehash, verify_password
from bandhub.settings import Settings

ACCOUNT_COLUMNS = (
    "id, email, display_name, email_verified_at IS NOT NULL AS email_verified, is_support,"
    " created_at"
)


async def create_account(
    conn: AsyncConnection,
    email: str,
    password: str,
    display_name: str = "",
    *,
    verified: bool = False,
    support: bool = False,
) -> dict:
    row = await fetch_one(
        conn,
        "INSERT INTO accounts (email, password_hash, display_name, email_verified_at, is_support)"
        " VALUES (%s, %s, %s, CASE WHEN %s THEN now() END, %s)"
        f" ON CONFLICT (lower(email)) DO NOTHING RETURNING {ACCOUNT_COLUMNS}",
        (email, hash_password(password), display_name, verified, support),
    )
    if row is None:
        raise ApiError(409, "email_taken", f"there is already an account for {email}")
    return row


async def authenticate(conn: AsyncConnection, email: str, password: str) -> dict | None:
    """The account whose password this is, or None (same time either way)."""
    row = await fetch_one(
        conn, "SELECT id, password_hash FROM accounts WHERE lower(email) = lower(%s)", (email,)
    )
    if not verify_password(row["password_hash"] if row else None, password):
        return None
    if needs_rehash(row["password_hash"]):
        await conn.execute(
            "UPDATE accounts SET password_hash = %s WHERE id = %s",
            (hash_password(password), row["id"]),
        )
    return row


async def start_session(
    conn: AsyncConnection, settings: Settings, key: str, account_id: int, client: str
) -> dict:
    refresh = tokens.new_secret()
    row = await fetch_one(
        conn,
        "INSERT INTO sessions (account_id, refresh_hash, expires_at, client)"
        " VALUES (%s, %s, now() + make_interval(secs => %s), %s) RETURNING id",
        (account_id, tokens.digest(refresh), settings.auth_session_days * 86400, client[:200]),
    )
    return _pair(settings, key, account_id, row["id"], refresh)


async def renew_session(conn: AsyncConnection, settings: Settings, key: str, refresh: str) -> dict:
    """Rotate the refresh token: the old one is spent, so a stolen copy is good once."""
    new = tokens.new_secret()
    row = await fetch_one(
        conn,
        "UPDATE sessions SET refresh_hash = %s, last_used_at = now(),"
        " expires_at = now() + make_interval(secs => %s)"
        " WHERE refresh_hash = %s AND revoked_at IS NULL AND expires_at > now()"
        " RETURNING id, account_id",
        (tokens.digest(new), settings.auth_session_days * 86400, tokens.digest(refresh)),
    )
    if row is None:
        raise ApiError(
            401,
            "invalid_refresh_token",
            "this refresh token is unknown, used, expired or revoked: sign in again",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _pair(settings, key, row["account_id"], row["id"], new)


def _pair(settings: Settings, key: str, account_id: int, session_id: int, refresh: str) -> dict:
    ttl = settings.auth_access_token_s
    return {
        "access_token": tokens.mint_access(key, account_id, session_id, ttl),
        "token_type": "bearer",
        "expires_in": ttl,
        "refresh_token": refresh,
    }


async def revoke_sessions(
    conn: AsyncConnection, account_id: int, only_session: int | None = None
) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE account_id = %s AND revoked_at IS NULL"
        " AND (%s::bigint IS NULL OR id = %s)",
        (account_id, only_session, only_session),
    )


async def set_password(conn: AsyncConnection, account_id: int, password: str) -> None:
    """A new password ends every session of the account."""
    await conn.execute(
        "UPDATE accounts SET password_hash = %s, password_changed_at = now() WHERE id = %s",
        (hash_password(password), account_id),
    )
    await revoke_sessions(conn, account_id)


async def issue_email_token(
    conn: AsyncConnection, settings: Settings, account_id: int, purpose: str
) -> str:
    token = tokens.new_secret()
    await conn.execute(
        "INSERT INTO email_tokens (token_hash, account_id, purpose, expires_at)"
        " VALUES (%s, %s, %s, now() + make_interval(secs => %s))",
        (tokens.digest(token), account_id, purpose, settings.auth_email_token_h * 3600),
    )
    return token


async def use_email_token(conn: AsyncConnection, token: str, purpose: str) -> int:
    """Spend a token; the account it was for. 404 for a used, expired or unknown one."""
    row = await fetch_one(
        conn,
        "UPDATE email_tokens SET used_at = now() WHERE token_hash = %s AND purpose = %s"
        " AND used_at IS NULL AND expires_at > now() RETURNING account_id",
        (tokens.digest(token), purpose),
    )
    if row is None:
        raise ApiError(404, "invalid_token", "this link or code is unknown, used or expired")
    return row["account_id"]


async def confirmed_account(conn: AsyncConnection, email: str) -> dict:
    """The account with this confirmed address (someone to hand a band or a role to);
    422 when there is none."""
    row = await fetch_one(
        conn,
        "SELECT id, email, display_name FROM accounts WHERE lower(email) = lower(%s)"
        " AND email_verified_at IS NOT NULL",
        (email,),
    )
    if row is None:
        raise ApiError(422, "unknown_account", f"no account with a confirmed address {email}")
    return row
