"""The acknowledgement link answers by the Accept header: JSON for API clients as
before, a page for browsers, in the language Accept-Language prefers."""

from __future__ import annotations

import psycopg

from alerts import links
from api.ack_page import language, prefers_html
from tests.api.test_alert_stream import _fall

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_only_a_preference_for_html_gets_the_page():
    assert prefers_html(BROWSER)
    assert not prefers_html(None) and not prefers_html("*/*")
    assert not prefers_html("application/json")
    assert not prefers_html("application/json, text/html;q=0.5")
    assert not prefers_html("text/html;q=0")
    assert language("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert language("en-GB,en;q=0.9,zh;q=0.5") == "en"
    assert language("fr-FR") == language(None) == "en"


async def test_the_same_link_answers_json_or_a_page_and_only_a_post_acknowledges(
    api, owner, settings
):
    owner.own(settings.database_url, "BH-0001")
    contact = {"name": "Bo", "channel": "email", "email": "bo@example.com"}
    contact_id = (await owner.client.post("/bands/BH-0001/contacts", json=contact)).json()["id"]
    _fall(settings.database_url, "BH-0001", 1)
    with psycopg.connect(settings.database_url) as conn:
        alert_id = conn.execute("UPDATE alerts SET state = 'dispatched' RETURNING id").fetchone()[0]
        key = conn.execute("SELECT value FROM server_keys WHERE name = 'ack_link'").fetchone()[0]
    url = links.ack_url("", key, alert_id, contact_id)
    page = await api.get(url, headers={"Accept": BROWSER, "Accept-Language": "en-GB"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "I&#x27;m on my way" in page.text and "BH-0001" in page.text  # the button
    shown = await api.get(url)  # an API client (or a mail scanner): JSON, nothing changes
    assert shown.status_code == 200 and shown.json()["state"] == "dispatched"
    done = await api.post(url)
    assert done.status_code == 200 and done.json()["state"] == "acknowledged"
    page = await api.get(url, headers={"Accept": BROWSER, "Accept-Language": "en-GB"})
    assert "you are on your way" in page.text and "<form" not in page.text
    forged = await api.get(url.replace("sig=", "sig=0"), headers={"Accept": BROWSER})
    assert forged.status_code == 403 and "cannot be used" in forged.text
    assert (await api.get(url.replace("sig=", "sig=0"))).json()["error"]["code"] == "bad_signature"
