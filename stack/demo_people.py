"""The demo's people: a wearer's owner who claims the bands with the codes from their
boxes, a caregiver the owner invites, and an emergency contact (the webhook receiver).
Passwords are made fresh for each run and printed, so anyone can sign in at /docs."""

from __future__ import annotations

import secrets
from collections.abc import Generator
from dataclasses import dataclass

import httpx
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from api.accounts import create_account, set_password
from api.errors import ApiError
from api.sharing import create_invitation
from bandhub import claims
from bandhub.settings import Settings

OWNER = "owner@demo.bandhub.example"
CAREGIVER = "caregiver@demo.bandhub.example"


@dataclass
class DemoPerson:
    email: str
    password: str
    account_id: int


class SignedIn(httpx.Auth):
    """Bearer auth that signs in once and renews with the refresh token when the short-
    lived access token runs out (the demo can run for hours)."""

    requires_response_body = True  # the token responses are read inside the flow

    def __init__(self, person: DemoPerson) -> None:
        self.person = person
        self.tokens: dict | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        if self.tokens is None:
            self.tokens = _tokens((yield self._token_request(request)))
        request.headers["Authorization"] = f"Bearer {self.tokens['access_token']}"
        response = yield request
        if response.status_code == 401:
            renew = httpx.Request(
                "POST",
                request.url.join("/auth/refresh"),
                json={"refresh_token": self.tokens["refresh_token"]},
            )
            renewed = yield renew
            if renewed.status_code == 200:
                self.tokens = renewed.json()
            else:  # the session ended (e.g. the demo reset the password): sign in again
                self.tokens = _tokens((yield self._token_request(request)))
            request.headers["Authorization"] = f"Bearer {self.tokens['access_token']}"
            yield request

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request(
            "POST",
            request.url.join("/auth/token"),
            data={"username": self.person.email, "password": self.person.password},
        )


def _tokens(response: httpx.Response) -> dict:
    if response.status_code != 200:
        raise RuntimeError(f"signing in: {response.status_code} {response.text}")
    return response.json()


async def _account(conn: AsyncConnection, email: str, name: str) -> DemoPerson:
    """The demo account with a fresh password (made on the first run, reset later)."""
    password = secrets.token_urlsafe(9)
    try:
        row = await create_account(conn, email, password, name, verified=True)
    except ApiError:
        cur = await conn.execute("SELECT id FROM accounts WHERE email = %s", (email,))
        row = await cur.fetchone()
        await set_password(conn, row["id"], password)
    return DemoPerson(email, password, row["id"])


async def set_up_people(
    settings: Settings, api_url: str, bands: int, contact_url: str, contact_secret: str
) -> tuple[DemoPerson, DemoPerson]:
    """Accounts, claimed bands, the contact and the caregiver's accepted share; with
    BANDHUB_HA_DISCOVERY, BH-0001 shown in Home Assistant with its health values."""
    async with await AsyncConnection.connect(
        settings.database_url, row_factory=dict_row, autocommit=True
    ) as conn:
        owner = await _account(conn, OWNER, "Demo owner")
        caregiver = await _account(conn, CAREGIVER, "Demo caregiver")
    async with httpx.AsyncClient(base_url=api_url, timeout=10, auth=SignedIn(owner)) as http:
        for i in range(bands):
            band_id = f"BH-{i + 1:04d}"
            code = claims.claim_code(settings.claim_secret, band_id)
            r = await http.post(
                f"/bands/{band_id}/claim", json={"claim_code": code, "name": f"Wearer {i + 1}"}
            )
            _ok(r, f"claiming {band_id}")
        if settings.ha_discovery:  # the owner shows the first band in Home Assistant
            r = await http.put(
                "/bands/BH-0001/home-assistant", json={"exposed": True, "health": True}
            )
            _ok(r, "showing BH-0001 in Home Assistant")
        listed = (await http.get("/bands/BH-0001/contacts")).json()
        if not any(c["address"] == contact_url for c in listed):
            r = await http.post(
                "/bands/BH-0001/contacts",
                json={"name": "Demo contact", "url": contact_url, "secret": contact_secret},
            )
            _ok(r, "adding the demo contact")
    async with await AsyncConnection.connect(
        settings.database_url, row_factory=dict_row, autocommit=True
    ) as conn:
        _, code = await create_invitation(
            conn, "BH-0001", CAREGIVER, "caregiver", ["summaries", "alerts"], owner.account_id, 1
        )
    async with httpx.AsyncClient(base_url=api_url, timeout=10, auth=SignedIn(caregiver)) as http:
        _ok(await http.post("/invitations/accept", json={"token": code}), "the caregiver's share")
    return owner, caregiver


def _ok(response: httpx.Response, what: str) -> None:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
