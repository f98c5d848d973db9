"""The MQTT message schema: what ingest accepts and what it rejects, with reasons."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bandhub.contracts import gatt as g
from bandhub.contracts.messages import (
    RECORD_MODELS,
    CommandRequest,
    LiveHeartRate,
    LiveRawAccel,
    RecordBatch,
    RejectedData,
    Stream,
    TopicKind,
    TopicRef,
    Topics,
)
from gateway.records import batches


def _batch(**over) -> dict:
    base = {
        "v": 1,
        "band_id": "BH-0001",
        "gateway_id": "gw-1",
        "stream": "hr",
        "received_at": 1_800_000_000.0,
        "records": [{"seq": 1, "t": 1_800_000_000, "bpm": 61, "rr_ms": [980.0]}],
    }
    return base | over


def test_gateway_batches_validate_against_the_schema() -> None:
    recs = [
        g.Record(
            1, g.RecordType.HEART_RATE, 1_800_000_000, g.HeartRateMeasurement(70, (1000,), True)
        ),
        g.Record(2, g.RecordType.EPOCH, 1_800_000_000, g.Epoch(12, 300, 40, 70, True)),
        g.Record(3, g.RecordType.BATTERY, 1_800_000_060, 80),
        g.Record(4, g.RecordType.BUTTON, 1_800_000_060, g.ButtonPress.IM_OK),
        g.Record(
            5, g.RecordType.FALL, 1_800_000_060, g.FallWindow(50, 1, (0, 1000), (0, 0), (1000, 0))
        ),
    ]
    out = batches(
        recs,
        band_id="BH-0001",
        gateway_id="gw",
        received_at=1.8e9,
        clock_offset_s=0.5,
        max_records=100,
    )
    assert {s for s, _ in out} == set(Stream)
    for stream, payload in out:
        batch = RecordBatch.model_validate(payload)
        for rec in batch.records:
            RECORD_MODELS[stream].model_validate(rec)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"v": 2}, "v"),
        ({"band_id": "../etc"}, "band_id"),
        ({"stream": "gps"}, "stream"),
        ({"records": []}, "records"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_batches_name_the_offending_field(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        RecordBatch.model_validate(_batch(**change))
    assert field in str(exc.value)


@pytest.mark.parametrize(
    "record",
    [
        {"seq": -1, "t": 1_800_000_000, "bpm": 60},
        {"seq": 1, "t": 1_800_000_000, "bpm": 400},
        {"seq": 1, "t": 12, "bpm": 60},
        {"seq": 1, "t": 1_800_000_000, "bpm": 60, "rr_ms": [50.0]},
    ],
)
def test_out_of_range_heart_rate_records_are_rejected(record: dict) -> None:
    with pytest.raises(ValidationError):
        RECORD_MODELS[Stream.HR].model_validate(record)


def test_fall_window_axes_must_agree() -> None:
    with pytest.raises(ValidationError, match="equal length"):
        RECORD_MODELS[Stream.FALL].model_validate(
            {
                "seq": 1,
                "t": 1.8e9,
                "fs_hz": 50,
                "pre_samples": 0,
                "ax_g": [1],
                "ay_g": [],
                "az_g": [1],
            }
        )


def test_topics_round_trip() -> None:
    t = Topics("bandhub/v1")
    topic = t.records("BH-0001", Stream.EPOCH)
    assert topic == "bandhub/v1/band/BH-0001/rec/epoch"
    assert t.parse_records_topic(topic) == ("BH-0001", "epoch")
    with pytest.raises(ValueError):
        t.parse_records_topic("bandhub/v1/band/BH-0001/cmd")


def test_every_topic_of_the_contract_parses_back_to_its_kind_and_owner() -> None:
    t = Topics("bandhub/v1")
    cases = [
        (t.records("BH-1", Stream.HR), TopicRef(TopicKind.RECORDS, band_id="BH-1", stream="hr")),
        (t.rejected("BH-1"), TopicRef(TopicKind.REJECTED, band_id="BH-1")),
        (t.live_hr("BH-1"), TopicRef(TopicKind.LIVE_HR, band_id="BH-1")),
        (t.raw_accel("BH-1"), TopicRef(TopicKind.LIVE_RAW, band_id="BH-1")),
        (t.command("BH-1"), TopicRef(TopicKind.COMMAND, band_id="BH-1")),
        (t.command_result("BH-1"), TopicRef(TopicKind.COMMAND_RESULT, band_id="BH-1")),
        (t.band_status("BH-1"), TopicRef(TopicKind.BAND_STATUS, band_id="BH-1")),
        (t.gateway_status("gw-1"), TopicRef(TopicKind.GATEWAY_STATUS, gateway_id="gw-1")),
    ]
    for topic, ref in cases:
        assert t.parse(topic) == ref, topic
    # a band whose id is "gw" is still a band: the kind comes from the whole shape
    assert t.parse("bandhub/v1/band/gw/status").kind == TopicKind.BAND_STATUS


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/band/BH-1/status",  # another prefix
        "bandhub/v1/band/BH-1/rec",  # records without a stream
        "bandhub/v1/band//status",  # no band id
        "bandhub/v1/band/BH-1/live/ecg",  # not in the contract
        "bandhub/v1/gw/gw-1/cmd",
        "bandhub/v1",
    ],
)
def test_topics_outside_the_contract_are_refused(topic: str) -> None:
    with pytest.raises(ValueError):
        Topics("bandhub/v1").parse(topic)


def test_live_and_rejected_payloads_are_typed() -> None:
    raw = LiveRawAccel.model_validate(
        {"v": 1, "band_id": "BH-1", "fs_hz": 25, "first_sample": 0, "received_at": 1.8e9,
         "ax_g": [0.0, 0.1], "ay_g": [0.0, 0.1], "az_g": [1.0, 1.0]}
    )  # fmt: skip
    assert raw.fs_hz == 25
    with pytest.raises(ValidationError, match="same length"):
        LiveRawAccel.model_validate(raw.model_dump() | {"az_g": [1.0]})
    with pytest.raises(ValidationError):
        LiveHeartRate.model_validate({"v": 1, "band_id": "BH-1", "bpm": 70, "at": 1.8e9, "x": 1})
    rejected = RejectedData(v=1, band_id=None, reason="short", raw_hex="01", at=1.8e9)
    assert RejectedData.model_validate_json(rejected.model_dump_json()) == rejected


def test_command_request_limits() -> None:
    CommandRequest.model_validate({"v": 1, "id": "c1", "cmd": "find_band"})
    with pytest.raises(ValidationError):
        CommandRequest.model_validate({"v": 1, "id": "c1", "cmd": "self_destruct"})
