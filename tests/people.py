"""People for tests: accounts made straight in the database (one argon2 hash for all,
so a test does not spend seconds hashing) and signed in through the real API."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import psycopg

from api.security.passwords import hash_password

PASSWORD = "correct horse battery staple"
_HASH = hash_password(PASSWORD)


@dataclass
class Person:
    email: str
    account_id: int
    client: httpx.AsyncClient  # signed in: every request carries the bearer token
    token: str
    refresh_token: str

    def own(self, database_url: str, *band_ids: str) -> None:
        """Make this person the owner of the bands (created when missing)."""
        with psycopg.connect(database_url) as conn:
            for band_id in band_ids:
                conn.execute(
                    "INSERT INTO bands (band_id) VALUES (%s) ON CONFLICT DO NOTHING", (band_id,)
                )
                conn.execute(
                    "UPDATE bands SET owner_id = %s, claimed_at = now() WHERE band_id = %s",
                    (self.account_id, band_id),
                )

    async def aclose(self) -> None:
        await self.client.aclose()


def add_account(
    db: str | psycopg.Connection, email: str, *, support: bool = False, verified: bool = True
) -> int:
    """An account with ``PASSWORD``; ``db`` is a URL or an open connection."""
    if isinstance(db, str):
        with psycopg.connect(db) as conn:
            return add_account(conn, email, support=support, verified=verified)
    return db.execute(
        "INSERT INTO accounts (email, password_hash, display_name, email_verified_at,"
        " is_support) VALUES (%s, %s, %s, CASE WHEN %s THEN now() END, %s) RETURNING id",
        (email, _HASH, email.split("@")[0], verified, support),
    ).fetchone()[0]


async def sign_in(base_url: str, email: str, password: str = PASSWORD) -> dict:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/auth/token", data={"username": email, "password": password})
        r.raise_for_status()
        return r.json()


async def person(
    base_url: str, database_url: str, email: str, *, support: bool = False, verified: bool = True
) -> Person:
    account_id = add_account(database_url, email, support=support, verified=verified)
    tokens = await sign_in(base_url, email)
    client = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    return Person(email, account_id, client, tokens["access_token"], tokens["refresh_token"])
