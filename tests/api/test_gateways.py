"""Gateways registered and bound through the API, as a phone gateway does it with its
owner's token: the broker (real mosquitto with dynamic security) then passes what the
gateway may publish and nothing else, and a band changing hands or erased leaves it."""

from __future__ import annotations

import time

import psycopg

from bandhub.claims import claim_code
from bandhub.contracts.messages import Topics
from bandhub.principals import broker_acl, credentials
from tests.e2e.helpers import eventually
from tests.people import PASSWORD, person
from tests.principals.mqtt_probe import Client

TOPICS = Topics()
T0 = 1_795_500_000


def _records(band: str) -> dict:
    return {
        "v": 1, "band_id": band, "gateway_id": "gw-ann", "stream": "hr", "received_at": T0,
        "records": [{"seq": 0, "t": T0, "bpm": 61}],
    }  # fmt: skip


async def _register(who, gateway_id: str):
    return await who.client.post("/gateways", json={"gateway_id": gateway_id})


def _bound(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT gateway_id, band_id FROM gateway_bands").fetchall())


async def test_an_owner_registers_a_gateway_and_binds_a_band_by_claiming_it(
    api, settings, broker, owner
):
    assert broker.enforces_acls, "this needs mosquitto with its dynamic-security plugin"
    bob = await person(str(api.base_url), settings.database_url, "bob@example.com")
    ingest = Client(broker.url_for(broker_acl.INGEST), "ingest-like").start(TOPICS.records_filter())
    gw = None
    try:
        r = await owner.client.post("/gateways", json={"gateway_id": "gw-ann"})
        assert r.status_code == 201, r.text
        login = r.json()
        assert login["mqtt_client_id"] == broker_acl.gateway_client_id("gw-ann")
        taken = await bob.client.post("/gateways", json={"gateway_id": "gw-ann"})
        assert taken.status_code == 409 and "someone else" in taken.json()["error"]["message"]

        code = claim_code(settings.claim_secret, "BH-0001")
        r = await owner.client.post(
            "/bands/BH-0001/claim", json={"claim_code": code, "gateway_id": "gw-ann"}
        )
        assert r.status_code == 200 and r.json()["gateway_id"] == "gw-ann", r.text
        assert _bound(settings.database_url) == {("gw-ann", "BH-0001")}
        mine = (await owner.client.get("/gateways")).json()
        assert [(g["gateway_id"], g["bands"]) for g in mine] == [("gw-ann", ["BH-0001"])]

        # the login works, for the bound band only
        url = credentials.with_login(
            broker.anonymous_url, login["mqtt_username"], login["mqtt_password"]
        )
        gw = Client(url, login["mqtt_client_id"]).start()
        gw.publish(TOPICS.records("BH-0001", "hr"), _records("BH-0001"))
        gw.publish(TOPICS.records("BH-0002", "hr"), _records("BH-0002"))
        await eventually(lambda: ingest.got, 5, "the bound band's records")
        time.sleep(0.5)
        assert ingest.topics_got() == [TOPICS.records("BH-0001", "hr")]

        # a stranger neither sees nor uses another's gateway or band
        assert (await bob.client.get("/gateways")).json() == []
        r = await bob.client.put("/gateways/gw-ann/bands/BH-0001")
        assert r.status_code == 404
        assert (
            await bob.client.post("/gateways", json={"gateway_id": "gw-bob"})
        ).status_code == 201
        r = await bob.client.put("/gateways/gw-bob/bands/BH-0001")
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_band"

        # handing the band to bob takes it off ann's gateway, on the broker too
        r = await owner.client.post("/bands/BH-0001/transfer", json={"email": "bob@example.com"})
        assert r.status_code == 200, r.text
        assert _bound(settings.database_url) == set()
        gw.publish(TOPICS.records("BH-0001", "hr"), _records("BH-0001"))
        time.sleep(0.5)
        assert len(ingest.got) == 1
        r = await bob.client.put("/gateways/gw-bob/bands/BH-0001")
        assert r.status_code == 200 and r.json()["bound"] is True
        assert _bound(settings.database_url) == {("gw-bob", "BH-0001")}

        # erasing the wearer unbinds it everywhere
        assert (await bob.client.delete("/bands/BH-0001")).status_code == 200
        assert _bound(settings.database_url) == set()

        # revoking cuts ann's gateway off at once; it cannot come back
        assert (await owner.client.delete("/gateways/gw-ann")).status_code == 204
        await eventually(lambda: any(e.startswith("gone") for e in gw.events), 3, "the cut")
        again = Client(url, login["mqtt_client_id"]).start()
        await eventually(lambda: again.events, 5, "the broker's answer")
        assert again.events[0] == "connect Not authorized"
        again.stop()
        assert (await owner.client.get("/gateways")).json() == []
        r = await owner.client.post("/gateways", json={"gateway_id": "gw-ann"})
        assert r.status_code == 409 and "revoked" in r.json()["error"]["message"]
    finally:
        if gw is not None:
            gw.stop()
        ingest.stop()
        await bob.aclose()


async def test_someone_elses_gateway_is_refused_and_an_erased_accounts_is_revoked(
    api, settings, owner
):
    bob = await person(str(api.base_url), settings.database_url, "bob@example.com")
    try:
        assert (
            await bob.client.post("/gateways", json={"gateway_id": "gw-bob"})
        ).status_code == 201
        code = claim_code(settings.claim_secret, "BH-0007")
        r = await owner.client.post(
            "/bands/BH-0007/claim", json={"claim_code": code, "gateway_id": "gw-bob"}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_gateway"
        with psycopg.connect(settings.database_url) as conn:
            assert (
                conn.execute("SELECT owner_id FROM bands WHERE band_id = 'BH-0007'").fetchone()
                is None
            )
        # an erased account's gateways go with it: revoked (on the broker too)
        r = await bob.client.post("/auth/me/erase", json={"password": PASSWORD})
        assert r.status_code == 200, r.text
        with psycopg.connect(settings.database_url) as conn:
            gone = conn.execute(
                "SELECT revoked_at IS NOT NULL, account_id FROM gateways"
                " WHERE gateway_id = 'gw-bob'"
            ).fetchone()
        assert gone == (True, None)
    finally:
        await bob.aclose()
