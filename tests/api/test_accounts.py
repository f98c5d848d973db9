"""Accounts as a person meets them, over real HTTP with a real mail server: sign up,
confirm the address, sign in, renew, sign out, change or reset the password, and the
throttling that keeps guessing slow."""

from __future__ import annotations

import re
from email import message_from_bytes

import httpx
import pytest
from aiosmtpd.controller import Controller

from stack.ports import free_port
from tests.e2e.helpers import eventually
from tests.people import PASSWORD, add_account, person, sign_in


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, str]] = []  # (to, text)

    async def handle_DATA(self, _server, _session, envelope):
        mail = message_from_bytes(envelope.content)
        text = mail.get_payload(decode=True).decode()
        self.mails.append((envelope.rcpt_tos[0], f"{mail['Subject']}\n{text}"))
        return "250 OK"


@pytest.fixture
def inbox(settings):
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.smtp_port = controller.port
    yield box
    controller.stop()


def _link_token(text: str) -> str:
    return re.search(r"token=([\w-]+)", text).group(1)


async def test_sign_up_confirm_sign_in_renew_and_sign_out(api, inbox):
    r = await api.post(
        "/auth/signup",
        json={"email": "Li.Wei@Example.com", "password": PASSWORD, "display_name": "Li Wei"},
    )
    assert r.status_code == 201 and r.json()["email_verified"] is False
    again = await api.post(
        "/auth/signup", json={"email": "li.wei@example.com", "password": PASSWORD}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"
    short = await api.post("/auth/signup", json={"email": "x@example.com", "password": "short"})
    assert short.status_code == 422 and "password" in short.json()["error"]["message"]

    await eventually(lambda: inbox.mails, 10, "the verification e-mail")
    to, text = inbox.mails[0]
    assert to == "Li.Wei@example.com" and "Confirm your bandhub address" in text
    token = _link_token(text)
    assert (await api.get("/auth/verify-email", params={"token": token})).status_code == 200
    used = await api.get("/auth/verify-email", params={"token": token})
    assert used.status_code == 404 and used.json()["error"]["code"] == "invalid_token"

    wrong = await api.post("/auth/token", data={"username": "li.wei@example.com", "password": "x"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    pair = await sign_in(str(api.base_url), "LI.WEI@example.com")  # addresses ignore case
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    me = await api.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.json()["email_verified"] is True and me.json()["display_name"] == "Li Wei"

    renewed = (
        await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).json()
    replay = await api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401  # a refresh token is good once
    bearer = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert (await api.post("/auth/logout", headers=bearer)).status_code == 204
    gone = await api.get("/auth/me", headers=bearer)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "not_authenticated"
    late = await api.post("/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert late.status_code == 401


async def test_a_forged_or_expired_token_is_refused(api, settings):
    import jwt
    import psycopg

    add_account(settings.database_url, "ann@example.com")
    pair = await sign_in(str(api.base_url), "ann@example.com")
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    with psycopg.connect(settings.database_url) as conn:
        key = conn.execute("SELECT value FROM server_keys WHERE name = 'access_token'").fetchone()
    expired = {**claims, "iat": claims["iat"] - 3600, "exp": claims["iat"] - 1}
    for token in (
        jwt.encode(claims, "another key, not the server's, long enough", algorithm="HS256"),
        jwt.encode(expired, key[0], algorithm="HS256"),
        pair["access_token"][:-2],
        "not-a-jwt",
    ):
        r = await api.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token


async def test_changing_the_password_ends_every_sign_in(api, settings):
    ann = await person(str(api.base_url), settings.database_url, "ann@example.com")
    other_device = await sign_in(str(api.base_url), "ann@example.com")
    bad = await ann.client.post(
        "/auth/password", json={"current_password": "wrong", "new_password": PASSWORD + "2"}
    )
    assert bad.status_code == 403
    r = await ann.client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": PASSWORD + "2"}
    )
    assert r.status_code == 204
    assert (await ann.client.get("/auth/me")).status_code == 401
    phone = {"Authorization": f"Bearer {other_device['access_token']}"}
    assert (await api.get("/auth/me", headers=phone)).status_code == 401
    assert (
        await api.post("/auth/refresh", json={"refresh_token": other_device["refresh_token"]})
    ).status_code == 401
    await sign_in(str(api.base_url), "ann@example.com", PASSWORD + "2")
    await ann.aclose()


async def test_a_forgotten_password_is_reset_through_the_mailbox(api, settings, inbox):
    add_account(settings.database_url, "ann@example.com")
    for email in ("ann@example.com", "nobody@example.com"):  # the same answer for both
        r = await api.post("/auth/password-reset", json={"email": email})
        assert r.status_code == 202 and "If there is an account" in r.json()["message"]
    await eventually(lambda: inbox.mails, 10, "the reset e-mail")
    [(to, text)] = inbox.mails
    assert to == "ann@example.com"
    code = re.search(r"reset code:\s+([\w-]+)", text).group(1)
    r = await api.post(
        "/auth/password-reset/confirm", json={"token": code, "new_password": "a new passphrase"}
    )
    assert r.status_code == 204
    await sign_in(str(api.base_url), "ann@example.com", "a new passphrase")
    with pytest.raises(httpx.HTTPStatusError):
        await sign_in(str(api.base_url), "ann@example.com")


async def test_guessing_passwords_is_throttled_with_retry_after(api, settings):
    limit = settings.auth_login_max_failures
    add_account(settings.database_url, "ann@example.com")
    guess = {"username": "ann@example.com", "password": "guess"}
    statuses = [(await api.post("/auth/token", data=guess)).status_code for _ in range(limit)]
    assert statuses == [401] * limit
    r = await api.post("/auth/token", data=guess)
    if r.status_code == 401:  # the counting window turned over during the test: once more
        for _ in range(limit):
            r = await api.post("/auth/token", data=guess)
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
    assert 0 < int(r.headers["retry-after"]) <= settings.auth_login_window_s
    # while throttled even the right password waits: guessing cannot be confirmed
    right = await api.post(
        "/auth/token", data={"username": "ann@example.com", "password": PASSWORD}
    )
    assert right.status_code == 429
    add_account(settings.database_url, "bo@example.com")  # another address is not affected
    await sign_in(str(api.base_url), "bo@example.com")


async def test_expensive_reads_have_a_budget_per_account(owner, settings):
    settings.api_expensive_per_min = 3  # the app reads settings per request
    owner.own(settings.database_url, "BH-0001")
    day = {"date": "2026-11-23"}
    answers = [await owner.client.get("/bands/BH-0001/summary", params=day) for _ in range(8)]
    statuses = [r.status_code for r in answers]
    # windows are per minute: even if one turns over mid-test, 8 calls exceed 3 in one
    assert statuses[:3] == [200, 200, 200] and 429 in statuses, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
