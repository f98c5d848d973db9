"""The authorization matrix: every route of the app x every kind of caller.

The routes come from the app's own route table, each with the policy it declared; the
expected answer of each cell comes from the table of who holds what below (the
product's rules, written here independently of the code that enforces them). A route
without a policy, or without a request here, fails the test. Each cell also checks
that nothing of another wearer appears in the answer.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from alerts import links
from api.main import create_app
from api.security import tokens
from api.security.policy import (
    Anyone,
    InOrganisation,
    OnAlert,
    OnBand,
    OwnGateway,
    SignedIn,
    SupportStaff,
    route_policies,
)
from bandhub.claims import claim_code
from bandhub.contracts import dfu
from bandhub.contracts.messages import Topics
from bandhub.principals.dynsec import BrokerAdmin
from bandhub.principals.gateways import bind_band, register_gateway
from tests.firmware_images import signed_image
from tests.people import PASSWORD, add_account

ROLES = (
    "anonymous", "owner", "caregiver_with_scope", "caregiver_without_scope", "other_user",
    "org_staff", "org_admin", "other_org_staff", "support", "contact_link",
)  # fmt: skip
GRANTABLE = {"summaries", "live", "alerts", "settings"}
STAFF = {"summaries", "live", "alerts", "diagnostics"}


def share_scopes(needed: set[str]) -> tuple[set[str], set[str]]:
    """The two caregivers' shares: one with the scope a route needs (every grantable one
    for a route only the owner may call), one with the others (or just summaries)."""
    granted = needed & GRANTABLE or GRANTABLE
    return granted, (GRANTABLE - granted) or {"summaries"}


def role_scopes(role: str, needed: set[str]) -> set[str]:
    """What each caller holds on the wearer's band BH-0001 (the product's rules)."""
    granted, withheld = share_scopes(needed)
    return {
        "owner": GRANTABLE | {"diagnostics", "owner"},
        "caregiver_with_scope": granted | {"diagnostics"},
        "caregiver_without_scope": withheld | {"diagnostics"},
        "org_staff": STAFF,
        "org_admin": STAFF | {"settings"},
        "support": {"diagnostics"},
    }.get(role, set())


@dataclass
class World:
    """Ids of what the seed made, and a signed-in client per role."""

    ids: dict[str, int]
    headers: dict[str, dict[str, str]]  # per role: its bearer token, if any
    url: str
    claim_secret: str
    link_key: str

    @property
    def contact(self) -> int:
        return self.ids["contact_BH-0001"]

    @property
    def alert(self) -> int:
        return self.ids["alert_BH-0001"]

    def one_time(self, purpose: str) -> str:
        """A fresh e-mail token (verification or reset) for the owner."""
        token = tokens.new_secret()
        with psycopg.connect(self.url) as conn:
            conn.execute(
                "INSERT INTO email_tokens (token_hash, account_id, purpose, expires_at)"
                " VALUES (%s, %s, %s, now() + interval '1 hour')",
                (tokens.digest(token), self.ids["owner"], purpose),
            )
        return token

    def refresh_token(self) -> str:
        token = tokens.new_secret()
        with psycopg.connect(self.url) as conn:
            conn.execute(
                "INSERT INTO sessions (account_id, refresh_hash, expires_at)"
                " VALUES (%s, %s, now() + interval '1 day')",
                (self.ids["owner"], tokens.digest(token)),
            )
        return token


EMAIL = {role: f"{role.replace('_', '-')}@example.com" for role in ROLES if role != "anonymous"}


GATEWAY = "gw-0001"  # the owner's gateway, BH-0001 bound to it


def seed(url: str, needed: set[str], admin: BrokerAdmin) -> dict[str, int]:
    """Two wearers besides BH-0001 (BH-0002 of another family in another organisation's
    care, BH-0003 of a stranger) whose data no cell may show, and every kind of caller."""
    with psycopg.connect(url) as conn:  # DELETE: much faster than TRUNCATE on tiny tables
        for table in ("deliveries", "alerts", "contacts", "consents", "shares", "hr", "challenges",
                      "band_firmware", "firmware_groups", "firmware_releases", "band_status",
                      "dead_letters", "bands", "org_members", "organisations", "sessions",
                      "email_tokens", "rate_counters", "gateway_bands", "gateways",
                      "accounts"):  # fmt: skip
            conn.execute(f"DELETE FROM {table}")
    granted, withheld = share_scopes(needed)
    with psycopg.connect(url) as conn:
        q = conn.execute
        people = [r for r in ROLES if r not in ("anonymous", "contact_link")]
        ids = {
            role: add_account(
                conn, EMAIL.get(role, f"{role}@example.com"), support=role == "support"
            )
            for role in (*people, "stranger")
        }
        org_a = q("INSERT INTO organisations (name) VALUES ('Care A') RETURNING id").fetchone()[0]
        org_b = q("INSERT INTO organisations (name) VALUES ('Care B') RETURNING id").fetchone()[0]
        for role, org, kind in [
            ("org_staff", org_a, "staff"), ("org_admin", org_a, "admin"),
            ("other_org_staff", org_b, "staff"),
        ]:  # fmt: skip
            q("INSERT INTO org_members VALUES (%s, %s, %s)", (org, ids[role], kind))
        for band, name, who, org in [
            ("BH-0001", "Wearer One", "owner", org_a),
            ("BH-0002", "ZZ-SECRET-TWO", "other_user", org_b),
            ("BH-0003", "ZZ-SECRET-THREE", "stranger", None),
        ]:
            q(
                "INSERT INTO bands (band_id, name, owner_id, org_id, last_seen)"
                " VALUES (%s, %s, %s, %s, now())",
                (band, name, ids[who], org),
            )
            q(
                "INSERT INTO hr VALUES (%s, 1, '2026-11-23 10:00Z', 77, '{}', true, now())",
                (band,),
            )
            ids[f"contact_{band}"] = q(
                "INSERT INTO contacts (band_id, name, channel, address, secret)"
                " VALUES (%s, %s, 'email', %s, '') RETURNING id",
                (band, f"contact of {name}", f"{name.lower()}@example.org"),
            ).fetchone()[0]
            ids[f"alert_{band}"] = q(
                "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
                " VALUES (%s, 'fall', 'dispatched', now(), now()) RETURNING id",
                (band,),
            ).fetchone()[0]
            ids[f"challenge_{band}"] = q(
                "INSERT INTO challenges (name, first_day, last_day)"
                " VALUES (%s, '2026-11-23', '2026-11-29') RETURNING id",
                (f"walk of {name}",),
            ).fetchone()[0]
            q("INSERT INTO challenge_bands VALUES (%s, %s)", (ids[f"challenge_{band}"], band))
            q(
                "INSERT INTO dead_letters (topic, band_id, reason, payload)"
                " VALUES (%s, %s, 'bad', %s)",
                (f"bandhub/v1/band/{band}/rec/hr", band, f"{band} {name}".encode()),
            )
        for role, scopes in [
            ("caregiver_with_scope", granted),
            ("caregiver_without_scope", withheld),
        ]:
            ids[f"share_{role}"] = q(
                "INSERT INTO shares (band_id, email, role, scopes, invited_by, expires_at,"
                " account_id, accepted_at) VALUES ('BH-0001', %s, 'caregiver', %s, %s,"
                " now() + interval '1 day', %s, now()) RETURNING id",
                (EMAIL[role], sorted(scopes), ids["owner"], ids[role]),
            ).fetchone()[0]
        ids["org_a"], ids["org_b"] = org_a, org_b
        # BH-0001 runs 1.0.0 and is offered 1.1.0 (a release rolled out to all)
        status = {"v": 1, "band_id": "BH-0001", "gateway_id": "gw-1", "connected": True,
                  "at": 1.8e9, "model": "BH-1", "firmware": "1.0.0"}  # fmt: skip
        q(
            "INSERT INTO band_status (band_id, gateway_id, status) VALUES ('BH-0001', 'gw-1', %s)",
            (json.dumps(status),),
        )
        image, signature = signed_image("1.1.0", size=1024)
        ids["release"] = q(
            "INSERT INTO firmware_releases (model, version, version_key, image, size, sha256,"
            " signature, rollout) VALUES ('BH-1', '1.1.0', '{1,1,0}', %s, %s, %s, %s, 'all')"
            " RETURNING id",
            (image, len(image), dfu.sha256(image), signature),
        ).fetchone()[0]
    with psycopg.connect(url, autocommit=True) as conn:
        register_gateway(conn, admin, GATEWAY, account_id=ids["owner"])
        bind_band(conn, admin, GATEWAY, "BH-0001")
    return ids


def signed_in_headers(url: str, ids: dict[str, int]) -> dict[str, dict[str, str]]:
    """An Authorization header per role; the tokens are minted with the server's key for
    speed (the sign-in route itself is one of the matrix's rows)."""
    with psycopg.connect(url) as conn:
        key = conn.execute("SELECT value FROM server_keys WHERE name = 'access_token'").fetchone()[
            0
        ]
        headers = {}
        for role in ROLES:
            headers[role] = {}
            if role in ids:
                session = conn.execute(
                    "INSERT INTO sessions (account_id, refresh_hash, expires_at)"
                    " VALUES (%s, %s, now() + interval '1 day') RETURNING id",
                    (ids[role], uuid.uuid4().hex),
                ).fetchone()[0]
                token = tokens.mint_access(key, ids[role], session, 600)
                headers[role]["Authorization"] = f"Bearer {token}"
    return headers


@dataclass
class Call:
    path: dict[str, object]
    params: dict | None = None
    json: dict | None = None
    data: dict | None = None


def _ack_link(w: World) -> Call:
    return Call(
        {"alert_id": w.alert},
        params={"contact": w.contact, "sig": links.ack_signature(w.link_key, w.alert, w.contact)},
    )


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


# One valid request per route; the path parameters name things of BH-0001 (or of org A).
BAND = {"band_id": "BH-0001"}
GW = {"gateway_id": GATEWAY}
REQUESTS: dict[tuple[str, str], Callable[[World], Call]] = {
    ("POST", "/auth/signup"): lambda w: Call({}, json={"email": _fresh("n"), "password": PASSWORD}),
    ("GET", "/auth/verify-email"): lambda w: Call({}, params={"token": w.one_time("verify")}),
    ("POST", "/auth/verify-email/resend"): lambda w: Call({}),
    ("POST", "/auth/token"): lambda w: Call(
        {}, data={"username": EMAIL["owner"], "password": PASSWORD}
    ),
    ("POST", "/auth/refresh"): lambda w: Call({}, json={"refresh_token": w.refresh_token()}),
    ("POST", "/auth/logout"): lambda w: Call({}),
    ("GET", "/auth/me"): lambda w: Call({}),
    ("POST", "/auth/password"): lambda w: Call(
        {}, json={"current_password": PASSWORD, "new_password": PASSWORD + "!"}
    ),
    ("POST", "/auth/password-reset"): lambda w: Call({}, json={"email": EMAIL["owner"]}),
    ("POST", "/auth/password-reset/confirm"): lambda w: Call(
        {}, json={"token": w.one_time("reset"), "new_password": PASSWORD + "?"}
    ),
    ("GET", "/bands"): lambda w: Call({}),
    ("POST", "/bands"): lambda w: Call({}, json={"band_id": "BH-0100"}),
    ("POST", "/bands/{band_id}/claim"): lambda w: Call(
        {"band_id": "BH-0100"}, json={"claim_code": claim_code(w.claim_secret, "BH-0100")}
    ),
    ("DELETE", "/bands/{band_id}/owner"): lambda w: Call(BAND),
    ("POST", "/bands/{band_id}/transfer"): lambda w: Call(
        BAND, json={"email": EMAIL["other_user"]}
    ),
    ("PATCH", "/bands/{band_id}"): lambda w: Call(BAND, json={"name": "Gran"}),
    ("GET", "/bands/{band_id}"): lambda w: Call(BAND),
    ("GET", "/bands/{band_id}/streaks"): lambda w: Call(BAND),
    ("POST", "/bands/{band_id}/challenges"): lambda w: Call(
        BAND,
        json={
            "name": "Walk",
            "with_bands": [],
            "first_day": "2026-11-23",
            "last_day": "2026-11-29",
        },
    ),
    ("GET", "/bands/{band_id}/challenges"): lambda w: Call(BAND),
    ("GET", "/bands/{band_id}/challenges/{challenge_id}"): lambda w: Call(
        {**BAND, "challenge_id": w.ids["challenge_BH-0001"]}
    ),
    ("GET", "/bands/{band_id}/diagnostics"): lambda w: Call(BAND),
    ("POST", "/bands/{band_id}/shares"): lambda w: Call(
        BAND, json={"email": _fresh("s"), "scopes": ["summaries"]}
    ),
    ("GET", "/bands/{band_id}/shares"): lambda w: Call(BAND),
    ("DELETE", "/bands/{band_id}/shares/{share_id}"): lambda w: Call(
        {**BAND, "share_id": w.ids["share_caregiver_with_scope"]}
    ),
    ("GET", "/bands/{band_id}/consents"): lambda w: Call(BAND),
    ("POST", "/invitations/accept"): lambda w: Call({}, json={"token": invitation(w)}),
    ("POST", "/organisations"): lambda w: Call({}, json={"name": "Care C"}),
    ("GET", "/organisations"): lambda w: Call({}),
    ("GET", "/organisations/{org_id}/members"): lambda w: Call({"org_id": w.ids["org_a"]}),
    ("POST", "/organisations/{org_id}/members"): lambda w: Call(
        {"org_id": w.ids["org_a"]}, json={"email": EMAIL["other_user"]}
    ),
    ("DELETE", "/organisations/{org_id}/members/{account_id}"): lambda w: Call(
        {"org_id": w.ids["org_a"], "account_id": w.ids["org_staff"]}
    ),
    ("GET", "/organisations/{org_id}/wearers"): lambda w: Call({"org_id": w.ids["org_a"]}),
    ("PUT", "/bands/{band_id}/organisation"): lambda w: Call(BAND, json={"org_id": w.ids["org_b"]}),
    ("DELETE", "/bands/{band_id}/organisation"): lambda w: Call(BAND),
    ("POST", "/bands/{band_id}/contacts"): lambda w: Call(
        BAND, json={"name": "Bo", "channel": "email", "email": "bo@example.org"}
    ),
    ("GET", "/bands/{band_id}/contacts"): lambda w: Call(BAND),
    ("PATCH", "/bands/{band_id}/contacts/{contact_id}"): lambda w: Call(
        {**BAND, "contact_id": w.contact}, json={"position": 3}
    ),
    ("DELETE", "/bands/{band_id}/contacts/{contact_id}"): lambda w: Call(
        {**BAND, "contact_id": w.contact}
    ),
    ("POST", "/bands/{band_id}/test-alert"): lambda w: Call(BAND),
    ("GET", "/contacts/{contact_id}/opt-out"): lambda w: Call(
        {"contact_id": w.contact}, params={"sig": links.opt_out_signature(w.link_key, w.contact)}
    ),
    ("POST", "/bands/{band_id}/commands"): lambda w: Call(BAND, json={"cmd": "find_band"}),
    ("GET", "/bands/{band_id}/summary"): lambda w: Call(BAND, params={"date": "2026-11-23"}),
    ("GET", "/bands/{band_id}/trends"): lambda w: Call(
        BAND, params={"period": "week", "end": "2026-11-23"}
    ),
    ("GET", "/bands/{band_id}/hr"): lambda w: Call(
        BAND, params={"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T11:00:00Z"}
    ),
    ("GET", "/alerts"): lambda w: Call({}),
    ("GET", "/alerts/stream"): lambda w: Call({}),
    ("GET", "/alerts/{alert_id}"): lambda w: Call({"alert_id": w.alert}),
    ("POST", "/alerts/{alert_id}/ack"): lambda w: Call({"alert_id": w.alert}, json={}),
    ("GET", "/alerts/{alert_id}/ack-link"): lambda w: _ack_link(w),
    ("POST", "/alerts/{alert_id}/ack-link"): lambda w: _ack_link(w),
    ("POST", "/alerts/{alert_id}/resolve"): lambda w: Call(
        {"alert_id": w.alert}, json={"outcome": "ok"}
    ),
    ("GET", "/bands/{band_id}/audit"): lambda w: Call(BAND),
    ("GET", "/dead-letters"): lambda w: Call({}),
    ("GET", "/bands/{band_id}/export"): lambda w: Call(BAND, params={"format": "fhir"}),
    ("DELETE", "/bands/{band_id}"): lambda w: Call(BAND),
    ("POST", "/auth/me/erase"): lambda w: Call({}, json={"password": PASSWORD}),
    ("GET", "/bands/{band_id}/dead-letters"): lambda w: Call(BAND),
    ("POST", "/gateways"): lambda w: Call({}, json={"gateway_id": f"gw-{uuid.uuid4().hex[:8]}"}),
    ("GET", "/gateways"): lambda w: Call({}),
    ("POST", "/gateways/{gateway_id}/login"): lambda w: Call(GW),
    ("DELETE", "/gateways/{gateway_id}"): lambda w: Call(GW),
    ("PUT", "/gateways/{gateway_id}/bands/{band_id}"): lambda w: Call({**GW, **BAND}),
    ("DELETE", "/gateways/{gateway_id}/bands/{band_id}"): lambda w: Call({**GW, **BAND}),
    ("GET", "/firmware/releases"): lambda w: Call({}),
    ("POST", "/firmware/releases"): lambda w: Call({}, json=new_release()),
    ("PUT", "/firmware/releases/{release_id}/rollout"): lambda w: Call(
        {"release_id": w.ids["release"]}, json={"mode": "percent", "percent": 100}
    ),
    ("POST", "/firmware/releases/{release_id}/pause"): lambda w: Call(
        {"release_id": w.ids["release"]}
    ),
    ("POST", "/firmware/releases/{release_id}/resume"): lambda w: Call(
        {"release_id": w.ids["release"]}
    ),
    ("PUT", "/firmware/groups/{name}"): lambda w: Call(
        {"name": "pilot"}, json={"band_ids": ["BH-0001"]}
    ),
    ("GET", "/bands/{band_id}/firmware"): lambda w: Call(BAND),
    ("POST", "/bands/{band_id}/firmware/update"): lambda w: Call(
        BAND, json={"action": "postpone", "postpone_days": 2}
    ),
    ("GET", "/bands/{band_id}/home-assistant"): lambda w: Call(BAND),
    ("PUT", "/bands/{band_id}/home-assistant"): lambda w: Call(
        BAND, json={"exposed": True, "health": True}
    ),
}


def new_release() -> dict:
    """A release the catalogue does not hold yet (a fresh version each call)."""
    image, signature = signed_image(f"9.{uuid.uuid4().int % 10**6}", size=1024)
    return {"image_b64": base64.b64encode(image).decode(), "signature_hex": signature.hex(),
            "notes_en": "Faster sync", "notes_zh": "同步更快"}  # fmt: skip


def invitation(w: World) -> str:
    """An open invitation to BH-0001 for other_user's address."""
    token = tokens.new_secret()
    with psycopg.connect(w.url) as conn:
        conn.execute(
            "INSERT INTO shares (band_id, email, role, scopes, token_hash, invited_by,"
            " expires_at) VALUES ('BH-0001', %s, 'family', '{summaries}', %s, %s,"
            " now() + interval '1 day')",
            (EMAIL["other_user"], tokens.digest(token), w.ids["owner"]),
        )
    return token


# Calls after which the next caller would meet a different world (the rest change only
# what no later cell of their route depends on: a new account, invitation, contact...).
RESEED_AFTER = {
    ("POST", "/bands/{band_id}/claim"), ("DELETE", "/bands/{band_id}/owner"),
    ("POST", "/bands/{band_id}/transfer"), ("DELETE", "/bands/{band_id}/shares/{share_id}"),
    ("DELETE", "/organisations/{org_id}/members/{account_id}"),
    ("PUT", "/bands/{band_id}/organisation"), ("DELETE", "/bands/{band_id}/organisation"),
    ("DELETE", "/bands/{band_id}/contacts/{contact_id}"), ("POST", "/alerts/{alert_id}/resolve"),
    ("GET", "/contacts/{contact_id}/opt-out"), ("POST", "/bands"),
    ("DELETE", "/bands/{band_id}"), ("POST", "/auth/me/erase"),
    ("DELETE", "/gateways/{gateway_id}"), ("DELETE", "/gateways/{gateway_id}/bands/{band_id}"),
    ("POST", "/firmware/releases/{release_id}/pause"),
}  # fmt: skip

# Routes whose answer for an allowed caller depends on who they are, beyond the policy.
SPECIAL = {
    # only the invited address can accept
    ("POST", "/invitations/accept"): {"other_user": None, "*signed_in": 403},
}


def expected(policy, role: str, success: int, method: str, path: str) -> int:
    anonymous = role in ("anonymous", "contact_link")
    if isinstance(policy, Anyone):
        return success
    if anonymous:
        return 401
    special = SPECIAL.get((method, path), {})
    if role in special:
        return special[role] or success
    if "*signed_in" in special:
        return special["*signed_in"]
    if isinstance(policy, SignedIn):
        return success
    if isinstance(policy, SupportStaff):
        return success if role == "support" else 403
    if isinstance(policy, OwnGateway):  # only the owner has a gateway in this world
        return success if role == "owner" else 404
    if isinstance(policy, InOrganisation):
        member = {"org_staff": "member", "org_admin": "admin"}.get(role)
        if member is None:
            return 404
        return success if policy.role == "member" or member == "admin" else 403
    assert isinstance(policy, OnBand | OnAlert), policy
    needed = {str(s) for s in policy.scopes}
    held = role_scopes(role, needed)
    if not held:
        return 404
    return success if held & needed else 403


def leaks(role: str, text: str) -> list[str]:
    """Another wearer's things in an answer this caller may not see."""
    found = []
    if role != "support" and ("BH-0003" in text or "ZZ-SECRET-THREE" in text):
        found.append("BH-0003")
    if role not in ("support", "other_user", "other_org_staff") and (
        "BH-0002" in text or "ZZ-SECRET-TWO" in text
    ):
        found.append("BH-0002")
    return found


async def _send(
    client: httpx.AsyncClient, headers: dict, method: str, path: str, call: Call
) -> tuple[int, str]:
    url = path.format(**call.path)
    if path == "/alerts/stream":  # an event stream: the status and the first line tell
        async with client.stream(method, url, headers=headers) as r:
            if r.status_code != 200:
                return r.status_code, (await r.aread()).decode()
            async for line in r.aiter_lines():
                return r.status_code, line
    r = await client.request(
        method, url, params=call.params, json=call.json, data=call.data, headers=headers
    )
    return r.status_code, r.text


async def test_every_route_answers_every_kind_of_caller_as_the_rules_say(api, settings):
    app = create_app(settings)
    routes = route_policies(app)
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if r.policy is None]
    assert not undeclared, f"routes without a declared policy: {undeclared}"
    unknown = [(m, r.path) for r in routes for m in r.methods if (m, r.path) not in REQUESTS]
    assert not unknown, f"routes the matrix has no request for: {unknown}"

    with psycopg.connect(settings.database_url) as conn:
        link_key = conn.execute("SELECT value FROM server_keys WHERE name = 'ack_link'").fetchone()[
            0
        ]
    mismatches, cells = [], 0
    admin = BrokerAdmin(settings.mqtt_admin_url, Topics(settings.mqtt_topic_prefix))
    with admin:
        for route in routes:
            cells += await _route_cells(api, route, admin, settings, link_key, mismatches)
    assert not mismatches, f"{len(mismatches)} of {cells} cells wrong:\n" + "\n".join(mismatches)
    print(f"\nAUTHZ MATRIX {len(routes)} routes x {len(ROLES)} callers = {cells} cells, all right")


async def _route_cells(api, route, admin, settings, link_key, mismatches: list[str]) -> int:
    """Every caller on one route's methods; returns how many cells it checked."""
    cells = 0
    for method in sorted(route.methods):
        policy, success = route.policy, route.status_code
        needed = {str(s) for s in getattr(policy, "scopes", ())}
        world = None
        for role in ROLES:
            if world is None:
                ids = seed(settings.database_url, needed, admin)
                headers = signed_in_headers(settings.database_url, ids)
                world = World(ids, headers, settings.database_url, settings.claim_secret, link_key)
            call = REQUESTS[(method, route.path)](world)
            status, text = await _send(api, world.headers[role], method, route.path, call)
            cells += 1
            want = expected(policy, role, success, method, route.path)
            if status != want:
                mismatches.append(
                    f"{method} {route.path} as {role}: {status} (want {want}) {text[:120]}"
                )
            for leak in leaks(role, text):
                mismatches.append(f"{method} {route.path} as {role}: shows {leak}")
            if status < 300 and (method, route.path) in RESEED_AFTER:
                world = None  # the call changed the world: the next cell starts afresh
    return cells
