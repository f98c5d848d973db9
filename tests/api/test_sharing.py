"""Who sees a wearer: the owner shares with family by e-mail and revokes; the wearer's
consents and audit log keep the record; care staff see their organisation's wearers;
support sees diagnostics and no health data; contacts can opt out; commands and a
test alert reach the band and the contacts."""

from __future__ import annotations

import asyncio
import json

import psycopg

from tests.people import person

DAY = {"date": "2026-11-23"}


def _invitation_code(settings, band_id: str, email: str) -> str:
    """The code the invitee finds in their e-mail (the e-mail itself is tested in
    test_accounts); here it is re-issued so the test holds it."""
    from api.security import tokens

    code = tokens.new_secret()
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "UPDATE shares SET token_hash = %s WHERE band_id = %s AND email = %s"
            " AND accepted_at IS NULL",
            (tokens.digest(code), band_id, email),
        )
    return code


async def test_family_sees_what_was_shared_until_the_owner_revokes_it(api, owner, settings):
    owner.own(settings.database_url, "BH-0001", "BH-0002")
    base = str(api.base_url)
    bo = await person(base, settings.database_url, "bo@example.com")
    r = await owner.client.post(
        "/bands/BH-0001/shares", json={"email": "bo@example.com", "scopes": ["summaries"]}
    )
    assert r.status_code == 201 and r.json()["state"] == "invited"
    share_id = r.json()["id"]
    assert (await bo.client.get("/bands/BH-0001/summary", params=DAY)).status_code == 404

    code = _invitation_code(settings, "BH-0001", "bo@example.com")
    eve = await person(base, settings.database_url, "eve@example.com")
    stolen = await eve.client.post("/invitations/accept", json={"token": code})
    assert stolen.status_code == 403 and stolen.json()["error"]["code"] == "wrong_account"
    accepted = await bo.client.post("/invitations/accept", json={"token": code})
    assert accepted.status_code == 200 and accepted.json()["state"] == "active"

    assert (await bo.client.get("/bands/BH-0001/summary", params=DAY)).status_code == 200
    [listed] = (await bo.client.get("/bands")).json()
    assert (listed["band_id"], listed["role"]) == ("BH-0001", "share")
    assert listed["scopes"] == ["diagnostics", "summaries"]
    no_alerts = await bo.client.get("/bands/BH-0001/contacts")
    assert no_alerts.status_code == 403  # he may see the band, not this
    assert (await bo.client.get("/bands/BH-0002/summary", params=DAY)).status_code == 404

    assert (await owner.client.delete(f"/bands/BH-0001/shares/{share_id}")).status_code == 204
    assert (await bo.client.get("/bands/BH-0001/summary", params=DAY)).status_code == 404
    assert (await bo.client.get("/bands")).json() == []

    [consent] = (await owner.client.get("/bands/BH-0001/consents")).json()
    assert consent["grantee"] == "bo@example.com" and consent["scopes"] == ["summaries"]
    assert consent["given_by"] == "ann@example.com" and consent["revoked_at"] is not None

    audit = (await owner.client.get("/bands/BH-0001/audit")).json()
    bo_reads = [e for e in audit if e["who"] == "bo@example.com"]
    assert bo_reads and bo_reads[0]["actor"] == "share"
    assert bo_reads[0]["action"] == "GET /bands/{band_id}/summary"
    assert bo_reads[0]["client_ip"] == "127.0.0.1"
    with psycopg.connect(settings.database_url) as conn:  # append-only, even for the server
        try:
            conn.execute("DELETE FROM audit_log")
            raise AssertionError("the audit log accepted a DELETE")
        except psycopg.errors.RaiseException as exc:
            assert "append-only" in str(exc)
    for who in (bo, eve):
        await who.aclose()


async def test_care_staff_see_their_organisations_wearers_and_nobody_elses(api, owner, settings):
    owner.own(settings.database_url, "BH-0001")
    base = str(api.base_url)
    admin = await person(base, settings.database_url, "admin@care.example")
    nurse = await person(base, settings.database_url, "nurse@care.example")
    org = (await admin.client.post("/organisations", json={"name": "Sunny Care"})).json()
    r = await admin.client.post(
        f"/organisations/{org['id']}/members", json={"email": "nurse@care.example"}
    )
    assert r.status_code == 201 and r.json()["role"] == "staff"
    assert (await nurse.client.get(f"/organisations/{org['id']}/wearers")).json() == []

    r = await owner.client.put("/bands/BH-0001/organisation", json={"org_id": org["id"]})
    assert r.status_code == 200
    [wearer] = (await nurse.client.get(f"/organisations/{org['id']}/wearers")).json()
    assert wearer["band_id"] == "BH-0001"
    assert (await nurse.client.get("/bands/BH-0001/summary", params=DAY)).status_code == 200
    change = await nurse.client.patch("/bands/BH-0001", json={"fall_countdown_s": 5})
    assert change.status_code == 403  # staff may look after the wearer, not change the band
    assert (await admin.client.patch("/bands/BH-0001", json={"name": "Mrs Li"})).status_code == 200

    await admin.client.delete(f"/organisations/{org['id']}/members/{nurse.account_id}")
    assert (await nurse.client.get("/bands/BH-0001/summary", params=DAY)).status_code == 404
    for who in (admin, nurse):
        await who.aclose()


async def test_support_sees_diagnostics_but_no_health_data(api, owner, settings):
    owner.own(settings.database_url, "BH-0001")
    helper = await person(
        str(api.base_url), settings.database_url, "help@bandhub.example", support=True
    )
    assert (await helper.client.get("/bands/BH-0001/diagnostics")).status_code == 200
    for path in ("/bands/BH-0001/summary", "/bands/BH-0001/contacts", "/bands/BH-0001/audit"):
        r = await helper.client.get(path, params=DAY)
        assert r.status_code == 403, path
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO dead_letters (topic, band_id, reason, payload)"
            " VALUES ('t', 'BH-0001', 'out of range', '{\"bpm\": 400}')"
        )
    [letter] = (await helper.client.get("/dead-letters")).json()
    assert letter["reason"] == "out of range" and letter["payload"] is None
    assert letter["size"] == len('{"bpm": 400}')
    [mine] = (await owner.client.get("/bands/BH-0001/dead-letters")).json()
    assert mine["payload"] == '{"bpm": 400}'
    await helper.aclose()


async def test_a_contact_can_opt_out_and_gets_no_more_alerts(api, owner, settings):
    from alerts import links

    owner.own(settings.database_url, "BH-0001")
    contact = {"name": "Bo", "channel": "email", "email": "bo@example.org"}
    bo = (await owner.client.post("/bands/BH-0001/contacts", json=contact)).json()
    with psycopg.connect(settings.database_url) as conn:
        key = conn.execute("SELECT value FROM server_keys WHERE name = 'ack_link'").fetchone()[0]
    forged = await api.get(f"/contacts/{bo['id']}/opt-out", params={"sig": "0" * 32})
    assert forged.status_code == 403
    sig = links.opt_out_signature(key, bo["id"])
    assert (await api.get(f"/contacts/{bo['id']}/opt-out", params={"sig": sig})).status_code == 200
    [listed] = (await owner.client.get("/bands/BH-0001/contacts")).json()
    assert listed["opted_out_at"] is not None
    test = await owner.client.post("/bands/BH-0001/test-alert")
    assert test.status_code == 201 and test.json()["kind"] == "test"
    detail = (await owner.client.get(f"/alerts/{test.json()['id']}")).json()
    assert detail["deliveries"] == []  # Bo opted out: nothing is sent to him


async def test_a_test_alert_and_a_command_reach_their_destinations(
    api, owner, settings, band_commands
):
    owner.own(settings.database_url, "BH-0001")
    hook = {"name": "Bo", "url": "http://127.0.0.1:9/hook", "secret": "s" * 20}
    await owner.client.post("/bands/BH-0001/contacts", json=hook)
    test = (await owner.client.post("/bands/BH-0001/test-alert")).json()
    detail = (await owner.client.get(f"/alerts/{test['id']}")).json()
    assert [d["contact"] for d in detail["deliveries"]] == ["Bo"]
    assert detail["state"] == "dispatched" and detail["next_repeat_at"] is None

    r = await owner.client.post("/bands/BH-0001/commands", json={"cmd": "find_band"})
    assert r.status_code == 202
    message = await asyncio.wait_for(band_commands.get(), 10)
    assert message.topic == "bandhub/v1/band/BH-0001/cmd"
    sent = json.loads(message.payload)
    assert (sent["cmd"], sent["id"]) == ("find_band", r.json()["id"])
    countdown = await owner.client.post("/bands/BH-0001/commands", json={"cmd": "fall_countdown"})
    assert countdown.status_code == 422  # the alert flow's own command


async def test_acknowledging_as_oneself_is_recorded(api, owner, settings):
    """Acknowledging as oneself is recorded on the alert and in its timeline."""
    owner.own(settings.database_url, "BH-0001")
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "INSERT INTO alerts (band_id, kind, state, event_t, dispatch_at)"
            " VALUES ('BH-0001', 'sos', 'dispatched', now(), now())"
        )
    r = await owner.client.post("/alerts/1/ack", json={})
    assert r.status_code == 200 and r.json()["acknowledged_by_account"] == owner.account_id
    assert r.json()["timeline"][-1]["detail"]["acknowledged_by_account"] == owner.account_id
