"""The gateway side of bindings, with a real band on the bumble stack: a band that is
not bound to the gateway keeps its records (the broker would refuse them, yet
acknowledge them over MQTT 3.1.1), syncs from its first record once bound, and is
disconnected at once when unbound."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import psycopg
from bumble.link import LocalLink

from bandhub.contracts.messages import Topics
from bandhub.principals import credentials
from bandhub.principals.dynsec import BrokerAdmin
from bandhub.principals.gateways import bind_band, register_gateway, unbind_band
from firmware_sim.runner import FleetOptions, start_fleet
from gateway.backend import local_link_backend
from gateway.service import run_gateway
from tests.e2e.helpers import eventually
from tests.principals.mqtt_probe import Client


async def test_an_unbound_band_keeps_its_records_until_it_is_bound(settings, broker, caplog):
    caplog.set_level(logging.INFO)
    link = LocalLink()
    [band] = await start_fleet(
        FleetOptions(count=1, start=dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC), speed=60,
                     fall_band=None),
        link,
    )  # fmt: skip
    topics = Topics()
    with (
        psycopg.connect(settings.database_url, autocommit=True) as db,
        BrokerAdmin(broker.admin_url, topics) as admin,
    ):
        creds = register_gateway(db, admin, "gw-local")  # no bands yet
        credentials.save(settings.data_dir, "gw-local", creds.username, creds.password)
        gw_settings = settings.model_copy(
            update={
                "gateway_auth": True,
                "gateway_set_band_clock": False,
                "mqtt_url": broker.anonymous_url,  # the login comes from the file
            }
        )
        listener = Client(broker.url, "support-tool").start(f"{topics.prefix}/band/#")
        stop = asyncio.Event()
        task = asyncio.create_task(run_gateway(gw_settings, await local_link_backend(link), stop))
        try:
            await eventually(
                lambda: "BH-0001 is not bound to gateway gw-local" in caplog.text, 20, "a refusal"
            )
            await asyncio.sleep(2)  # the band makes records meanwhile: one a minute of band time
            assert listener.got == []

            bind_band(db, admin, "gw-local", "BH-0001")

            def hr_seqs() -> list[int]:
                return [
                    r["seq"]
                    for t, p in listener.got
                    if t.endswith("/rec/hr")
                    for r in json.loads(p)["records"]
                ]

            await eventually(lambda: hr_seqs(), 20, "records once bound")
            assert min(hr_seqs()) == 0  # nothing was lost while it was not bound

            unbind_band(db, admin, "gw-local", "BH-0001")
            await eventually(lambda: not band.is_connected, 20, "the band disconnected")
            assert "BH-0001 was unbound from this gateway: disconnecting" in caplog.text
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await band.close()
            listener.stop()
