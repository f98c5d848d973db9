"""Ingest against a real broker and a real PostgreSQL: bad input is dead-lettered with a
reason, good input is stored once, and messages are acknowledged only after commit."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from bandhub.contracts.messages import Topics
from bandhub.mqtt import mqtt_client
from ingest.service import Ingest
from tests.e2e.helpers import eventually

T0 = 1_795_500_000


def _hr_batch(band: str = "BH-0001", seqs=range(3), **over) -> dict:
    batch = {
        "v": 1,
        "band_id": band,
        "gateway_id": "gw-test",
        "stream": "hr",
        "received_at": T0 + 10,
        "records": [{"seq": s, "t": T0 + 5 * s, "bpm": 60 + s, "rr_ms": [1000.0]} for s in seqs],
    }
    return batch | over


@pytest.fixture
def publisher(broker):
    client = mqtt_client(broker.url, "test-publisher")  # the operator login: any topic
    client.connect("127.0.0.1", broker.port)
    client.loop_start()

    def publish(topic: str, payload) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, body, qos=1).wait_for_publish(5)

    yield publish
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def ingest(settings):
    svc = Ingest(settings, client_id=f"ingest-test-{time.monotonic_ns()}")
    svc.start()
    assert svc.connected.wait(10)
    yield svc
    svc.stop()


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


async def test_duplicates_are_stored_once(settings, ingest, publisher):
    topic = Topics().records("BH-0001", "hr")
    publisher(topic, _hr_batch())
    publisher(topic, _hr_batch(seqs=range(1, 5)))  # overlaps seq 1 and 2
    await eventually(lambda: ingest.stats.messages == 2, 10, "both messages processed")
    assert _rows(settings.database_url, "SELECT seq, bpm FROM hr ORDER BY seq") == [
        (0, 60), (1, 61), (2, 62), (3, 63), (4, 64)
    ]  # fmt: skip
    assert _rows(settings.database_url, "SELECT band_id FROM bands") == [("BH-0001",)]


async def test_the_band_lists_record_counts_equal_a_recount(settings, ingest, publisher, owner):
    """Counts are kept as records are stored: re-sent records are not counted twice."""
    topics = Topics()
    publisher(topics.records("BH-0001", "hr"), _hr_batch())
    publisher(topics.records("BH-0001", "hr"), _hr_batch(seqs=range(1, 5)))  # 2 repeats
    publisher(topics.records("BH-0002", "hr"), _hr_batch(band="BH-0002", seqs=range(7)))
    battery = {"v": 1, "band_id": "BH-0001", "gateway_id": "gw-test", "stream": "battery",
               "received_at": T0 + 10, "records": [{"seq": 0, "t": T0, "level": 80}]}  # fmt: skip
    publisher(topics.records("BH-0001", "battery"), battery)
    publisher(topics.records("BH-0001", "battery"), battery)  # the same again
    await eventually(lambda: ingest.stats.messages == 5, 10, "all messages processed")
    recount = dict(
        _rows(
            settings.database_url,
            "SELECT band_id, count(*) FROM (SELECT band_id FROM hr"
            " UNION ALL SELECT band_id FROM battery) r GROUP BY band_id",
        )
    )
    owner.own(settings.database_url, "BH-0001", "BH-0002")
    listed = {b["band_id"]: b["records"] for b in (await owner.client.get("/bands")).json()}
    assert listed == recount == {"BH-0001": 6, "BH-0002": 7}


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("bandhub/v1/band/BH-0001/rec/hr", b"{not json", "not JSON"),
        ("bandhub/v1/band/BH-0001/rec/hr", _hr_batch(v=7), "invalid batch: v"),
        ("bandhub/v1/band/BH-0001/rec/hr", _hr_batch(band="BH-0002"), "topic says band"),
        ("bandhub/v1/band/BH-0001/rec/gps", _hr_batch(), "unknown stream 'gps'"),
        ("bandhub/v1/band/BH-0001/rec/hr", {"v": 1}, "invalid batch"),
    ],
)
async def test_malformed_messages_are_dead_lettered_with_a_reason(
    settings, ingest, publisher, topic, payload, reason
):
    publisher(topic, payload)
    publisher(Topics().records("BH-0003", "hr"), _hr_batch(band="BH-0003"))  # still flowing
    await eventually(lambda: ingest.stats.messages == 2, 10, "both messages processed")
    [(got_topic, got_reason, raw)] = _rows(
        settings.database_url, "SELECT topic, reason, payload FROM dead_letters"
    )
    assert got_topic == topic
    assert reason in got_reason
    expected_raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    assert bytes(raw) == expected_raw
    assert _rows(settings.database_url, "SELECT count(*) FROM hr WHERE band_id = 'BH-0003'") == [
        (3,)
    ]


async def test_an_out_of_range_record_is_rejected_alone(settings, ingest, publisher):
    batch = _hr_batch()
    batch["records"][1]["bpm"] = 400
    publisher(Topics().records("BH-0001", "hr"), batch)
    await eventually(lambda: ingest.stats.messages == 1, 10, "message processed")
    assert _rows(settings.database_url, "SELECT seq FROM hr ORDER BY seq") == [(0,), (2,)]
    [(reason, stream)] = _rows(settings.database_url, "SELECT reason, stream FROM dead_letters")
    assert "seq 1" in reason and "bpm" in reason and stream == "hr"


async def test_unknown_band_is_dead_lettered_when_auto_register_is_off(settings, broker, publisher):
    settings.ingest_auto_register_bands = False
    svc = Ingest(settings, client_id="ingest-strict")
    svc.start()
    try:
        assert svc.connected.wait(10)
        publisher(Topics().records("BH-0404", "hr"), _hr_batch(band="BH-0404"))
        await eventually(lambda: svc.stats.messages == 1, 10, "message processed")
    finally:
        svc.stop()
    assert _rows(settings.database_url, "SELECT count(*) FROM hr") == [(0,)]
    reasons = [r[0] for r in _rows(settings.database_url, "SELECT reason FROM dead_letters")]
    assert len(reasons) == 3 and all("unknown band 'BH-0404'" in r for r in reasons)


async def test_messages_are_acked_only_after_commit(settings, broker, publisher):
    """A consumer whose transaction never commits does not ack; after it goes away, the
    broker redelivers the message to the next consumer of the same persistent session."""
    good_url = settings.database_url
    broken = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    doomed = Ingest(broken, client_id="ingest-acks")
    doomed._thread.start()  # start() would migrate, and this database does not exist
    doomed._client.connect_async("127.0.0.1", broker.port)
    doomed._client.loop_start()
    assert doomed.connected.wait(10)
    publisher(Topics().records("BH-0001", "hr"), _hr_batch())
    await eventually(lambda: doomed._queue.qsize() == 1, 10, "the message to arrive")
    assert doomed.stats.messages == 0  # received, not committed, so not acked
    doomed._stop.set()
    doomed._client.disconnect()
    doomed._client.loop_stop()

    again = Ingest(settings.model_copy(update={"database_url": good_url}), client_id="ingest-acks")
    again.start()
    try:
        await eventually(lambda: again.stats.rows == 3, 15, "the unacked message redelivered")
    finally:
        again.stop()


async def test_records_with_an_implausible_band_clock_are_flagged_not_stored(settings, publisher):
    strict = settings.model_copy(update={"ingest_max_future_s": 300.0})
    ingest = Ingest(strict, client_id="ingest-test-strict")
    ingest.start()
    assert ingest.connected.wait(10)
    batch = _hr_batch(seqs=range(4))
    batch["records"][1]["t"] = T0 + 10 + 3600  # an hour after the gateway received it
    batch["records"][2]["t"] = T0 - 2 * 365 * 86400  # two years before
    publisher(Topics().records("BH-0001", "hr"), batch)
    shifted = _hr_batch(seqs=[9]) | {"clock_offset_s": 3600.0}  # band clock an hour fast,
    shifted["records"][0]["t"] = T0 + 3600  # which the gateway measured: plausible
    publisher(Topics().records("BH-0001", "hr"), shifted)
    try:
        await eventually(lambda: ingest.stats.messages == 2, 10, "messages processed")
    finally:
        ingest.stop()
    assert _rows(settings.database_url, "SELECT seq FROM hr ORDER BY seq") == [(0,), (3,), (9,)]
    reasons = [r for (r,) in _rows(settings.database_url, "SELECT reason FROM dead_letters")]
    assert any("seq 1" in r and "3600 s in the future" in r for r in reasons)
    assert any("seq 2" in r and "in the past" in r for r in reasons)
