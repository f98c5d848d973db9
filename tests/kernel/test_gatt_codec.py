"""The GATT codec: standard Heart Rate Measurement variants, record frames, robustness."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bandhub.contracts import gatt as g

rr_values = st.lists(st.integers(min_value=0, max_value=0xFFFF), max_size=8)
measurements = st.builds(
    g.HeartRateMeasurement,
    bpm=st.integers(min_value=0, max_value=0xFFFF),
    rr_1024=rr_values.map(tuple),
    contact=st.sampled_from([None, True, False]),
    energy_kj=st.one_of(st.none(), st.integers(min_value=0, max_value=0xFFFF)),
)


@given(measurements)
def test_heart_rate_round_trip(m: g.HeartRateMeasurement) -> None:
    assert g.decode_heart_rate(g.encode_heart_rate(m)) == m


@pytest.mark.parametrize(
    ("raw", "bpm", "contact", "rr"),
    [
        (bytes([0x00, 72]), 72, None, ()),  # 8-bit, no contact support
        (bytes([0x01, 0x2C, 0x01]), 300, None, ()),  # 16-bit value
        (bytes([0x06, 60]), 60, True, ()),  # contact supported and detected
        (bytes([0x04, 60]), 60, False, ()),  # contact supported, not detected
        (bytes([0x16, 65, 0x00, 0x04, 0x10, 0x04]), 65, True, (1024, 1040)),  # with RR
        (bytes([0x19, 0x50, 0x00, 0x0A, 0x00, 0x00, 0x03]), 80, None, (768,)),  # u16+energy+RR
    ],
)
def test_decodes_standard_heart_rate_variants(raw, bpm, contact, rr) -> None:
    m = g.decode_heart_rate(raw)
    assert (m.bpm, m.contact, m.rr_1024) == (bpm, contact, rr)


def test_rr_intervals_convert_to_milliseconds() -> None:
    m = g.decode_heart_rate(bytes([0x10, 60, 0x00, 0x04]))
    assert m.rr_ms == [1000.0]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "at least 2 bytes"),
        (bytes([0x01, 60]), "16-bit"),
        (bytes([0x10, 60, 0x01]), "odd length"),
        (bytes([0x00, 60, 0x00]), "trailing"),
        (bytes([0x08, 60, 0x01]), "energy"),
    ],
)
def test_malformed_heart_rate_is_rejected_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(g.DecodeError, match=reason):
        g.decode_heart_rate(raw)


@given(st.binary(max_size=64))
def test_heart_rate_decoder_never_crashes(raw: bytes) -> None:
    with contextlib.suppress(g.DecodeError):
        g.decode_heart_rate(raw)


records = st.one_of(
    st.builds(
        lambda seq, t, m: g.Record(seq, g.RecordType.HEART_RATE, t, m),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        measurements.filter(lambda m: m.energy_kj is None),
    ),
    st.builds(
        lambda seq, t, e: g.Record(seq, g.RecordType.EPOCH, t, e),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.builds(
            g.Epoch,
            steps=st.integers(0, 0xFFFF),
            activity_count=st.integers(0, 0xFFFF),
            enmo_mg=st.integers(0, 0xFFFF),
            hr_mean=st.one_of(st.none(), st.integers(1, 255)),
            worn=st.booleans(),
        ),
    ),
    st.builds(
        lambda seq, t, n, pre, vals: g.Record(
            seq,
            g.RecordType.FALL,
            t,
            g.FallWindow(
                50, min(pre, n), tuple(vals[:n]), tuple(vals[n : 2 * n]), tuple(vals[2 * n : 3 * n])
            ),
        ),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.just(8),
        st.integers(0, 8),
        st.lists(st.integers(-32768, 32767), min_size=24, max_size=24),
    ),
    st.builds(
        lambda seq, t, p: g.Record(seq, g.RecordType.BUTTON, t, p),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.sampled_from(list(g.ButtonPress)),
    ),
    st.builds(
        lambda seq, t, lvl: g.Record(seq, g.RecordType.BATTERY, t, lvl),
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.integers(0, 100),
    ),
)


@given(st.lists(records, max_size=10), st.integers(min_value=1, max_value=300))
def test_record_frames_survive_any_notification_split(recs, chunk: int) -> None:
    """Records cross notifications at arbitrary boundaries and still decode exactly."""
    stream = b"".join(g.encode_record(r) for r in recs)
    dec = g.FrameDecoder()
    out = []
    for i in range(0, len(stream), chunk):
        out.extend(dec.feed(stream[i : i + chunk]))
    assert out == recs
    assert dec.pending_bytes == 0


@given(st.binary(max_size=300))
def test_frame_decoder_returns_records_or_decode_errors(raw: bytes) -> None:
    for item in g.FrameDecoder().feed(raw):
        assert isinstance(item, g.Record | g.DecodeError)


def test_bad_frame_is_reported_and_the_next_one_still_decodes() -> None:
    good = g.Record(7, g.RecordType.BATTERY, 1_800_000_000, 55)
    items = g.FrameDecoder().feed(_frame(6, 6, b"\xaa") + g.encode_record(good))  # type 6 unknown
    assert isinstance(items[0], g.DecodeError)
    assert "unknown record type 0x06" in str(items[0])
    assert items[0].raw.endswith(b"\xaa")
    assert items[1] == good


def _frame(seq: int, rtype: int, payload: bytes) -> bytes:
    import struct

    return struct.pack("<HIBI", len(payload), seq, rtype, 0) + payload


def test_truncated_stream_is_an_error_not_a_short_result() -> None:
    data = g.encode_record(g.Record(1, g.RecordType.BATTERY, 0, 50))
    with pytest.raises(g.DecodeError, match="truncated"):
        g.decode_records(data[:-1])


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_current_time_round_trip_to_1_256_second(when: dt.datetime) -> None:
    when = when.replace(tzinfo=dt.UTC)
    back = g.decode_current_time(g.encode_current_time(when))
    assert abs((back - when).total_seconds()) < 1 / 256 + 1e-6


def test_log_control_and_command_encodings() -> None:
    assert g.encode_report_from(5, 400) == bytes([0x01, 5, 0, 0, 0, 0x90, 0x01])
    resp = g.LogResponse(0x01, g.LogStatusCode.SUCCESS, 99, 3)
    assert g.decode_log_response(g.encode_log_response(resp)) == resp
    assert g.decode_command_response(
        g.encode_command_response(g.Command.FIND_BAND, g.CommandStatus.SUCCESS)
    ) == (g.Command.FIND_BAND, g.CommandStatus.SUCCESS)
    with pytest.raises(g.DecodeError):
        g.decode_log_status(bytes(8)[:7])
    with pytest.raises(g.DecodeError, match="after"):
        g.decode_log_status(bytes([9, 0, 0, 0, 1, 0, 0, 0]))


@given(st.binary(max_size=300))
def test_every_small_decoder_raises_only_decode_error(raw: bytes) -> None:
    for decode in (
        g.decode_current_time,
        g.decode_battery_level,
        g.decode_steps,
        g.decode_log_status,
        g.decode_log_response,
        g.decode_command_response,
        g.decode_new_alert,
        g.Profile.decode,
        g.Alarm.decode,
        g.RawAccelChunk.decode,
    ):
        with contextlib.suppress(g.DecodeError):
            decode(raw)


def test_new_alert_text_is_cut_to_18_bytes_on_a_character_boundary() -> None:
    raw = g.encode_new_alert(g.AlertCategory.SMS, 1, "é" * 20)
    cat, count, text = g.decode_new_alert(raw)
    assert (cat, count) == (g.AlertCategory.SMS, 1)
    assert text == "é" * 9


def test_profile_and_alarm_operands_round_trip_and_refuse_nonsense():
    p = g.Profile(age=71, height_cm=162, weight_kg=58.4)
    assert g.Profile.decode(p.encode()) == p
    a = g.Alarm(slot=2, hour=7, minute=30, weekdays=0b0011111)
    assert g.Alarm.decode(a.encode()) == a
    with pytest.raises(g.DecodeError):
        g.Profile.decode(g.Profile(age=0, height_cm=162, weight_kg=58).encode())
    with pytest.raises(g.DecodeError):
        g.Alarm.decode(bytes([9, 7, 30, 1]))
    with pytest.raises(g.DecodeError):
        g.Alarm.decode(b"\x01\x02")


chunk_samples = st.lists(
    st.tuples(*[st.integers(min_value=-32768, max_value=32767)] * 3),
    min_size=1,
    max_size=g.RawAccelChunk.MAX_SAMPLES,
)


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(1, 100), chunk_samples)
def test_raw_accel_chunks_round_trip_and_fit_one_notification(first, fs, samples) -> None:
    ax, ay, az = (tuple(v) for v in zip(*samples, strict=True))
    chunk = g.RawAccelChunk(first, fs, ax, ay, az)
    raw = chunk.encode()
    assert len(raw) <= 244  # MTU 247 - 3
    assert g.RawAccelChunk.decode(raw) == chunk
