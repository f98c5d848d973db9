"""The gateway's calls to the bandhub API on its owner's behalf, with the owner's access
token (from the companion app or ``POST /auth/token``): register this gateway to the
owner's account, claim a band with the code from its box, bind it to this gateway.
A phone or PC gateway thus needs no database or broker-admin access of its own."""

from __future__ import annotations

import httpx

from bandhub.settings import Settings


class AccountApiError(RuntimeError):
    """The API refused or could not be reached; the message says why, for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_base(settings: Settings) -> str:
    return settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}"


async def _call(settings: Settings, token: str, method: str, path: str, what: str, **kw) -> dict:
    base = api_base(settings)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=15, headers=headers) as http:
            r = await http.request(method, path, **kw)
    except httpx.HTTPError as exc:
        raise AccountApiError(f"could not reach the bandhub API at {base}: {exc}") from exc
    if r.status_code >= 300:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = r.text[:200]
        raise AccountApiError(
            f"the server refused the {what} ({r.status_code}): {message}", r.status_code
        )
    return r.json()


async def register(settings: Settings, token: str, gateway_id: str) -> dict:
    """This gateway's own broker login, registered to the token's account (a gateway
    already registered to that account gets a new password)."""
    return await _call(
        settings, token, "POST", "/gateways", "registration", json={"gateway_id": gateway_id}
    )


async def claim(settings: Settings, token: str, band_id: str, claim_code: str) -> dict:
    return await _call(
        settings, token, "POST", f"/bands/{band_id}/claim", "claim",
        json={"claim_code": claim_code},
    )  # fmt: skip


async def bind(settings: Settings, token: str, gateway_id: str, band_id: str) -> bool:
    """Bind the band to this gateway; False when this gateway is not the token's
    account's (registered by an operator instead: they bind it)."""
    try:
        await _call(settings, token, "PUT", f"/gateways/{gateway_id}/bands/{band_id}", "binding")
    except AccountApiError as exc:
        if exc.status == 404 and "gateway" in str(exc):
            return False
        raise
    return True
