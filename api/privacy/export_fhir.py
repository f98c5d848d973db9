"""The wearer's measurements as an HL7 FHIR R4 Bundle (type ``collection``) of
Observations coded in LOINC with UCUM units, written as it is read. Each resource is
built with the fhir.resources models (R4B, whose Patient, Device, Observation and
Bundle are R4's), so an invalid one fails here, not at the receiver."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from api.db import fetch_one
from api.privacy.snapshot import chunks, dumps, snapshot
from api.summary import daily_summary, summary_days

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_VITAL = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}
_ACTIVITY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "activity",
        }
    ]
}
# code: (display, UCUM unit code, unit shown, category)
MEASURES = {
    "8867-4": ("Heart rate", "/min", "beats/minute", _VITAL),
    "40443-4": ("Heart rate --resting", "/min", "beats/minute", _VITAL),
    "41950-7": ("Number of steps in 24 hour Measured", "/d", "steps/day", _ACTIVITY),
    "80404-7": ("R-R interval.standard deviation (Heart rate variability)", "ms", "ms", _VITAL),
    "93832-4": ("Sleep duration", "min", "minutes", _ACTIVITY),
}


def _entry(resource) -> str:
    """One Bundle entry; ``resource`` is a validated model."""
    return dumps(
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource.model_dump(mode="json")}
    )


def observation(
    code: str, value: float, start: dt.datetime, end: dt.datetime, patient: str, device: str
) -> Observation:
    display, unit_code, unit, category = MEASURES[code]
    return Observation.model_validate(
        {
            "resourceType": "Observation",
            "status": "final",
            "category": [category],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "subject": {"reference": patient},
            "device": {"reference": device},
            "effectivePeriod": {"start": start.isoformat(), "end": end.isoformat()},
            "valueQuantity": {
                "value": round(float(value), 2),
                "unit": unit,
                "system": UCUM,
                "code": unit_code,
            },
        }
    )


async def export_fhir(database_url: str, band_id: str) -> AsyncIterator[str]:
    async with snapshot(database_url) as conn:
        band = await fetch_one(
            conn, "SELECT band_id, name FROM bands WHERE band_id = %s", (band_id,)
        )
        patient_id, device_id = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        yield (
            dumps(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                }
            )[:-1]
            + ',"entry":['
        )
        patient = Patient.model_validate(
            {"resourceType": "Patient", "name": [{"text": band["name"] or band_id}]}
        )
        device = Device.model_validate(
            {
                "resourceType": "Device",
                "serialNumber": band_id,
                "deviceName": [{"name": "bandhub wristband", "type": "model-name"}],
                "patient": {"reference": patient_id},
            }
        )
        yield dumps({"fullUrl": patient_id, "resource": patient.model_dump(mode="json")})
        yield "," + dumps({"fullUrl": device_id, "resource": device.model_dump(mode="json")})
        hourly = (
            "SELECT date_trunc('hour', t) AS hour, avg(bpm) AS bpm FROM hr_all"
            " WHERE band_id = %s GROUP BY 1 ORDER BY 1"
        )
        async for rows in chunks(conn, hourly, (band_id,)):
            for r in rows:
                end = r["hour"] + dt.timedelta(hours=1)
                obs = observation("8867-4", r["bpm"], r["hour"], end, patient_id, device_id)
                yield "," + _entry(obs)
        days = await summary_days(conn, band_id)
        for row in days:
            summary = await daily_summary(conn, band_id, row, store=False)
            start, end = (dt.datetime.fromisoformat(str(summary[k])) for k in ("start", "end"))
            values = {
                "41950-7": summary["steps"],
                "40443-4": summary["heart_rate"]["resting"],
                "80404-7": (summary["hrv"] or {}).get("sdnn_ms"),
                "93832-4": summary["sleep"]["minutes"] or None,
            }
            for code, value in values.items():
                if value is not None:
                    obs = observation(code, value, start, end, patient_id, device_id)
                    yield "," + _entry(obs)
        yield "]}"
