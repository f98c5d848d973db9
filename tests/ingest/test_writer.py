"""The writer on the real database, with bands it does not know: every record of an
unregistered band is dead-lettered with its reason, whatever its stream, and the
registered bands' records in the same batch are stored."""

from __future__ import annotations

import psycopg

from bandhub.contracts.messages import EpochRecord, Stream
from ingest.validate import HrRow, Parsed
from ingest.writer import RecordWriter

T0 = 1_795_478_400


def _hr(band: str, seqs: range) -> Parsed:
    records = [HrRow(seq=s, t=T0 + 5 * s, bpm=60 + s, rr_ms=[1000.0]) for s in seqs]
    return Parsed(band, Stream.HR, T0 + 600, records, gateway_id="gw")


def _epochs(band: str, seqs: range) -> Parsed:
    records = [
        EpochRecord(seq=s, t=T0 + 60 * s, steps=10, activity_count=5, enmo_mg=20) for s in seqs
    ]
    return Parsed(band, Stream.EPOCH, T0 + 600, records, gateway_id="gw")


def _stored(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT 'hr:' || band_id, count(*) FROM hr GROUP BY band_id UNION ALL"
        " SELECT 'epoch:' || band_id, count(*) FROM epochs GROUP BY band_id"
    ).fetchall()
    return dict(rows)


def test_records_of_unknown_bands_are_dead_lettered_in_every_stream(clean_db: str) -> None:
    with psycopg.connect(clean_db) as conn:
        conn.execute("INSERT INTO bands (band_id) VALUES ('BH-0001')")
        conn.commit()
        writer = RecordWriter(conn, auto_register=False, countdown_s=0)
        only_unknown = [("t", _epochs("BH-0404", range(3))), ("t", _hr("BH-0404", range(4)))]
        assert writer.write(only_unknown) == {}
        mixed = [
            ("t", _epochs("BH-0404", range(3, 5))),
            ("t", _hr("BH-0001", range(6))),
            ("t", _epochs("BH-0001", range(2))),
        ]
        assert writer.write(mixed) == {"hr": 6, "epoch": 2}
        assert _stored(conn) == {"hr:BH-0001": 6, "epoch:BH-0001": 2}
        reasons = conn.execute(
            "SELECT stream, reason, payload FROM dead_letters ORDER BY id"
        ).fetchall()
    assert [(stream, reason) for stream, reason, _p in reasons] == [
        *(("epoch", f"unknown band 'BH-0404' (seq {s})") for s in range(3)),
        *(("hr", f"unknown band 'BH-0404' (seq {s})") for s in range(4)),
        *(("epoch", f"unknown band 'BH-0404' (seq {s})") for s in range(3, 5)),
    ]
    hr_payload = reasons[3][2]
    assert b'"seq":0' in bytes(hr_payload) and b'"bpm":60' in bytes(hr_payload)
